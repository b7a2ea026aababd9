{#- The answers of the responses kept by stg_sheets__reponses, one row per response and question column
    with an answer, with the key of their column: a Forms question id, or the matching key of a response
    sheet's header. Two columns with the same title are one question (a question deleted and recreated
    keeps both columns): their answers are merged per response, the non-blank one, or both (« A, B ») when
    they differ, which a multiple-choice question counts as two choices. Google appends the recreated
    question's column to the right: the rightmost answer (valeur_droite) is the response's current one, which a
    single-choice question counts (int_reponses_choix_unpivoted) and flags when the columns disagree.
    Free-text answers stay here (the build's private file): only catalogue questions are ever counted. -#}

with

source as (

    select * from {{ source('raw', 'reponses_cellules') }}

),

reponses as (

    select snapshot_id, numero_ligne, ligne_brute from {{ ref('stg_sheets__reponses') }}

),

campagnes as (

    select snapshot_id, document_id, colonnes_json from {{ ref('stg_sheets__campagnes') }}

),

cellules as (

    select
        reponses.snapshot_id,
        reponses.numero_ligne,
        campagnes.document_id,
        {{ titre_question('source.colonne') }} as colonne,
        source.question_id,
        {{ nettoyer_texte('source.valeur') }} as valeur,
        source.choix,
        -- Where the column stands in the sheet (question columns in header order; none for a Forms answer), and
        -- the letter the flow added to the label of a title already seen (« Titre (colonne M) »).
        coalesce(list_position(from_json(campagnes.colonnes_json, '["VARCHAR"]'), source.colonne), 0)
            as position_colonne,
        nullif(regexp_extract(source.colonne, ' [(]colonne ([A-Z]+)[)]$', 1), '') as lettre_colonne
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
        any_value(choix) as choix,

        -- columns of one title: the rightmost column's answer, its letter, and how many answers differ
        arg_max(valeur, position_colonne) filter (where valeur is not null) as valeur_droite,
        arg_max(lettre_colonne, position_colonne) filter (where valeur is not null) as lettre_droite,
        count(distinct {{ normaliser_texte('valeur') }}) as nb_reponses_differentes

    from cellules
    where valeur is not null or len(choix) > 0
    group by snapshot_id, numero_ligne, document_id, coalesce(question_id, {{ normaliser_texte('colonne') }})

)

select * from renamed
