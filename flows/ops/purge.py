"""`pdn purger`: the raw history's retention policy (RGPD).

Two rules, applied under the warehouse lock so no sync runs meanwhile:
- snapshots extracted more than the retention period ago are deleted with their rows, except those the
  latest sync or the published warehouse's sync uses (the current build must stay reproducible); syncs
  that lose a snapshot go too, since they can no longer be replayed;
- the roster rows of Promeneurs who left more than the retention period ago lose their personal data
  (nom, prenom, email, colonnes_extra), and so do their questionnaire answers (email): the columns declared
  in flows/pipeline/land.py PERSONAL_COLUMNS_BY_TABLE. Their mentions in free text anywhere in the history
  (full name, civility and name, address, a phone of their rows) become « [effacé] », as for an erasure.
  Their pseudonymous key and every other column stay, so the published marts do not change.
The file is then rewritten, so the deleted values do not linger in DuckDB's free blocks.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import stat
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import duckdb
import jinja2

from flows.errors import InputError
from flows.identity import normalised_email, phones_in
from flows.ops.subject import mark_mentions, people_named, redact_marked
from flows.pipeline.land import PERSONAL_COLUMNS_BY_TABLE, SNAPSHOT_TABLES
from flows.pipeline.publish import warehouse_lock
from flows.pseudonym_keys import check_history_key
from flows.settings import DBT_PROJECT_DIR, Settings
from flows.storage import replace_durably

PERSONAL_COLUMNS = PERSONAL_COLUMNS_BY_TABLE["promeneurs"]
# Which rows of each table holding personal columns belong to a departed Promeneur: their roster rows (as
# selected in lignes_a_anonymiser) and their questionnaire answers (same identity rule, so same key).
DEPARTED_ROWS = {
    "promeneurs": (
        "exists (select 1 from lignes_a_anonymiser as a "
        "where a.snapshot_id = promeneurs.snapshot_id and a.numero_ligne = promeneurs.numero_ligne)"
    ),
    "reponses": "cle_repondant in (select cle_promeneur from promeneurs_sortis)",
}
# The dbt macros that read a date cell; rendered here so exit dates are parsed by the one rule dbt uses.
DATE_MACRO_FILES = ("textes.sql", "parser_dates.sql")


@dataclass
class PurgeSummary:
    """What a purge removed: counts only, nothing about who."""

    annees: int
    limite: datetime
    simulation: bool = False
    historique_absent: bool = False
    syncs_supprimees: int = 0
    instantanes_supprimes: int = 0
    instantanes_conserves: int = 0  # older than the limit, kept for the latest or the published sync
    lignes_supprimees: dict[str, int] = field(default_factory=dict)
    promeneurs_anonymises: int = 0
    lignes_anonymisees: int = 0
    lignes_anonymisees_derniere_sync: int = 0  # still in the current spreadsheets
    reponses_anonymisees: int = 0  # their questionnaire answers, which lose their e-mail
    mentions_masquees: int = 0  # free-text cells of the history that named them
    octets_avant: int = 0
    octets_apres: int = 0


def years_before(moment: datetime, years: int) -> datetime:
    """The same day and time `years` years earlier (29 February becomes 28 February)."""
    try:
        return moment.replace(year=moment.year - years)
    except ValueError:
        return moment.replace(year=moment.year - years, day=28)


def date_cell_sql(column: str) -> str:
    """SQL parsing a date cell, rendered from dbt's `parser_date` macro (same formats, same nulls)."""
    macros = "\n".join((DBT_PROJECT_DIR / "macros" / name).read_text(encoding="utf-8") for name in DATE_MACRO_FILES)
    template = jinja2.Environment(undefined=jinja2.StrictUndefined).from_string(macros + "\n{{ parser_date(column) }}")
    return template.render(column=column).strip()


def _count(con: duckdb.DuckDBPyConnection, sql: str, params: list | None = None) -> int:
    return int(con.execute(sql, params or []).fetchone()[0])


