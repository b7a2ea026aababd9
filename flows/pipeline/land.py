"""Landing: append every extracted row, as text, to the private raw history (raw.duckdb).

The history outlives releases: its schema carries a version, and a release that needs more applies
its migrations at landing, inside the landing transaction (columns and tables are added, never
dropped), so a raw.duckdb written by any earlier release keeps working and its syncs stay replayable.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd

from flows.errors import InputError
from flows.identity import MentionFinder, pseudonymise, respondent_identities, roster_identities
from flows.pseudonym_keys import MentionsUnderKeys, key_fingerprint, missing_ring_key_message, require_history_key
from flows.sources.config import BilanSettings, Bounds
from flows.sources.contract import CONTRACTS, normalise_label
from flows.sources.lists import bundled_lists, bundled_lists_fingerprint
from flows.sources.snapshot import TabSnapshot, UnreadItem

# Identity columns get a pseudonymous key computed here, so that nothing downstream needs them.
IDENTITY_KEY_COLUMN = {"promeneurs": "cle_promeneur", "reponses": "cle_repondant"}
# Name + structure of a roster row, even when it has an e-mail: finds the ambiguous duplicate.
NAME_KEY_COLUMN = "cle_nom_structure"
# The full name alone, either order: tells apart the people of a shared mailbox, finds possible duplicates (dbt
# only: never a key of an erasure, a full name alone may be two people).
FULL_NAME_KEY_COLUMN = "cle_nom"

# The schema of the first release (version 1), frozen: later versions are migrations on top of it.
_V1_DDL = [
    """create table if not exists syncs (
        sync_id varchar primary key, started_at timestamp, source_kind varchar, departements varchar)""",
    """create table if not exists snapshots (
        snapshot_id varchar primary key, sync_id varchar, source_kind varchar, spreadsheet_id varchar,
        spreadsheet_title varchar, tab varchar, table_name varchar, campagne_annee integer,
        campagne_ouverture date, campagne_cloture date, time_zone varchar, modified_time varchar,
        extracted_at timestamp, header_json varchar, row_count integer)""",
    "create table if not exists sync_snapshots (sync_id varchar, snapshot_id varchar)",
    """create table if not exists promeneurs (snapshot_id varchar, numero_ligne integer, nom varchar,
        prenom varchar, email varchar, departement varchar, commune varchar, structure varchar,
        type_structure varchar, profil varchar, date_signature_charte varchar, date_sortie varchar,
        colonnes_extra varchar, cle_promeneur varchar)""",
    """create table if not exists activites (snapshot_id varchar, numero_ligne integer, date varchar,
        departement varchar, type_action varchar, intitule varchar, commune varchar, public varchar,
        participants varchar, duree_jours varchar, commentaire varchar, colonnes_extra varchar)""",
    """create table if not exists reponses (snapshot_id varchar, numero_ligne integer, horodateur varchar,
        email varchar, departement varchar, supports varchar, reseaux varchar, echanges varchar,
        publications varchar, interet_reseaux_sociaux varchar, interet_reseau_pdn varchar,
        interet_formations varchar, interet_journees_echanges varchar, commentaires varchar,
        colonnes_extra varchar, cle_repondant varchar)""",
]


@dataclass(frozen=True)
class Migration:
    """One step of the raw schema: applied once, in order, recorded in schema_version."""

    version: int
    description: str
    apply: Callable[[duckdb.DuckDBPyConnection, bytes], None]


def _create_v1(con: duckdb.DuckDBPyConnection, key: bytes) -> None:
    for statement in _V1_DDL:
        con.execute(statement)


def _rekey_roster(con: duckdb.DuckDBPyConnection, key: bytes) -> None:
    """Recompute the roster's keys with the identity rule wherever the personal columns are still there."""
    rows = con.execute(
        "select rowid, email, nom, prenom, structure from promeneurs "
        "where coalesce(email, nom, prenom) is not null"
    ).df()
    if rows.empty:
        return
    # The key columns of the schema being migrated: an early migration runs before later ones add theirs.
    present = {name for (name,) in con.execute(
        "select column_name from duckdb_columns() where table_name = 'promeneurs'"
    ).fetchall()}
    fresh = pseudonymous_keys(rows, "promeneurs", key)
    columns = [column for column in fresh if column in present]
    for column in columns:
        rows[column] = fresh[column]
    con.register("nouvelles_cles", rows[["rowid", *columns]])
    assignments = ", ".join(f"{column} = n.{column}" for column in columns)
    con.execute(f"update promeneurs set {assignments} from nouvelles_cles as n where promeneurs.rowid = n.rowid")
    con.unregister("nouvelles_cles")


def _rekey_respondents(con: duckdb.DuckDBPyConnection, key: bytes) -> None:
    rows = con.execute("select rowid, email from reponses where email is not null").df()
    if rows.empty:
        return
    rows["cle_repondant"] = pseudonymise(respondent_identities(rows), key)
    con.register("nouvelles_cles", rows[["rowid", "cle_repondant"]])
    con.execute(
        "update reponses set cle_repondant = n.cle_repondant from nouvelles_cles as n where reponses.rowid = n.rowid"
    )
    con.unregister("nouvelles_cles")


