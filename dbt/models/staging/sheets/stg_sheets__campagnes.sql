with

source as (

    select * from {{ ref('stg_sheets__snapshots') }}
    where table_name = 'reponses'

),

renamed as (

    select
        -- ids
        snapshot_id,
        spreadsheet_title,
        tab,

        -- campaign
        campagne_annee,
        campagne_ouverture,
        campagne_cloture

    from source

)

select * from renamed
