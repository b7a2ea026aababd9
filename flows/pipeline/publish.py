"""Publication: assemble a candidate warehouse file, then swap it in atomically under a lock."""

from __future__ import annotations

import fcntl
import json
import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import datetime, timezone
from pathlib import Path

import duckdb

from flows.errors import GateFailed, InputError, SyncAlreadyRunning
from flows.storage import database_damage, file_checksum, replace_durably

# Schemas of the dbt build that analysts get; staging and intermediate stay private.
PUBLISHED_SCHEMAS = ("bilan", "qualite")
CANDIDATE_PREFIX = ".pdn-candidate-"
# Readers older than this project's duckdb (the `duckdb` CLI from PyPI, Metabase's DuckDB driver) open this format.
STORAGE_COMPATIBILITY = "v1.4.0"
# The one published table not built by dbt: its comments, as dbt's persist_docs writes the marts' ones.
SYNCHRONISATION_COMMENT = "La synchronisation qui a publié ce fichier (une ligne) : identifiants, source lue, date."
SYNCHRONISATION_COLUMNS = {
    "run_id": "Identifiant de l'exécution qui a publié ce fichier (son rapport : warehouse/runs/<run_id>.json).",
    "sync_id": (
        "Synchronisation dont les données ont été construites : égale à run_id, sauf lors d'un rejeu "
        "(pdn synchroniser --rejouer), où c'est la synchronisation rejouée."
    ),
    "source": "Source lue : « sheets » (tableurs Google), « fichiers (<dossier>) » ou « rejeu de <sync_id> ».",
    "publie_le": "Début de l'exécution qui a publié ce fichier (horodatage ISO 8601, UTC).",
}


# The lock this context holds: the sync flow that `pdn oubli` runs to republish, while holding the lock since
# the erasure began, keeps it instead of refusing itself.
_held_lock: ContextVar[Path | None] = ContextVar("held_warehouse_lock", default=None)


@contextmanager
def warehouse_lock(lock_file: Path, reentrant: bool = False) -> Iterator[None]:
    """Hold the warehouse's sync lock, or refuse at once if another sync holds it.

    Whoever takes the lock first removes the candidates a failed or killed run left beside it: on a full disk
    they are what fills it, so this comes before anything else is written, the holder's pid included.
    `reentrant`: code running for the holder of this lock, in its context, enters without locking again."""
    if reentrant and _held_lock.get() == lock_file:
        yield
        return
    lock_file.parent.mkdir(parents=True, exist_ok=True)
    with open(lock_file, "a+b", buffering=0) as handle:  # unbuffered: a write that fails is not retried at close
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError as err:
            handle.seek(0)
            holder = handle.read().decode(errors="replace").strip() or "inconnu"
            raise SyncAlreadyRunning(
                f"Une synchronisation est déjà en cours (processus {holder}) : "
                "celle-ci est refusée, rien n'a été modifié. Réessayez quand elle sera terminée."
            ) from err
        remove_stale_candidates(lock_file.parent)
        _write_holder(handle, str(os.getpid()))
        token = _held_lock.set(lock_file)
        try:
            yield
        finally:
            _held_lock.reset(token)
            _write_holder(handle, "")
            fcntl.flock(handle, fcntl.LOCK_UN)


def _write_holder(handle, pid: str) -> None:
    """Name the lock's holder for a refused sync's message; best effort: the flock, not this text, is the lock."""
    try:
        handle.seek(0)
        handle.truncate()
        handle.write(pid.encode())
    except OSError:  # a full or read-only disk: the refusal then names the holder « inconnu »
        pass


def candidate_path(published_db: Path, sync_id: str) -> Path:
    """Candidates are built beside the published file so the final rename stays on one filesystem."""
    return published_db.with_name(f"{CANDIDATE_PREFIX}{sync_id}.duckdb")


def remove_stale_candidates(warehouse_dir: Path) -> None:
    """Drop candidates (and their WAL) left by a killed or failed run (only ever called while holding the lock)."""
    for leftover in warehouse_dir.glob(f"{CANDIDATE_PREFIX}*"):
        leftover.unlink(missing_ok=True)