def _v2_bounds_and_identity(con: duckdb.DuckDBPyConnection, key: bytes) -> None:
    con.execute("alter table syncs add column if not exists parametres varchar")
    # Syncs landed before the bounds existed are replayed with the defaults of this release.
    con.execute(
        "update syncs set parametres = ? where parametres is null",
        [json.dumps({"bornes": Bounds().as_record()})],
    )
    con.execute(f"alter table promeneurs add column if not exists {NAME_KEY_COLUMN} varchar")
    _rekey_roster(con, key)
    _rekey_respondents(con, key)


# The first release's questionnaire columns (fixed contract fields then): label in the form, field name.
_V1_QUESTION_COLUMNS = {
    "supports": "Quels supports utilisez-vous ?",
    "reseaux": "Quels réseaux sociaux utilisez-vous ?",
    "echanges": "Combien d'échanges avez-vous par semaine ?",
    "publications": "Que publiez-vous sur vos profils ?",
    "interet_reseaux_sociaux": "Intérêt : être présent sur les réseaux sociaux",
    "interet_reseau_pdn": "Intérêt : faire partie du réseau Promeneurs du Net",
    "interet_formations": "Intérêt : les formations",
    "interet_journees_echanges": "Intérêt : les journées d'échanges",
    "commentaires": "Commentaires",
}
_V1_FIXED_LABELS = {normalise_label(label) for label in ("Horodateur", "Adresse e-mail", "Département")}

_V3_DDL = [
    # One row per non-blank answer cell: every question column of a response sheet, every Forms answer.
    """create table if not exists reponses_cellules (
        snapshot_id varchar, numero_ligne integer, colonne varchar, question_id varchar, valeur varchar,
        choix varchar[])""",
    # The questions of a Google Form as each read saw them: the first title of a question id is its match.
    """create table if not exists formulaires_questions (
        snapshot_id varchar, question_id varchar, titre varchar, position integer)""",
    "alter table snapshots add column if not exists colonnes_json varchar",
    "alter table snapshots add column if not exists correspondances_json varchar",
    "alter table snapshots add column if not exists sans_email boolean",
    "alter table reponses add column if not exists reponse_id varchar",
    "alter table reponses add column if not exists cree_le varchar",
]


def _v3_questionnaire_catalogue(con: duckdb.DuckDBPyConnection, key: bytes) -> None:
    """Questions become data: the first release's question columns are rewritten as answer cells."""
    for statement in _V3_DDL:
        con.execute(statement)
    for field, label in _V1_QUESTION_COLUMNS.items():
        con.execute(
            f"insert into reponses_cellules (snapshot_id, numero_ligne, colonne, valeur) "
            f"select snapshot_id, numero_ligne, ?, {field} from reponses "
            f"where nullif(trim({field}), '') is not null",
            [label],
        )
    # Extra columns of those snapshots were questions too: one cell per JSON key.
    con.execute(
        """insert into reponses_cellules (snapshot_id, numero_ligne, colonne, valeur)
        select snapshot_id, numero_ligne, unnest(json_keys(colonnes_extra)),
            unnest(list_transform(json_keys(colonnes_extra), lambda k: json_extract_string(colonnes_extra, '$."' || k || '"')))
        from reponses where colonnes_extra is not null"""
    )
    con.execute("delete from reponses_cellules where nullif(trim(valeur), '') is null")
    for snapshot_id, header_json in con.execute(
        "select snapshot_id, header_json from snapshots where table_name = 'reponses' and colonnes_json is null"
    ).fetchall():
        columns = [h for h in json.loads(header_json or "[]") if normalise_label(h) not in _V1_FIXED_LABELS]
        con.execute(
            "update snapshots set colonnes_json = ?, sans_email = false where snapshot_id = ?",
            [json.dumps(columns, ensure_ascii=False), snapshot_id],
        )


# The bundled reference lists are landed as a snapshot of this pseudo-spreadsheet, once per version of
# dbt/seeds/listes.csv (its fingerprint is the snapshot's modified_time), and linked to every sync.
BUNDLED_LISTS_ID = "listes-fournies"
_V4_DDL = [
    # The lists in force: the bundled ones (with each action type's indicator) and the Listes tab's rows.
    """create table if not exists listes (
        snapshot_id varchar, numero_ligne integer, liste varchar, valeur varchar, variantes varchar,
        indicateur varchar, colonnes_extra varchar)""",
]


