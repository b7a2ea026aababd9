{#- The values of the reference lists in force for the publication: what profil, type_structure,
    type_action and public may hold in the marts, where each value comes from, and the indicator an
    action type feeds. Variants (other spellings) stay in the lists: they are not values. -#}

with

listes as (

    select * from {{ ref('int_listes_resolved') }}

),

final as (

    select distinct
        liste,
        valeur,
        origine,
        indicateur,
        est_en_vigueur
    from listes

)

select * from final
