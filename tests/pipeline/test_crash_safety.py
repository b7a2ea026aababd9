"""A sync killed (SIGKILL) at any step leaves the published warehouse byte-identical and openable."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import duckdb
import pytest

from tests.conftest import PSEUDONYM_KEY_FOR_TESTS, SHEETS_CONFIG, cold_pdn, serve_sample


@pytest.fixture
def copy_of_published(published_sample, tmp_path):
    return published_sample.copy_to(tmp_path)


def start_sync(root: Path, **env) -> subprocess.Popen:
    """`pdn synchroniser` in its own process, sharing the session's Prefect server (no temporary server to start)."""
    from prefect.settings import PREFECT_API_URL

    child_env = {
        **os.environ,
        "PREFECT_API_URL": PREFECT_API_URL.value(),
        "PDN_WAREHOUSE_DIR": str(root / "warehouse"),
        "PDN_PRIVATE_DIR": str(root / "private"),
        "PDN_PSEUDONYM_KEY": PSEUDONYM_KEY_FOR_TESTS,
        **env,
    }
    for name in ("PDN_SOURCES", "PDN_SHEETS_API_URL"):
        if name not in env:
            child_env.pop(name, None)
    return subprocess.Popen(
        [sys.executable, "-m", "flows.cli", "sync"], env=child_env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
    )


def wait_for(condition, process: subprocess.Popen, timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert process.poll() is None, process.stdout.read().decode()
        assert time.monotonic() < deadline, "the sync never reached the step"
        time.sleep(0.05)


def kill(process: subprocess.Popen) -> None:
    process.send_signal(signal.SIGKILL)
    assert process.wait(30) == -signal.SIGKILL


def assert_published_intact(root: Path, before: bytes) -> None:
    published = root / "warehouse" / "pdn.duckdb"
    assert published.read_bytes() == before
    with duckdb.connect(str(published), read_only=True) as con:
        value = con.execute(
            "select valeur from bilan.indicateurs_annuels "
            "where annee = 2019 and departement = 'ensemble' and indicateur = 'promeneurs_actifs_fin_annee'"
        ).fetchone()[0]
    assert value == 66


def test_killed_during_extraction(copy_of_published, sheets_emulator):
    root = copy_of_published
    before = (root / "warehouse" / "pdn.duckdb").read_bytes()
    serve_sample(sheets_emulator)
    sheets_emulator.fail_always(503)  # Google keeps failing: the sync is stuck retrying inside extraction
    config = root / "sources.toml"
    config.write_text(SHEETS_CONFIG, encoding="utf-8")
    process = start_sync(root, PDN_SOURCES=str(config), PDN_SHEETS_API_URL=sheets_emulator.url)
    wait_for(lambda: sheets_emulator.count(status=503) >= 2, process)
    kill(process)
    assert_published_intact(root, before)


def test_killed_during_dbt_during_validation_and_just_before_the_swap(published_sample, tmp_path):
    # Three syncs run side by side, each on its own copy, each killed at a different step.
    roots = {step: published_sample.copy_to(tmp_path / step) for step in ("dbt", "validation", "swap")}
    before = published_sample.published_db.read_bytes()
    work_db = roots["dbt"] / "private" / "build" / "work.duckdb"
    work_db.unlink()
    candidates = lambda: list((roots["validation"] / "warehouse").glob(".pdn-candidate-*"))  # noqa: E731
    during_dbt = start_sync(roots["dbt"])
    during_validation = start_sync(roots["validation"])
    before_swap = start_sync(roots["swap"], PDN_FAILPOINT="avant_publication")

    wait_for(work_db.exists, during_dbt)
    time.sleep(0.5)
    kill(during_dbt)
    wait_for(lambda: bool(candidates()), during_validation)
    time.sleep(0.3)  # assembling the candidate takes ~0.1 s; the gate then runs for seconds
    kill(during_validation)
    assert before_swap.wait(120) == -signal.SIGKILL
    assert list((roots["swap"] / "warehouse").glob(".pdn-candidate-*")), "validated, not yet swapped"
    for root in roots.values():
        assert_published_intact(root, before)


def children_of(pid: int) -> set[int]:
    """Live processes whose parent is `pid` (Linux /proc)."""
    found = set()
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid and fields[0] != "Z":
            found.add(int(stat.parent.name))
    return found


def alive(pid: int) -> bool:
    try:
        state = (Path("/proc") / str(pid) / "stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def test_a_killed_sync_leaves_no_process_once_the_next_sync_starts(copy_of_published, cold_prefect_home):
    root = copy_of_published
    # Killed by itself once Prefect's temporary server runs, as the OOM killer would.
    first = cold_pdn(["sync"], root, cold_prefect_home, PDN_FAILPOINT="avant_extraction")
    servers = set()
    deadline = time.monotonic() + 120
    while first.poll() is None and time.monotonic() < deadline:
        servers |= children_of(first.pid)
        time.sleep(0.05)
    assert first.wait(120) == -signal.SIGKILL
    orphans = {pid for pid in servers if alive(pid)}
    assert orphans, "Prefect's temporary server outlived the killed sync (what this test is about)"
    second = cold_pdn(["sync", "--source", str(root / "absent")], root, cold_prefect_home)  # whatever its outcome
    assert second.wait(180) == 2, second.communicate()
    assert not {pid for pid in orphans if alive(pid)}
    assert not [pid for pid in children_of(second.pid) if alive(pid)]