def bundled_lists_snapshot(con: duckdb.DuckDBPyConnection, sync_id: str) -> str:
    """The snapshot of the bundled lists of this release: the last one landed if they have not changed."""
    fingerprint = bundled_lists_fingerprint()
    found = con.execute(
        "select snapshot_id from snapshots where spreadsheet_id = ? and modified_time = ? "
        "order by extracted_at desc limit 1",
        [BUNDLED_LISTS_ID, fingerprint],
    ).fetchone()
    if found:
        return found[0]
    snapshot_id = uuid.uuid4().hex
    entries = bundled_lists()
    header = ["Liste", "Valeur", "Variantes acceptées", "Indicateur"]
    record = {
        "snapshot_id": snapshot_id, "sync_id": sync_id, "source_kind": "projet", "spreadsheet_id": BUNDLED_LISTS_ID,
        "spreadsheet_title": "Listes fournies", "tab": "dbt/seeds/listes.csv", "table_name": "listes",
        "modified_time": fingerprint, "extracted_at": datetime.now(), "row_count": len(entries),
        "header_json": json.dumps(header, ensure_ascii=False),
    }
    append_by_name(con, "snapshots", pd.DataFrame([record]))
    rows = pd.DataFrame(
        [(snapshot_id, number, e.liste, e.valeur, " | ".join(e.variantes) or None, e.indicateur)
         for number, e in enumerate(entries, start=2)],
        columns=["snapshot_id", "numero_ligne", "liste", "valeur", "variantes", "indicateur"],
    )
    append_by_name(con, "listes", rows)
    return snapshot_id


def _v4_reference_lists(con: duckdb.DuckDBPyConnection, key: bytes) -> None:
    """Reference lists become data recorded with each sync. Earlier syncs did not record theirs: they are
    replayed with the lists of the release that migrated them (the same values, with spelling variants)."""
    for statement in _V4_DDL:
        con.execute(statement)
    first = con.execute("select sync_id from syncs order by started_at, sync_id limit 1").fetchone()
    if first:
        snapshot_id = bundled_lists_snapshot(con, first[0])
        con.execute("insert into sync_snapshots select sync_id, ? from syncs", [snapshot_id])


_V5_DDL = [
    # One row per erasure (`pdn oubli`): when, how the person was named, counts, the pseudonymous keys their
    # rows carry and the fingerprints of their mentions in free text (never a name or an address), so that
    # later syncs recognise what a sheet still holds about them.
    """create table if not exists effacements (
        effacement_id varchar primary key, efface_le timestamp, nature varchar, cle_personne varchar,
        cles varchar[], empreintes varchar[], comptes_json varchar)""",
]


def _v5_erasures(con: duckdb.DuckDBPyConnection, key: bytes) -> None:
    for statement in _V5_DDL:
        con.execute(statement)


def _v6_key_fingerprint(con: duckdb.DuckDBPyConnection, key: bytes) -> None:
    """Each sync and each erasure records the fingerprint of the pseudonym key it was made with. Earlier ones
    did not: they get the fingerprint of the key in use at migration, assumed to be theirs (the release that
    migrates runs with the key the history was written with; with no key given, they stay unknown)."""
    fingerprint = key_fingerprint(key) if key else None
    for table in ("syncs", "effacements"):
        con.execute(f"alter table {table} add column if not exists empreinte_cle varchar")
        con.execute(f"update {table} set empreinte_cle = ? where empreinte_cle is null", [fingerprint])


# Closed years (`pdn cloturer`): when each year was closed and from which publication, the figures frozen then
# (each row of a yearly bilan mart as JSON: aggregates only) and every later revision (what moved, and why).
_V7_DDL = [
    "create table if not exists clotures (annee integer primary key, cloture_le timestamp, sync_id varchar)",
    "create table if not exists chiffres_clos (annee integer, table_name varchar, ligne_json varchar)",
    # sync_id: the run that published the revision (for an erasure, the republication, not the replayed sync)
    """create table if not exists revisions (
        annee integer, revise_le timestamp, sync_id varchar, motif varchar, modifications_json varchar)""",
]


def _v7_closed_years(con: duckdb.DuckDBPyConnection, key: bytes) -> None:
    for statement in _V7_DDL:
        con.execute(statement)


def _v8_pasted_addresses_and_full_names(con: duckdb.DuckDBPyConnection, key: bytes) -> None:
    """The identity rule reads an address out of « Nom <adresse> », « mailto:adresse » and « adresse; », and a
    roster row gets the key of its full name: the rows that still hold their personal data get the keys of this
    rule (rows already purged or erased keep theirs, and have no full name's key)."""
    con.execute(f"alter table promeneurs add column if not exists {FULL_NAME_KEY_COLUMN} varchar")
    _rekey_roster(con, key)
    _rekey_respondents(con, key)


def _v9_sheet_ids(con: duckdb.DuckDBPyConnection, key: bytes) -> None:
    """Each Google tab's sheetId, so that a flagged cell links to its place (earlier snapshots have none)."""
    con.execute("alter table snapshots add column if not exists sheet_gid integer")


# Tabs of a declared spreadsheet and files of a source folder that no contract read, per sync (UnreadItem): the
# quality page lists them (qualite.non_lus). A name is kept as found, like a tab's title, and screened on output.
_V10_DDL = [
    """create table if not exists non_lus (
        sync_id varchar, type varchar, tableur varchar, titre varchar, position integer, motif varchar)""",
]


