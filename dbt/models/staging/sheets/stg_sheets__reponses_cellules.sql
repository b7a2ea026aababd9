{#- The answers of the responses kept by stg_sheets__reponses, one row per non-blank cell, with the
    key of their column: a Forms question id, or the matching key of a response sheet's header. Free-text
    answers stay here (the build's private file): only catalogue questions are ever counted. -#}

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

renamed as (

    select
        -- ids
        reponses.snapshot_id,
        reponses.numero_ligne,
        campagnes.document_id,

        -- column
        source.colonne,
        coalesce(source.question_id, {{ normaliser_texte('source.colonne') }}) as cle_colonne,

        -- answer: the text, and a Forms checkbox answer's choices as they came
        {{ nettoyer_texte('source.valeur') }} as valeur,
        source.choix

    from source
    inner join reponses
        on reponses.snapshot_id = source.snapshot_id
        and reponses.ligne_brute = source.numero_ligne
    inner join campagnes on campagnes.snapshot_id = source.snapshot_id

)

select * from renamed
where valeur is not null or len(choix) > 0
