"""Closed years: `pdn cloturer ANNEE` freezes a year's published figures; later syncs keep them unless revised.

Closing copies the year's rows of every published `bilan` mart that has an `annee` column into the raw
history (`chiffres_clos`, one JSON object a row: aggregates, and the activity titles the bilan already
publishes). Each sync then compares its candidate with them, after the dbt build and before the gate: a
closed year whose rows differ is put back as frozen and the figures that would have moved are listed,
unless the coordinator asked for it (`pdn synchroniser --reviser ANNEE`) or an erasure republishes (erasure moves
figures by design). Such a revision is recorded (`revisions`: when, why, what moved) once published, and
the frozen copy follows it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path

import duckdb

from flows.errors import InputError
from flows.pipeline.land import ensure_raw_schema
from flows.pipeline.moved_figures import INDICATORS_TABLE, moved_between
from flows.pipeline.publish import warehouse_lock
from flows.settings import Settings
from flows.storage import private_umask

FROZEN_SCHEMA = "bilan"
# The headcount identity across years: the start of year N is the end of year N-1.
DEBUT, FIN = "promeneurs_actifs_debut_annee", "promeneurs_actifs_fin_annee"
REVISION_ASKED, REVISION_ERASURE = "reviser", "effacement"


@dataclass(frozen=True)
class Closure:
    """One closed year, and its revisions (dates, newest last)."""

    annee: int
    cloture_le: datetime
    sync_id: str
    revisions: tuple[datetime, ...] = ()


@dataclass
class FreezeOutcome:
    """What the freeze step did to a candidate: years kept as frozen, years revised, identities broken."""

    # Closed years put back as frozen: (annee, departement, indicateur, avant, apres) that would have moved.
    non_appliques: list[dict] = field(default_factory=list)
    annees_figees: list[int] = field(default_factory=list)  # rows put back (figures or detail tables)
    # Closed years published with their new figures (asked, or an erasure), and what moved.
    revisions: dict[int, list[dict]] = field(default_factory=dict)
    # Open year N after a closed N-1 whose frozen end differs from N's start (the build's identity no longer holds).
    ruptures: list[dict] = field(default_factory=list)


# --- The record ------------------------------------------------------------------------------------------------


def _has_closing_tables(con: duckdb.DuckDBPyConnection) -> bool:
    """True once the raw history has the migration that records closed years (a history of an earlier release)."""
    return bool(con.execute("select count(*) from duckdb_tables() where table_name = 'clotures'").fetchone()[0])


def closures(raw_db: Path) -> list[Closure]:
    """Every closed year, oldest first, with its revision dates (none before the record existed)."""
    if not raw_db.exists():
        return []
    with duckdb.connect(str(raw_db), read_only=True) as con:  # raises while a sync writes it: callers decide
        if not _has_closing_tables(con):
            return []
        rows = con.execute(
            "select c.annee, c.cloture_le, c.sync_id, "
            "list(r.revise_le order by r.revise_le) filter (where r.revise_le is not null) "
            "from clotures c left join revisions r on r.annee = c.annee group by all order by c.annee"
        ).fetchall()
    return [Closure(annee, when, sync_id, tuple(revised or ())) for annee, when, sync_id, revised in rows]


def revision_mentions(raw_db: Path) -> dict[int, str]:
    """« révisé le 04/12/2026 » by closed year revised since its closing (last revision), for bilans and exports."""
    try:
        records = closures(raw_db)
    except duckdb.Error:  # a sync is writing the history: the next bilan (written after it) will say it
        return {}
    return {c.annee: f"révisé le {c.revisions[-1]:%d/%m/%Y}" for c in records if c.revisions}


def _yearly_tables(con: duckdb.DuckDBPyConnection, catalog: str) -> list[str]:
    """The `bilan` tables of an attached warehouse that have an `annee` column (qualified, unquoted names)."""
    rows = con.execute(
        "select distinct table_name from duckdb_columns() where database_name = ? and schema_name = ? "
        "and column_name = 'annee' order by 1",
        [catalog, FROZEN_SCHEMA],
    ).fetchall()
    return [f"{FROZEN_SCHEMA}.{name}" for (name,) in rows]


def _freeze_rows(con: duckdb.DuckDBPyConnection, catalog: str, annee: int) -> None:
    """Replace the raw history's frozen copy of the year by the rows of the attached warehouse `catalog`."""
    con.execute("delete from chiffres_clos where annee = ?", [annee])
    for table in _yearly_tables(con, catalog):
        con.execute(
            f'insert into chiffres_clos select ?, ?, cast(to_json(t) as varchar) from {catalog}.{table} t '
            "where t.annee = ?",
            [annee, table, annee],
        )


