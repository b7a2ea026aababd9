{#- Rows of the reference lists recorded with every sync up to the one built: the bundled lists
    (origine 'fournie', one snapshot per version of dbt/seeds/listes.csv) and the Listes tab of the
    Suivi spreadsheet (origine 'tableur'). Earlier syncs are kept: a value removed from the tab still
    recognises the rows that used it, so removing it never rewrites past years. -#}

with

selected as (

    select lance_le from {{ ref('stg_sheets__syncs') }}

),

-- Each snapshot of lists with the latest sync (not after the one built) that used it.
uses as (

    select
        sync_snapshots.snapshot_id,
        max(syncs.started_at) as lance_le
    from {{ source('raw', 'sync_snapshots') }} as sync_snapshots
    inner join {{ source('raw', 'syncs') }} as syncs on syncs.sync_id = sync_snapshots.sync_id
    where syncs.started_at <= (select lance_le from selected)
    group by sync_snapshots.snapshot_id

),

snapshots as (

    select
        snapshots.snapshot_id,
        snapshots.spreadsheet_id,
        snapshots.spreadsheet_title,
        snapshots.tab,
        uses.lance_le
    from {{ source('raw', 'snapshots') }} as snapshots
    inner join uses on uses.snapshot_id = snapshots.snapshot_id
    where snapshots.table_name = 'listes'

),

source as (

    select
        *,
        -- List names match loosely, plurals included (« Types de structures » is « Type de structure »).
        regexp_replace({{ normaliser_texte('liste') }}, 's\b', '', 'g') as cle_liste
    from {{ source('raw', 'listes') }}
    where
        snapshot_id in (select snapshot_id from snapshots)
        and not {{ ligne_vide(['liste', 'valeur', 'variantes']) }}

),

-- The lists the project knows are those of its bundled lists; a tab names them loosely.
noms_listes as (

    select distinct
        source.cle_liste,
        {{ nettoyer_texte('source.liste') }} as liste
    from source
    inner join snapshots on snapshots.snapshot_id = source.snapshot_id
    where snapshots.spreadsheet_id = 'listes-fournies'

),

renamed as (

    select
        -- ids
        source.snapshot_id,
        snapshots.spreadsheet_title,
        snapshots.tab,
        source.numero_ligne,

        -- origin and age: the project's lists, or the coordinator's tab as read by a sync
        case when snapshots.spreadsheet_id = 'listes-fournies' then 'fournie' else 'tableur' end as origine,
        snapshots.lance_le,
        snapshots.lance_le = (select lance_le from selected) as est_courante,

        -- entry
        {{ nettoyer_texte('source.liste') }} as liste_brut,
        noms_listes.liste,
        {{ nettoyer_texte('source.valeur') }} as valeur,
        -- Variants are separated by '|' or ';' or line breaks, as a person types a list in one cell.
        list_filter(
            list_transform(
                string_split_regex(coalesce(source.variantes, ''), '[|;\n]'),
                lambda variante: {{ nettoyer_texte('variante') }}
            ),
            lambda variante: variante is not null
        ) as variantes,
        {{ nettoyer_texte('source.indicateur') }} as indicateur

    from source
    inner join snapshots on snapshots.snapshot_id = source.snapshot_id
    left join noms_listes on noms_listes.cle_liste = source.cle_liste

)

select * from renamed
