"""Landing: append every extracted row, as text, to the private raw history (raw.duckdb).

The history outlives releases: its schema carries a version, and a release that needs more applies
its migrations at landing, inside the landing transaction (columns and tables are added, never
dropped), so a raw.duckdb written by any earlier release keeps working and its syncs stay replayable.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd

from flows.identity import MentionFinder, pseudonymise, respondent_identities, roster_identities
from flows.sources.config import BilanSettings, Bounds
from flows.sources.contract import CONTRACTS, normalise_label
from flows.sources.lists import bundled_lists, bundled_lists_fingerprint
from flows.sources.snapshot import TabSnapshot

# Identity columns get a pseudonymous key computed here, so that nothing downstream needs them.
IDENTITY_KEY_COLUMN = {"promeneurs": "cle_promeneur", "reponses": "cle_repondant"}
# Name + structure of a roster row, even when it has an e-mail: finds the ambiguous duplicate.
NAME_KEY_COLUMN = "cle_nom_structure"

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
    people, names = roster_identities(rows)
    rows["cle_promeneur"] = pseudonymise(people, key)
    rows[NAME_KEY_COLUMN] = pseudonymise(names, key)
    con.register("nouvelles_cles", rows[["rowid", "cle_promeneur", NAME_KEY_COLUMN]])
    con.execute(
        f"update promeneurs set cle_promeneur = n.cle_promeneur, {NAME_KEY_COLUMN} = n.{NAME_KEY_COLUMN} "
        "from nouvelles_cles as n where promeneurs.rowid = n.rowid"
    )
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
)
# Every table whose rows belong to a snapshot (the retention policy deletes them together).
SNAPSHOT_TABLES = ("promeneurs", "activites", "reponses", "reponses_cellules", "formulaires_questions", "listes")
# The personal data of a row: blanked for departed Promeneurs (`pdn purge`) and never landed again for a
# person who asked for erasure (`pdn oubli`); the pseudonymous keys stay.
PERSONAL_COLUMNS_BY_TABLE = {"promeneurs": ("nom", "prenom", "email", "colonnes_extra"), "reponses": ("email",)}
# Free-text cells, where anyone may be named: the activity log, remarks, answers (and the first release's).
FREE_TEXT_COLUMNS = {
    "activites": ("intitule", "commentaire", "colonnes_extra"),
    "promeneurs": ("colonnes_extra",),
    "reponses": ("commentaires", "colonnes_extra"),
    "reponses_cellules": ("valeur", "choix"),
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


def extras_as_json(cells: pd.DataFrame, extras: dict[str, int]) -> np.ndarray:
    """The extra columns of each row as one JSON object (header -> text), built in DuckDB, not row by row."""
    columns = cells[list(extras.values())].set_axis([f"c{i}" for i in range(len(extras))], axis=1)
    pairs = ", ".join("'" + header.replace("'", "''") + f"', c{i}" for i, header in enumerate(extras))
    with duckdb.connect() as con:
        con.register("extra_cells", columns)
        return con.execute(f"select cast(json_object({pairs}) as varchar) from extra_cells").df().iloc[:, 0].to_numpy()


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


def landing_frame(snapshot: TabSnapshot, snapshot_id: str, key: bytes) -> pd.DataFrame:
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
    frame["colonnes_extra"] = extras_as_json(cells, extras) if keep_extras else None
    for name, values in (snapshot.row_fields or {}).items():
        frame[name] = values
    if table == "promeneurs":
        people, names = roster_identities(frame)
        frame["cle_promeneur"] = pseudonymise(people, key)
        frame[NAME_KEY_COLUMN] = pseudonymise(names, key)
    elif table == "reponses":
        frame["cle_repondant"] = pseudonymise(respondent_identities(frame), key)
    return frame


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
    mentions: MentionFinder


def erased_people(con: duckdb.DuckDBPyConnection, key: bytes) -> ErasedPeople:
    """Every erasure recorded in the history, as keys and fingerprints."""
    keys, fingerprints = con.execute(
        "select list_distinct(flatten(list(cles))), list_distinct(flatten(list(empreintes))) from effacements"
    ).fetchone()
    return ErasedPeople(frozenset(keys or ()), MentionFinder(frozenset(fingerprints or ()), key))


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
    """Replace, in place, the mentions of erased people in the frame's free text; return the rows' numbers."""
    named = np.zeros(len(frame), dtype=bool)
    if not mentions.fingerprints:
        return []
    for column in (c for c in FREE_TEXT_COLUMNS.get(table, ()) if c in frame.columns):
        redacted = frame[column].map(mentions.redact)
        changed = (redacted.astype(str) != frame[column].astype(str)).to_numpy()
        frame[column] = redacted
        named |= changed
    return sorted(set(frame.loc[named, "numero_ligne"].tolist()))


def append_by_name(con: duckdb.DuckDBPyConnection, table: str, frame: pd.DataFrame) -> None:
    """Append a dataframe to a raw table, matching columns by name."""
    con.register("rows_to_land", frame)
    try:
        con.execute(f"insert into {table} by name select * from rows_to_land")
    finally:
        con.unregister("rows_to_land")


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
) -> list[LandedSnapshot]:
    """Append one sync's snapshots to the raw history in a single transaction (all or nothing).

    The sync's parameters (plausibility bounds, secrecy threshold) are recorded with it: a replay applies them."""
    raw_db.parent.mkdir(parents=True, exist_ok=True)
    landed = []
    with duckdb.connect(str(raw_db)) as con:
        con.execute("begin transaction")
        migrate(con, key)
        erased = erased_people(con, key)
        con.execute(
            "insert into syncs by name select ? as sync_id, ? as started_at, ? as source_kind, "
            "? as departements, ? as parametres",
            [sync_id, datetime.now(), source_kind, json.dumps(list(departements)),
             json.dumps({"bornes": bounds.as_record(), "seuil_confidentialite": seuil_confidentialite})],
        )
        for snapshot in snapshots:
            snapshot_id = uuid.uuid4().hex
            record = pd.DataFrame([_snapshot_record(snapshot, snapshot_id, sync_id, source_kind)])
            append_by_name(con, "snapshots", record)
            table = snapshot.contract.table_name
            frame, theirs, naming = without_erased_people(landing_frame(snapshot, snapshot_id, key), table, erased)
            append_by_name(con, table, frame)
            if table == "reponses":
                cells = answer_cells(snapshot, snapshot_id)
                cells = cells[~cells["numero_ligne"].isin(frame.loc[theirs, "numero_ligne"])].copy()
                naming = sorted({*naming, *redact_mentions(cells, "reponses_cellules", erased.mentions)})
                append_by_name(con, "reponses_cellules", cells)
            if snapshot.question_ids:
                questions = pd.DataFrame(
                    [(snapshot_id, qid, title, n) for n, (title, qid) in enumerate(snapshot.question_ids.items())],
                    columns=["snapshot_id", "question_id", "titre", "position"],
                )
                append_by_name(con, "formulaires_questions", questions)
            con.execute("insert into sync_snapshots values (?, ?)", [sync_id, snapshot_id])
            landed.append(
                LandedSnapshot(snapshot_id, snapshot.spreadsheet.title, snapshot.tab, table, len(frame), tuple(naming))
            )
        for snapshot_id in [*reused_snapshot_ids, bundled_lists_snapshot(con, sync_id)]:
            con.execute("insert into sync_snapshots values (?, ?)", [sync_id, snapshot_id])
        con.execute("commit")
    return landed