def published_sync_id(published_db: Path) -> str | None:
    """The sync the published warehouse was built from, read from its qualite.synchronisation table."""
    if not published_db.exists():
        return None
    try:
        with duckdb.connect(str(published_db), read_only=True) as con:
            row = con.execute("select sync_id from qualite.synchronisation limit 1").fetchone()
    except duckdb.Error:
        return None
    return row[0] if row else None


def _expire_snapshots(con: duckdb.DuckDBPyConnection, summary: PurgeSummary, keep_syncs: list[str]) -> None:
    """Delete expired snapshots, their rows and the syncs they leave incomplete."""
    # The latest sync is what dbt builds by default; a blocked latest sync may leave the published
    # file built from an earlier one, which must stay replayable too.
    con.execute(
        "create temp table derniere_sync as "
        "select sync_id from syncs order by started_at desc, sync_id desc limit 1"
    )
    con.execute(
        "create temp table syncs_protegees as select sync_id from derniere_sync "
        "union select unnest(?::varchar[])",
        [keep_syncs],
    )
    con.execute(
        "create temp table instantanes_utiles as select distinct snapshot_id from sync_snapshots "
        "where sync_id in (select sync_id from syncs_protegees)"
    )
    con.execute(
        "create temp table instantanes_expires as select snapshot_id from snapshots "
        "where extracted_at < ? and snapshot_id not in (select snapshot_id from instantanes_utiles)",
        [summary.limite],
    )
    summary.instantanes_conserves = _count(
        con,
        "select count(*) from snapshots where extracted_at < ? "
        "and snapshot_id in (select snapshot_id from instantanes_utiles)",
        [summary.limite],
    )
    con.execute(
        "create temp table syncs_expirees as select distinct sync_id from sync_snapshots "
        "where snapshot_id in (select snapshot_id from instantanes_expires) "
        "and sync_id not in (select sync_id from syncs_protegees)"
    )
    expired = "(select snapshot_id from instantanes_expires)"
    for table in SNAPSHOT_TABLES:
        summary.lignes_supprimees[table] = _count(con, f"delete from {table} where snapshot_id in {expired}")
    con.execute(
        f"delete from sync_snapshots where snapshot_id in {expired} "
        "or sync_id in (select sync_id from syncs_expirees)"
    )
    summary.syncs_supprimees = _count(con, "delete from syncs where sync_id in (select sync_id from syncs_expirees)")
    summary.instantanes_supprimes = _count(con, f"delete from snapshots where snapshot_id in {expired}")


def _blank_departed(con: duckdb.DuckDBPyConnection, summary: PurgeSummary) -> None:
    """Blank the personal data of every roster row of Promeneurs who left before the limit."""
    # A Promeneur's exit dates are those of their most recent snapshot (a later one may have corrected them). She
    # may have several periods there (she left and came back): departed only when every one of them ended.
    con.execute(
        "create temp table lignes_promeneurs as "
        "select p.snapshot_id, p.numero_ligne, p.cle_promeneur, s.extracted_at, "
        f"{date_cell_sql('p.date_sortie')} as date_sortie "
        "from promeneurs as p left join snapshots as s on s.snapshot_id = p.snapshot_id"
    )
    con.execute(
        "create temp table promeneurs_sortis as select cle_promeneur from ("
        "  select cle_promeneur, date_sortie, dense_rank() over ("
        "    partition by cle_promeneur order by extracted_at desc nulls last, snapshot_id desc"
        "  ) as rang from lignes_promeneurs where cle_promeneur is not null"
        ") where rang = 1 group by cle_promeneur having bool_and(coalesce(date_sortie < ?, false))",
        [summary.limite.date()],
    )
    not_blank = " or ".join(f"coalesce(p.{column}, '') <> ''" for column in PERSONAL_COLUMNS)
    con.execute(
        "create temp table lignes_a_anonymiser as "
        "select l.snapshot_id, l.numero_ligne, l.cle_promeneur from lignes_promeneurs as l "
        "inner join promeneurs as p on p.snapshot_id = l.snapshot_id and p.numero_ligne = l.numero_ligne "
        "where (l.cle_promeneur in (select cle_promeneur from promeneurs_sortis) "
        f"  or (l.cle_promeneur is null and l.date_sortie < ?)) and ({not_blank})",
        [summary.limite.date()],
    )
    summary.promeneurs_anonymises = _count(con, "select count(distinct cle_promeneur) from lignes_a_anonymiser")
    summary.lignes_anonymisees_derniere_sync = _count(
        con,
        "select count(*) from lignes_a_anonymiser where snapshot_id in ("
        "  select snapshot_id from sync_snapshots where sync_id in (select sync_id from derniere_sync))",
    )
    summary.mentions_masquees = _redact_departed_mentions(con)
    blanked = {table: _blank_personal_columns(con, table) for table in PERSONAL_COLUMNS_BY_TABLE}
    summary.lignes_anonymisees, summary.reponses_anonymisees = blanked["promeneurs"], blanked["reponses"]


