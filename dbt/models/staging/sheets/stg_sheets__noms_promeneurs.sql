{{ config(materialized='ephemeral') }}

{#- The roster's first and last names of the selected sync, as word keys (cle_mots), for the screen of
    published free text (int_actions_detaillees_screened) and nothing else. Ephemeral on purpose: inlined
    into that model's query, the names are never written to any relation, not even in the private build;
    every other model still sees identities only as cle_promeneur (stg_sheets__promeneurs). Every row of
    the roster counts, valid, quarantined or gone: a name is a name. -#}

with

source as (

    select * from {{ source('raw', 'promeneurs') }}
    where snapshot_id in (select snapshot_id from {{ ref('stg_sheets__snapshots') }})

),

renamed as (

    select
        -- ids
        snapshot_id,
        numero_ligne,

        -- names, as word keys
        {{ cle_mots('prenom') }} as cle_prenom,
        {{ cle_mots('nom') }} as cle_nom

    from source

)

select * from renamed
where cle_prenom is not null or cle_nom is not null