def discard_candidate(candidate_db: Path) -> None:
    """Remove a candidate that will not be published, and its WAL: on a full disk they are what fills it."""
    for path in (candidate_db, wal_path(candidate_db)):
        path.unlink(missing_ok=True)


def sql_string(text: str) -> str:
    """A SQL string literal (COMMENT ON takes no parameters); newlines need no escaping."""
    return "'" + text.replace("'", "''") + "'"


def copy_comments(con: duckdb.DuckDBPyConnection) -> None:
    """Give the copied tables and columns the comments dbt wrote on the marts (CREATE TABLE AS drops them)."""
    # Base tables only, as copied: a view's columns are listed too, but views stay out of the published file.
    tables = f"from duckdb_tables() where database_name = 'work' and schema_name in {PUBLISHED_SCHEMAS}"
    con.begin()  # one transaction for the ~130 comments: well under half the time of one transaction each
    for schema, table, comment in con.execute(
        f"select schema_name, table_name, comment {tables} and comment <> ''"
    ).fetchall():
        con.execute(f'comment on table {schema}."{table}" is {sql_string(comment)}')
    for schema, table, column, comment in con.execute(
        "select schema_name, table_name, column_name, comment from duckdb_columns() "
        "where comment <> '' and (database_name, schema_name, table_name) in "
        f"(select (database_name, schema_name, table_name) {tables})"
    ).fetchall():
        con.execute(f'comment on column {schema}."{table}"."{column}" is {sql_string(comment)}')
    con.commit()


def assemble_candidate(work_db: Path, candidate_db: Path, metadata: dict[str, object]) -> list[str]:
    """Copy the published schemas' tables (no views, no staging), comments included, to a new file; list them."""
    candidate_db.unlink(missing_ok=True)
    with duckdb.connect(str(candidate_db), config={"storage_compatibility_version": STORAGE_COMPATIBILITY}) as con:
        con.execute("attach ? as work (read_only)", [str(work_db)])  # bound: a path may hold « ' »
        tables = con.execute(
            "select table_schema, table_name from information_schema.tables "
            "where table_catalog = 'work' and table_type = 'BASE TABLE' "
            f"and table_schema in {PUBLISHED_SCHEMAS} order by all"
        ).fetchall()
        for schema in PUBLISHED_SCHEMAS:
            con.execute(f"create schema if not exists {schema}")
        for schema, table in tables:
            con.execute(f'create table {schema}."{table}" as select * from work.{schema}."{table}"')
        copy_comments(con)
        con.execute("detach work")
        columns = ", ".join(f"{name} varchar" for name in metadata)
        con.execute(f"create table qualite.synchronisation ({columns})")
        con.execute(
            f"insert into qualite.synchronisation values ({', '.join('?' for _ in metadata)})",
            [None if value is None else str(value) for value in metadata.values()],
        )
        con.execute(f"comment on table qualite.synchronisation is {sql_string(SYNCHRONISATION_COMMENT)}")
        for name in metadata.keys() & SYNCHRONISATION_COLUMNS.keys():
            con.execute(
                f"comment on column qualite.synchronisation.{name} is {sql_string(SYNCHRONISATION_COLUMNS[name])}"
            )
        con.execute("checkpoint")
    return [f"{schema}.{table}" for schema, table in tables] + ["qualite.synchronisation"]


@contextmanager
def open_published(published_db: Path) -> Iterator[duckdb.DuckDBPyConnection]:
    """A read-only connection to the published file, or a French InputError saying why it cannot open."""
    if not published_db.exists():
        raise InputError(f"Aucun entrepôt publié ({published_db}) : lancez d'abord « pdn synchroniser ».")
    try:
        con = duckdb.connect(str(published_db), read_only=True)
    except duckdb.Error as err:
        raise InputError(
            f"L'entrepôt publié ({published_db}) ne s'ouvre pas en lecture ({type(err).__name__}). Un programme "
            "l'a peut-être ouvert en écriture : fermez-le, puis lancez « pdn synchroniser » pour republier."
        ) from None
    try:
        yield con
    finally:
        con.close()


