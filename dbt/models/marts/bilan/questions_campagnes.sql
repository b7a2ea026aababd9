{#- For each campaign year, each question of the catalogue (free text aside) and whether the campaign
    asked it: a question not asked is « non posée » that year, and has no row in the questionnaire marts. -#}

with

annees as (

    select distinct campagne_annee as annee from {{ ref('stg_sheets__campagnes') }}

),

questions as (

    select * from {{ ref('stg_catalogue__questions') }}
    where type_question <> 'texte_libre'

),

posees as (

    select distinct campagne_annee as annee, question
    from {{ ref('int_questions_campagnes_matched') }}
    where question is not null

),

final as (

    select
        cast(annees.annee as integer) as annee,
        questions.question,
        questions.libelle_question,
        questions.type_question,
        questions.ordre_question,
        posees.question is not null as est_posee
    from annees
    cross join questions
    left join posees on posees.annee = annees.annee and posees.question = questions.question

)

select * from final
