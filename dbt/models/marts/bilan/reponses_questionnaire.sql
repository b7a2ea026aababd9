{#- Published questionnaire synthesis under statistical secrecy (macro secret_des_groupes): a group
    (year, question, département or 'ensemble') of at least K respondents is shown whole, a smaller one
    is hidden whole, and so is the group that would give a lone hidden département away. K is the
    threshold of the sync being built (sources.toml [bilan] seuil_confidentialite). -#}

with

comptes as (

    select * from {{ ref('int_reponses_questionnaire_counted') }}

),

sync as (

    select seuil_confidentialite from {{ ref('stg_sheets__syncs') }}

),

groupes as (

    select distinct
        comptes.annee,
        comptes.question,
        comptes.departement,
        comptes.repondants_question,
        sync.seuil_confidentialite
    from comptes
    cross join sync

),

secrets as (

    {{ secret_des_groupes('groupes') }}

),

final as (

    select
        comptes.annee,
        comptes.departement,
        comptes.question,
        comptes.libelle_question,
        comptes.type_question,
        comptes.ordre_question,
        comptes.reponse,
        comptes.ordre_reponse,
        comptes.repondants_question,
        case when not secrets.secret then comptes.repondants end as repondants,
        case
            when not secrets.secret
                then cast(comptes.repondants as double) / nullif(comptes.repondants_question, 0)
        end as part,
        secrets.secret,
        cast(secrets.seuil_confidentialite as integer) as seuil_confidentialite
    from comptes
    inner join secrets
        on secrets.annee = comptes.annee
        and secrets.question = comptes.question
        and secrets.departement = comptes.departement

)

select * from final