def _v10_unread(con: duckdb.DuckDBPyConnection, key: bytes) -> None:
    for statement in _V10_DDL:
        con.execute(statement)


MIGRATIONS: tuple[Migration, ...] = (
    Migration(1, "historique initial : synchronisations, instantanés, lignes des onglets", _create_v1),
    Migration(
        2,
        "bornes de plausibilité de chaque synchronisation ; clés selon la règle d'identité (e-mail normalisé, "
        "sinon nom et structure)",
        _v2_bounds_and_identity,
    ),
    Migration(
        3,
        "questionnaire générique : chaque colonne de question devient des cellules de réponse, rapprochées du "
        "catalogue dans dbt ; questions des formulaires Google Forms",
        _v3_questionnaire_catalogue,
    ),
    Migration(
        4,
        "listes de référence enregistrées avec chaque synchronisation : listes fournies et onglet Listes du "
        "tableur de suivi",
        _v4_reference_lists,
    ),
    Migration(
        5,
        "registre des effacements (droit à l'effacement) : clés pseudonymes des personnes effacées et empreintes "
        "de leur nom, pour que les synchronisations suivantes mettent leurs lignes en quarantaine sans les recopier "
        "et masquent leur nom dans les textes libres",
        _v5_erasures,
    ),
    Migration(
        6,
        "empreinte de la clé de pseudonymisation de chaque synchronisation et de chaque effacement : une clé "
        "changée est refusée au lieu de recharger les personnes effacées (pdn recle pour changer de clé)",
        _v6_key_fingerprint,
    ),
    Migration(
        7,
        "années closes (pdn cloturer) : date de clôture, chiffres figés de chaque année close, révisions "
        "(pdn synchroniser --reviser, effacements)",
        _v7_closed_years,
    ),
    Migration(
        8,
        "règle d'identité : l'adresse est lue dans « Nom <adresse> », « mailto:adresse » et « adresse; » ; clé du "
        "nom complet (adresse partagée, doublons possibles) ; clés recalculées pour les lignes qui ont encore leurs "
        "données personnelles",
        _v8_pasted_addresses_and_full_names,
    ),
    Migration(
        9,
        "identifiant de chaque onglet Google (sheetId) : la page qualité renvoie à la cellule à corriger",
        _v9_sheet_ids,
    ),
    Migration(
        10,
        "onglets et fichiers non lus de chaque synchronisation (nom tel que trouvé, règle qui l'écarte) : la page "
        "qualité les liste",
        _v10_unread,
    ),
)
# Every table whose rows belong to a snapshot (the retention policy deletes them together).
SNAPSHOT_TABLES = ("promeneurs", "activites", "reponses", "reponses_cellules", "formulaires_questions", "listes")
# Every text column of the raw history is declared in one of the three lists below (a test reads the schema
# and fails on one declared nowhere); a column may be both personal and free text.
# The personal data of a row: blanked for departed Promeneurs (`pdn purger`, roster rows and their answers) and
# never landed again for a person who asked for erasure (`pdn oubli`); the pseudonymous keys stay.
PERSONAL_COLUMNS_BY_TABLE = {"promeneurs": ("nom", "prenom", "email", "colonnes_extra"), "reponses": ("email",)}
# Free text: every cell a person typed in a sheet or a form, and the titles, tab names and headers read with
# them. Anyone may be named there, even in a date or a list column (« Riom chez Zélie Quintard »): mentions of
# erased people are redacted at landing and by `pdn oubli`, which also redacts them in the whole history.
FREE_TEXT_COLUMNS = {
    "activites": (
        "date", "departement", "type_action", "intitule", "commune", "public", "participants", "duree_jours",
        "commentaire", "colonnes_extra",
    ),
    "promeneurs": (
        "departement", "commune", "structure", "type_structure", "profil", "date_signature_charte", "date_sortie",
        "colonnes_extra",
    ),
    "reponses": (  # the question columns are the first release's (migrated to answer cells since)
        "horodateur", "departement", "supports", "reseaux", "echanges", "publications", "interet_reseaux_sociaux",
        "interet_reseau_pdn", "interet_formations", "interet_journees_echanges", "commentaires", "colonnes_extra",
    ),
    "reponses_cellules": ("colonne", "valeur", "choix"),
    "formulaires_questions": ("titre",),
    "listes": ("liste", "valeur", "variantes", "indicateur", "colonnes_extra"),
    "snapshots": ("spreadsheet_title", "tab", "header_json", "colonnes_json", "correspondances_json"),
    "chiffres_clos": ("ligne_json",),  # frozen bilan rows: actions_detaillees carries activity titles
    "non_lus": ("tableur", "titre"),  # a tab's title or a file's name, as found (never a path)
}
# Technical text: ids, pseudonymous keys, fingerprints, kinds and what the pipeline writes itself; never typed
# by anyone, never naming anyone.
TECHNICAL_COLUMNS = {
    "syncs": ("sync_id", "source_kind", "departements", "parametres", "empreinte_cle"),
    "snapshots": ("snapshot_id", "sync_id", "source_kind", "spreadsheet_id", "table_name", "time_zone", "modified_time"),
    "sync_snapshots": ("sync_id", "snapshot_id"),
    "promeneurs": ("snapshot_id", "cle_promeneur", NAME_KEY_COLUMN, FULL_NAME_KEY_COLUMN),
    "activites": ("snapshot_id",),
    "reponses": ("snapshot_id", "cle_repondant", "reponse_id", "cree_le"),
    "reponses_cellules": ("snapshot_id", "question_id"),
    "formulaires_questions": ("snapshot_id", "question_id"),
    "listes": ("snapshot_id",),
    "effacements": ("effacement_id", "nature", "cle_personne", "cles", "empreintes", "comptes_json", "empreinte_cle"),
    "schema_version": ("description",),
    "clotures": ("sync_id",),
    "chiffres_clos": ("table_name",),
    "revisions": ("sync_id", "motif", "modifications_json"),
    "non_lus": ("sync_id", "type", "motif"),
}
SCHEMA_VERSION = MIGRATIONS[-1].version