def _blank_personal_columns(con: duckdb.DuckDBPyConnection, table: str) -> int:
    """Blank the declared personal columns of a departed Promeneur's rows of `table`; return how many rows."""
    columns = PERSONAL_COLUMNS_BY_TABLE[table]
    filled = " or ".join(f"coalesce({column}, '') <> ''" for column in columns)
    assignments = ", ".join(f"{column} = null" for column in columns)
    return _count(con, f"update {table} set {assignments} where ({DEPARTED_ROWS[table]}) and ({filled})")


def _redact_departed_mentions(con: duckdb.DuckDBPyConnection) -> int:
    """Replace their names, addresses and phones in every free-text cell of the history; return how many cells."""
    theirs = [
        f"select {', '.join(columns)} from {table} where {DEPARTED_ROWS[table]}"
        for table, columns in PERSONAL_COLUMNS_BY_TABLE.items()
    ]
    rows = [row for sql in theirs for row in con.execute(sql).df().to_dict("records")]
    names = {(r["prenom"].strip(), r["nom"].strip()) for r in rows if _text(r.get("prenom")) and _text(r.get("nom"))}
    addresses = {address for r in rows if (address := normalised_email(r.get("email")))}
    phones = {phone for r in rows for value in r.values() if _text(value) for phone in phones_in(value)}
    if not (names or addresses or phones):
        return 0
    # The fingerprints only live in this transaction: any key will do, none is recorded.
    person = people_named(set(), names, addresses, phones, secrets.token_bytes(32))
    con.execute("create or replace temp table personne_lignes (table_name varchar, rid bigint)")
    mark_mentions(con, person)
    redact_marked(con, person)
    return _count(con, "select count(*) from personne_mentions")


def _text(value: object) -> bool:
    return isinstance(value, str) and bool(value.strip())


def compact(raw_db: Path) -> None:
    """Rewrite the file: DuckDB keeps deleted and overwritten values in free blocks until reused."""
    fresh = raw_db.with_name(raw_db.name + ".compactage")
    fresh.unlink(missing_ok=True)
    try:
        with duckdb.connect() as con:
            con.execute("attach ? as ancien (read_only)", [str(raw_db)])
            con.execute("attach ? as nouveau", [str(fresh)])
            con.execute("copy from database ancien to nouveau")
            con.execute("detach nouveau")
            con.execute("detach ancien")
        os.chmod(fresh, stat.S_IMODE(raw_db.stat().st_mode))  # the history stays as private as it was
        replace_durably(fresh, raw_db)
    finally:
        fresh.unlink(missing_ok=True)


