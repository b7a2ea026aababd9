{#- Each question column of each campaign document in the selected sync, matched to the catalogue.

    A column is a catalogue question when (in this order):
    - sources.toml maps its title to the question for that campaign (`correspondances`);
    - for a Google Forms question, the title it had when first read matches one of the question's
      headers (so that rewording it later keeps the match);
    - its header (or current title) matches one of the question's headers.
    Keys ignore case, accents, apostrophes and spacing. A column that matches nothing is « non
    cataloguée »: kept raw, listed, and counted as soon as the catalogue names it (the history replays).
    Columns with the same key are one question: the same title twice in a sheet (a question deleted and
    recreated: Google keeps both columns), or in two tabs of one campaign (« Réponses au formulaire 2 » of
    a re-linked form): their answers are merged per response (stg_sheets__reponses_cellules).
    Two different columns matching one question: the first (in sheet order) counts, the other is listed. -#}

with

campagnes as (

    select * from {{ ref('stg_sheets__campagnes') }}
    -- A Forms campaign is read in increments: its questions are those of its latest read. Every tab of a
    -- response sheet is read by each sync: each one's columns count.
    qualify
        extracted_at = max(extracted_at) over (partition by document_id)
        or snapshot_id not in (select snapshot_id from {{ ref('stg_sheets__formulaires_questions') }})

),

formulaires as (

    select * from {{ ref('stg_sheets__formulaires_questions') }}

),

catalogue as (

    select * from {{ ref('stg_catalogue__questions') }}

),

colonnes_feuilles as (

    select
        campagnes.snapshot_id,
        campagnes.document_id,
        unnest(from_json(campagnes.colonnes_json, '["VARCHAR"]')) as colonne,
        generate_subscripts(from_json(campagnes.colonnes_json, '["VARCHAR"]'), 1) as position,
        cast(null as varchar) as question_id,
        cast(null as varchar) as premier_titre
    from campagnes
    where campagnes.snapshot_id not in (select snapshot_id from formulaires)

),

colonnes_formulaires as (

    select snapshot_id, document_id, titre as colonne, position, question_id, premier_titre
    from formulaires

),

-- Titles sources.toml maps to a question for one campaign (`[questionnaires.correspondances]`).
correspondances as (

    select
        document_id,
        {{ normaliser_texte('entree.key') }} as cle_titre,
        entree.value as question_declaree
    from (
        select document_id, unnest(map_entries(from_json(correspondances_json, '"MAP(VARCHAR, VARCHAR)"'))) as entree
        from campagnes
    )

),

colonnes as (

    select
        colonnes.*,
        campagnes.campagne_annee,
        campagnes.spreadsheet_title,
        campagnes.tab,
        coalesce(colonnes.question_id, {{ normaliser_texte('colonnes.colonne') }}) as cle_colonne,
        correspondances.question_declaree
    from (
        select
            snapshot_id, document_id, {{ titre_question('colonne') }} as colonne, position, question_id, premier_titre
        from (select * from colonnes_feuilles union all select * from colonnes_formulaires)
    ) as colonnes
    inner join campagnes on campagnes.snapshot_id = colonnes.snapshot_id
    left join correspondances
        on correspondances.document_id = colonnes.document_id
        and correspondances.cle_titre = {{ normaliser_texte('colonnes.colonne') }}
    where {{ normaliser_texte('colonnes.colonne') }} is not null

),

matched as (

    select
        colonnes.*,
        coalesce(
            colonnes.question_declaree,
            (select max(c.question) from catalogue as c
             where list_contains(c.cles_intitules, {{ normaliser_texte('colonnes.premier_titre') }})),
            (select max(c.question) from catalogue as c
             where list_contains(c.cles_intitules, {{ normaliser_texte('colonnes.colonne') }}))
        ) as question_trouvee
    from colonnes

),

-- One row per question key: its first column (in sheet order, then tab order) names it.
uniques as (

    select * from matched
    qualify row_number() over (partition by document_id, cle_colonne order by position, tab) = 1

),

final as (

    select
        -- ids
        document_id,
        campagne_annee,
        spreadsheet_title,
        tab,

        -- column
        {{ nettoyer_texte('colonne') }} as colonne,
        cle_colonne,
        cast(position as integer) as position,

        -- question: null when not catalogued, or when an earlier column already answers it
        case
            when row_number() over (partition by document_id, question_trouvee order by position, tab) = 1
                then question_trouvee
        end as question,
        question_trouvee is not null
            and row_number() over (partition by document_id, question_trouvee order by position, tab) > 1
            as est_en_double

    from uniques

)

select * from final
