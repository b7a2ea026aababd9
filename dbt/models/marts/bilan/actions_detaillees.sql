{#- One row per valid action of a type published in detail (seed types_action_publies), for the bilan sent
    to the CAF: training sessions, workshops and events with their title and commune, the network's meetings
    with their commune (where the network acted), committees with their date. Titles and communes come screened from int_actions_detaillees_screened (names and contact details
    withheld); the withheld text is nowhere in this table. -#}

with

actions as (

    select * from {{ ref('int_actions_detaillees_screened') }}

),

final as (

    select
        -- ids
        {{ identifiant_ligne('spreadsheet_title', 'tab', 'numero_ligne') }} as activite_id,

        -- dates
        cast(year(date_activite) as integer) as annee,
        date_activite as date_action,

        -- attributes
        departement,
        type_action,
        intitule,
        intitule_masque,
        commune,
        commune_masquee,

        -- measures
        participants

    from actions
    order by date_activite, departement, type_action, spreadsheet_title, tab, numero_ligne

)

select * from final
