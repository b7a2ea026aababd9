{#- The columns (or Google Forms questions) of each campaign that match no question of the catalogue:
    landed raw, counted in nothing until the catalogue names them (the history then replays), and
    listed as a warning. Also a column answering a question another column already answers. Titles
    of questions only, never an answer. -#}

with

-- Every way a known person's name may be written: metadata is screened like free text (inlined, never stored).
motifs_noms as (

    {{ motifs_noms() }}

),

colonnes as (

    select * from {{ ref('int_questions_campagnes_matched') }}
    where question is null

),

final as (

    select
        cast(campagne_annee as integer) as annee,
        {{ filtrer_metadonnee('spreadsheet_title', 'tableur masqué') }} as spreadsheet_title,
        {{ filtrer_metadonnee('tab', 'onglet masqué') }} as onglet,
        -- A header is typed by whoever made the form or the sheet: one naming a person is shown by position.
        {{ filtrer_metadonnee('colonne', remplacement="'question ' || position") }} as colonne,
        case when est_en_double then 'en double' else 'non cataloguée' end as motif
    from colonnes

)

select * from final
