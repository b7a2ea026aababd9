{#- Mean interest score (1 to 5) per campaign year, network département and 'ensemble', and question,
    under the same statistical secrecy as the score distributions (macro secret_des_groupes): a group
    is its respondents who gave a rating; a mean over fewer than K of them is hidden, and so is the
    mean that would give a lone hidden département away ('ensemble' is the respondent-weighted mean of
    the départements). K is the threshold of the sync being built (sources.toml [bilan]). -#}

with

notes as (

    select * from {{ ref('int_reponses_questionnaire_counted') }}
    where type_question = 'echelle'

),

sync as (

    select seuil_confidentialite from {{ ref('stg_sheets__syncs') }}

),

moyennes as (

    select
        annee,
        departement,
        question,
        libelle_question,
        ordre_question,
        max(repondants_question) as repondants_question,
        sum(cast(reponse as integer) * repondants) / nullif(sum(repondants), 0) as moyenne_exacte
    from notes
    group by annee, departement, question, libelle_question, ordre_question

),

groupes as (

    select
        moyennes.annee,
        moyennes.question,
        moyennes.departement,
        moyennes.repondants_question,
        sync.seuil_confidentialite
    from moyennes
    cross join sync

),

secrets as (

    {{ secret_des_groupes('groupes') }}

),

final as (

    select
        moyennes.annee,
        moyennes.departement,
        moyennes.question,
        moyennes.libelle_question,
        moyennes.ordre_question,
        moyennes.repondants_question,
        case when not secrets.secret then cast(moyennes.moyenne_exacte as double) end as moyenne,
        secrets.secret,
        cast(secrets.seuil_confidentialite as integer) as seuil_confidentialite
    from moyennes
    inner join secrets
        on secrets.annee = moyennes.annee
        and secrets.question = moyennes.question
        and secrets.departement = moyennes.departement

)

select * from final