def _current_views(con: duckdb.DuckDBPyConnection) -> None:
    """Views of the rows of the latest sync (fresh or reused snapshots), for support and debugging."""
    for contract in CONTRACTS:
        con.execute(
            f"""create or replace view {contract.table_name}_courant as
            select * from {contract.table_name}
            where snapshot_id in (
                select snapshot_id from sync_snapshots
                where sync_id = (select sync_id from syncs order by started_at desc limit 1)
            )"""
        )


def schema_version(con: duckdb.DuckDBPyConnection) -> int:
    """The raw history's schema version: 0 for an empty file, 1 for a file of the first release."""
    tables = {row[0] for row in con.execute("select table_name from duckdb_tables()").fetchall()}
    if "schema_version" in tables:
        return int(con.execute("select max(version) from schema_version").fetchone()[0] or 0)
    return 1 if "syncs" in tables else 0


def migrate(con: duckdb.DuckDBPyConnection, key: bytes) -> list[int]:
    """Apply the pending migrations (the caller holds a transaction); return the versions applied."""
    current = schema_version(con)
    con.execute(
        "create table if not exists schema_version (version integer, description varchar, applied_at timestamp)"
    )
    if current == 1 and not con.execute("select count(*) from schema_version").fetchone()[0]:
        con.execute("insert into schema_version values (1, ?, ?)", [MIGRATIONS[0].description, datetime.now()])
    applied = []
    for migration in MIGRATIONS:
        if migration.version > current:
            migration.apply(con, key)
            con.execute(
                "insert into schema_version values (?, ?, ?)",
                [migration.version, migration.description, datetime.now()],
            )
            applied.append(migration.version)
    _current_views(con)
    return applied


@dataclass(frozen=True)
class LandedSnapshot:
    """What one tab's landing produced (no cell content: this goes to logs and the run report)."""

    snapshot_id: str
    spreadsheet_title: str
    tab: str
    table_name: str
    rows: int
    rows_naming_erased: tuple[int, ...] = ()  # sheet rows whose free text named an erased person (redacted)


def extras_as_json(
    cells: pd.DataFrame, extras: dict[str, int], on: duckdb.DuckDBPyConnection | None = None
) -> np.ndarray:
    """The extra columns of each row as one JSON object (header -> text), built in DuckDB, not row by row.

    `on`: an open connection to compute on (a cursor of it is used); a new database costs ~20 ms a tab."""
    columns = cells[list(extras.values())].set_axis([f"c{i}" for i in range(len(extras))], axis=1)
    pairs = ", ".join(f"?, c{i}" for i in range(len(extras)))  # headers are bound: never part of the SQL text
    with duckdb.connect() if on is None else on.cursor() as con:
        con.register("extra_cells", columns)
        query = f"select cast(json_object({pairs}) as varchar) from extra_cells"
        return con.execute(query, list(extras)).df().iloc[:, 0].to_numpy()


def _row_numbers(snapshot: TabSnapshot) -> np.ndarray:
    return np.arange(len(snapshot.cells), dtype="int64") + snapshot.first_row_number


def answer_cells(snapshot: TabSnapshot, snapshot_id: str) -> pd.DataFrame:
    """Every non-blank answer of a questionnaire tab, one row per cell: the question columns are data."""
    extras = snapshot.mapping.extra_positions
    numbers = _row_numbers(snapshot)
    parts = []
    for label, position in extras.items():
        values = snapshot.cells[position]
        filled = values.map(lambda v: bool(v) if isinstance(v, list) else str(v).strip() != "").to_numpy()
        if not filled.any():
            continue
        kept = values[filled]
        parts.append(
            pd.DataFrame(
                {
                    "snapshot_id": snapshot_id,
                    "numero_ligne": numbers[filled],
                    "colonne": label,
                    "question_id": (snapshot.question_ids or {}).get(label),
                    # Google Forms gives checkbox answers as lists: kept whole, never re-split on commas.
                    "valeur": kept.map(lambda v: ", ".join(v) if isinstance(v, list) else v).to_numpy(),
                    "choix": kept.map(lambda v: v if isinstance(v, list) else None).to_numpy(),
                }
            )
        )
    columns = ["snapshot_id", "numero_ligne", "colonne", "question_id", "valeur", "choix"]
    return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=columns)


