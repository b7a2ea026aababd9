{#- Every activity row with its quarantine reasons (null when valid) and the indicator it feeds.
    A two-département action ('03/63') is valid only when both départements are in the network.
    The type of action decides what the row counts for: outside its list, the row is quarantined. The
    public is descriptive: outside its list it shows as 'non reconnu' and the cell is listed
    (int_cellules_signalees). A type added in the Listes tab counts, with no indicator of the bilan. -#}

with

activites as (

    select * from {{ ref('stg_sheets__activites') }}

),

listes as (

    select * from {{ ref('int_listes_resolved') }}

),

sync as (

    select * from {{ ref('stg_sheets__syncs') }}

),

reseau as (

    select departement from {{ ref('stg_sheets__departements_reseau') }}

),

matched as (

    select
        activites.*,
        types_action.valeur as type_action,
        types_action.indicateur,
        publics.valeur as public
    from activites
    left join listes as types_action
        on types_action.liste = 'Type d''action'
        and types_action.cle = {{ normaliser_texte('activites.type_action_brut') }}
    left join listes as publics
        on publics.liste = 'Public' and publics.cle = {{ normaliser_texte('activites.public_brut') }}

),

checked as (

    select
        activites.*,
        concat_ws(
            '; ',
            case
                when activites.date_brut is null then 'Date manquante'
                when activites.date_activite is null then 'Date illisible'
                when activites.date_activite < sync.date_min_plausible
                    then 'Date invraisemblable (avant le ' || strftime(sync.date_min_plausible, '%d/%m/%Y') || ')'
                when activites.date_activite > sync.date_execution
                    then 'Date invraisemblable (postérieure à la synchronisation : action à venir ?)'
            end,
            case
                when activites.departement_brut is null then 'Département manquant'
                when activites.departement is null then 'Département non reconnu'
                -- Both codes of a two-département action must be in the network.
                when split_part(activites.departement, '/', 1) not in (select r.departement from reseau as r)
                    or (
                        activites.departement like '%/%'
                        and split_part(activites.departement, '/', 2)
                        not in (select r.departement from reseau as r)
                    )
                    then 'Département hors réseau'
            end,
            case
                when activites.type_action_brut is null then 'Type d''action manquant'
                when activites.type_action is null then 'Type d''action hors liste'
            end,
            case
                when activites.participants_brut is not null
                    and (activites.participants is null or activites.participants < 0)
                    then 'Participants : pas un nombre entier positif ou nul'
                when activites.participants > sync.participants_max
                    then 'Participants : nombre invraisemblable (plus de ' || sync.participants_max || ')'
            end,
            case
                when activites.duree_jours_brut is not null
                    and (activites.duree_jours is null or activites.duree_jours < 0)
                    then 'Durée illisible'
                when activites.duree_jours > sync.duree_jours_max
                    then 'Durée (jours) invraisemblable (plus de '
                    || replace(cast(sync.duree_jours_max as varchar), '.0', '') || ' jours)'
                when activites.indicateur = 'sessions_formation' and coalesce(activites.duree_jours, 0) = 0
                    then 'Durée manquante pour une Formation'
            end
        ) as motifs
    from matched as activites
    cross join sync

),

final as (

    select
        -- ids
        snapshot_id,
        spreadsheet_title,
        tab,
        numero_ligne,

        -- dates
        date_activite,

        -- attributes
        departement,
        departement like '%/%' as est_bidepartementale,
        commune,
        type_action,
        indicateur,
        -- A descriptive value outside its list does not make the action invalid: it shows as such.
        case when public_brut is not null then coalesce(public, 'non reconnu') end as public,

        -- measures
        participants,
        duree_jours,

        -- raw text, for whoever fixes the sheet
        date_brut,
        departement_brut,
        type_action_brut,
        participants_brut,
        duree_jours_brut,

        -- quality
        nullif(motifs, '') as motif_quarantaine,
        motifs = '' as est_valide

    from checked

)

select * from final
