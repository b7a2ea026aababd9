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
    warnings: list[dict] = field(default_factory=list)


def dbt_build(
    work_db: Path,
    raw_db: Path,
    sync_id: str,
    state_dir: Path,
    extra_vars: dict | None = None,
) -> DbtOutcome:
    """Build every model, seed and test into `work_db`, reading `raw_db` read-only."""
    from dbt.cli.main import dbtRunner

    # profiles.yml reads both paths with env_var(); dbt itself runs in this process.
    os.environ["PDN_DBT_DATABASE"] = str(work_db)
    os.environ["PDN_RAW_DATABASE"] = str(raw_db)
    dbt_vars = {"sync_id": sync_id, **(extra_vars or {})}
    args = [
        "--quiet",
        "--no-use-colors",
        "build",
        "--project-dir", str(DBT_PROJECT_DIR),
        "--profiles-dir", str(DBT_PROJECT_DIR),
        "--target-path", str(state_dir / "target"),
        "--log-path", str(state_dir / "logs"),
        "--vars", json.dumps(dbt_vars),
    ]
    result = dbtRunner().invoke(args)
    failures, warnings = [], []
    for node in getattr(result.result, "results", None) or []:
        status = str(getattr(node.status, "value", node.status))
        entry = {"noeud": node.node.name, "statut": status, "message": node.message or ""}
        if status in _BAD_STATUSES:
            failures.append(entry)
        elif status == "warn":
            warnings.append(entry)
    if result.exception is not None and not failures:
        failures.append({"noeud": "dbt", "statut": "error", "message": str(result.exception)})
    return DbtOutcome(success=bool(result.success) and not failures, failures=failures, warnings=warnings)
