{{ config(materialized='ephemeral') }}

{#- Roster indicators per year and département, plus 'ensemble' (whole network).
    Active at date d: charter signed on or before d, and no exit date or exit date on or after d.
    With the new/exit boundaries below, debut + nouveaux - sorties = fin holds exactly.
    Distinct counts (types_*) are computed on the whole network for 'ensemble', never summed. -#}

with

annees as (

    select * from {{ ref('int_annees_listed') }}

),

promeneurs as (

    select * from {{ ref('int_promeneurs_validated') }}
    where est_valide

),

-- One row per year and Promeneur signed by the year's end (a range join, not a cross join).
promeneurs_annee as (

    select
        annees.annee,
        promeneurs.departement,
        promeneurs.profil,
        promeneurs.type_structure,
        {{ actif_le('promeneurs', 'annees.debut_annee') }} as actif_debut,
        {{ actif_le('promeneurs', 'annees.fin_annee') }} as actif_fin,
        promeneurs.date_signature_charte > annees.debut_annee as est_nouveau,
        coalesce(
            promeneurs.date_sortie >= annees.debut_annee and promeneurs.date_sortie < annees.fin_annee,
            false
        ) as est_sorti
    from promeneurs
    inner join annees on promeneurs.date_signature_charte <= annees.fin_annee

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
