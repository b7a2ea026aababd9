{#- The annual report: every indicator for every year and every network département plus
    'ensemble' (0 when nothing happened). Two-département actions only appear in 'ensemble'.
    A figure that was never measured is null, never 0: the questionnaire's indicators in a year that no
    campaign evaluates. -#}

with

annees as (

    select annee from {{ ref('int_annees_listed') }}

),

departements as (

    select departement from {{ ref('stg_sheets__departements_reseau') }}
    union all
    select 'ensemble' as departement

),

indicateurs as (

    select indicateur, domaine from {{ ref('indicateurs') }}

),

campagnes as (

    select distinct campagne_annee as annee from {{ ref('stg_sheets__campagnes') }}
    where campagne_annee is not null

),

-- Small scaffold (years x départements x indicators) so that every cell exists.
grille as (

    select
        annees.annee,
        departements.departement,
        indicateurs.indicateur,
        indicateurs.domaine <> 'questionnaire' or annees.annee in (select annee from campagnes) as est_mesure
    from annees
    cross join departements
    cross join indicateurs

),

valeurs as (

    select annee, departement, indicateur, valeur from {{ ref('int_indicateurs_promeneurs_computed') }}
    union all
    select annee, departement, indicateur, valeur from {{ ref('int_indicateurs_activites_computed') }}
    union all
    select annee, departement, indicateur, valeur from {{ ref('int_indicateurs_questionnaire_computed') }}

),

final as (

    select
        cast(grille.annee as integer) as annee,
        cast(grille.departement as varchar) as departement,
        cast(grille.indicateur as varchar) as indicateur,
        case when grille.est_mesure then cast(coalesce(valeurs.valeur, 0) as double) end as valeur
    from grille
    left join valeurs
        on valeurs.annee = grille.annee
        and valeurs.departement = grille.departement
        and valeurs.indicateur = grille.indicateur

)

select * from final
