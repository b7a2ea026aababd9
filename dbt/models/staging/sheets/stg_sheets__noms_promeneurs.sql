{{ config(materialized='ephemeral') }}

{#- The roster's first and last names of every sync ever landed, as word keys (cle_mots), for the screen of
    published free text (int_actions_detaillees_screened) and nothing else. Every sync, not only the one being
    built: a person who left the roster, or whose row was deleted from the sheet, is still named in old
    titles, and a replay of an old sync knows the names landed since; the screen can only hide more. Rows
    blanked by `pdn purge` have no name left; a person erased by `pdn oubli` has no row left, and their
    mentions are landed as « [effacé] », which the screen withholds. Ephemeral on purpose: inlined into that
    model's query, the names are never written to any relation, not even in the private build; every other
    model still sees identities only as cle_promeneur (stg_sheets__promeneurs). Every row of the roster
    counts, valid, quarantined or gone: a name is a name. One row per distinct pair of keys. -#}

with

source as (

    select * from {{ source('raw', 'promeneurs') }}
    where coalesce(prenom, nom) is not null

),

renamed as (

    select distinct
        -- names, as word keys
        {{ cle_mots('prenom') }} as cle_prenom,
        {{ cle_mots('nom') }} as cle_nom

    from source

)

select * from renamed
where cle_prenom is not null or cle_nom is not null
