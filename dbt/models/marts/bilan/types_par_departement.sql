{#- The profiles and structure types of the Promeneurs active on 31 December, per year and network
    département, and for 'ensemble' (the distinct values over the whole network): the lists behind
    the types_profils and types_structures indicators. Labels only, no count of people. -#}

with

annees as (

    select * from {{ ref('int_annees_listed') }}

),

promeneurs as (

    select * from {{ ref('int_promeneurs_validated') }}
    where est_valide

),

-- Same definition as the annual indicators: active on 31 December.
actifs_fin_annee as (

    select
        annees.annee,
        promeneurs.departement,
        promeneurs.profil,
        promeneurs.type_structure
    from promeneurs
    inner join annees on {{ actif_le('promeneurs', 'annees.fin_annee') }}

),

listes as (

    select annee, departement, 'profil' as categorie, profil as libelle from actifs_fin_annee
    union all
    select annee, departement, 'type_structure' as categorie, type_structure as libelle from actifs_fin_annee

),

final as (

    select distinct
        cast(annee as integer) as annee,
        departement,
        categorie,
        libelle
    from listes

    union

    select distinct
        cast(annee as integer) as annee,
        'ensemble' as departement,
        categorie,
        libelle
    from listes

)

select * from final
