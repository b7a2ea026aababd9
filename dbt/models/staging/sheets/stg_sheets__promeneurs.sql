{#- Roster rows of the selected sync, blank rows dropped. nom, prenom and email are never selected:
    cle_promeneur (computed by the flow) is the only identity that leaves raw. -#}

with

source as (

    select * from {{ source('raw', 'promeneurs') }}
    where
        snapshot_id in (select snapshot_id from {{ ref('stg_sheets__snapshots') }})
        and not {{ ligne_vide([
            'nom', 'prenom', 'email', 'departement', 'commune', 'structure', 'type_structure', 'profil',
            'date_signature_charte', 'date_sortie',
        ]) }}

),

snapshots as (

    select * from {{ ref('stg_sheets__snapshots') }}

),

renamed as (

    select
        -- ids
        source.snapshot_id,
        snapshots.spreadsheet_title,
        snapshots.tab,
        source.numero_ligne,
        source.cle_promeneur,
        source.cle_nom_structure,
        source.cle_nom,

        -- place
        {{ nettoyer_texte('source.departement') }} as departement_brut,
        {{ normaliser_departement('source.departement') }} as departement,
        {{ nettoyer_texte('source.commune') }} as commune,
        {{ nettoyer_texte('source.structure') }} as structure,

        -- reference values as typed (matched against the lists in int_promeneurs_validated)
        {{ nettoyer_texte('source.type_structure') }} as type_structure_brut,
        {{ nettoyer_texte('source.profil') }} as profil_brut,

        -- dates
        {{ nettoyer_texte('source.date_signature_charte') }} as date_signature_charte_brut,
        {{ parser_date('source.date_signature_charte') }} as date_signature_charte,
        {{ nettoyer_texte('source.date_sortie') }} as date_sortie_brut,
        {{ parser_date('source.date_sortie') }} as date_sortie

    from source
    inner join snapshots on snapshots.snapshot_id = source.snapshot_id

)

select * from renamed
