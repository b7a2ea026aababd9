"""Small file-system habits shared by every module: durable atomic replacement, private permissions, and
reading a DuckDB file back whole to find damage."""

from __future__ import annotations

import hashlib
import logging
import os
import stat
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

logger = logging.getLogger(__name__)

PRIVATE_DIR_MODE = 0o700  # the private folder holds personal data: owner only
PRIVATE_FILE_MODE = 0o600
# DuckDB's words when another process holds a file read-write: the file is busy, not damaged.
_LOCKED = ("Could not set lock", "Conflicting lock")


def fsync(path: Path) -> None:
    """Flush a file (or a directory entry) to disk."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def replace_durably(source: Path, target: Path) -> None:
    """Atomically put `source` at `target`: readers see the old file or the new one, never half of one."""
    fsync(source)
    os.replace(source, target)
    fsync(target.parent)


def partial_path(target: Path) -> Path:
    """The hidden sibling a file is written to before it replaces `target`."""
    return target.with_name(f".{target.name}.partiel")


@contextmanager
def writing_atomically(target: Path) -> Iterator[Path]:
    """Yield a temporary path to write; on success it replaces `target` atomically, else it is removed."""
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = partial_path(target)
    try:
        yield partial
        replace_durably(partial, target)
    finally:
        partial.unlink(missing_ok=True)


def write_text_atomically(target: Path, text: str) -> Path:
    """Write a text file (UTF-8) atomically."""
    with writing_atomically(target) as partial:
        partial.write_text(text, encoding="utf-8")
    return target


@contextmanager
def private_umask() -> Iterator[None]:
    """Files created meanwhile (raw history, dbt build and logs) are owner-only from the start."""
    previous = os.umask(0o077)
    try:
        yield
    finally:
        os.umask(previous)


def ensure_private_dir(private_dir: Path) -> list[str]:
    """Create the private folder (0700) and keep it and its files owner-only (0600).

    Returns the French warnings for permissions someone loosened: they are tightened again and reported.
    """
    private_dir.mkdir(mode=PRIVATE_DIR_MODE, parents=True, exist_ok=True)
    warnings = []
    for path in [private_dir, *private_dir.rglob("*")]:
        if path.is_symlink():
            continue
        wanted = PRIVATE_DIR_MODE if path.is_dir() else PRIVATE_FILE_MODE
        mode = stat.S_IMODE(path.stat().st_mode) & 0o777  # a sticky bit (a mount point) opens nothing
        if mode & ~wanted:
            os.chmod(path, wanted)
            relative = "." if path == private_dir else str(path.relative_to(private_dir))
            warnings.append(
                f"Droits d'accès trop ouverts sur le dossier privé ({relative} : {mode:o}) : "
                f"ramenés à {wanted:o} (données personnelles)."
            )
    return warnings


def file_checksum(path: Path) -> str:
    """SHA-256 of a file: ties a run report to the file it published, and the raw history to its last landing."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def database_damage(database: Path) -> str | None:
    """Why a DuckDB file cannot be read back whole (French), or None when every block of every table reads.

    Counting rows reads no data block; hashing every column of every row does, and DuckDB checks each block's
    checksum as it reads it: a truncated file, garbage or a flipped byte in a table shows up here."""
    import duckdb

    if not database.exists():
        return "le fichier est absent"
    try:
        with duckdb.connect(str(database), read_only=True) as con:
            tables = con.execute("select schema_name, table_name from duckdb_tables() where not internal").fetchall()
            for schema, table in tables:
                con.execute(f'select count(*), bit_xor(hash(columns(*))) from "{schema}"."{table}"').fetchall()
    except duckdb.Error as err:
        if any(words in str(err) for words in _LOCKED):
            return None  # busy, not damaged: whoever holds it will say if it is not readable
        return f"il ne se relit pas ({type(err).__name__})"
    return None
