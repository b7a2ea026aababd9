"""Publication: assemble a candidate warehouse file, then swap it in atomically under a lock."""

from __future__ import annotations

import fcntl
import hashlib
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import duckdb

from flows.errors import SyncAlreadyRunning
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


def file_checksum(path: Path) -> str:
    """SHA-256 of a file, to tie a run report to the exact file it published."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def swap_in(candidate_db: Path, published_db: Path) -> None:
    """Atomically replace the published file: readers keep the old inode, new readers see the new file."""
    replace_durably(candidate_db, published_db)
