{#- Cells to correct whose row still counts, counted by spreadsheet, tab, column and reason, like the
    quarantine. No cell content (headers screened in int_cellules_signalees, titles and tab names here); the
    run report lists them row by row. -#}

with

-- Every way a known person's name may be written: metadata is screened like free text (inlined, never stored).
motifs_noms as (

    {{ motifs_noms() }}

),

cellules as (

    select
        {{ filtrer_metadonnee('spreadsheet_title', 'tableur masqué') }} as spreadsheet_title,
        {{ filtrer_metadonnee('onglet', 'onglet masqué') }} as onglet,
        numero_ligne,
        colonne,
        motif
    from {{ ref('int_cellules_signalees') }}

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
