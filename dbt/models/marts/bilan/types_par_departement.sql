{#- The profiles and structure types of the Promeneurs active on 31 December, per year and network
    département, and for 'ensemble' (the distinct values over the whole network): the lists behind
    the types_profils and types_structures indicators. Labels only, no count of people.
    A value outside its list, or blank, shows as 'non reconnu' / 'non renseigné' (est_reconnu false):
    the Promeneur counts as active, the indicators count recognised values only. -#}

with

annees as (

    select * from {{ ref('int_annees_listed') }}

),

promeneurs as (

    select * from {{ ref('int_promeneurs_validated') }}
    where est_valide

),

-- Same definition as the annual indicators: still active at the end of 31 December.
actifs_fin_annee as (

    select
        annees.annee,
        promeneurs.departement,
        promeneurs.profil,
        promeneurs.profil_brut,
        promeneurs.type_structure,
        promeneurs.type_structure_brut
    from promeneurs
    inner join annees on {{ actif_fin_du_jour('promeneurs', 'annees.fin_annee') }}

),

listes as (

    select annee, departement, 'profil' as categorie, profil as libelle, profil_brut as brut
    from actifs_fin_annee
    union all
    select annee, departement, 'type_structure' as categorie, type_structure as libelle, type_structure_brut as brut
    from actifs_fin_annee

),

affichees as (

    select
        annee,
        departement,
        categorie,
        coalesce(libelle, case when brut is null then 'non renseigné' else 'non reconnu' end) as libelle,
        libelle is not null as est_reconnu
    from listes

),

final as (

    select distinct
        cast(annee as integer) as annee,
        departement,
        categorie,
        libelle,
        est_reconnu
    from affichees

    union

    select distinct
        cast(annee as integer) as annee,
        'ensemble' as departement,
        categorie,
        libelle,
        est_reconnu
    from affichees

)

select * from final
