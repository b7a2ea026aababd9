with

source as (

    select
        syncs.sync_id,
        codes.code_brut
    from {{ ref('stg_sheets__syncs') }} as syncs
    cross join unnest(json_extract_string(syncs.departements_json, '$[*]')) as codes (code_brut)

),

renamed as (

    select distinct
        -- ids
        sync_id,

        -- network
        {{ nettoyer_texte('source.code_brut') }} as departement_brut,
        {{ normaliser_departement('source.code_brut') }} as departement

    from source

)

select * from renamed
