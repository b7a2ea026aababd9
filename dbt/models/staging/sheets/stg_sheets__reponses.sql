{#- Questionnaire responses of the selected sync, blank rows dropped: the fixed fields of a response
    (timestamp, département; the e-mail is never selected: cle_repondant, computed by the flow, stands
    for it). The answers to questions are in stg_sheets__reponses_cellules.
    A Google Forms campaign is read in increments, so a response edited since a read appears again in a
    later snapshot: only its latest submission is kept, and it is numbered as the linked response sheet
    would number it (row 2 for the first response created). -#}

with

snapshots as (

    select * from {{ ref('stg_sheets__snapshots') }}

),

cellules as (

    select distinct snapshot_id, numero_ligne from {{ source('raw', 'reponses_cellules') }}
    where snapshot_id in (select snapshot_id from snapshots)

),

source as (

    select
        reponses.*,
        snapshots.spreadsheet_id,
        snapshots.spreadsheet_title,
        snapshots.tab,
        snapshots.extracted_at
    from {{ source('raw', 'reponses') }} as reponses
    inner join snapshots on snapshots.snapshot_id = reponses.snapshot_id
    left join cellules
        on cellules.snapshot_id = reponses.snapshot_id
        and cellules.numero_ligne = reponses.numero_ligne
    where
        cellules.snapshot_id is not null
        or not {{ ligne_vide(['reponses.horodateur', 'reponses.email', 'reponses.departement']) }}

),

-- Google Forms: the latest submission of each response.
latest as (

    select * from source
    qualify
        reponse_id is null
        or row_number() over (
            partition by spreadsheet_id, reponse_id order by extracted_at desc, numero_ligne desc
        ) = 1

),

renamed as (

    select
        -- ids
        snapshot_id,
        spreadsheet_title,
        tab,
        cast(
            case
                when reponse_id is null then numero_ligne
                else 1 + row_number() over (partition by spreadsheet_id, reponse_id is null order by cree_le, reponse_id)
            end as integer
        ) as numero_ligne,
        numero_ligne as ligne_brute,
        cle_repondant,

        -- dates
        {{ nettoyer_texte('horodateur') }} as horodateur_brut,
        {{ parser_horodatage('horodateur') }} as horodateur,

        -- place
        {{ nettoyer_texte('departement') }} as departement_brut,
        {{ normaliser_departement('departement') }} as departement

    from latest

)

select * from renamed
