{#- Non-blank rows read per spreadsheet and tab, split into valid and quarantined rows. Every data tab
    of the selected sync appears, even when it has no row. Superseded questionnaire responses are valid.
    The reference lists (bundled, Listes tab) are not data: their unusable rows are flagged cells.
    Titles and tab names are metadata someone typed: screened (« tableur masqué 3fa1 » when withheld). -#}

with

-- Every way a known person's name may be written: metadata is screened like free text (inlined, never stored).
motifs_noms as (

    {{ motifs_noms() }}

),

snapshots as (

    select * from {{ ref('stg_sheets__snapshots') }}
    where table_name <> 'listes'

),

lignes as (

    select snapshot_id, est_valide from {{ ref('int_promeneurs_validated') }}
    union all
    select snapshot_id, est_valide from {{ ref('int_activites_validated') }}
    union all
    select snapshot_id, est_valide from {{ ref('int_reponses_validated') }}

),

final as (

    select
        {{ filtrer_metadonnee('snapshots.spreadsheet_title', 'tableur masqué') }} as spreadsheet_title,
        {{ filtrer_metadonnee('snapshots.tab', 'onglet masqué') }} as onglet,
        count(lignes.snapshot_id) as lignes_lues,
        count(lignes.snapshot_id) filter (where lignes.est_valide) as lignes_valides,
        count(lignes.snapshot_id) filter (where not lignes.est_valide) as lignes_quarantaine
    from snapshots
    left join lignes on lignes.snapshot_id = snapshots.snapshot_id
    group by snapshots.spreadsheet_title, snapshots.tab

)

select * from final
