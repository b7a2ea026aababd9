-- The roster arithmetic of the bilan, per year and département and for 'ensemble' (day conventions in
-- macros/promeneurs.sql): fin = debut + nouveaux - sorties; debut(N) = fin(N-1) when both years are reported;
-- 'ensemble' = the sum of the départements (periods never overlap); and each year agrees with its twelve
-- months of effectifs_mensuels (debut = January's start, fin = December's end, nouveaux and sorties = the sums
-- of its months). One row per broken identity.
with

annuels as (

    select
        annee,
        departement,
        max(valeur) filter (where indicateur = 'promeneurs_actifs_debut_annee') as debut,
        max(valeur) filter (where indicateur = 'nouveaux_promeneurs') as nouveaux,
        max(valeur) filter (where indicateur = 'sorties') as sorties,
        max(valeur) filter (where indicateur = 'promeneurs_actifs_fin_annee') as fin
    from {{ ref('indicateurs_annuels') }}
    group by annee, departement

),

mensuels as (

    select
        annee,
        departement,
        count(*) as mois,
        arg_min(promeneurs_actifs_debut_mois, mois) as debut,
        sum(nouveaux_promeneurs) as nouveaux,
        sum(sorties) as sorties,
        arg_max(promeneurs_actifs_fin_mois, mois) as fin
    from {{ ref('effectifs_mensuels') }}
    group by annee, departement

),

departements as (

    select
        annee,
        sum(debut) as debut,
        sum(nouveaux) as nouveaux,
        sum(sorties) as sorties,
        sum(fin) as fin
    from annuels
    where departement <> 'ensemble'
    group by annee

),

ecarts as (

    select annee, departement, 'fin <> debut + nouveaux - sorties' as identite, debut + nouveaux - sorties as attendu,
        fin as trouve
    from annuels

    union all

    select suivante.annee, suivante.departement, 'debut(N) <> fin(N-1)', precedente.fin, suivante.debut
    from annuels as suivante
    inner join annuels as precedente
        on precedente.annee = suivante.annee - 1 and precedente.departement = suivante.departement

    union all

    select annuels.annee, annuels.departement, 'ensemble <> somme des départements : ' || mesure.nom,
        mesure.somme, mesure.ensemble
    from annuels
    inner join departements on departements.annee = annuels.annee
    cross join lateral (
        values
            ('debut', departements.debut, annuels.debut),
            ('nouveaux', departements.nouveaux, annuels.nouveaux),
            ('sorties', departements.sorties, annuels.sorties),
            ('fin', departements.fin, annuels.fin)
    ) as mesure (nom, somme, ensemble)
    where annuels.departement = 'ensemble'

    union all

    select annuels.annee, annuels.departement, 'année <> ses mois : ' || mesure.nom, mesure.mois, mesure.annee
    from annuels
    left join mensuels on mensuels.annee = annuels.annee and mensuels.departement = annuels.departement
    cross join lateral (
        values
            ('nombre de mois', coalesce(mensuels.mois, 0), 12),
            ('debut', mensuels.debut, annuels.debut),
            ('nouveaux', mensuels.nouveaux, annuels.nouveaux),
            ('sorties', mensuels.sorties, annuels.sorties),
            ('fin', mensuels.fin, annuels.fin)
    ) as mesure (nom, mois, annee)

)

select * from ecarts
where attendu is distinct from trouve
