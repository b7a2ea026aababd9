{#- Activity rows of the selected sync, blank rows dropped. Commentaire is free text and is not carried
    further; Intitulé and Commune are free text published only through the screen of
    int_actions_detaillees_screened. -#}

with

source as (

    select * from {{ source('raw', 'activites') }}
    where
        snapshot_id in (select snapshot_id from {{ ref('stg_sheets__snapshots') }})
        and not {{ ligne_vide([
            'date', 'departement', 'type_action', 'intitule', 'commune', 'public', 'participants',
            'duree_jours', 'commentaire',
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

        -- dates
        {{ nettoyer_texte('source.date') }} as date_brut,
        {{ parser_date('source.date') }} as date_activite,

        -- place
        {{ nettoyer_texte('source.departement') }} as departement_brut,
        {{ normaliser_departement('source.departement') }} as departement,
        {{ nettoyer_texte('source.commune') }} as commune,

        -- free text (published only once screened, see int_actions_detaillees_screened)
        {{ nettoyer_texte('source.intitule') }} as intitule,

        -- action: reference values as typed (matched against the lists in int_activites_validated)
        {{ nettoyer_texte('source.type_action') }} as type_action_brut,
        {{ nettoyer_texte('source.public') }} as public_brut,

        -- measures
        {{ nettoyer_texte('source.participants') }} as participants_brut,
        {{ parser_entier('source.participants') }} as participants,
        {{ nettoyer_texte('source.duree_jours') }} as duree_jours_brut,
        {{ parser_decimal('source.duree_jours') }} as duree_jours

    from source
    inner join snapshots on snapshots.snapshot_id = source.snapshot_id

)

select * from renamed
