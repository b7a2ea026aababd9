"""Errors the CLI turns into exit codes, and the one boundary every failure crosses before anyone sees it.

Messages are French, for the coordinator, and never quote a cell: an exception raised by a library
(a decoding error, a parser, DuckDB) can carry the content of a sheet in its text or its repr, so it is
replaced at the boundary by a message naming only its type, where its full trace was kept (the private
folder), and the run id.
"""

from __future__ import annotations

import errno
import functools
import logging
import os
import re
import sys
import traceback
from collections.abc import Callable
from contextvars import ContextVar
from datetime import datetime, timezone
from pathlib import Path
from typing import TypeVar

F = TypeVar("F", bound=Callable)

# The run the current code works for: the boundary names it in messages and trace files.
current_run_id: ContextVar[str | None] = ContextVar("current_run_id", default=None)


class PdnError(Exception):
    """Base class: `exit_code` is what `pdn` returns. The message is French and holds no cell content."""

    exit_code = 2


class InputError(PdnError):
    """A source or the configuration cannot be read as the contract says (exit 2)."""

    exit_code = 2


class GateFailed(PdnError):
    """The quality gate or the dbt build found a problem: nothing was published (exit 1)."""

    exit_code = 1


class UnexpectedError(PdnError):
    """A failure nobody anticipated (a bug, a full disk): nothing was published (exit 1)."""

    exit_code = 1


class SyncAlreadyRunning(PdnError):
    """Another sync holds the warehouse lock (exit 3)."""

    exit_code = 3


class StorageError(PdnError):
    """A folder the run writes to is full or read-only: nothing was published (exit 5)."""

    exit_code = 5


class DamagedHistory(PdnError):
    """The private raw history cannot be read back: nothing was published, `pdn reparer` restores it (exit 6)."""

    exit_code = 6


# What the system says when a folder cannot take a write, as errno and as the text DuckDB quotes it in
# (DuckDB's errors carry no errno, only the C library's message).
_FULL = (errno.ENOSPC, errno.EDQUOT)
_READ_ONLY = (errno.EROFS, errno.EACCES, errno.EPERM)
_STORAGE_ERRNOS = {code: os.strerror(code) for code in (*_FULL, *_READ_ONLY)}
_QUOTED_PATH = re.compile(r'"(/[^"]+)"')


def _trace_dir() -> Path:
    from flows.settings import load_settings

    try:
        return load_settings().private_dir / "erreurs"
    except PdnError:  # a broken setting must not hide the original error
        return Path.cwd() / "erreurs"


def keep_trace(error: BaseException) -> Path | None:
    """Write the full trace (which may quote cells) into the private folder, owner-only; its path or None."""
    run_id = current_run_id.get() or datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    folder = _trace_dir()
    try:
        folder.mkdir(parents=True, exist_ok=True, mode=0o700)
        path = folder / f"{run_id}.txt"
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        with os.fdopen(fd, "a", encoding="utf-8") as handle:
            handle.write("".join(traceback.format_exception(error)))
        return path
    except OSError:
        return None


def _stripped(error: PdnError) -> PdnError:
    """The same error without its chain: a chained library exception could quote a cell in a traceback."""
    error.__cause__ = None
    error.__context__ = None
    error.__suppress_context__ = True
    return error


def _storage_errno(error: BaseException) -> tuple[int, str | None] | None:
    """(errno, path written) of a full or read-only folder in this error or its chain, else None."""
    seen: set[int] = set()
    while error is not None and id(error) not in seen:
        seen.add(id(error))
        if isinstance(error, OSError) and error.errno in _STORAGE_ERRNOS:
            # A copy or a rename names the source first: the destination (filename2) is what could not be written.
            written = next((name for name in (error.filename2, error.filename) if isinstance(name, str)), None)
            return error.errno, written
        text = str(error) if type(error).__module__.startswith(("duckdb", "_duckdb")) else ""
        for code, words in _STORAGE_ERRNOS.items():
            if words in text:
                quoted = _QUOTED_PATH.search(text)
                return code, quoted.group(1) if quoted else None
        error = error.__cause__ or error.__context__
    return None


