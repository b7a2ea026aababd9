"""Deployment runs against `pdn synchroniser` on the same data: the part of `make bench` that measures the nightly mode.

A real `prefect server start` and `pdn planifier` (tests/prefect_service.py) serve the `nocturne` deployment; its runs
are triggered through the API, interleaved with `pdn synchroniser` runs (temporary Prefect server, as the coordinator
runs it) on the bundled sample. Each mode has its own folders and one unmeasured run first, so every measured run
is a night with a history (dbt's partial-parse state, a published warehouse), as the scheduled ones are.

    .venv/bin/python -m bench.deployment --runs 3   # measures, then rewrites only its section of bench/RESULTS.md
"""

from __future__ import annotations

import argparse
import json
import os
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

from flows.settings import QUIET_TOOLS_ENV
from tests.conftest import PSEUDONYM_KEY_FOR_TESTS
from tests.pipeline.test_parse_ahead import built_from_parse_ahead
from tests.prefect_service import STARTUP_BOUND, PrefectService

RESULTS_FILE = Path(__file__).resolve().parent / "RESULTS.md"
TARGET_RATIO = 1.1  # a deployment run's flow over `pdn synchroniser`'s, same data (issue 24)
TARGET_LABEL = "Deployment run's flow ≤ 1.1 × `pdn synchroniser`'s (sample, nightly, same data)"
SECTION_TITLE = "## Deployment runs (`pdn planifier`)"
BEFORE = "dbt step 14–18 s vs 6–9 s (issue 20)"  # deployment runs did not parse ahead


def _report_of(root: Path, flow_run_id: str) -> dict:
    """The run report naming that Prefect flow run."""
    for path in sorted((root / "warehouse" / "runs").glob("2*.json"), reverse=True):
        report = json.loads(path.read_text(encoding="utf-8"))
        if report.get("flow_run_id") == flow_run_id:
            return report
    return {}


def _sample(root: Path, report: dict, flow_s: float, wall_s: float) -> dict:
    """What one measured run tells: its flow's time, its dbt step, its wall time, whether dbt parsed ahead."""
    steps = report.get("durees_secondes", {})
    return {
        "flow": flow_s,
        "dbt": steps.get("dbt"),
        "before_dbt": steps.get("extraction", 0.0) + steps.get("chargement", 0.0),
        "wall": wall_s,
        "published": report.get("statut") == "publie",
        "parsed_ahead": built_from_parse_ahead(root) if report.get("statut") == "publie" else None,
    }


def deployment_run(service: PrefectService, root: Path) -> dict:
    """Trigger the deployment and wait for its end; the flow's time is what Prefect records (start → end)."""
    started = time.perf_counter()
    flow_run_id = service.run_now()
    service.wait_final(flow_run_id)
    wall = time.perf_counter() - started
    with service.client() as client:
        run = client.read_flow_run(flow_run_id)
    return _sample(root, _report_of(root, str(flow_run_id)), (run.end_time - run.start_time).total_seconds(), wall)


def _flow_seconds_in(prefect_home: Path, flow_run_id: str) -> float:
    """The flow run's start → end as the temporary server stored it. That server is gone with its process, and
    starting another only to ask costs seconds: its SQLite file is read directly, read-only."""
    with sqlite3.connect(f"file:{prefect_home / 'prefect.db'}?mode=ro", uri=True) as con:
        start, end = con.execute("select start_time, end_time from flow_run where id = ?", [flow_run_id]).fetchone()
    return (datetime.fromisoformat(end) - datetime.fromisoformat(start)).total_seconds()


def sync_env(root: Path, prefect_home: Path) -> dict[str, str]:
    """`pdn synchroniser` as the coordinator runs it: no Prefect server configured, the deployment's key."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PDN_", "PREFECT_"))}
    env.pop("GOOGLE_APPLICATION_CREDENTIALS", None)
    return env | QUIET_TOOLS_ENV | {
        "PREFECT_HOME": str(prefect_home), "PDN_WAREHOUSE_DIR": str(root / "warehouse"),
        "PDN_PRIVATE_DIR": str(root / "private"), "PDN_PSEUDONYM_KEY": PSEUDONYM_KEY_FOR_TESTS,
    }


def sync_run(root: Path, prefect_home: Path) -> dict:
    """One `pdn synchroniser` in a cold process on the bundled sample."""
    started = time.perf_counter()
    subprocess.run(
        [str(Path(sys.executable).with_name("pdn")), "sync"], env=sync_env(root, prefect_home),
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=STARTUP_BOUND, check=False,
    )
    wall = time.perf_counter() - started
    report = json.loads((root / "warehouse" / "runs" / "dernier.json").read_text(encoding="utf-8"))
    flow_s = _flow_seconds_in(prefect_home, report["flow_run_id"]) if report.get("flow_run_id") else float("nan")
    return _sample(root, report, flow_s, wall)


def _median(samples: list[dict], key: str) -> float:
    values = [s[key] for s in samples if s[key] is not None and s["published"]]
    return statistics.median(values) if values else float("nan")


def summarise(samples: list[dict]) -> dict:
    """Medians over the runs that published, and how many did, and built from the parse ahead."""
    return {
        "runs": len(samples),
        "published": sum(s["published"] for s in samples),
        "parsed_ahead": sum(bool(s["parsed_ahead"]) for s in samples),
        **{key: _median(samples, key) for key in ("flow", "before_dbt", "dbt", "wall")},
    }


def measure_deployment(work: Path, runs: int = 3) -> dict:
    """`runs` deployment runs and `runs` `pdn synchroniser`, interleaved, after one unmeasured run of each."""
    deployed, synced = work / "deploiement", work / "synchroniser"
    sync_home = work / "synchroniser-prefect-home"
    service = PrefectService(work / "deploiement-prefect-home")
    try:
        service.start_server()
        service.start_serve(deployed)
        deployment_run(service, deployed)
        sync_run(synced, sync_home)
        measured: dict[str, list[dict]] = {"deployment": [], "sync": []}
        for number in range(runs):
            measured["deployment"].append(deployment_run(service, deployed))
            measured["sync"].append(sync_run(synced, sync_home))
            print(f"  {number + 1}/{runs}: deployment flow {measured['deployment'][-1]['flow']:.1f} s, "
                  f"pdn synchroniser flow {measured['sync'][-1]['flow']:.1f} s", flush=True)
    finally:
        service.stop()
    result = {mode: summarise(samples) for mode, samples in measured.items()}
    result["ratio"] = result["deployment"]["flow"] / result["sync"]["flow"]
    result["load"] = " / ".join(f"{v:.2f}" for v in os.getloadavg())
    return result


def deployment_check(d: dict) -> tuple[str, str, str, bool]:
    """The target's row: label, before, measured ratio, met or not."""
    return TARGET_LABEL, BEFORE, f"{d['ratio']:.2f} ×", d["ratio"] <= TARGET_RATIO


