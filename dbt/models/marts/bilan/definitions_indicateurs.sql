with

indicateurs as (

    select * from {{ ref('indicateurs') }}

),

final as (

    select
        indicateur,
        libelle,
        nature,
        additif,
        domaine,
        ordre,
        description
    from indicateurs

)

select * from final
