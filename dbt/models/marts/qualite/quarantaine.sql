{#- Quarantined rows counted by spreadsheet, tab and reason. A row with several reasons counts once
    under each of them. No row content. -#}

with

lignes as (

    select * from {{ ref('int_lignes_quarantaine') }}

),

motifs as (

    select
        spreadsheet_title,
        onglet,
        numero_ligne,
        unnest(string_split(motif, '; ')) as motif
    from lignes

),

final as (

    select
        spreadsheet_title,
        onglet,
        motif,
        count(distinct numero_ligne) as lignes
    from motifs
    group by spreadsheet_title, onglet, motif

)

select * from final
