"""Transformation: `dbt build` (staging -> intermediate -> marts) over one sync's raw snapshots."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from flows.pipeline.processes import is_alive, process_identity
from flows.settings import DBT_PROJECT_DIR, DEFAULT_DUCKDB_MEMORY_LIMIT, Settings, load_settings
from flows.storage import PRIVATE_FILE_MODE, private_umask

# dbt statuses that mean a node did not do its job.
_BAD_STATUSES = {"error", "fail", "skipped", "runtime error"}


@dataclass(frozen=True)
class DbtOutcome:
    """Result of one dbt invocation: success and the nodes that failed (names and messages only)."""

    success: bool
    failures: list[dict] = field(default_factory=list)


PARTIAL_PARSE_FILE = "partial_parse.msgpack"
# dbt keeps process-wide state (registered adapters, flags): two invocations at once break each other.
_ONE_INVOCATION_AT_A_TIME = threading.Lock()


def invoke_dbt(args: list[str], manifest=None):
    """dbt in this process (dbtRunner), after any other invocation of this process is over."""
    from dbt.cli.main import dbtRunner

    with _ONE_INVOCATION_AT_A_TIME:
        return dbtRunner(manifest=manifest).invoke(args)


def dbt_args(command: str, state_dir: Path, dbt_vars: dict | None = None, target_dir: Path | None = None) -> list[str]:
    """Common dbt arguments: the project, and target/log folders kept in the private state dir."""
    args = [
        "--quiet",
        "--no-use-colors",
        command,
        "--project-dir", str(DBT_PROJECT_DIR),
        "--profiles-dir", str(DBT_PROJECT_DIR),
        "--target-path", str(target_dir or state_dir / "target"),
        "--log-path", str(state_dir / "logs"),
        # Each node's SQL at debug level cost ~0.3 s a build; dbt.log keeps every node's start, end and error.
        "--log-level-file", "info",
    ]
    # Vars are part of dbt's parse: passing them only when needed keeps partial parsing (~2 s) warm.
    return args + ["--vars", json.dumps(dbt_vars)] if dbt_vars else args


class _ParseAhead:
    """`dbt parse` in a thread while the run starts, extracts and lands: dbt's import and the project's parse
    leave the critical path of every sync, `pdn synchroniser` and deployment runs alike.

    It writes only into a temporary folder of its own, named after its process (no lock is held yet: another
    sync may be running), starting from the last partial-parse state; the build, under the lock, keeps the
    state it wrote. Not a daemon: a sync that stops early exits once the parse is over and its folder removed
    (seconds at most); a process killed mid-parse leaves its folder to the next start
    (`remove_orphan_parse_folders`). What follows the parse (`then`) runs in a daemon thread.
    """

    def __init__(
        self, databases: tuple[Path, Path], state_dir: Path, dbt_vars: dict | None, then: Callable[[], object] | None
    ) -> None:
        self.key = self.key_of(databases, state_dir, dbt_vars)
        self.folder = Path(tempfile.mkdtemp(prefix=f"{_PARSE_FOLDER_PREFIX}{process_identity()}-"))
        self.manifest = None
        self.parsed = threading.Event()
        self._lock = threading.Lock()
        self._abandoned = False
        saved = state_dir / "target" / PARTIAL_PARSE_FILE
        if saved.exists():
            (self.folder / "target").mkdir()
            shutil.copyfile(saved, self.folder / "target" / PARTIAL_PARSE_FILE)
        # Silent: if this parse fails, the build parses again and reports the error in French.
        args = dbt_args("parse", self.folder, dbt_vars, target_dir=self.folder / "target") + ["--log-level", "none"]
        self.thread = threading.Thread(target=self._run, args=(args, then), name="dbt-parse")
        self.thread.start()

    @staticmethod
    def key_of(databases: tuple[Path, Path], state_dir: Path, dbt_vars: dict | None) -> tuple:
        """What a build must share with the parse to use its manifest."""
        return (databases, state_dir, json.dumps(dbt_vars))

    def _run(self, args: list[str], then: Callable[[], object] | None) -> None:
        try:
            result = invoke_dbt(args)
            self.manifest = result.result if result.success else None
        except Exception:  # noqa: BLE001 (the build parses again and reports what went wrong)
            self.manifest = None
        finally:
            with self._lock:
                self.parsed.set()
                abandoned = self._abandoned
        if abandoned:
            self.discard()  # the sync stopped: it needs nothing more
        elif then is not None:
            threading.Thread(target=then, name="apres-dbt-parse", daemon=True).start()  # an exit never waits for it

    def take(self, databases: tuple[Path, Path], state_dir: Path, dbt_vars: dict | None):
        """The manifest if it was parsed for this very build (same databases, state and vars), else None.
        Called under the warehouse lock: the partial-parse state it wrote is kept for the next run."""
        self.parsed.wait()
        if self.key != self.key_of(databases, state_dir, dbt_vars) or self.manifest is None:
            return None
        written = self.folder / "target" / PARTIAL_PARSE_FILE
        if written.exists():
            kept = state_dir / "target" / PARTIAL_PARSE_FILE
            with private_umask():
                kept.parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(written, kept.with_suffix(".tmp"))
                os.chmod(kept.with_suffix(".tmp"), PRIVATE_FILE_MODE)
                os.replace(kept.with_suffix(".tmp"), kept)
        return self.manifest

    def abandon(self) -> None:
        """Remove the folder now if the parse is over, else when it ends (a failed sync does not wait)."""
        with self._lock:
            self._abandoned = True
            over = self.parsed.is_set()
        if over:
            self.discard()

    def discard(self) -> None:
        shutil.rmtree(self.folder, ignore_errors=True)


_PARSE_FOLDER_PREFIX = "pdn-dbt-parse-"
_parse_ahead: _ParseAhead | None = None


def _set_databases(work_db: Path, raw_db: Path) -> tuple[Path, Path]:
    """profiles.yml reads both paths with env_var(); dbt itself runs in this process."""
    os.environ["PDN_DBT_DATABASE"] = str(work_db)
    os.environ["PDN_RAW_DATABASE"] = str(raw_db)
    return work_db, raw_db


def _sync_vars(replay_sync_id: str | None) -> dict | None:
    return {"sync_id": replay_sync_id} if replay_sync_id else None


def _folder_owner(folder: Path) -> str | None:
    """The process identity a parse folder is named after (« pid:start time »), None for an unnamed one."""
    owner = folder.name[len(_PARSE_FOLDER_PREFIX) :].rpartition("-")[0]
    # Without /proc (not Linux) a process has no start time to name it by: its folder counts as unnamed.
    return owner if ":" in owner and not owner.endswith(":None") else None


def remove_orphan_parse_folders(unnamed_older_than_s: float = 3600) -> list[Path]:
    """Parse folders whose process is gone (killed mid-parse: nothing in it could remove them); removed."""
    removed = []
    for folder in Path(tempfile.gettempdir()).glob(f"{_PARSE_FOLDER_PREFIX}*"):
        owner = _folder_owner(folder)
        with contextlib.suppress(OSError):  # a folder another process removes meanwhile is gone either way
            # Folders named by an earlier release carry no owner: their age tells instead.
            if (owner is not None and not is_alive(owner)) or (
                owner is None and time.time() - folder.stat().st_mtime > unnamed_older_than_s
            ):
                shutil.rmtree(folder)
                removed.append(folder)
    return removed


def parse_ahead(
    replay_sync_id: str | None = None, then: Callable[[], object] | None = None, settings: Settings | None = None
) -> None:
    """Start parsing the dbt project for this process's coming build (see _ParseAhead), then run `then` in the
    same thread (one warm-up at a time: two would share one core). The flow calls it first thing, in every mode;
    `pdn synchroniser` calls it earlier still, while Prefect's temporary server starts, and the flow's call then
    keeps that parse. Settings that do not load start nothing: the flow reports them."""
    global _parse_ahead
    try:
        settings = settings or load_settings()
    except Exception:  # noqa: BLE001
        return
    databases = _set_databases(settings.build_db, settings.raw_db)
    state_dir, dbt_vars = settings.private_dir / "dbt", _sync_vars(replay_sync_id)
    if _parse_ahead is not None and _parse_ahead.key == _ParseAhead.key_of(databases, state_dir, dbt_vars):
        return  # already parsing for this very build
    forget_parse_ahead()
    remove_orphan_parse_folders()
    try:
        _parse_ahead = _ParseAhead(databases, state_dir, dbt_vars, then)
    except OSError:  # a full or read-only temporary folder costs the sync its head start, not its run
        _parse_ahead = None


def _parsed_ahead(databases: tuple[Path, Path], state_dir: Path, dbt_vars: dict | None):
    """The manifest parsed ahead for this build, if any (used once)."""
    global _parse_ahead
    ahead, _parse_ahead = _parse_ahead, None
    if ahead is None:
        return None
    try:
        return ahead.take(databases, state_dir, dbt_vars)
    finally:
        ahead.discard()


def forget_parse_ahead() -> None:
    """After a sync that stopped before its build: its parse leaves nothing behind."""
    global _parse_ahead
    ahead, _parse_ahead = _parse_ahead, None
    if ahead is not None:
        ahead.abandon()


def dbt_build(
    work_db: Path, raw_db: Path, state_dir: Path, replay_sync_id: str | None = None,
    memory_limit: str = DEFAULT_DUCKDB_MEMORY_LIMIT,
) -> DbtOutcome:
    """Build every seed and model and run the data tests into `work_db`, reading `raw_db` read-only, DuckDB
    within `memory_limit` (spilling beyond it).

    dbt builds the latest landed sync unless `replay_sync_id` says otherwise. Unit tests check the SQL,
    not the data: they run in the test suite (tests/pipeline/test_dbt.py), not every night.
    """
    databases = _set_databases(work_db, raw_db)
    os.environ["PDN_DUCKDB_MEMORY_LIMIT"] = memory_limit  # read by profiles.yml
    dbt_vars = _sync_vars(replay_sync_id)
    manifest = _parsed_ahead(databases, state_dir, dbt_vars)
    args = dbt_args("build", state_dir, dbt_vars)
    result = invoke_dbt([*args, "--exclude-resource-type", "unit_test"], manifest)
    failures = []
    for node in getattr(result.result, "results", None) or []:
        status = str(getattr(node.status, "value", node.status))
        if status in _BAD_STATUSES:
            failures.append({"noeud": node.node.name, "statut": status, "message": node.message or ""})
    if result.exception is not None and not failures:
        failures.append({"noeud": "dbt", "statut": "error", "message": str(result.exception)})
    return DbtOutcome(success=bool(result.success) and not failures, failures=failures)
