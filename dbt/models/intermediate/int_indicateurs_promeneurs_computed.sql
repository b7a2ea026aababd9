{{ config(materialized='ephemeral') }}

{#- Roster indicators per year and département, plus 'ensemble' (whole network), with the day conventions
    of macros/promeneurs.sql: the end of year N is the stock on the evening of 31 December N, the start is
    the end of N-1, new = charter within the year, exits = exit within the year; so
    debut + nouveaux - sorties = fin and debut(N) = fin(N-1) (dbt/tests/assert_effectifs_annuels_equilibres).
    Each valid row is one period: a Promeneur who left and came back, or moved département, has several
    non-overlapping ones (int_promeneurs_validated), each counted as such.
    Distinct counts (types_*) are computed on the whole network for 'ensemble', never summed. -#}

with

annees as (

    select * from {{ ref('int_annees_listed') }}

),

promeneurs as (

    select * from {{ ref('int_promeneurs_validated') }}
    where est_valide

),

-- One row per year and period that touches it (a range join, not a cross join).
promeneurs_annee as (

    select
        annees.annee,
        promeneurs.departement,
        promeneurs.profil,
        promeneurs.type_structure,
        {{ mouvements_periode('promeneurs', 'annees.debut_annee', 'annees.fin_annee') }}
    from promeneurs
    inner join annees
        on promeneurs.date_signature_charte <= annees.fin_annee
        and coalesce(promeneurs.date_sortie >= annees.debut_annee, true)

),

aggregated as (

    select
        annee,
        case when grouping(departement) = 1 then 'ensemble' else departement end as departement,
        cast(count(*) filter (where actif_debut) as double) as promeneurs_actifs_debut_annee,
        cast(count(*) filter (where actif_fin) as double) as promeneurs_actifs_fin_annee,
        cast(count(*) filter (where est_nouveau) as double) as nouveaux_promeneurs,
        cast(count(*) filter (where est_sorti) as double) as sorties,
        cast(count(distinct profil) filter (where actif_fin) as double) as types_profils,
        cast(count(distinct type_structure) filter (where actif_fin) as double) as types_structures
    from promeneurs_annee
    group by grouping sets ((annee, departement), (annee))

),

final as (

    unpivot aggregated
    on
        promeneurs_actifs_debut_annee,
        promeneurs_actifs_fin_annee,
        nouveaux_promeneurs,
        sorties,
        types_profils,
        types_structures
    into
        name indicateur
        value valeur

)

select annee, departement, indicateur, valeur from final
