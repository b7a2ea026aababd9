{#- Quarantined rows counted by spreadsheet, tab and reason. A row with several reasons counts once
    under each of them. No row content; titles and tab names screened. -#}

with

-- Every way a known person's name may be written: metadata is screened like free text (inlined, never stored).
motifs_noms as (

    {{ motifs_noms() }}

),

lignes as (

    select * from {{ ref('int_lignes_quarantaine') }}

),

motifs as (

    select
        {{ filtrer_metadonnee('spreadsheet_title', 'tableur masqué') }} as spreadsheet_title,
        {{ filtrer_metadonnee('onglet', 'onglet masqué') }} as onglet,
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
