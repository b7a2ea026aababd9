"""Transformation: `dbt build` (staging -> intermediate -> marts) over one sync's raw snapshots."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path

from flows.settings import DBT_PROJECT_DIR

# dbt statuses that mean a node did not do its job.
_BAD_STATUSES = {"error", "fail", "skipped", "runtime error"}


@dataclass(frozen=True)
class DbtOutcome:
    """Result of one dbt invocation: success and the nodes that failed (names and messages only)."""

    success: bool
    failures: list[dict] = field(default_factory=list)


def dbt_args(command: str, state_dir: Path, dbt_vars: dict | None = None) -> list[str]:
    """Common dbt arguments: the project, and target/log folders kept in the private state dir."""
    args = [
        "--quiet",
        "--no-use-colors",
        command,
        "--project-dir", str(DBT_PROJECT_DIR),
        "--profiles-dir", str(DBT_PROJECT_DIR),
        "--target-path", str(state_dir / "target"),
        "--log-path", str(state_dir / "logs"),
    ]
    # Vars are part of dbt's parse: passing them only when needed keeps partial parsing (~2 s) warm.
    return args + ["--vars", json.dumps(dbt_vars)] if dbt_vars else args


def dbt_build(work_db: Path, raw_db: Path, state_dir: Path, replay_sync_id: str | None = None) -> DbtOutcome:
    """Build every seed and model and run the data tests into `work_db`, reading `raw_db` read-only.

    dbt builds the latest landed sync unless `replay_sync_id` says otherwise. Unit tests check the SQL,
    not the data: they run in the test suite (tests/pipeline/test_dbt.py), not every night.
    """
    from dbt.cli.main import dbtRunner

    # profiles.yml reads both paths with env_var(); dbt itself runs in this process.
    os.environ["PDN_DBT_DATABASE"] = str(work_db)
    os.environ["PDN_RAW_DATABASE"] = str(raw_db)
    args = dbt_args("build", state_dir, {"sync_id": replay_sync_id} if replay_sync_id else None)
    result = dbtRunner().invoke([*args, "--exclude-resource-type", "unit_test"])
    failures = []
    for node in getattr(result.result, "results", None) or []:
        status = str(getattr(node.status, "value", node.status))
        if status in _BAD_STATUSES:
            failures.append({"noeud": node.node.name, "statut": status, "message": node.message or ""})
    if result.exception is not None and not failures:
        failures.append({"noeud": "dbt", "statut": "error", "message": str(result.exception)})
    return DbtOutcome(success=bool(result.success) and not failures, failures=failures)
