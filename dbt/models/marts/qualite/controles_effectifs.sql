{#- Roster balance per year and département (and 'ensemble'): debut + nouveaux - sorties - fin
    must be 0 (ecart). -#}

with

indicateurs_annuels as (

    select * from {{ ref('indicateurs_annuels') }}

),

pivoted as (

    select
        annee,
        departement,
        max(valeur) filter (where indicateur = 'promeneurs_actifs_debut_annee') as debut,
        max(valeur) filter (where indicateur = 'nouveaux_promeneurs') as nouveaux,
        max(valeur) filter (where indicateur = 'sorties') as sorties,
        max(valeur) filter (where indicateur = 'promeneurs_actifs_fin_annee') as fin
    from indicateurs_annuels
    group by annee, departement

),

final as (

    select
        annee,
        departement,
        debut,
        nouveaux,
        sorties,
        fin,
        debut + nouveaux - sorties - fin as ecart
    from pivoted

)

select * from final
