{#- The tabs and files the selected sync did not read (flows/sources/snapshot.py UnreadItem), names as found:
    screened by the mart that publishes them (qualite.non_lus). A Google spreadsheet left unchanged since an
    earlier sync is not read again (its snapshots are reused), so its unread tabs are those of the sync that last
    read it: without them a quiet night would make the list forget tabs that are still there. -#}

with

selected_sync as (

    select sync_id from {{ ref('stg_sheets__syncs') }}

),

-- The syncs that read the snapshots the selected sync uses, with the spreadsheet each read.
readers as (

    select distinct snapshots.sync_id, snapshots.spreadsheet_title
    from {{ source('raw', 'sync_snapshots') }} as sync_snapshots
    inner join {{ source('raw', 'snapshots') }} as snapshots using (snapshot_id)
    where sync_snapshots.sync_id in (select sync_id from selected_sync)

),

source as (

    select non_lus.*
    from {{ source('raw', 'non_lus') }} as non_lus
    where non_lus.sync_id in (select sync_id from selected_sync)
        or exists (
            select 1 from readers
            where readers.sync_id = non_lus.sync_id
                and readers.spreadsheet_title = non_lus.tableur
                and non_lus.type = 'onglet'
        )

),

renamed as (

    select
        -- ids
        sync_id,

        -- what was not read
        type,
        tableur as spreadsheet_title,
        titre as onglet_ou_fichier,
        position,

        -- why
        motif

    from source

)

select * from renamed