def landing_frame(
    snapshot: TabSnapshot, snapshot_id: str, key: bytes, on: duckdb.DuckDBPyConnection | None = None
) -> pd.DataFrame:
    """Contract columns (text), extra columns as one JSON object, sheet row numbers and keys.

    A questionnaire's extra columns are its questions: they are landed as answer cells instead.
    """
    cells = snapshot.cells
    frame = pd.DataFrame({"snapshot_id": snapshot_id, "numero_ligne": _row_numbers(snapshot)})
    for name in snapshot.contract.columns:
        position = snapshot.mapping.contract_positions.get(name)
        frame[name] = cells[position].to_numpy() if position is not None else None
    extras = snapshot.mapping.extra_positions
    table = snapshot.contract.table_name
    keep_extras = extras and len(cells) and table != "reponses"
    frame["colonnes_extra"] = extras_as_json(cells, extras, on) if keep_extras else None
    for name, values in (snapshot.row_fields or {}).items():
        frame[name] = values
    for column, keys in pseudonymous_keys(frame, table, key).items():
        frame[column] = keys
    return frame


def pseudonymous_keys(frame: pd.DataFrame, table: str, key: bytes) -> dict[str, pd.Series]:
    """The key columns of a table's rows under `key`, from their personal columns (landing, `pdn recle`)."""
    if table == "promeneurs":
        people, names, full_names = roster_identities(frame)
        return {
            "cle_promeneur": pseudonymise(people, key),
            NAME_KEY_COLUMN: pseudonymise(names, key),
            FULL_NAME_KEY_COLUMN: pseudonymise(full_names, key),
        }
    if table == "reponses":
        return {"cle_repondant": pseudonymise(respondent_identities(frame), key)}
    return {}


def _snapshot_record(snapshot: TabSnapshot, snapshot_id: str, sync_id: str, source_kind: str) -> dict:
    campaign = snapshot.spreadsheet.campaign
    return {
        "snapshot_id": snapshot_id,
        "sync_id": sync_id,
        "source_kind": source_kind,
        "spreadsheet_id": snapshot.spreadsheet_id,
        "spreadsheet_title": snapshot.spreadsheet.title,
        "tab": snapshot.tab,
        "table_name": snapshot.contract.table_name,
        "campagne_annee": campaign.annee if campaign else None,
        "campagne_ouverture": campaign.ouverture if campaign else None,
        "campagne_cloture": campaign.cloture if campaign else None,
        "time_zone": snapshot.time_zone,
        "modified_time": snapshot.modified_time,
        "extracted_at": datetime.now(),
        "header_json": json.dumps(snapshot.header, ensure_ascii=False),
        "row_count": len(snapshot.cells),
        "sheet_gid": snapshot.sheet_gid,
        **(_questionnaire_record(snapshot) if snapshot.contract.table_name == "reponses" else {}),
    }


def _questionnaire_record(snapshot: TabSnapshot) -> dict:
    """What a campaign asked: its question columns, the title mapping of sources.toml, e-mails collected or not."""
    source = snapshot.spreadsheet
    return {
        "colonnes_json": json.dumps(list(snapshot.mapping.extra_positions), ensure_ascii=False),
        "correspondances_json": json.dumps(dict(source.correspondances), ensure_ascii=False) if source.correspondances else None,
        "sans_email": "email" not in snapshot.mapping.contract_positions,
    }


def ensure_raw_schema(con: duckdb.DuckDBPyConnection, key: bytes = b"") -> None:
    """Bring a raw history (new or from an earlier release) to the current schema, in one transaction."""
    con.execute("begin transaction")
    migrate(con, key)
    con.execute("commit")


@dataclass(frozen=True)
class ErasedPeople:
    """What landing knows of the people who asked for erasure: their rows' keys, their mentions' fingerprints."""

    keys: frozenset[str]
    mentions: MentionFinder | MentionsUnderKeys
    # Erasures made under an earlier key (before a `pdn recle`): that key, from the ring, and their rows' keys.
    earlier: tuple[tuple[bytes, frozenset[str]], ...] = ()


