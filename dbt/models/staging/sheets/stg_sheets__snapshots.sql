with

source as (

    select * from {{ source('raw', 'snapshots') }}
    where snapshot_id in (
        select sync_snapshots.snapshot_id
        from {{ source('raw', 'sync_snapshots') }} as sync_snapshots
        inner join {{ ref('stg_sheets__syncs') }} as syncs on syncs.sync_id = sync_snapshots.sync_id
    )

),

renamed as (

    select
        -- ids
        snapshot_id,
        spreadsheet_id,
        spreadsheet_title,
        tab,
        table_name,

        -- questionnaire campaign (reponses only)
        campagne_annee,
        campagne_ouverture,
        campagne_cloture,
        colonnes_json,
        correspondances_json,
        sans_email,

        -- extraction
        source_kind as type_source,
        time_zone,
        modified_time,
        extracted_at,
        row_count

    from source

)

select * from renamed
