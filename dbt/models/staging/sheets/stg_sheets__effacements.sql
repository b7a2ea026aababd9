{#- One row per pseudonymous key of a person who asked for erasure (pdn oubli), whatever the sync built:
    a row of theirs still in a sheet is quarantined (int_promeneurs_validated, int_reponses_validated). -#}

with

source as (

    select unnest(cles) as cle, efface_le from {{ source('raw', 'effacements') }}

),

renamed as (

    select
        -- ids
        cle,

        -- dates: the first erasure that named this key
        min(efface_le) as efface_le

    from source
    group by cle

)

select * from renamed