def erased_people(
    con: duckdb.DuckDBPyConnection, key: bytes, earlier_keys: Mapping[str, bytes] | None = None
) -> ErasedPeople:
    """Every erasure recorded in the history, as keys and fingerprints, each under the key it was made with."""
    current = key_fingerprint(key)
    groups = con.execute(
        "select coalesce(empreinte_cle, ?) as cle, list_distinct(flatten(list(cles))), "
        "list_distinct(flatten(list(empreintes))) from effacements group by all order by all",
        [current],
    ).fetchall()
    keys, finders, earlier = frozenset(), [], []
    for fingerprint, erased_keys, fingerprints in groups:
        group_key = key if fingerprint == current else (earlier_keys or {}).get(fingerprint)
        if group_key is None:
            raise InputError(missing_ring_key_message(fingerprint))
        finders.append(MentionFinder(frozenset(fingerprints or ()), group_key))
        if group_key == key:
            keys |= frozenset(erased_keys or ())
        else:
            earlier.append((group_key, frozenset(erased_keys or ())))
    mentions = MentionsUnderKeys(tuple(finders)) if len(finders) > 1 else (finders or [MentionFinder(frozenset(), key)])[0]
    return ErasedPeople(keys, mentions, tuple(earlier))


def recognise_earlier_erasures(
    con: duckdb.DuckDBPyConnection, frame: pd.DataFrame, table: str, erased: ErasedPeople
) -> frozenset[str]:
    """Rows of people erased under an earlier key: their keys under today's key, added to their erasure (dbt
    quarantines by key) and returned, so that without_erased_people treats them as any erased person's."""
    found: set[str] = set()
    for old_key, old_erased in erased.earlier:
        for column, old_keys in pseudonymous_keys(frame, table, old_key).items():
            matched = old_keys.isin(old_erased).to_numpy()
            for old, new in zip(old_keys[matched], frame[column][matched]):
                con.execute(
                    "update effacements set cles = list_distinct(list_append(cles, ?)) where list_contains(cles, ?)",
                    [new, old],
                )
                found.add(new)
    return frozenset(found)


def without_erased_people(
    frame: pd.DataFrame, table: str, erased: ErasedPeople
) -> tuple[pd.DataFrame, np.ndarray, list[int]]:
    """Rows of erased people keep their keys and row number (dbt quarantines them) but not their personal data,
    and their mentions in free text become « [effacé] ».

    Returns the frame, the mask of their rows (their answer cells are not landed either) and the row numbers
    whose free text named them."""
    keys = [column for column in (*IDENTITY_KEY_COLUMN.values(), NAME_KEY_COLUMN) if column in frame.columns]
    theirs = frame[keys].isin(erased.keys).any(axis=1).to_numpy() if keys else np.zeros(len(frame), dtype=bool)
    if not (theirs.any() or erased.mentions.fingerprints):
        return frame, theirs, []
    frame = frame.copy()
    frame.loc[theirs, list(PERSONAL_COLUMNS_BY_TABLE.get(table, ()))] = None
    return frame, theirs, redact_mentions(frame, table, erased.mentions)


def redact_mentions(frame: pd.DataFrame, table: str, mentions: MentionFinder) -> list[int]:
    """Replace, in place, the mentions of erased people in the frame's free text; return the rows' numbers
    (empty for a frame without them, such as a snapshot's record)."""
    named = np.zeros(len(frame), dtype=bool)
    if not mentions.fingerprints:
        return []
    for column in (c for c in FREE_TEXT_COLUMNS.get(table, ()) if c in frame.columns):
        values = frame[column].tolist()
        redacted = _redacted_values(values, mentions)
        # Compared value by value: a blank (None, NaN) is left as it is, and is never « changed ».
        changed = np.fromiter((new is not old for new, old in zip(redacted, values)), dtype=bool, count=len(values))
        if changed.any():
            frame[column] = pd.Series(redacted, index=frame.index, dtype=object)
            named |= changed
    if "numero_ligne" not in frame.columns:
        return []
    return sorted(set(frame.loc[named, "numero_ligne"].tolist()))


def _redacted_values(values: list, mentions: MentionFinder) -> list:
    """Each value redacted, the same object when nothing was; a text repeated down a column is read once."""
    seen: dict[str, str | None] = {}  # text -> its redaction, None when it names nobody
    out = []
    for value in values:
        if isinstance(value, str):
            if value not in seen:
                new = mentions.redact(value)
                seen[value] = None if new == value else new
            out.append(value if seen[value] is None else seen[value])
        elif isinstance(value, list):
            new = mentions.redact(value)
            out.append(value if new == value else new)
        else:
            out.append(value)
    return out


def append_by_name(con: duckdb.DuckDBPyConnection, table: str, frame: pd.DataFrame) -> None:
    """Append a dataframe to a raw table, matching columns by name."""
    con.register("rows_to_land", frame)
    try:
        con.execute(f"insert into {table} by name select * from rows_to_land")
    finally:
        con.unregister("rows_to_land")


