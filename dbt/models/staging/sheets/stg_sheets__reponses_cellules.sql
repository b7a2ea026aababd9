{#- The answers of the responses kept by stg_sheets__reponses, one row per response and question column
    with an answer, with the key of their column: a Forms question id, or the matching key of a response
    sheet's header. Two columns with the same title are one question (a question deleted and recreated
    keeps both columns): their answers are merged per response, the non-blank one, or both (« A, B ») when
    they differ, which a multiple-choice question counts as two choices and a single-choice question flags.
    Free-text answers stay here (the build's private file): only catalogue questions are ever counted. -#}

with

source as (

    select * from {{ source('raw', 'reponses_cellules') }}

),

reponses as (

    select snapshot_id, numero_ligne, ligne_brute from {{ ref('stg_sheets__reponses') }}

),

campagnes as (

    select snapshot_id, document_id from {{ ref('stg_sheets__campagnes') }}

),

cellules as (

    select
        reponses.snapshot_id,
        reponses.numero_ligne,
        campagnes.document_id,
        {{ titre_question('source.colonne') }} as colonne,
        source.question_id,
        {{ nettoyer_texte('source.valeur') }} as valeur,
        source.choix
    from source
    inner join reponses
        on reponses.snapshot_id = source.snapshot_id
        and reponses.ligne_brute = source.numero_ligne
    inner join campagnes on campagnes.snapshot_id = source.snapshot_id

),

renamed as (

    select
        -- ids
        snapshot_id,
        numero_ligne,
        document_id,

        -- column
        min(colonne) as colonne,
        coalesce(question_id, {{ normaliser_texte('colonne') }}) as cle_colonne,

        -- answer: the text (each different one once), and a Forms checkbox answer's choices as they came (a
        -- Forms answer is keyed by its question id: never two cells under one key)
        array_to_string(list_sort(list_distinct(list(valeur))), ', ') as valeur,
        any_value(choix) as choix

    from cellules
    where valeur is not null or len(choix) > 0
    group by snapshot_id, numero_ligne, document_id, coalesce(question_id, {{ normaliser_texte('colonne') }})

)

select * from renamed
