-- The floor of the transformation: every cell of bilan.indicateurs_annuels computed by one hand-written
-- DuckDB query over the landed raw tables of the latest sync (raw.duckdb attached as `raw`), with the same
-- cell tolerances and quarantine rules as the dbt project, but none of its layering, tests or artefacts.
-- bench/run.py replaces {seeds} with the dbt seeds folder, runs the three macros, then times the query.

create or replace temp macro cle_ref(texte) as
    nullif(trim(regexp_replace(
        regexp_replace(lower(strip_accents(cast(texte as varchar))), '[’‘ʼ`´′]', '''', 'g'),
        '[\s\x{00A0}\x{2007}\x{202F}\x{200B}\x{FEFF}]+', ' ', 'g'
    )), '');

create or replace temp macro horodatage(texte) as (
    case
        when regexp_full_match(trim(texte), '[0-9]{1,6}([.,][0-9]+)?')
            then timestamp '1899-12-30'
                + to_seconds(cast(round(cast(replace(trim(texte), ',', '.') as double) * 86400) as bigint))
        else try_strptime(
            trim(texte), ['%d/%m/%Y %H:%M:%S', '%d/%m/%Y %H:%M', '%d/%m/%Y', '%Y-%m-%d %H:%M:%S', '%Y-%m-%d']
        )
    end
);

create or replace temp macro nombre(texte) as (
    case
        when regexp_full_match(replace(texte, ' ', ''), '[+-]?([0-9]+([.,][0-9]*)?|[.,][0-9]+)')
            then cast(replace(replace(texte, ' ', ''), ',', '.') as double)
    end
);

with

sync as (
    select sync_id, cast(started_at as date) as date_execution, departements
    from raw.main.syncs
    order by started_at desc
    limit 1
),

reseau as (
    select unnest(json_extract_string(departements, '$[*]')) as code from sync
),

snapshots as (
    select snapshots.*
    from raw.main.snapshots as snapshots
    inner join raw.main.sync_snapshots as liens on liens.snapshot_id = snapshots.snapshot_id
    inner join sync on sync.sync_id = liens.sync_id
),

-- Every accepted spelling of a département, keyed like the cells: lower case, no accents, punctuation -> space.
graphies as (
    select distinct code, cle
    from (
        select
            code,
            unnest([
                lower(code),
                case when regexp_full_match(code, '[0-9]+') then cast(cast(code as integer) as varchar) end,
                nom_cle,
                nom_cle || ' ' || lower(code),
                lower(code) || ' ' || nom_cle
            ]) as cle
        from (
            select code, trim(regexp_replace(lower(strip_accents(nom)), '[^a-z0-9]+', ' ', 'g')) as nom_cle
            from read_csv('{seeds}/departements.csv', all_varchar = true)
        )
    )
    where cle is not null
),

cellules_departement as (
    select departement as brut from raw.main.promeneurs where snapshot_id in (select snapshot_id from snapshots)
    union
    select departement from raw.main.activites where snapshot_id in (select snapshot_id from snapshots)
    union
    select departement from raw.main.reponses where snapshot_id in (select snapshot_id from snapshots)
),

-- Each distinct cell once: one code, or two codes joined by '/' in code order; null when not recognised.
departements_lus as (
    select
        brut,
        case
            when count(*) = count(graphies.code) and count(distinct graphies.code) between 1 and 2
                then string_agg(distinct graphies.code, '/' order by graphies.code)
        end as code
    from (
        select brut, trim(regexp_replace(lower(strip_accents(partie)), '[^a-z0-9]+', ' ', 'g')) as cle
        from (select brut, unnest(string_split(brut, '/')) as partie from cellules_departement where brut is not null)
    ) as parties
    left join graphies on graphies.cle = parties.cle
    group by brut
),

profils as (select libelle, cle_ref(libelle) as cle from read_csv('{seeds}/profils.csv', all_varchar = true)),
types_structure as (select libelle, cle_ref(libelle) as cle from read_csv('{seeds}/types_structure.csv', all_varchar = true)),
types_action as (select indicateur, cle_ref(libelle) as cle from read_csv('{seeds}/types_action.csv', all_varchar = true)),
echanges as (
    select cle_ref(option) as cle from read_csv('{seeds}/options_questionnaire.csv', all_varchar = true)
    where question = 'echanges'
),
indicateurs as (select indicateur from read_csv('{seeds}/indicateurs.csv', all_varchar = true)),

promeneurs_lus as (
    select
        departements_lus.code as departement,
        profils.libelle as profil,
        types_structure.libelle as type_structure,
        cast(horodatage(promeneurs.date_signature_charte) as date) as charte,
        cast(horodatage(promeneurs.date_sortie) as date) as sortie,
        nullif(trim(promeneurs.date_sortie), '') as sortie_brut,
        case
            when promeneurs.cle_promeneur is not null then row_number() over (
                partition by promeneurs.cle_promeneur
                order by snapshots.spreadsheet_title, snapshots.tab, promeneurs.numero_ligne
            )
        end as rang
    from raw.main.promeneurs as promeneurs
    inner join snapshots on snapshots.snapshot_id = promeneurs.snapshot_id
    left join departements_lus on departements_lus.brut = promeneurs.departement
    left join profils on profils.cle = cle_ref(promeneurs.profil)
    left join types_structure on types_structure.cle = cle_ref(promeneurs.type_structure)
),

promeneurs as (
    select departement, profil, type_structure, charte, sortie
    from promeneurs_lus
    where
        departement in (select code from reseau)
        and charte is not null
        and (sortie_brut is null or sortie >= charte)
        and profil is not null
        and type_structure is not null
        and coalesce(rang, 1) = 1
),

activites as (
    select
        cast(year(jour) as integer) as annee,
        departement,
        indicateur,
        duree
    from (
        select
            cast(horodatage(activites.date) as date) as jour,
            departements_lus.code as departement,
            types_action.indicateur,
            nombre(activites.duree_jours) as duree,
            nullif(trim(activites.duree_jours), '') as duree_brut,
            nombre(activites.participants) as participants,
            nullif(trim(activites.participants), '') as participants_brut
        from raw.main.activites as activites
        inner join snapshots on snapshots.snapshot_id = activites.snapshot_id
        left join departements_lus on departements_lus.brut = activites.departement
        left join types_action on types_action.cle = cle_ref(activites.type_action)
    )
    where
        jour between date '2000-01-01' and (select date_execution from sync) + to_months(12)
        and list_has_all((select list(code) from reseau), string_split(departement, '/'))
        and indicateur is not null
        and (participants_brut is null or (participants >= 0 and participants = floor(participants)))
        and (duree_brut is null or duree >= 0)
        and (indicateur <> 'sessions_formation' or duree is not null)
),

reponses as (
    select annee, departement
    from (
        select
            snapshots.campagne_annee as annee,
            departements_lus.code as departement,
            horodatage(reponses.horodateur) as horodateur,
            reponses.cle_repondant,
            reponses.numero_ligne,
            cle_ref(reponses.echanges) as echanges,
            [nombre(reponses.interet_reseaux_sociaux), nombre(reponses.interet_reseau_pdn),
             nombre(reponses.interet_formations), nombre(reponses.interet_journees_echanges)] as interets,
            [nullif(trim(reponses.interet_reseaux_sociaux), ''), nullif(trim(reponses.interet_reseau_pdn), ''),
             nullif(trim(reponses.interet_formations), ''), nullif(trim(reponses.interet_journees_echanges), '')]
                as interets_brut
        from raw.main.reponses as reponses
        inner join snapshots on snapshots.snapshot_id = reponses.snapshot_id
        left join departements_lus on departements_lus.brut = reponses.departement
    )
    where
        horodateur is not null
        and cle_repondant is not null
        and departement in (select code from reseau)
        and (echanges is null or echanges in (select cle from echanges))
        and len(list_filter(
            list_zip(interets_brut, interets),
            lambda p: p[1] is not null and (p[2] is null or p[2] not between 1 and 5 or p[2] <> floor(p[2]))
        )) = 0
    qualify row_number() over (partition by annee, cle_repondant order by horodateur desc, numero_ligne desc) = 1
),

campagnes as (
    select distinct campagne_annee as annee, campagne_cloture as cloture
    from snapshots
    where table_name = 'reponses'
),

annees as (
    select distinct annee from activites
    union
    select annee from campagnes
),

effectifs as (
    unpivot (
        select
            annees.annee,
            coalesce(promeneurs.departement, 'ensemble') as departement,
            count(*) filter (
                where promeneurs.charte <= make_date(annees.annee, 1, 1)
                    and coalesce(promeneurs.sortie >= make_date(annees.annee, 1, 1), true)
            ) as promeneurs_actifs_debut_annee,
            count(*) filter (where coalesce(promeneurs.sortie >= make_date(annees.annee, 12, 31), true))
                as promeneurs_actifs_fin_annee,
            count(*) filter (where promeneurs.charte > make_date(annees.annee, 1, 1)) as nouveaux_promeneurs,
            count(*) filter (
                where promeneurs.sortie >= make_date(annees.annee, 1, 1)
                    and promeneurs.sortie < make_date(annees.annee, 12, 31)
            ) as sorties,
            count(distinct promeneurs.profil)
                filter (where coalesce(promeneurs.sortie >= make_date(annees.annee, 12, 31), true)) as types_profils,
            count(distinct promeneurs.type_structure)
                filter (where coalesce(promeneurs.sortie >= make_date(annees.annee, 12, 31), true)) as types_structures
        from promeneurs
        inner join annees on promeneurs.charte <= make_date(annees.annee, 12, 31)
        group by grouping sets ((annees.annee, promeneurs.departement), (annees.annee))
    )
    on columns(* exclude (annee, departement))
    into name indicateur value valeur
),

mesures_activites as (
    select annee, coalesce(departement, 'ensemble') as departement, indicateur, sum(valeur) as valeur
    from (
        select annee, departement, indicateur, 1.0 as valeur from activites
        union all
        select annee, departement, 'jours_formation', duree from activites where indicateur = 'sessions_formation'
    )
    group by grouping sets ((annee, departement, indicateur), (annee, indicateur))
),

questionnaire as (
    unpivot (
        select
            coalesce(repondants.annee, actifs.annee) as annee,
            coalesce(repondants.departement, actifs.departement) as departement,
            coalesce(repondants.nombre, 0) as questionnaire_repondants,
            coalesce(actifs.nombre, 0) as promeneurs_actifs_cloture_questionnaire,
            coalesce(repondants.nombre, 0) / nullif(actifs.nombre, 0) as questionnaire_taux_participation
        from (
            select annee, coalesce(departement, 'ensemble') as departement, count(*) as nombre
            from reponses
            group by grouping sets ((annee, departement), (annee))
        ) as repondants
        full outer join (
            select campagnes.annee, coalesce(promeneurs.departement, 'ensemble') as departement, count(*) as nombre
            from promeneurs
            inner join campagnes
                on promeneurs.charte <= campagnes.cloture and coalesce(promeneurs.sortie >= campagnes.cloture, true)
            group by grouping sets ((campagnes.annee, promeneurs.departement), (campagnes.annee))
        ) as actifs
            on actifs.annee = repondants.annee and actifs.departement = repondants.departement
    )
    on columns(* exclude (annee, departement))
    into name indicateur value valeur
),

valeurs as (
    select annee, departement, indicateur, cast(valeur as double) as valeur from effectifs
    union all
    select annee, departement, indicateur, valeur from mesures_activites
    union all
    select annee, departement, indicateur, cast(valeur as double) from questionnaire
)

select
    annees.annee,
    departements.departement,
    indicateurs.indicateur,
    coalesce(valeurs.valeur, 0) as valeur
from annees
cross join (select code as departement from reseau union all select 'ensemble') as departements
cross join indicateurs
left join valeurs
    on valeurs.annee = annees.annee
    and valeurs.departement = departements.departement
    and valeurs.indicateur = indicateurs.indicateur
