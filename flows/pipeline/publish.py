"""Publication: assemble a candidate warehouse file, then swap it in atomically under a lock."""

from __future__ import annotations

import fcntl
import hashlib
import os
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path

import duckdb

from flows.errors import GateFailed, InputError, SyncAlreadyRunning
from flows.storage import replace_durably

# Schemas of the dbt build that analysts get; staging and intermediate stay private.
PUBLISHED_SCHEMAS = ("bilan", "qualite")
CANDIDATE_PREFIX = ".pdn-candidate-"
# Readers older than this project's duckdb (the `duckdb` CLI from PyPI, Metabase's DuckDB driver) open this format.
STORAGE_COMPATIBILITY = "v1.4.0"


@contextmanager
def warehouse_lock(lock_file: Path) -> Iterator[None]:
    """Hold the warehouse's sync lock, or refuse at once if another sync holds it."""
    lock_file.parent.mkdir(parents=True, exist_ok=True)
    with open(lock_file, "a+") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError as err:
            handle.seek(0)
            holder = handle.read().strip() or "inconnu"
            raise SyncAlreadyRunning(
                f"Une synchronisation est déjà en cours (processus {holder}) : "
                "celle-ci est refusée, rien n'a été modifié. Réessayez quand elle sera terminée."
            ) from err
        handle.seek(0)
        handle.truncate()
        handle.write(str(os.getpid()))
        handle.flush()
        try:
            yield
        finally:
            handle.seek(0)
            handle.truncate()
            fcntl.flock(handle, fcntl.LOCK_UN)


def candidate_path(published_db: Path, sync_id: str) -> Path:
    """Candidates are built beside the published file so the final rename stays on one filesystem."""
    return published_db.with_name(f"{CANDIDATE_PREFIX}{sync_id}.duckdb")


def remove_stale_candidates(published_db: Path) -> None:
    """Drop candidates left by a killed run (only ever called while holding the lock)."""
    for leftover in published_db.parent.glob(f"{CANDIDATE_PREFIX}*"):
        leftover.unlink(missing_ok=True)


def assemble_candidate(work_db: Path, candidate_db: Path, metadata: dict[str, object]) -> list[str]:
    """Copy the published schemas' tables (no views, no staging) into a fresh file; return their names."""
    candidate_db.unlink(missing_ok=True)
    with duckdb.connect(str(candidate_db), config={"storage_compatibility_version": STORAGE_COMPATIBILITY}) as con:
        con.execute(f"attach '{work_db}' as work (read_only)")
        tables = con.execute(
            "select table_schema, table_name from information_schema.tables "
            "where table_catalog = 'work' and table_type = 'BASE TABLE' "
            f"and table_schema in {PUBLISHED_SCHEMAS} order by all"
        ).fetchall()
        for schema in PUBLISHED_SCHEMAS:
            con.execute(f"create schema if not exists {schema}")
        for schema, table in tables:
            con.execute(f'create table {schema}."{table}" as select * from work.{schema}."{table}"')
        con.execute("detach work")
        columns = ", ".join(f"{name} varchar" for name in metadata)
        con.execute(f"create table qualite.synchronisation ({columns})")
        con.execute(
            f"insert into qualite.synchronisation values ({', '.join('?' for _ in metadata)})",
            [None if value is None else str(value) for value in metadata.values()],
        )
        con.execute("checkpoint")
    return [f"{schema}.{table}" for schema, table in tables] + ["qualite.synchronisation"]


@contextmanager
def open_published(published_db: Path) -> Iterator[duckdb.DuckDBPyConnection]:
    """A read-only connection to the published file, or a French InputError saying why it cannot open."""
    if not published_db.exists():
        raise InputError(f"Aucun entrepôt publié ({published_db}) : lancez d'abord « pdn sync ».")
    try:
        con = duckdb.connect(str(published_db), read_only=True)
    except duckdb.Error as err:
        raise InputError(
            f"L'entrepôt publié ({published_db}) ne s'ouvre pas en lecture ({type(err).__name__}). Un programme "
            "l'a peut-être ouvert en écriture : fermez-le, puis lancez « pdn sync » pour republier."
        ) from None
    try:
        yield con
    finally:
        con.close()


def file_checksum(path: Path) -> str:
    """SHA-256 of a file, to tie a run report to the exact file it published."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


class PublicationFailed(GateFailed):
    """The swapped-in file could not be read back: the previous one is back in place (exit 1)."""


def wal_path(database: Path) -> Path:
    """DuckDB's write-ahead log of a database file (it sits beside it, named after its path)."""
    return database.with_name(database.name + ".wal")


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