def _published_years(con: duckdb.DuckDBPyConnection) -> set[int]:
    """The years of the published file attached as `publie`."""
    return {y for (y,) in con.execute(f"select distinct annee from publie.{INDICATORS_TABLE}").fetchall()}


def _close(con: duckdb.DuckDBPyConnection, annee: int, now: datetime) -> Closure:
    """Freeze a year of the attached published file into the raw history (the caller holds the lock)."""
    (sync_id,) = con.execute("select sync_id from publie.qualite.synchronisation limit 1").fetchone()
    con.execute("begin transaction")
    _freeze_rows(con, "publie", annee)
    con.execute("insert into clotures values (?, ?, ?)", [annee, now, sync_id])
    con.execute("commit")
    return Closure(annee, now, sync_id)


def _open_history(settings: Settings) -> duckdb.DuckDBPyConnection:
    """The raw history at today's schema, with the published file attached read-only as `publie`."""
    con = duckdb.connect(str(settings.raw_db))
    ensure_raw_schema(con, settings.pseudonym_key())
    con.execute("attach ? as publie (read_only)", [str(settings.published_db)])
    return con


def close_year(settings: Settings, annee: int, now: datetime | None = None) -> Closure:
    """`pdn cloturer ANNEE`: freeze the year's published figures, under the lock (no sync meanwhile)."""
    if not settings.published_db.exists():
        raise InputError(f"Aucun entrepôt publié ({settings.published_db}) : lancez d'abord « pdn synchroniser ».")
    with warehouse_lock(settings.lock_file), private_umask(), _open_history(settings) as con:
        known = con.execute("select cloture_le from clotures where annee = ?", [annee]).fetchone()
        if known:
            raise InputError(f"L'année {annee} est déjà close depuis le {known[0]:%d/%m/%Y} : rien n'a changé.")
        years = _published_years(con)
        if annee not in years:
            listed = ", ".join(str(y) for y in sorted(years)) or "aucune"
            raise InputError(f"L'année {annee} n'est pas dans l'entrepôt publié (années : {listed}) : rien n'a changé.")
        return _close(con, annee, now or datetime.now())


def close_due_years(settings: Settings, closing_day: tuple[int, int] | None, today: date) -> list[Closure]:
    """[bilan] cloture_automatique: close each published year whose closing day has passed (the sync holds the lock).

    Year N closes on that day of N+1, with the figures published then: before this sync changes anything."""
    if closing_day is None or not settings.published_db.exists():
        return []
    month, day = closing_day
    with private_umask(), _open_history(settings) as con:
        closed = {y for (y,) in con.execute("select annee from clotures").fetchall()}
        due = sorted(y for y in _published_years(con) - closed if today >= date(y + 1, month, day))
        return [_close(con, annee, datetime.now()) for annee in due]


# --- The freeze step of a sync ---------------------------------------------------------------------------------


def check_revisable(raw_db: Path, reviser: tuple[int, ...]) -> None:
    """`--reviser ANNEE` names closed years only (an open year follows the sheets already)."""
    closed = {c.annee for c in closures(raw_db)}
    open_years = [str(y) for y in reviser if y not in closed]
    if open_years:
        raise InputError(
            f"Année(s) {', '.join(open_years)} non close(s) : --reviser ne s'emploie que pour une année close "
            "(pdn cloturer) ; une année ouverte suit déjà les tableurs. Rien n'a été publié."
        )


def _struct_of(con: duckdb.DuckDBPyConnection, table: str) -> str:
    """The JSON structure of a candidate table's rows, for json_transform (column order kept)."""
    schema, name = table.split(".")
    columns = con.execute(
        "select column_name, data_type from duckdb_columns() where database_name = 'candidat' "
        "and schema_name = ? and table_name = ? order by column_index",
        [schema, name],
    ).fetchall()
    return json.dumps({column: data_type for column, data_type in columns})


def _frozen_relation(con: duckdb.DuckDBPyConnection, table: str, annee: int) -> str:
    """A temporary table of the year's frozen rows of `table`, typed as the candidate's columns."""
    con.execute(
        "create or replace temp table figees as select unnest(json_transform(ligne_json, ?)) "
        "from brut.chiffres_clos where annee = ? and table_name = ?",
        [_struct_of(con, table), annee, table],
    )
    return "figees"


def _differs(con: duckdb.DuckDBPyConnection, table: str, frozen: str, annee: int) -> bool:
    """True when the candidate's rows of the year are not exactly the frozen ones (as multisets)."""
    current = f"(select * from candidat.{table} where annee = {int(annee)})"
    return bool(
        con.execute(
            f"select exists (select * from {current} except all select * from {frozen}) "
            f"or exists (select * from {frozen} except all select * from {current})"
        ).fetchone()[0]
    )