def _as_published(published_db: Path, runs_dir: Path) -> bool:
    """The file is byte for byte what its run report says was published (the cheap proof it is sound)."""
    try:
        with duckdb.connect(str(published_db), read_only=True) as con:
            run_id = str(con.execute("select run_id from qualite.synchronisation").fetchone()[0])
        if not run_id.replace("-", "").isalnum():  # a file name, read from the file itself
            return False
        report = json.loads((runs_dir / f"{run_id}.json").read_text(encoding="utf-8"))
        return report.get("sha256") == file_checksum(published_db)
    except (duckdb.Error, OSError, ValueError, TypeError, AttributeError):
        return False


def publication_damage(published_db: Path, runs_dir: Path) -> str | None:
    """Why the published file cannot be read back whole (French), or None when it reads or is absent.

    A file equal to what its run report recorded needs no more (~0.05 s); another one is read whole (~0.35 s for
    the sample's 60 tables)."""
    if not published_db.exists() or _as_published(published_db, runs_dir):
        return None
    return database_damage(published_db)


class PublicationFailed(GateFailed):
    """The swapped-in file could not be read back: the previous one is back in place (exit 1)."""


def wal_path(database: Path) -> Path:
    """DuckDB's write-ahead log of a database file (it sits beside it, named after its path)."""
    return database.with_name(database.name + ".wal")


def remove_build(build_db: Path) -> None:
    """Delete the private build with its WAL (a killed build's would be replayed into the next file) and what DuckDB
    spilled beside it past PDN_DUCKDB_MEMORY_LIMIT (removed only when DuckDB closes: a killed build leaves it)."""
    for stale in (build_db, wal_path(build_db)):
        stale.unlink(missing_ok=True)
    shutil.rmtree(build_db.with_name(build_db.name + ".tmp"), ignore_errors=True)


def set_aside_stale_wal(published_db: Path) -> str | None:
    """Move aside a WAL left beside the published file (a read-write reader killed with it open).

    DuckDB replays a WAL it finds next to a file onto that file: after a swap it would be replayed onto
    the new file and make it unreadable for everyone. The caller holds the lock; returns the event.
    """
    wal = wal_path(published_db)
    if not wal.exists():
        return None
    folder = published_db.parent / ".wal-orphelins"
    folder.mkdir(exist_ok=True)
    target = folder / f"{published_db.name}.{datetime.now(timezone.utc):%Y%m%dT%H%M%SZ}.wal"
    os.replace(wal, target)
    return (
        f"Un journal d'écriture (WAL) laissé à côté de l'entrepôt publié par un programme qui l'avait ouvert en "
        f"écriture a été mis de côté ({target.name}, dossier {folder.name}) : ouvrez l'entrepôt en lecture seule."
    )


def verify_published(published_db: Path, checksum: str) -> None:
    """The published file is the candidate, byte for byte, and opens read-only; else PublicationFailed."""
    problem = None
    if file_checksum(published_db) != checksum:
        problem = "son empreinte SHA-256 ne correspond pas au fichier contrôlé"
    elif wal_path(published_db).exists():
        problem = "un journal d'écriture (WAL) est apparu à côté de lui"
    else:
        try:
            with duckdb.connect(str(published_db), read_only=True) as con:
                con.execute("select count(*) from qualite.synchronisation").fetchone()
        except duckdb.Error as err:
            problem = f"il ne s'ouvre pas en lecture seule ({type(err).__name__})"
    if problem:
        raise PublicationFailed(f"L'entrepôt publié n'a pas pu être relu : {problem}.")


def swap_in(candidate_db: Path, published_db: Path, checksum: str) -> None:
    """Atomically replace the published file, then read it back; on failure, the previous file returns.

    Readers keep the old inode, new readers see the new file. The previous file is kept as a hard link
    until the new one is verified, so a failed verification restores it exactly.
    """
    previous = published_db.with_name(f"{CANDIDATE_PREFIX}precedent.duckdb")
    previous.unlink(missing_ok=True)
    if published_db.exists():
        os.link(published_db, previous)
    try:
        replace_durably(candidate_db, published_db)
        verify_published(published_db, checksum)
    except BaseException as err:
        if previous.exists():
            replace_durably(previous, published_db)
        else:
            published_db.unlink(missing_ok=True)
        if isinstance(err, PublicationFailed):
            raise PublicationFailed(f"{err} L'entrepôt précédent a été remis en place.") from None
        raise
    finally:
        previous.unlink(missing_ok=True)
