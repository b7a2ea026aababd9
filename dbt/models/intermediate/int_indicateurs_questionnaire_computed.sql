{{ config(materialized='ephemeral') }}

{#- Questionnaire indicators per evaluated year and département, plus 'ensemble': distinct
    respondents (latest valid response per respondent, by the response's département), Promeneurs
    active at the campaign's closing date, and their ratio. -#}

with

campagnes as (

    select distinct campagne_annee, campagne_cloture from {{ ref('stg_sheets__campagnes') }}

),

reponses as (

    select * from {{ ref('int_reponses_validated') }}
    where est_valide and not est_remplacee

),

promeneurs as (

    select * from {{ ref('int_promeneurs_validated') }}
    where est_valide

),

repondants as (

    select
        campagne_annee as annee,
        case when grouping(departement) = 1 then 'ensemble' else departement end as departement,
        count(distinct cle_repondant) as questionnaire_repondants
    from reponses
    group by grouping sets ((campagne_annee, departement), (campagne_annee))

),

actifs_cloture as (

    select
        campagnes.campagne_annee as annee,
        case when grouping(promeneurs.departement) = 1 then 'ensemble' else promeneurs.departement end
            as departement,
        count(*) as promeneurs_actifs_cloture_questionnaire
    from promeneurs
    inner join campagnes on {{ actif_le('promeneurs', 'campagnes.campagne_cloture') }}
    group by grouping sets ((campagnes.campagne_annee, promeneurs.departement), (campagnes.campagne_annee))

),

combined as (

    select
        coalesce(repondants.annee, actifs_cloture.annee) as annee,
        coalesce(repondants.departement, actifs_cloture.departement) as departement,
        cast(coalesce(repondants.questionnaire_repondants, 0) as double) as questionnaire_repondants,
        cast(coalesce(repondants.questionnaire_repondants, 0) as double)
        / nullif(actifs_cloture.promeneurs_actifs_cloture_questionnaire, 0)
            as questionnaire_taux_participation,
        cast(coalesce(actifs_cloture.promeneurs_actifs_cloture_questionnaire, 0) as double)
            as promeneurs_actifs_cloture_questionnaire
    from repondants
    full outer join actifs_cloture
        on actifs_cloture.annee = repondants.annee
        and actifs_cloture.departement = repondants.departement

),

final as (

    unpivot combined
    on questionnaire_repondants, questionnaire_taux_participation, promeneurs_actifs_cloture_questionnaire
    into
        name indicateur
        value valeur

)

select annee, departement, indicateur, valeur from final