def _folder_named(path: str | None) -> str:
    """The folder to free or fix: the warehouse or private folder holding `path`, else its own existing folder.

    Only folders are named, never a file, and only existing ones: a library's message is not trusted to hold
    a path rather than a cell."""
    from flows.settings import load_settings

    if path is None:
        return "le dossier de l'entrepôt ou le dossier privé"
    written = Path(path)
    try:
        settings = load_settings()
        # The private folder may sit inside the warehouse folder (the default): the deeper one is named.
        for folder in sorted((settings.private_dir, settings.warehouse_dir), key=lambda p: -len(p.parts)):
            if written == folder or folder in written.parents:
                return str(folder)
    except PdnError:
        pass
    if written.exists():  # a real file or folder, not text that merely looked like a path
        return str(written if written.is_dir() else written.parent)
    return "le dossier de l'entrepôt ou le dossier privé"


def storage_error(error: BaseException) -> StorageError | None:
    """A full or read-only folder met anywhere in `error` as a French StorageError naming the folder, else None."""
    found = _storage_errno(error)
    if found is None:
        return None
    code, path = found
    folder = _folder_named(path)
    run_id = current_run_id.get()
    run = f" (exécution {run_id})" if run_id else ""
    keep_trace(error)  # best effort: the private folder may be the full one
    if code in _FULL:
        cause, fix = "Disque plein", f"libérez de la place dans {folder}"
    elif code == errno.EROFS:
        cause, fix = "Dossier en lecture seule", f"rendez {folder} accessible en écriture (montage)"
    else:
        cause, fix = "Accès refusé", f"donnez à l'utilisateur qui lance pdn le droit d'écrire dans {folder}"
    return StorageError(
        f"{cause} : impossible d'écrire dans {folder}{run}. Rien n'a été publié ; {fix}, "
        "puis relancez la commande."
    )


def storage_error_in_text(text: str, folder: Path) -> StorageError | None:
    """A full or read-only `folder` told only in words (a tool's message, never quoted back), else None."""
    code = next((code for code, words in _STORAGE_ERRNOS.items() if words in text), None)
    return None if code is None else storage_error(OSError(code, os.strerror(code), str(folder)))


# Log files that could not be written since the last call of `log_write_failures` (a handler per file).
_LOG_WRITE_FAILURES: set[str] = set()


def quiet_log_write_failures() -> None:
    """A log file on a full or read-only disk costs one French line in the run report, not a traceback per line.

    Python's logging prints « --- Logging error --- » and a traceback for every record a handler fails to write
    (dbt's file log in the private folder: thousands on a full disk); such failures are counted instead."""
    if getattr(logging.Handler.handleError, "quiet", False):
        return
    printing = logging.Handler.handleError

    def handle_error(handler: logging.Handler, record: logging.LogRecord) -> None:
        if isinstance(sys.exc_info()[1], OSError):
            _LOG_WRITE_FAILURES.add(getattr(handler, "baseFilename", type(handler).__name__))
            return
        printing(handler, record)

    handle_error.quiet = True  # type: ignore[attr-defined]
    logging.Handler.handleError = handle_error  # type: ignore[method-assign]


def log_write_failures() -> list[str]:
    """French warnings for the log files that could not be written, once each."""
    failed = sorted(_LOG_WRITE_FAILURES)
    _LOG_WRITE_FAILURES.clear()
    return [f"Journal non écrit (disque plein ou lecture seule) : {name}." for name in failed]


def _screened(error: PdnError) -> PdnError:
    """The error with every « quoted » value that names someone withheld: messages quote what was typed (a
    spreadsheet title, a tab, a header), and Prefect stores a failed task's message."""
    from flows.screen import configured_known_names, screened_quotes

    if error.args and isinstance(error.args[0], str):
        error.args = (screened_quotes(error.args[0], configured_known_names()), *error.args[1:])
    return error


def safe_error(error: BaseException) -> PdnError:
    """Any exception as a PdnError whose message, traceback and chain hold no cell content."""
    if isinstance(error, PdnError):
        return _screened(_stripped(error))
    storage = storage_error(error)
    if storage is not None:
        return storage
    path = keep_trace(error)
    run_id = current_run_id.get()
    where = f"la trace complète est dans {path}" if path else "la trace complète n'a pas pu être écrite"
    run = f" (exécution {run_id})" if run_id else ""
    return UnexpectedError(f"Erreur inattendue ({type(error).__name__}){run} : rien n'a été publié ; {where}.")


def error_boundary(func: F) -> F:
    """Wrap a task, a flow or a command so that only safe errors leave it (see `safe_error`)."""

    @functools.wraps(func)
    def guarded(*args, **kwargs):
        try:
            return func(*args, **kwargs)
        except Exception as error:  # noqa: BLE001 (the boundary: every error is made safe here)
            raise safe_error(error) from None

    return guarded  # type: ignore[return-value]
