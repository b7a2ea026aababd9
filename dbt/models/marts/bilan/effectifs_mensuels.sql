{#- Network size month by month, per département and 'ensemble', from the first charter signed to
    the later of the sync's month and the last month of the last reported year. Same day conventions as
    the annual indicators (macros/promeneurs.sql) applied to the month: start = the stock on the evening
    before its first day, end = the stock on the evening of its last day, new / exits = charters / exits
    within it. The months of a year sum to its new and exits, and the identities are checked on every
    build (dbt/tests/assert_effectifs_mensuels_equilibres). -#}

with

promeneurs as (

    select * from {{ ref('int_promeneurs_validated') }}
    where est_valide

),

annees as (

    select * from {{ ref('int_annees_listed') }}

),

sync as (

    select date_execution from {{ ref('stg_sheets__syncs') }}

),

departements as (

    select departement from {{ ref('stg_sheets__departements_reseau') }}
    union all
    select 'ensemble' as departement

),

bornes as (

    select
        least(
            (select min(date_trunc('month', date_signature_charte)) from promeneurs),
            (select min(debut_annee) from annees)
        ) as premier_mois,
        greatest(
            (select date_trunc('month', date_execution) from sync),
            (select max(make_date(annee, 12, 1)) from annees)
        ) as dernier_mois

),

mois as (

    select
        cast(debut_mois as date) as debut_mois,
        cast(debut_mois + interval 1 month - interval 1 day as date) as fin_mois
    from bornes
    cross join unnest(
        generate_series(bornes.premier_mois, bornes.dernier_mois, interval 1 month)
    ) as series (debut_mois)

),

-- One row per month and period that touches it.
promeneurs_mois as (

    select
        mois.debut_mois,
        promeneurs.departement,
        {{ mouvements_periode('promeneurs', 'mois.debut_mois', 'mois.fin_mois') }}
    from promeneurs
    inner join mois
        on promeneurs.date_signature_charte <= mois.fin_mois
        and coalesce(promeneurs.date_sortie >= mois.debut_mois, true)

),

aggregated as (

    select
        debut_mois,
        case when grouping(departement) = 1 then 'ensemble' else departement end as departement,
        count(*) filter (where actif_debut) as promeneurs_actifs_debut_mois,
        count(*) filter (where est_nouveau) as nouveaux_promeneurs,
        count(*) filter (where est_sorti) as sorties,
        count(*) filter (where actif_fin) as promeneurs_actifs_fin_mois
    from promeneurs_mois
    group by grouping sets ((debut_mois, departement), (debut_mois))

),

final as (

    select
        mois.debut_mois as mois,
        cast(year(mois.debut_mois) as integer) as annee,
        departements.departement,
        cast(coalesce(aggregated.promeneurs_actifs_debut_mois, 0) as integer) as promeneurs_actifs_debut_mois,
        cast(coalesce(aggregated.nouveaux_promeneurs, 0) as integer) as nouveaux_promeneurs,
        cast(coalesce(aggregated.sorties, 0) as integer) as sorties,
        cast(coalesce(aggregated.promeneurs_actifs_fin_mois, 0) as integer) as promeneurs_actifs_fin_mois
    from mois
    cross join departements
    left join aggregated
        on aggregated.debut_mois = mois.debut_mois
        and aggregated.departement = departements.departement

)

select * from final
