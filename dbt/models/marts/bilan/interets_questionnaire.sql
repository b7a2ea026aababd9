{#- Mean interest score (1 to 5) per campaign year, network département and 'ensemble', and
    question, with statistical secrecy (seuil K = var seuil_confidentialite): a mean over fewer than
    K respondents is secret; and since 'ensemble' is the respondent-weighted mean of the
    départements, when exactly one département mean is secret while 'ensemble' is shown, the
    département mean with the fewest respondents is hidden too. -#}

{%- set seuil = var('seuil_confidentialite', 5) | int -%}

with

notes as (

    select * from {{ ref('int_reponses_questionnaire_counted') }}
    where type_question = 'echelle'

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

rangees as (

    select
        moyennes.*,
        repondants_question < {{ seuil }} as secret_primaire,
        count(*) filter (where departement <> 'ensemble' and repondants_question < {{ seuil }})
            over question as nb_departements_secrets,
        bool_or(departement = 'ensemble' and repondants_question < {{ seuil }}) over question as ensemble_secret,
        row_number() over (
            partition by annee, question, departement = 'ensemble', repondants_question < {{ seuil }}
            order by repondants_question, departement
        ) as rang_parmi_visibles
    from moyennes
    window question as (partition by annee, question)

),

masquees as (

    select
        rangees.*,
        {{ secret_avec_complement('secret_primaire') }} as secret
    from rangees

),

final as (

    select
        annee,
        departement,
        question,
        libelle_question,
        ordre_question,
        repondants_question,
        case when not secret then cast(moyenne_exacte as double) end as moyenne,
        secret,
        cast({{ seuil }} as integer) as seuil_confidentialite
    from masquees

)

select * from final