def _record_unread(
    con: duckdb.DuckDBPyConnection, sync_id: str, unread: Sequence[UnreadItem], mentions: MentionFinder
) -> None:
    """The tabs and files a sync did not read, with why (names as found; an erased person's name redacted)."""
    if not unread:
        return
    frame = pd.DataFrame(
        [(sync_id, item.kind, item.spreadsheet, item.name, item.position, item.reason) for item in unread],
        columns=["sync_id", "type", "tableur", "titre", "position", "motif"],
    )
    redact_mentions(frame, "non_lus", mentions)
    append_by_name(con, "non_lus", frame)


# Frames wait to be appended together (each append costs milliseconds, a sync has hundreds of tabs), but one
# table's frames are appended once they pass this many rows: landing never holds a second copy of a whole sync.
APPEND_BATCH_ROWS = 100_000


class _Appends:
    """Appends to the raw tables, gathered per table and column set, flushed by batches within the caller's
    transaction."""

    def __init__(self, con: duckdb.DuckDBPyConnection) -> None:
        self.con = con
        self.pending: dict[tuple[str, tuple[str, ...]], list[pd.DataFrame]] = {}

    def add(self, table: str, frame: pd.DataFrame) -> None:
        key = (table, tuple(frame.columns))
        frames = self.pending.setdefault(key, [])
        frames.append(frame)
        if sum(map(len, frames)) >= APPEND_BATCH_ROWS:
            self._append(key)

    def flush(self) -> None:
        for key in list(self.pending):
            self._append(key)

    def _append(self, key: tuple[str, tuple[str, ...]]) -> None:
        frames = self.pending.pop(key)
        append_by_name(self.con, key[0], frames[0] if len(frames) == 1 else pd.concat(frames, ignore_index=True))


def land_sync(
    raw_db: Path,
    sync_id: str,
    source_kind: str,
    departements: tuple[str, ...],
    snapshots: list[TabSnapshot],
    reused_snapshot_ids: list[str],
    key: bytes,
    bounds: Bounds = Bounds(),
    seuil_confidentialite: int = BilanSettings.seuil_confidentialite,
    earlier_keys: Mapping[str, bytes] | None = None,
    unread: Sequence[UnreadItem] = (),
) -> list[LandedSnapshot]:
    """Append one sync's snapshots to the raw history in a single transaction (all or nothing).

    Refused when `key` is not the history's; `earlier_keys` (the ring) recognise people erased before a rekey.

    The sync's parameters (plausibility bounds, secrecy threshold) are recorded with it: a replay applies them, and
    so are the tabs and files it did not read (`unread`)."""
    raw_db.parent.mkdir(parents=True, exist_ok=True)
    landed = []
    with duckdb.connect(str(raw_db)) as con:
        con.execute("begin transaction")
        migrate(con, key)
        require_history_key(con, key)
        erased = erased_people(con, key, earlier_keys)
        con.execute(
            "insert into syncs by name select ? as sync_id, ? as started_at, ? as source_kind, "
            "? as departements, ? as parametres, ? as empreinte_cle",
            [sync_id, datetime.now(), source_kind, json.dumps(list(departements)),
             json.dumps({"bornes": bounds.as_record(), "seuil_confidentialite": seuil_confidentialite}),
             key_fingerprint(key)],
        )
        appends = _Appends(con)
        for snapshot in snapshots:
            snapshot_id = uuid.uuid4().hex
            record = pd.DataFrame([_snapshot_record(snapshot, snapshot_id, sync_id, source_kind)])
            redact_mentions(record, "snapshots", erased.mentions)  # a title or a header may name them too
            appends.add("snapshots", record)
            table = snapshot.contract.table_name
            frame = landing_frame(snapshot, snapshot_id, key, con)
            if erased.earlier:
                erased = replace(erased, keys=erased.keys | recognise_earlier_erasures(con, frame, table, erased))
            frame, theirs, naming = without_erased_people(frame, table, erased)
            appends.add(table, frame)
            if table == "reponses":
                cells = answer_cells(snapshot, snapshot_id)
                cells = cells[~cells["numero_ligne"].isin(frame.loc[theirs, "numero_ligne"])].copy()
                naming = sorted({*naming, *redact_mentions(cells, "reponses_cellules", erased.mentions)})
                appends.add("reponses_cellules", cells)
            if snapshot.question_ids:
                questions = pd.DataFrame(
                    [(snapshot_id, qid, title, n) for n, (title, qid) in enumerate(snapshot.question_ids.items())],
                    columns=["snapshot_id", "question_id", "titre", "position"],
                )
                redact_mentions(questions, "formulaires_questions", erased.mentions)
                appends.add("formulaires_questions", questions)
            con.execute("insert into sync_snapshots values (?, ?)", [sync_id, snapshot_id])
            landed.append(
                LandedSnapshot(snapshot_id, snapshot.spreadsheet.title, snapshot.tab, table, len(frame), tuple(naming))
            )
        appends.flush()
        for snapshot_id in [*reused_snapshot_ids, bundled_lists_snapshot(con, sync_id)]:
            con.execute("insert into sync_snapshots values (?, ?)", [sync_id, snapshot_id])
        _record_unread(con, sync_id, unread, erased.mentions)
        con.execute("commit")
    return landed
