-- The floor of the transformation: every cell of bilan.indicateurs_annuels computed by one hand-written
-- DuckDB query over the landed raw tables of the latest sync (raw.duckdb attached as `raw`), with the same
-- cell tolerances, reference lists, bounds and quarantine rules as the dbt project, but none of its layering,
-- tests or artefacts. Only what decides a figure is computed: a row's validity, never its quarantine reasons.
-- Blank sheet rows are not dropped first (ligne_vide): each is invalid anyway (no date, no département) and
-- carries no identity key, so it neither counts nor ranks against a valid row.
-- bench/run.py replaces {seeds} with the dbt seeds folder, strips the lines that start with --, splits the
-- rest on semicolons (so none may appear anywhere else), runs the macros, then times the query.

-- Display text (nettoyer_texte): whitespace runs of any kind collapsed to one space, trimmed, '' -> null.
create or replace temp macro nettoyer(texte) as
    nullif(trim(regexp_replace(
        cast(texte as varchar), '[[:space:]\x{00A0}\x{2007}\x{202F}\x{200B}\x{FEFF}]+', ' ', 'g'
    )), '');

-- Matching key of a reference value (normaliser_texte): lower case, no accents, one apostrophe.
create or replace temp macro cle_ref(texte) as
    nettoyer(regexp_replace(lower(strip_accents(cast(texte as varchar))), '[’‘ʼ`´′]', '''', 'g'));

-- Date-time of an already cleaned cell (parser_horodatage): serial number (20000 to 80000 only), day-first
-- date, ISO date.
create or replace temp macro horodatage(texte) as (
    case
        when regexp_full_match(texte, '[0-9]{1,6}([.,][0-9]+)?')
            and cast(replace(texte, ',', '.') as double) between 20000 and 80000
            then timestamp '1899-12-30'
                + to_seconds(cast(round(cast(replace(texte, ',', '.') as double) * 86400) as bigint))
        when regexp_full_match(texte, '[0-9]{1,2}[/.-][0-9]{1,2}[/.-][0-9]{4}( [0-9]{1,2}:[0-9]{2}(:[0-9]{2})?)?')
            then try_strptime(
                regexp_replace(texte, '^([0-9]+)[/.-]([0-9]+)[/.-]', '\1/\2/'),
                ['%d/%m/%Y %H:%M:%S', '%d/%m/%Y %H:%M', '%d/%m/%Y']
            )
        when regexp_full_match(texte, '[0-9]{4}-[0-9]{1,2}-[0-9]{1,2}([ T][0-9]{1,2}:[0-9]{2}(:[0-9]{2}([.][0-9]+)?)?)?')
            then try_strptime(
                replace(texte, 'T', ' '), ['%Y-%m-%d %H:%M:%S.%f', '%Y-%m-%d %H:%M:%S', '%Y-%m-%d %H:%M', '%Y-%m-%d']
            )
    end
);

-- A number typed in French (parser_decimal): every whitespace removed, decimal comma, else null.
create or replace temp macro nombre(texte) as (
    case
        when regexp_full_match(
            regexp_replace(cast(texte as varchar), '[[:space:]\x{00A0}\x{2007}\x{202F}\x{200B}\x{FEFF}]', '', 'g'),
            '[+-]?([0-9]+([.,][0-9]*)?|[.,][0-9]+)'
        )
            then cast(replace(
                regexp_replace(cast(texte as varchar), '[[:space:]\x{00A0}\x{2007}\x{202F}\x{200B}\x{FEFF}]', '', 'g'),
                ',', '.'
            ) as double)
    end
);

-- A whole number (parser_entier), from the value of nombre(): null when it has a fractional part.
create or replace temp macro entier(valeur) as (
    case when valeur = floor(valeur) and abs(valeur) < 1e15 then cast(valeur as bigint) end
);

with

-- The sync dbt builds by default (stg_sheets__syncs) and the bounds recorded with it.
sync as (
    select
        sync_id,
        started_at as lance_le,
        cast(started_at as date) as date_execution,
        departements,
        cast(json_extract_string(parametres, '$.bornes.date_min') as date) as date_min,
        cast(json_extract_string(parametres, '$.bornes.mois_sortie_future') as integer) as mois_sortie_future,
        cast(json_extract_string(parametres, '$.bornes.participants_max') as integer) as participants_max,
        cast(json_extract_string(parametres, '$.bornes.duree_jours_max') as double) as duree_jours_max
    from raw.main.syncs
    order by started_at desc, sync_id desc
    limit 1
),

snapshots as (
    select snapshots.*
    from raw.main.snapshots as snapshots
    where snapshots.snapshot_id in (
        select snapshot_id from raw.main.sync_snapshots where sync_id = (select sync_id from sync)
    )
),

effacees as (
    select unnest(cles) as cle from raw.main.effacements
),

-- ---------------------------------------------------------------------------------------------------
-- Départements (normaliser_departement), parsed once per distinct cell: one code, or two joined by '/'.
-- ---------------------------------------------------------------------------------------------------

departements_ref as (
    select code, trim(regexp_replace(coalesce(cle_ref(nom), ''), '[^a-z0-9]+', ' ', 'g')) as cle_nom
    from read_csv('{seeds}/departements.csv', all_varchar = true)
),

cellules_departement as (
    select departement as brut from raw.main.promeneurs where snapshot_id in (select snapshot_id from snapshots)
    union
    select departement from raw.main.activites where snapshot_id in (select snapshot_id from snapshots)
    union
    select departement from raw.main.reponses where snapshot_id in (select snapshot_id from snapshots)
    union
    select unnest(json_extract_string(departements, '$[*]')) from sync
),

departements_lus as (
    select
        parties.brut,
        case
            when count(*) = count(departements_ref.code) and count(distinct departements_ref.code) between 1 and 2
                then string_agg(distinct departements_ref.code, '/' order by departements_ref.code)
        end as code
    from (
        select
            brut,
            cle_partie,
            trim(regexp_replace(regexp_replace(cle_partie, '\b([0-9]{1,3}|2[ab])\b', ' ', 'g'), ' +', ' ', 'g')) as reste,
            case
                when len(jetons) = 1 and regexp_full_match(jetons[1], '[0-9]+')
                    then printf('%02d', cast(jetons[1] as integer))
                when len(jetons) = 1 then upper(jetons[1])
            end as code_candidat
        from (
            select brut, cle_partie, regexp_extract_all(cle_partie, '\b([0-9]{1,3}|2[ab])\b', 1) as jetons
            from (
                select brut, trim(regexp_replace(coalesce(cle_ref(partie), ''), '[^a-z0-9]+', ' ', 'g')) as cle_partie
                from (select brut, unnest(string_split(brut, '/')) as partie from cellules_departement)
            )
        )
    ) as parties
    left join departements_ref
        on (
            departements_ref.code = parties.code_candidat
            and parties.reste in ('', departements_ref.cle_nom, 'dep', 'dept', 'departement')
        )
        or (parties.code_candidat is null and departements_ref.cle_nom = parties.cle_partie)
    group by parties.brut
),

-- The network (stg_sheets__departements_reseau), one row per code.
reseau as (
    select distinct departements_lus.code as departement
    from (select unnest(json_extract_string(departements, '$[*]')) as brut from sync) as codes
    inner join departements_lus on departements_lus.brut = codes.brut
),

-- Whether a cell names a network département: one code for a Promeneur or a response, one or two codes
-- (both in the network) for an action.
departements as (
    select
        brut,
        code,
        code not like '%/%' and code in (select departement from reseau) as est_du_reseau,
        split_part(code, '/', 1) in (select departement from reseau)
            and (code not like '%/%' or split_part(code, '/', 2) in (select departement from reseau))
            as action_du_reseau
    from departements_lus
    where code is not null
),

-- ---------------------------------------------------------------------------------------------------
-- Date cells (parser_horodatage), parsed once per distinct text: strptime is the costliest step of all, and
-- a sheet repeats its dates. Materialized, so that each filter does not parse them again.
-- ---------------------------------------------------------------------------------------------------

dates_lues as materialized (
    select
        brut, nettoyer(brut) is not null as est_rempli, horodatage, cast(horodatage as date) as jour,
        case
            when regexp_full_match(nettoyer(brut), '[0-9]{1,2}[/.-][0-9]{1,2}[/.-][0-9]{4}.*')
                then case
                    when cast(regexp_extract(nettoyer(brut), '^([0-9]+)', 1) as integer) > 12 then 'jour_mois'
                    when cast(regexp_extract(nettoyer(brut), '^[0-9]+[/.-]([0-9]+)', 1) as integer) > 12
                        then 'mois_jour'
                end
        end as preuve_ordre
    from (
        select brut, horodatage(nettoyer(brut)) as horodatage
        from (
            select date from raw.main.activites where snapshot_id in (select snapshot_id from snapshots)
            union
            select date_signature_charte from raw.main.promeneurs where snapshot_id in (select snapshot_id from snapshots)
            union
            select date_sortie from raw.main.promeneurs where snapshot_id in (select snapshot_id from snapshots)
            union
            select horodateur from raw.main.reponses where snapshot_id in (select snapshot_id from snapshots)
        ) as cellules (brut)
        where brut is not null
    )
),

-- ---------------------------------------------------------------------------------------------------
-- Reference lists in force (int_listes_resolved): bundled lists first, then the Listes tabs of every sync up
-- to this one (latest first). Only the lists that decide a figure; a value is known by its matching key.
-- ---------------------------------------------------------------------------------------------------

listes_lues as (
    select
        listes.numero_ligne,
        lectures.spreadsheet_id = 'listes-fournies' as est_fournie,
        lectures.lance_le,
        regexp_replace(cle_ref(listes.liste), 's\b', '', 'g') as cle_liste,
        nettoyer(listes.liste) as liste,
        nettoyer(listes.valeur) as valeur,
        list_filter(
            list_transform(string_split_regex(coalesce(listes.variantes, ''), '[|\x3B\n]'), lambda v: nettoyer(v)),
            lambda v: v is not null
        ) as variantes,
        nettoyer(listes.indicateur) as indicateur
    from raw.main.listes as listes
    inner join (
        select snapshots.snapshot_id, snapshots.spreadsheet_id, max(syncs.started_at) as lance_le
        from raw.main.snapshots as snapshots
        inner join raw.main.sync_snapshots as liens on liens.snapshot_id = snapshots.snapshot_id
        inner join raw.main.syncs as syncs on syncs.sync_id = liens.sync_id
        where snapshots.table_name = 'listes' and syncs.started_at <= (select lance_le from sync)
        group by snapshots.snapshot_id, snapshots.spreadsheet_id
    ) as lectures on lectures.snapshot_id = listes.snapshot_id
),

-- A tab names a list loosely: it is the bundled list of the same key (plurals ignored).
entrees_listes as (
    select lues.est_fournie, lues.lance_le, lues.numero_ligne, noms.liste, lues.valeur, lues.variantes, lues.indicateur
    from listes_lues as lues
    inner join (select distinct cle_liste, liste from listes_lues where est_fournie) as noms
        on noms.cle_liste = lues.cle_liste
    where lues.valeur is not null and noms.liste in ('Profil', 'Type de structure', 'Type d''action')
),

revendications as (
    select liste, est_fournie, lance_le, numero_ligne, valeur, cle_ref(valeur) as cle, false as est_variante
    from entrees_listes
    union all
    select liste, est_fournie, lance_le, numero_ligne, valeur, cle_ref(variante) as cle, true as est_variante
    from (select *, unnest(variantes) as variante from entrees_listes)
),

fournies as (
    select * from revendications
    where est_fournie
    qualify row_number() over (partition by liste, cle order by lance_le desc, est_variante, numero_ligne) = 1
),

candidates as (
    select liste, cle, valeur as valeur_cible, 0 as priorite, lance_le, est_variante, numero_ligne
    from fournies
    union all
    -- A tab entry whose value is a bundled spelling stands for that bundled value.
    select
        revendications.liste, revendications.cle, coalesce(fournies.valeur, revendications.valeur), 1,
        revendications.lance_le, revendications.est_variante, revendications.numero_ligne
    from revendications
    left join fournies
        on fournies.liste = revendications.liste and fournies.cle = cle_ref(revendications.valeur)
    where not revendications.est_fournie
),

-- An action type's indicator comes from the bundled lists only: a type added in a tab counts in none.
listes as (
    select resolues.liste, resolues.cle, resolues.cle_valeur, indicateurs.indicateur
    from (
        select liste, cle, cle_ref(valeur_cible) as cle_valeur
        from candidates
        qualify row_number() over (
            partition by liste, cle order by priorite, lance_le desc, est_variante, numero_ligne
        ) = 1
    ) as resolues
    left join (
        select liste, cle_ref(valeur) as cle_valeur, first(indicateur order by lance_le desc, numero_ligne) as indicateur
        from entrees_listes
        where est_fournie and indicateur is not null
        group by liste, cle_ref(valeur)
    ) as indicateurs on indicateurs.liste = resolues.liste and indicateurs.cle_valeur = resolues.cle_valeur
),

-- ---------------------------------------------------------------------------------------------------
-- Promeneurs (int_promeneurs_validated): valid rows only. Profile and structure type never quarantine.
-- ---------------------------------------------------------------------------------------------------

promeneurs_lus as (
    select
        promeneurs.cle_promeneur,
        promeneurs.cle_nom_structure,
        promeneurs.cle_nom,
        promeneurs.cle_promeneur is distinct from promeneurs.cle_nom_structure as a_email,
        coalesce(
            promeneurs.cle_promeneur in (select cle from effacees)
            or promeneurs.cle_nom_structure in (select cle from effacees),
            false
        ) as est_effacee,
        snapshots.spreadsheet_title,
        snapshots.tab,
        promeneurs.numero_ligne,
        departements.code as departement,
        coalesce(departements.est_du_reseau, false) as est_du_reseau,
        profils.cle_valeur as profil,
        structures.cle_valeur as type_structure,
        chartes.jour as charte,
        sorties.jour as sortie,
        coalesce(sorties.est_rempli, false) as a_sortie
    from raw.main.promeneurs as promeneurs
    inner join snapshots on snapshots.snapshot_id = promeneurs.snapshot_id
    left join departements on departements.brut = promeneurs.departement
    left join dates_lues as chartes on chartes.brut = promeneurs.date_signature_charte
    left join dates_lues as sorties on sorties.brut = promeneurs.date_sortie
    left join listes as profils on profils.liste = 'Profil' and profils.cle = cle_ref(promeneurs.profil)
    left join listes as structures
        on structures.liste = 'Type de structure' and structures.cle = cle_ref(promeneurs.type_structure)
),

-- A shared mailbox (one address, several full names) is one person per full name (int_promeneurs_validated).
adresses_partagees as (
    select cle_promeneur
    from promeneurs_lus
    where a_email and cle_nom is not null and not est_effacee
    group by cle_promeneur
    having count(distinct cle_nom) > 1
),

-- Rows valid on their own (every rule but the identity rule). A row without e-mail that has the name and
-- structure of a row with one is ambiguous (blank rows have no key).
promeneurs_valides_seuls as (
    select *
    from (
        select
            *,
            case
                when cle_nom_structure is not null and not a_email
                    then bool_or(a_email) over (partition by cle_nom_structure)
            end as meme_nom_avec_email,
            case
                when cle_promeneur in (select cle_promeneur from adresses_partagees)
                    then cle_promeneur || ':' || coalesce(cle_nom, '')
                else cle_promeneur
            end as cle_personne
        from promeneurs_lus
    ) as lus
    cross join sync
    where
        not est_effacee
        and est_du_reseau
        and charte is not null
        and not coalesce(charte < sync.date_min, false)
        and charte <= sync.date_execution
        and not (a_sortie and sortie is null)
        and not coalesce(sortie < sync.date_min, false)
        and not coalesce(sortie > sync.date_execution + to_months(sync.mois_sortie_future), false)
        and not coalesce(sortie < charte, false)
),

-- Periods, not rows: a person's periods are ranked by content, and one that overlaps a better-ranked period
-- of the same person is a duplicate (int_promeneurs_validated).
periodes as (
    select
        *,
        case when cle_personne is not null then row_number() over (
            partition by cle_personne
            order by charte, sortie nulls last, departement, profil nulls last, type_structure nulls last,
                spreadsheet_title, tab, numero_ligne
        ) end as rang
    from promeneurs_valides_seuls
),

promeneurs as (
    select departement, profil, type_structure, charte, sortie
    from periodes
    where
        not coalesce(meme_nom_avec_email, false)
        and not exists (
            select 1 from periodes as gardee
            where gardee.cle_personne = periodes.cle_personne
                and gardee.rang < periodes.rang
                and gardee.charte <= coalesce(periodes.sortie, date '9999-12-31')
                and periodes.charte <= coalesce(gardee.sortie, date '9999-12-31')
        )
),

-- ---------------------------------------------------------------------------------------------------
-- Activities (int_activites_validated): valid rows, with the indicator of their type (null for a tab's type:
-- the row is valid and its year listed, but it counts in no indicator).
-- ---------------------------------------------------------------------------------------------------

-- Materialized: numbers parsed once per row, and DuckDB then builds the lookups' hash tables on the small side.
activites_sync as materialized (
    select
        snapshot_id, numero_ligne, date, departement, type_action,
        cle_ref(intitule) as intitule,
        cle_ref(commune) as commune,
        nettoyer(participants) is not null as a_participants,
        nombre(participants) as participants,
        nettoyer(duree_jours) is not null as a_duree,
        nombre(duree_jours) as duree
    from raw.main.activites
    where snapshot_id in (select snapshot_id from snapshots)
),

-- A date column that only reads month-first (ordre_jour_mois) refuses every row of its tab.
colonnes_americaines as (
    select activites.snapshot_id
    from activites_sync as activites
    inner join dates_lues as dates on dates.brut = activites.date
    group by activites.snapshot_id
    having bool_or(dates.preuve_ordre = 'mois_jour') and not coalesce(bool_or(dates.preuve_ordre = 'jour_mois'), false)
),

activites_valides as materialized (
    select
        lues.snapshot_id, lues.numero_ligne, snapshots.spreadsheet_title as titre,
        annee, departement, indicateur, duree,
        concat_ws(
            chr(31), jour, departement, type_action_valeur, coalesce(intitule, '∅'), coalesce(commune, '∅'),
            coalesce(cast(participants as varchar), '∅')
        ) as cle_action,
        row_number() over (partition by lues.snapshot_id order by lues.numero_ligne) as position
    from (
        select
            activites.snapshot_id,
            activites.numero_ligne,
            cast(year(dates.jour) as integer) as annee,
            dates.jour,
            departements.code as departement,
            departements.action_du_reseau,
            types_action.indicateur,
            types_action.cle_valeur as type_action_valeur,
            activites.intitule,
            activites.commune,
            a_participants,
            entier(activites.participants) as participants,
            a_duree,
            duree
        from activites_sync as activites
        inner join dates_lues as dates on dates.brut = activites.date
        inner join departements on departements.brut = activites.departement
        inner join listes as types_action
            on types_action.liste = 'Type d''action' and types_action.cle = cle_ref(activites.type_action)
    ) as lues
    inner join snapshots on snapshots.snapshot_id = lues.snapshot_id
    cross join sync
    where
        jour is not null
        and not coalesce(jour < sync.date_min, false)
        and jour <= sync.date_execution
        and action_du_reseau
        and not (a_participants and (participants is null or participants < 0))
        and not coalesce(participants > sync.participants_max, false)
        and not (a_duree and (duree is null or duree < 0))
        and not coalesce(duree > sync.duree_jours_max, false)
        and not coalesce(indicateur = 'sessions_formation' and coalesce(duree, 0) = 0, false)
        and lues.snapshot_id not in (select snapshot_id from colonnes_americaines)
),

-- Copies counted once: a row of a later spreadsheet than its action's first, or of a pasted block.
paires_actions as (
    select suivante.snapshot_id, suivante.numero_ligne, suivante.position, suivante.position - precedente.position as ecart
    from activites_valides as suivante
    inner join activites_valides as precedente
        on precedente.snapshot_id = suivante.snapshot_id
        and precedente.cle_action = suivante.cle_action
        and suivante.position - precedente.position >= 2
),

copies_de_bloc as (
    select distinct paire.snapshot_id, paire.numero_ligne
    from paires_actions as paire
    inner join paires_actions as voisine
        on voisine.snapshot_id = paire.snapshot_id
        and voisine.ecart = paire.ecart
        and abs(voisine.position - paire.position) = 1
),

activites as (
    select rangees.annee, rangees.departement, rangees.indicateur, rangees.duree
    from (select *, min(titre) over (partition by cle_action) as premier_titre from activites_valides) as rangees
    left join copies_de_bloc
        on copies_de_bloc.snapshot_id = rangees.snapshot_id and copies_de_bloc.numero_ligne = rangees.numero_ligne
    where rangees.premier_titre = rangees.titre and copies_de_bloc.numero_ligne is null
),

-- ---------------------------------------------------------------------------------------------------
-- Questionnaire (stg_sheets__reponses, int_questions_campagnes_matched, int_reponses_validated).
-- ---------------------------------------------------------------------------------------------------

campagnes as (
    select
        snapshot_id,
        spreadsheet_id as document_id,
        extracted_at,
        campagne_annee,
        campagne_ouverture,
        campagne_cloture,
        coalesce(colonnes_json, '[]') as colonnes_json,
        coalesce(correspondances_json, '{}') as correspondances_json,
        coalesce(sans_email, false) as sans_email
    from snapshots
    where table_name = 'reponses'
),

-- A campaign's questions are those of its latest read.
campagnes_lues as (
    select * from campagnes
    qualify extracted_at = max(extracted_at) over (partition by document_id)
),

-- Google Forms questions, with the title each had when its form was first read (up to this sync).
formulaires as (
    select * from (
        select
            questions.snapshot_id,
            lectures.spreadsheet_id as document_id,
            questions.question_id,
            nettoyer(questions.titre) as titre,
            questions.position,
            first_value(nettoyer(questions.titre)) over (
                partition by lectures.spreadsheet_id, questions.question_id
                order by lectures.extracted_at, questions.snapshot_id
            ) as premier_titre
        from raw.main.formulaires_questions as questions
        inner join raw.main.snapshots as lectures on lectures.snapshot_id = questions.snapshot_id
        where questions.snapshot_id in (
            select liens.snapshot_id
            from raw.main.sync_snapshots as liens
            inner join raw.main.syncs as syncs on syncs.sync_id = liens.sync_id
            where syncs.started_at <= (select lance_le from sync)
        )
    )
    where snapshot_id in (select snapshot_id from snapshots)
),

catalogue as (
    select nettoyer(question) as question, nettoyer(type) as type_question, intitules, libelle
    from read_csv('{seeds}/questionnaire.csv', all_varchar = true)
),

-- Every header key a catalogue question has had.
cles_catalogue as (
    select cle_ref(intitule) as cle, max(question) as question
    from (
        select question, unnest(list_append(string_split(coalesce(intitules, ''), '|'), libelle)) as intitule
        from catalogue
    )
    where cle_ref(intitule) is not null
    group by cle_ref(intitule)
),

colonnes as (
    select
        colonnes.document_id,
        colonnes.position,
        coalesce(colonnes.question_id, cle_ref(colonnes.colonne)) as cle_colonne,
        coalesce(correspondances.question_declaree, par_premier_titre.question, par_titre.question)
            as question_trouvee
    from (
        select
            snapshot_id,
            document_id,
            unnest(from_json(colonnes_json, '["VARCHAR"]')) as colonne,
            generate_subscripts(from_json(colonnes_json, '["VARCHAR"]'), 1) as position,
            cast(null as varchar) as question_id,
            cast(null as varchar) as premier_titre
        from campagnes_lues
        where snapshot_id not in (select snapshot_id from formulaires)
        union all
        select snapshot_id, document_id, titre, position, question_id, premier_titre
        from formulaires
        where snapshot_id in (select snapshot_id from campagnes_lues)
    ) as colonnes
    -- Titles sources.toml maps to a question for one campaign.
    left join (
        select document_id, cle_ref(entree.key) as cle_titre, entree.value as question_declaree
        from (
            select document_id, unnest(map_entries(from_json(correspondances_json, '"MAP(VARCHAR, VARCHAR)"'))) as entree
            from campagnes_lues
        )
    ) as correspondances
        on correspondances.document_id = colonnes.document_id
        and correspondances.cle_titre = cle_ref(colonnes.colonne)
    left join cles_catalogue as par_premier_titre on par_premier_titre.cle = cle_ref(colonnes.premier_titre)
    left join cles_catalogue as par_titre on par_titre.cle = cle_ref(colonnes.colonne)
    where cle_ref(colonnes.colonne) is not null
),

-- The columns that answer a scale question (the first column of a question; a second one is not counted).
colonnes_echelle as (
    select distinct colonnes.document_id, colonnes.cle_colonne
    from (
        select
            *,
            case
                when row_number() over (partition by document_id, question_trouvee order by position) = 1
                    then question_trouvee
            end as question
        from colonnes
    ) as colonnes
    inner join catalogue on catalogue.question = colonnes.question
    where catalogue.type_question = 'echelle'
),

-- Google Forms: the latest submission of each response, numbered as its linked sheet would number it.
reponses_lues as (
    select
        *,
        case
            when reponse_id is null then ligne_brute
            else 1 + row_number() over (partition by document_id, reponse_id is null order by cree_le, reponse_id)
        end as numero_ligne
    from (
        select
            reponses.snapshot_id,
            reponses.numero_ligne as ligne_brute,
            reponses.reponse_id,
            reponses.cree_le,
            reponses.cle_repondant,
            reponses.horodateur,
            reponses.departement,
            campagnes.document_id,
            campagnes.campagne_annee,
            campagnes.campagne_ouverture,
            campagnes.campagne_cloture,
            campagnes.sans_email
        from raw.main.reponses as reponses
        inner join campagnes on campagnes.snapshot_id = reponses.snapshot_id
        qualify
            reponses.reponse_id is null
            or row_number() over (
                partition by campagnes.document_id, reponses.reponse_id
                order by campagnes.extracted_at desc, reponses.numero_ligne desc
            ) = 1
    )
),

-- Responses with a scale answer that is not a whole number from 1 to 5.
notes_invalides as (
    select distinct cellules.snapshot_id, cellules.numero_ligne as ligne_brute
    from raw.main.reponses_cellules as cellules
    inner join campagnes on campagnes.snapshot_id = cellules.snapshot_id
    inner join colonnes_echelle
        on colonnes_echelle.document_id = campagnes.document_id
        and colonnes_echelle.cle_colonne = coalesce(cellules.question_id, cle_ref(cellules.colonne))
    where
        (nettoyer(cellules.valeur) is not null or len(cellules.choix) > 0)
        and coalesce(entier(nombre(cellules.valeur)) not between 1 and 5, true)
),

-- The latest valid response of each respondent to each campaign (without e-mails, a response is its own).
reponses as (
    select campagne_annee as annee, departement
    from (
        select
            reponses.campagne_annee,
            departements.code as departement,
            coalesce(departements.est_du_reseau, false) as est_du_reseau,
            case
                when reponses.sans_email then 'reponse:' || reponses.snapshot_id || ':' || reponses.numero_ligne
                else reponses.cle_repondant
            end as cle_repondant,
            horodateurs.horodatage as horodateur,
            reponses.numero_ligne,
            reponses.campagne_ouverture,
            reponses.campagne_cloture,
            reponses.sans_email,
            coalesce(reponses.cle_repondant in (select cle from effacees), false) as est_effacee,
            notes_invalides.snapshot_id is not null as a_note_invalide
        from reponses_lues as reponses
        left join departements on departements.brut = reponses.departement
        left join dates_lues as horodateurs on horodateurs.brut = reponses.horodateur
        left join notes_invalides
            on notes_invalides.snapshot_id = reponses.snapshot_id
            and notes_invalides.ligne_brute = reponses.ligne_brute
    )
    where
        not est_effacee
        and horodateur is not null
        and not coalesce(cast(horodateur as date) not between campagne_ouverture and campagne_cloture, false)
        and (cle_repondant is not null or sans_email)
        and est_du_reseau
        and not a_note_invalide
    qualify row_number() over (
        partition by campagne_annee, cle_repondant order by horodateur desc, numero_ligne desc
    ) = 1
),

campagnes_cloture as (
    select distinct campagne_annee as annee, campagne_cloture as cloture from campagnes
),

-- ---------------------------------------------------------------------------------------------------
-- Indicators
-- ---------------------------------------------------------------------------------------------------

annees as (
    select distinct annee from activites
    union
    select campagne_annee from campagnes where campagne_annee is not null
),

effectifs as (
    unpivot (
        select
            annees.annee,
            coalesce(promeneurs.departement, 'ensemble') as departement,
            -- Day conventions: the charter date is the first day active, the exit date the last. The end of
            -- year N is the stock on the evening of 31 December, its start the end of N-1.
            count(*) filter (
                where promeneurs.charte < make_date(annees.annee, 1, 1)
                    and coalesce(promeneurs.sortie >= make_date(annees.annee, 1, 1), true)
            ) as promeneurs_actifs_debut_annee,
            count(*) filter (where coalesce(promeneurs.sortie > make_date(annees.annee, 12, 31), true))
                as promeneurs_actifs_fin_annee,
            count(*) filter (where promeneurs.charte >= make_date(annees.annee, 1, 1)) as nouveaux_promeneurs,
            count(*) filter (
                where promeneurs.sortie >= make_date(annees.annee, 1, 1)
                    and promeneurs.sortie <= make_date(annees.annee, 12, 31)
            ) as sorties,
            count(distinct promeneurs.profil)
                filter (where coalesce(promeneurs.sortie > make_date(annees.annee, 12, 31), true)) as types_profils,
            count(distinct promeneurs.type_structure)
                filter (where coalesce(promeneurs.sortie > make_date(annees.annee, 12, 31), true)) as types_structures
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
        select annee, departement, indicateur, 1.0 as valeur from activites where indicateur is not null
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
            inner join campagnes_cloture as campagnes
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
    select annee, departement, indicateur, cast(valeur as double) from mesures_activites
    union all
    select annee, departement, indicateur, cast(valeur as double) from questionnaire
)

-- Every year x (network département + 'ensemble') x indicator: 0 when nothing happened, null when never
-- measured (the questionnaire's indicators in a year that no campaign evaluates).
select
    cast(annees.annee as integer) as annee,
    cast(departements.departement as varchar) as departement,
    cast(indicateurs.indicateur as varchar) as indicateur,
    case
        when indicateurs.domaine <> 'questionnaire'
            or annees.annee in (select campagne_annee from campagnes where campagne_annee is not null)
            then coalesce(valeurs.valeur, 0)
    end as valeur
from annees
cross join (select departement from reseau union all select 'ensemble') as departements
cross join (select indicateur, domaine from read_csv('{seeds}/indicateurs.csv', all_varchar = true)) as indicateurs
left join valeurs
    on valeurs.annee = annees.annee
    and valeurs.departement = departements.departement
    and valeurs.indicateur = indicateurs.indicateur
