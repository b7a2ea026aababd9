{#- Cells to correct whose row still counts, counted by spreadsheet, tab, column and reason, like the
    quarantine. No cell content; the run report lists them row by row. -#}

with

cellules as (

    select * from {{ ref('int_cellules_signalees') }}

),

final as (

    select
        spreadsheet_title,
        onglet,
        colonne,
        motif,
        count(distinct numero_ligne) as lignes
    from cellules
    group by spreadsheet_title, onglet, colonne, motif

)

select * from final
