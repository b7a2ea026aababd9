{#- The sync being built: var('sync_id'), or the latest sync when the var is null or empty. -#}
{%- set sync_id = var('sync_id') -%}

with

source as (

    select * from {{ source('raw', 'syncs') }}
    {%- if sync_id is none or (sync_id | string | trim) == '' %}
    order by started_at desc, sync_id desc
    limit 1
    {%- else %}
    where sync_id = '{{ sync_id | string | replace("'", "''") }}'
    {%- endif %}

),

renamed as (

    select
        -- ids
        sync_id,
        source_kind as type_source,

        -- dates
        started_at as lance_le,
        cast(started_at as date) as date_execution,

        -- network
        departements as departements_json,

        -- plausibility bounds in force for this sync (sources.toml [bornes], recorded at landing)
        cast(json_extract_string(parametres, '$.bornes.date_min') as date) as date_min_plausible,
        cast(json_extract_string(parametres, '$.bornes.mois_sortie_future') as integer) as mois_sortie_future,
        cast(json_extract_string(parametres, '$.bornes.participants_max') as integer) as participants_max,
        cast(json_extract_string(parametres, '$.bornes.duree_jours_max') as double) as duree_jours_max,

        -- statistical secrecy of the questionnaire (sources.toml [bilan]); 5 for syncs landed before it existed
        coalesce(cast(json_extract_string(parametres, '$.seuil_confidentialite') as integer), 5)
            as seuil_confidentialite

    from source

)

select * from renamed
