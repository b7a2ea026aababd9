{#- Questionnaire responses of the selected sync, blank rows dropped. The e-mail is never selected
    (cle_repondant, computed by the flow, identifies a respondent) nor the free-text Commentaires.
    Checkbox answers stay as text here; int_reponses_options_unpivoted parses them. -#}

with

source as (

    select * from {{ source('raw', 'reponses') }}
    where
        snapshot_id in (select snapshot_id from {{ ref('stg_sheets__snapshots') }})
        and not {{ ligne_vide([
            'horodateur', 'email', 'departement', 'supports', 'reseaux', 'echanges', 'publications',
            'interet_reseaux_sociaux', 'interet_reseau_pdn', 'interet_formations',
            'interet_journees_echanges', 'commentaires',
        ]) }}

),

snapshots as (

    select * from {{ ref('stg_sheets__snapshots') }}

),

options_echanges as (

    select * from {{ ref('options_questionnaire') }}
    where question = 'echanges'

),

renamed as (

    select
        -- ids
        source.snapshot_id,
        snapshots.spreadsheet_title,
        snapshots.tab,
        source.numero_ligne,
        source.cle_repondant,

        -- dates
        {{ nettoyer_texte('source.horodateur') }} as horodateur_brut,
        {{ parser_horodatage('source.horodateur') }} as horodateur,

        -- place
        {{ nettoyer_texte('source.departement') }} as departement_brut,
        {{ normaliser_departement('source.departement') }} as departement,

        -- checkbox answers exactly as typed (options joined with ', ', then the "Autre" text, which
        -- must stay verbatim)
        nullif(trim(source.supports), '') as supports_brut,
        nullif(trim(source.reseaux), '') as reseaux_brut,
        nullif(trim(source.publications), '') as publications_brut,

        -- single choice: canonical option, null when not in the list
        {{ nettoyer_texte('source.echanges') }} as echanges_brut,
        options_echanges.option as echanges,

        -- interest scales (whole numbers; range checked in int_reponses_validated)
        {{ nettoyer_texte('source.interet_reseaux_sociaux') }} as interet_reseaux_sociaux_brut,
        {{ parser_entier('source.interet_reseaux_sociaux') }} as interet_reseaux_sociaux,
        {{ nettoyer_texte('source.interet_reseau_pdn') }} as interet_reseau_pdn_brut,
        {{ parser_entier('source.interet_reseau_pdn') }} as interet_reseau_pdn,
        {{ nettoyer_texte('source.interet_formations') }} as interet_formations_brut,
        {{ parser_entier('source.interet_formations') }} as interet_formations,
        {{ nettoyer_texte('source.interet_journees_echanges') }} as interet_journees_echanges_brut,
        {{ parser_entier('source.interet_journees_echanges') }} as interet_journees_echanges

    from source
    inner join snapshots on snapshots.snapshot_id = source.snapshot_id
    left join options_echanges
        on {{ normaliser_texte('options_echanges.option') }} = {{ normaliser_texte('source.echanges') }}

)

select * from renamed
