{#- The values of the reference lists in force for the publication: what profil, type_structure,
    type_action and public may hold in the marts, where each value comes from, and the indicator an
    action type feeds. Variants (other spellings) stay in the lists: they are not values. A value typed in the
    Listes tab is screened like any published text (« valeur masquée 3fa1 » when it names someone). -#}

with

-- Every way a known person's name may be written: metadata is screened like free text (inlined, never stored).
motifs_noms as (

    {{ motifs_noms() }}

),

listes as (

    select * from {{ ref('int_listes_resolved') }}

),

final as (

    select distinct
        liste,
        {{ filtrer_metadonnee('valeur', 'valeur masquée') }} as valeur,
        origine,
        indicateur,
        est_en_vigueur
    from listes

)

select * from final