def purge_raw(
    raw_db: Path, years: int, now: datetime | None = None, dry_run: bool = False, keep_syncs: tuple[str, ...] = ()
) -> PurgeSummary:
    """Apply the retention policy to a raw history file (the caller holds the warehouse lock)."""
    summary = PurgeSummary(annees=years, limite=years_before(now or datetime.now(), years), simulation=dry_run)
    if not raw_db.exists():
        summary.historique_absent = True
        return summary
    summary.octets_avant = raw_db.stat().st_size
    with duckdb.connect(str(raw_db)) as con:
        con.execute("begin transaction")
        try:
            _expire_snapshots(con, summary, list(keep_syncs))
            _blank_departed(con, summary)
        except BaseException:
            with contextlib.suppress(duckdb.Error):
                con.execute("rollback")
            raise
        con.execute("rollback" if dry_run else "commit")
        con.execute("checkpoint")
    changed = (
        summary.instantanes_supprimes or summary.syncs_supprimees or summary.lignes_anonymisees
        or summary.reponses_anonymisees or summary.mentions_masquees
    )
    if changed and not dry_run:
        compact(raw_db)
    summary.octets_apres = raw_db.stat().st_size
    return summary


def run_purge(
    settings: Settings, years: int | None = None, dry_run: bool = False, now: datetime | None = None
) -> PurgeSummary:
    """`pdn purger`: the retention policy on the configured raw history, under the warehouse lock."""
    years = years if years is not None else settings.retention_years
    if years < 1:
        raise InputError(f"La durée de conservation doit être d'au moins 1 an (lu : {years}).")
    with warehouse_lock(settings.lock_file):
        check_history_key(settings)  # a history under another key is left as it is until the key is sorted out
        published = published_sync_id(settings.published_db)
        summary = purge_raw(settings.raw_db, years, now, dry_run, keep_syncs=(published,) if published else ())
        if not dry_run and not summary.historique_absent:
            from flows.ops.repair import renew_backups

            renew_backups(settings)  # the backups hold what was just purged: only the purged history is kept
        return summary


def _size(octets: int) -> str:
    return f"{octets / 1_000_000:.1f} Mo".replace(".", ",")


def format_purge(summary: PurgeSummary) -> str:
    """A French account of the purge: counts only."""
    if summary.historique_absent:
        return "Aucun historique brut (raw.duckdb) : rien à purger."
    verb = "seraient" if summary.simulation else "ont été"
    title = "Simulation de purge (rien n'a été modifié)" if summary.simulation else "Purge de l'historique brut"
    rows = ", ".join(f"{table} : {count}" for table, count in summary.lignes_supprimees.items() if count) or "aucune"
    lines = [
        f"{title} : conservation {summary.annees} ans, limite le {summary.limite:%d/%m/%Y}.",
        f"  Instantanés supprimés : {summary.instantanes_supprimes} (lignes {rows}).",
        f"  Synchronisations supprimées (plus rejouables) : {summary.syncs_supprimees}.",
        f"  Instantanés anciens conservés (dernière synchronisation ou entrepôt publié) : "
        f"{summary.instantanes_conserves}.",
        f"  Promeneurs sortis avant la limite dont les données personnelles {verb} effacées : "
        f"{summary.promeneurs_anonymises} ({summary.lignes_anonymisees} lignes).",
        f"  Leurs réponses au questionnaire (adresse e-mail effacée) : {summary.reponses_anonymisees} ; textes libres "
        f"qui les nomment (nom, adresse ou téléphone remplacé par « [effacé] ») : {summary.mentions_masquees}.",
    ]
    if summary.lignes_anonymisees_derniere_sync:
        lines.append(
            f"  Attention : {summary.lignes_anonymisees_derniere_sync} de ces lignes figurent encore dans les "
            "tableurs actuels ; supprimez-les dans Google Sheets, sinon la prochaine synchronisation "
            "recopiera ces données personnelles."
        )
    if not summary.simulation:
        lines.append(f"  Taille de raw.duckdb : {_size(summary.octets_avant)} → {_size(summary.octets_apres)}.")
    return "\n".join(lines)
