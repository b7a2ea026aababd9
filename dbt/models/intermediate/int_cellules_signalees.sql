{#- Cells to correct that do not make their row unusable: the row counts, the cell is listed (sheet,
    tab, row, column as headed in the sheet, reason; never its content) with a warning.
    - A single-choice answer outside the catalogue's options counts under « Autre ». -#}

with

autres_choix_uniques as (

    select
        choix.snapshot_id,
        choix.numero_ligne,
        choix.question,
        'Réponse hors des options du catalogue : comptée dans « Autre »' as motif
    from {{ ref('int_reponses_choix_unpivoted') }} as choix
    inner join {{ ref('stg_catalogue__questions') }} as questions on questions.question = choix.question
    where choix.option = 'Autre' and questions.type_question = 'choix_unique'

),

final as (

    select
        reponses.spreadsheet_title,
        reponses.tab as onglet,
        signalees.numero_ligne,
        colonnes.colonne,
        signalees.motif
    from autres_choix_uniques as signalees
    inner join {{ ref('int_reponses_validated') }} as reponses
        on reponses.snapshot_id = signalees.snapshot_id
        and reponses.numero_ligne = signalees.numero_ligne
    inner join {{ ref('stg_sheets__campagnes') }} as campagnes on campagnes.snapshot_id = signalees.snapshot_id
    inner join {{ ref('int_questions_campagnes_matched') }} as colonnes
        on colonnes.document_id = campagnes.document_id
        and colonnes.question = signalees.question

)

select * from final
