{#- The questionnaire catalogue (seed `questionnaire`): one row per question, with the matching keys of
    every header its form has had. A column of a response sheet (or a Forms question title) is this
    question when its key is one of them. -#}

with

source as (

    select * from {{ ref('questionnaire') }}

),

renamed as (

    select
        -- ids
        {{ nettoyer_texte('question') }} as question,

        -- question
        {{ nettoyer_texte('type') }} as type_question,
        cast(ordre as integer) as ordre_question,
        {{ nettoyer_texte('libelle') }} as libelle_question,

        -- headers: the label and every variant, as matching keys
        list_distinct(
            list_transform(
                list_append(string_split(coalesce(intitules, ''), '|'), libelle),
                lambda intitule: {{ normaliser_texte('intitule') }}
            )
        ) as cles_intitules

    from source

)

select * from renamed
