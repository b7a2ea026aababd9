{#- The network's départements with their official names, for report headings and BI labels. -#}

with

reseau as (

    select departement from {{ ref('stg_sheets__departements_reseau') }}

),

departements as (

    select * from {{ ref('departements') }}

),

final as (

    select
        reseau.departement,
        coalesce(departements.nom, reseau.departement) as nom_departement
    from reseau
    left join departements on departements.code = reseau.departement

)

select * from final
