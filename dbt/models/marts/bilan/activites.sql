{#- One row per valid activity, for the BI tool. Reference values, codes, numbers and dates only: no
    free text (Intitulé, Commentaire, Commune), and the public as a value of its list. -#}

with

activites as (

    select * from {{ ref('int_activites_validated') }}
    where est_valide

),

final as (

    select
        -- ids
        {{ identifiant_ligne('spreadsheet_title', 'tab', 'numero_ligne') }} as activite_id,

        -- dates
        date_activite as date,
        cast(year(date_activite) as integer) as annee,
        cast(month(date_activite) as integer) as mois,

        -- attributes
        departement,
        type_action,
        indicateur,
        public,

        -- measures
        participants,
        duree_jours

    from activites

)

select * from final