def _compare_year(con: duckdb.DuckDBPyConnection, annee: int) -> tuple[list[str], list[dict]]:
    """The tables whose year rows differ from the frozen ones, and the indicators that would move."""
    changed, moved = [], []
    frozen_tables = {t for (t,) in con.execute(
        "select distinct table_name from brut.chiffres_clos where annee = ?", [annee]
    ).fetchall()}
    for table in _yearly_tables(con, "candidat"):
        if table not in frozen_tables:  # a mart added since the closing: nothing was frozen for it
            continue
        frozen = _frozen_relation(con, table, annee)
        if not _differs(con, table, frozen, annee):
            continue
        changed.append(table)
        if table == INDICATORS_TABLE:
            current = f"(select * from candidat.{table} where annee = {int(annee)})"
            moved = moved_between(con, frozen, current)
    return changed, moved


def _put_back(con: duckdb.DuckDBPyConnection, tables: list[str], annee: int) -> None:
    """Replace the candidate's rows of a closed year by the frozen ones, table by table."""
    for table in tables:
        frozen = _frozen_relation(con, table, annee)
        con.execute(f"delete from candidat.{table} where annee = ?", [annee])
        con.execute(f"insert into candidat.{table} select * from {frozen}")


def _broken_identities(con: duckdb.DuckDBPyConnection, closed: set[int]) -> list[dict]:
    """Open years whose start differs from the (frozen) end of a closed previous year, by department."""
    cursor = con.execute(
        f"""select d.annee, d.departement, f.valeur as fin_precedente, d.valeur as debut
        from candidat.{INDICATORS_TABLE} d
        join candidat.{INDICATORS_TABLE} f
            on f.annee = d.annee - 1 and f.departement = d.departement and f.indicateur = '{FIN}'
        where d.indicateur = '{DEBUT}' and f.annee in (select unnest(?::integer[]))
            and d.annee not in (select unnest(?::integer[])) and d.valeur is distinct from f.valeur
        order by all""",
        [sorted(closed), sorted(closed)],
    )
    names = [column[0] for column in cursor.description]
    return [dict(zip(names, row)) for row in cursor.fetchall()]


def freeze_closed_years(raw_db: Path, candidate_db: Path, revisable: set[int] | None) -> FreezeOutcome:
    """Keep every closed year of the candidate as frozen, except those in `revisable` (None: all of them)."""
    outcome = FreezeOutcome()
    closed = {c.annee for c in closures(raw_db)}
    if not closed:
        return outcome
    with duckdb.connect() as con:
        con.execute("attach ? as candidat", [str(candidate_db)])
        con.execute("attach ? as brut (read_only)", [str(raw_db)])
        con.execute("begin transaction")
        for annee in sorted(closed):
            changed, moved = _compare_year(con, annee)
            if not changed:
                continue
            if revisable is None or annee in revisable:
                outcome.revisions[annee] = moved
                continue
            _put_back(con, changed, annee)
            outcome.annees_figees.append(annee)
            outcome.non_appliques += moved
        con.execute("commit")
        outcome.ruptures = _broken_identities(con, closed)
    return outcome


def record_revisions(raw_db: Path, published_db: Path, run_id: str, revisions: dict[int, list[dict]], motif: str) -> None:
    """After the publication: record each revised year (when, which run, why, what moved); freeze its new figures."""
    if not revisions:
        return
    now = datetime.now()
    with private_umask(), duckdb.connect(str(raw_db)) as con:
        con.execute("attach ? as publie (read_only)", [str(published_db)])
        con.execute("begin transaction")
        for annee, moved in sorted(revisions.items()):
            con.execute(
                "insert into revisions values (?, ?, ?, ?, ?)",
                [annee, now, run_id, motif, json.dumps(moved, ensure_ascii=False, default=float)],
            )
            _freeze_rows(con, "publie", annee)
        con.execute("commit")


# --- French text -----------------------------------------------------------------------------------------------


def format_closure(closure: Closure) -> str:
    """What `pdn cloturer` prints."""
    return (
        f"Année {closure.annee} close le {closure.cloture_le:%d/%m/%Y à %H:%M} (chiffres de la synchronisation "
        f"{closure.sync_id}).\n"
        f"  Ses chiffres publiés ne bougeront plus : une synchronisation qui les changerait les garde tels quels et "
        f"liste ce qui aurait bougé ; « pdn synchroniser --reviser {closure.annee} » applique ces changements."
    )


def format_closures(records: list[Closure]) -> list[str]:
    """`pdn etat`'s lines about closed years."""
    lines = [f"Années closes : {len(records)}"]
    for record in records:
        revised = f", révisée le {record.revisions[-1]:%d/%m/%Y}" if record.revisions else ""
        count = f" ({len(record.revisions)} révision(s))" if len(record.revisions) > 1 else ""
        lines.append(f"  {record.annee} : close le {record.cloture_le:%d/%m/%Y}{revised}{count}")
    return lines
