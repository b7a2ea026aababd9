-- The roster arithmetic month by month (effectifs_mensuels, day conventions in macros/promeneurs.sql), per
-- département and for 'ensemble': fin = debut + nouveaux - sorties; a month starts where the previous one
-- ended, and the first month with nobody (it is no later than the first charter); 'ensemble' = the sum of
-- the départements. One row per broken identity.
with

mensuels as (

    select
        *,
        lag(promeneurs_actifs_fin_mois) over (partition by departement order by mois) as fin_mois_precedent,
        row_number() over (partition by departement order by mois) = 1 as est_premier_mois
    from {{ ref('effectifs_mensuels') }}

),

departements as (

    select
        mois,
        sum(promeneurs_actifs_debut_mois) as debut,
        sum(nouveaux_promeneurs) as nouveaux,
        sum(sorties) as sorties,
        sum(promeneurs_actifs_fin_mois) as fin
    from mensuels
    where departement <> 'ensemble'
    group by mois

),

ecarts as (

    select mois, departement, 'fin <> debut + nouveaux - sorties' as identite,
        promeneurs_actifs_debut_mois + nouveaux_promeneurs - sorties as attendu, promeneurs_actifs_fin_mois as trouve
    from mensuels

    union all

    select mois, departement, 'debut du mois <> fin du mois précédent',
        case when est_premier_mois then 0 else fin_mois_precedent end, promeneurs_actifs_debut_mois
    from mensuels

    union all

    select mensuels.mois, mensuels.departement, 'ensemble <> somme des départements : ' || mesure.nom,
        mesure.somme, mesure.ensemble
    from mensuels
    inner join departements on departements.mois = mensuels.mois
    cross join lateral (
        values
            ('debut', departements.debut, mensuels.promeneurs_actifs_debut_mois),
            ('nouveaux', departements.nouveaux, mensuels.nouveaux_promeneurs),
            ('sorties', departements.sorties, mensuels.sorties),
            ('fin', departements.fin, mensuels.promeneurs_actifs_fin_mois)
    ) as mesure (nom, somme, ensemble)
    where mensuels.departement = 'ensemble'

)

select * from ecarts
where attendu is distinct from trouve
