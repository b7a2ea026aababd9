{#- Consistency of indicateurs_annuels per year and indicator, for the quality gate: for additive
    indicators 'ensemble' must equal the départements plus the two-département actions
    (ecart_somme = 0); counts must be whole numbers; no value may be negative. Only measured figures
    are checked (a questionnaire indicator of a year without campaign is null everywhere). -#}

with

indicateurs_annuels as (

    select * from {{ ref('indicateurs_annuels') }}
    where valeur is not null

),

definitions as (

    select * from {{ ref('indicateurs') }}

),

bidepartementales as (

    select annee, indicateur, sum(valeur) as valeur
    from {{ ref('int_indicateurs_activites_computed') }}
    where departement like '%/%'
    group by annee, indicateur

),

nb_attendus as (

    select count(*) as nb_departements_attendus from {{ ref('stg_sheets__departements_reseau') }}

),

par_indicateur as (

    select
        annee,
        indicateur,
        sum(valeur) filter (where departement <> 'ensemble') as somme_departements,
        max(valeur) filter (where departement <> 'ensemble') as max_departement,
        max(valeur) filter (where departement = 'ensemble') as valeur_ensemble,
        count(distinct departement) filter (where departement <> 'ensemble') as nb_departements_presents,
        count(*) filter (where valeur <> floor(valeur)) as valeurs_non_entieres,
        min(valeur) as valeur_min
    from indicateurs_annuels
    group by annee, indicateur

),

final as (

    select
        par_indicateur.annee,
        par_indicateur.indicateur,
        definitions.additif,
        definitions.nature,
        coalesce(par_indicateur.somme_departements, 0) as somme_departements,
        coalesce(par_indicateur.max_departement, 0) as max_departement,
        cast(coalesce(bidepartementales.valeur, 0) as double) as valeur_bidepartementale,
        par_indicateur.valeur_ensemble,
        cast(par_indicateur.nb_departements_presents as integer) as nb_departements_presents,
        cast(nb_attendus.nb_departements_attendus as integer) as nb_departements_attendus,
        -- Rounded: sums of decimal durations carry binary noise.
        case
            when definitions.additif
                then round(
                    par_indicateur.valeur_ensemble
                    - (
                        coalesce(par_indicateur.somme_departements, 0)
                        + coalesce(bidepartementales.valeur, 0)
                    ),
                    6
                )
        end as ecart_somme,
        case
            when definitions.nature = 'compte' then cast(par_indicateur.valeurs_non_entieres as integer)
        end as valeurs_non_entieres,
        par_indicateur.valeur_min
    from par_indicateur
    inner join definitions on definitions.indicateur = par_indicateur.indicateur
    cross join nb_attendus
    left join bidepartementales
        on bidepartementales.annee = par_indicateur.annee
        and bidepartementales.indicateur = par_indicateur.indicateur

)

select * from final
