"""Errors the CLI turns into exit codes, and the one boundary every failure crosses before anyone sees it.

Messages are French, for the coordinator, and never quote a cell: an exception raised by a library
(a decoding error, a parser, DuckDB) can carry the content of a sheet in its text or its repr, so it is
replaced at the boundary by a message naming only its type, where its full trace was kept (the private
folder), and the run id.
"""

from __future__ import annotations

import functools
import os
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


def safe_error(error: BaseException) -> PdnError:
    """Any exception as a PdnError whose message, traceback and chain hold no cell content."""
    if isinstance(error, PdnError):
        return _stripped(error)
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
