{#- The questionnaire snapshots of the selected sync, with their campaign: a response sheet is one
    snapshot; a Google Forms campaign read in increments is several snapshots of one document. -#}

with

source as (

    select * from {{ ref('stg_sheets__snapshots') }}
    where table_name = 'reponses'

),

renamed as (

    select
        -- ids
        snapshot_id,
        spreadsheet_id as document_id,
        spreadsheet_title,
        tab,
        extracted_at,

        -- campaign
        campagne_annee,
        campagne_ouverture,
        campagne_cloture,

        -- what the campaign asked: its question columns, the title mapping of sources.toml, e-mails or not
        coalesce(colonnes_json, '[]') as colonnes_json,
        coalesce(correspondances_json, '{}') as correspondances_json,
        coalesce(sans_email, false) as sans_email

    from source

)

select * from renamed