def _cell(value) -> str:
    return "–" if value != value else f"{value:.1f}"  # NaN: no published run to measure


def deployment_section(d: dict) -> list[str]:
    """The section of bench/RESULTS.md, as lines."""
    rows = [
        ("deployment (`pdn planifier`, real `prefect server start`)", d["deployment"]),
        ("`pdn synchroniser` (temporary Prefect server)", d["sync"]),
    ]
    table = [
        "| mode | flow | extraction + landing | dbt step | wall | published | dbt built from the parse ahead |",
        "|---|---|---|---|---|---|---|",
        *[f"| {label} | {_cell(s['flow'])} | {_cell(s['before_dbt'])} | {_cell(s['dbt'])} | {_cell(s['wall'])} "
          f"| {s['published']}/{s['runs']} | {s['parsed_ahead']}/{s['runs']} |" for label, s in rows],
        f"| ratio (deployment / `pdn synchroniser`) | {d['ratio']:.2f} | – | "
        f"{d['deployment']['dbt'] / d['sync']['dbt']:.2f} | – | – | – |",
    ]
    return [
        SECTION_TITLE,
        "",
        f"The `nocturne` deployment served by `pdn planifier` against a real `prefect server start`, triggered through "
        f"the API, against `pdn synchroniser` on the same data (the bundled sample), interleaved, {d['deployment']['runs']} "
        "runs each after one unmeasured run in the same folders (every measured run is a night with a history). "
        "*flow* = the flow run's start → end as Prefect records it (the flow's own work, the same code in both modes); "
        "*wall* = trigger → final state for the deployment (the runner's 1 s poll and its flow process's start "
        "included), the command's wall time for `pdn synchroniser` (its temporary server's start included). "
        "*dbt built from the parse ahead*: the build's `manifest.json` carries the parse's dbt invocation id, not "
        "the build's (`run_results.json`). Both modes start the parse ahead in the flow, but in a deployment run it "
        "overlaps only the run's own extraction and landing (a thread of the flow's process, sharing its "
        "interpreter), whereas `pdn synchroniser` starts it before the flow, while its temporary Prefect server (another "
        "process) starts: whatever of dbt's import and parse is left when the build starts counts in the *dbt step*. "
        f"Medians, seconds. Load average at the end: {d['load']}.",
        "",
        *table,
        "",
    ]


def rewrite_results(d: dict, results: Path = RESULTS_FILE) -> None:
    """Replace this measurement's target row and section in an existing RESULTS.md, leaving the rest as it is."""
    lines = results.read_text(encoding="utf-8").splitlines()
    label, before, measured, ok = deployment_check(d)
    with_before = any(line.startswith("| Target | Before") for line in lines)
    cells = [label, before, measured] if with_before else [label, measured]
    row = "| " + " | ".join([*cells, "met" if ok else "**missed**"]) + " |"
    rows = [i for i, line in enumerate(lines) if line.startswith(f"| {label} |")]
    if rows:
        lines[rows[0]] = row
    else:  # after the Targets table's last row
        start = lines.index("## Targets")
        end = next(i for i in range(start + 3, len(lines)) if not lines[i].startswith("|"))
        lines.insert(end, row)
    section = deployment_section(d)
    if SECTION_TITLE in lines:
        start = lines.index(SECTION_TITLE)
        end = next((i for i in range(start + 1, len(lines)) if lines[i].startswith("## ")), len(lines))
        lines[start:end] = section
    else:
        at = lines.index("## Reproduce") if "## Reproduce" in lines else len(lines)
        lines[at:at] = section
    results.write_text("\n".join(lines) + "\n", encoding="utf-8")


def main(argv: list[str] | None = None) -> int:
    """Measure the deployment mode alone and rewrite its part of bench/RESULTS.md."""
    parser = argparse.ArgumentParser(prog="python -m bench.deployment", description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--out", type=Path, default=RESULTS_FILE)
    args = parser.parse_args(argv)
    for name, value in QUIET_TOOLS_ENV.items():
        os.environ.setdefault(name, value)
    with tempfile.TemporaryDirectory(prefix="pdn-bench-deploiement-") as work:
        result = measure_deployment(Path(work), args.runs)
    print(json.dumps(result, indent=2, default=str))
    rewrite_results(result, args.out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
