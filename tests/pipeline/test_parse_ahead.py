"""Every sync parses the dbt project ahead of its build (flows/pipeline/transform.py), `pdn synchroniser` while Prefect
starts its temporary server, every run (deployment runs too) while it extracts and lands: the build starts from that
manifest, keeps its partial-parse state, and nothing of the parse is left behind, even by a killed process."""

import json
import signal
import stat
import tempfile
from pathlib import Path

import pytest

from flows.pipeline import transform
from flows.pipeline.processes import process_identity
from flows.pipeline.transform import PARTIAL_PARSE_FILE, parse_ahead, remove_orphan_parse_folders
from flows.settings import load_settings
from tests.conftest import cold_pdn, use_warehouse
from tests.pipeline.test_crash_safety import start_sync

PARSE_FOLDERS = "pdn-dbt-parse-*"


def last_invocation(root: Path) -> str:
    """dbt.log from the last `Running with dbt=` on: the build's own lines."""
    text = (root / "private" / "dbt" / "logs" / "dbt.log").read_text(encoding="utf-8")
    return text[text.rindex("Running with dbt=") :]


def built_from_parse_ahead(root: Path) -> bool:
    """The last build ran on a manifest parsed by another dbt invocation: the manifest.json it wrote carries the
    parse's invocation id, not the build's own (a build that parses for itself writes its own id in both)."""
    target = root / "private" / "dbt" / "target"
    manifest = json.loads((target / "manifest.json").read_text(encoding="utf-8"))["metadata"]["invocation_id"]
    build = json.loads((target / "run_results.json").read_text(encoding="utf-8"))["metadata"]["invocation_id"]
    return manifest != build


def test_a_cold_sync_builds_from_the_manifest_parsed_ahead(tmp_path, cold_prefect_home):
    temp = tmp_path / "tmp"
    temp.mkdir()
    sync = cold_pdn(["sync"], tmp_path, cold_prefect_home, TMPDIR=str(temp))
    _, err = sync.communicate(timeout=300)
    assert sync.returncode == 0, err
    assert json.loads((tmp_path / "warehouse" / "runs" / "dernier.json").read_text())["statut"] == "publie"
    build = last_invocation(tmp_path)
    assert "Done. PASS=" in build
    assert "parse" not in build.lower()  # a build that parses itself logs « Starting full parse » here
    assert built_from_parse_ahead(tmp_path)
    kept = tmp_path / "private" / "dbt" / "target" / PARTIAL_PARSE_FILE
    assert stat.S_IMODE(kept.stat().st_mode) == 0o600  # the next night parses from it
    assert not list(temp.glob(PARSE_FOLDERS))


def test_a_sync_stopped_before_its_build_leaves_no_parse_behind(tmp_path, cold_prefect_home):
    temp, empty = tmp_path / "tmp", tmp_path / "vide"
    temp.mkdir()
    empty.mkdir()
    sync = cold_pdn(["sync", "--source", str(empty)], tmp_path, cold_prefect_home, TMPDIR=str(temp))
    _, err = sync.communicate(timeout=300)
    assert sync.returncode == 2, err
    assert err.startswith("Synchronisation ") and "Traceback" not in err, err  # the French summary only
    assert not list(temp.glob(PARSE_FOLDERS))
    assert not (tmp_path / "private" / "dbt" / "target" / PARTIAL_PARSE_FILE).exists()


def test_a_parse_made_for_another_warehouse_is_not_used(tmp_path, monkeypatch):
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    monkeypatch.setattr(transform, "_parse_ahead", None)  # and back to it after the test
    use_warehouse(monkeypatch, tmp_path / "autre")
    parse_ahead()
    assert len(list(tmp_path.glob(PARSE_FOLDERS))) == 1
    here = load_settings()
    # The build of another warehouse (or another replay) gets no manifest: it parses for itself, and the
    # parse's folder goes.
    other = (tmp_path / "entrepot" / "work.duckdb", here.raw_db)
    assert transform._parsed_ahead(other, here.private_dir / "dbt", None) is None
    assert not list(tmp_path.glob(PARSE_FOLDERS))


@pytest.fixture
def copy_of_published(published_sample, tmp_path):
    return published_sample.copy_to(tmp_path)


def test_a_sync_with_a_prefect_server_builds_from_its_own_parse_ahead(copy_of_published):
    # A Prefect server configured: no temporary server to wait for, so only the flow starts the parse.
    root, temp = copy_of_published, copy_of_published / "tmp"
    temp.mkdir()
    sync = start_sync(root, TMPDIR=str(temp))
    assert sync.wait(300) == 0, sync.stdout.read().decode()
    assert built_from_parse_ahead(root)
    assert "parse" not in last_invocation(root).lower()
    assert not list(temp.glob(PARSE_FOLDERS))


def test_a_parse_folder_left_by_a_sync_killed_mid_run_is_removed_by_the_next_sync(copy_of_published):
    root, temp = copy_of_published, copy_of_published / "tmp"
    temp.mkdir()
    killed = start_sync(root, TMPDIR=str(temp), PDN_FAILPOINT="avant_chargement")  # kill -9 while dbt parses
    assert killed.wait(300) == -signal.SIGKILL
    [left] = temp.glob(PARSE_FOLDERS)  # nothing inside the process could remove it
    follower = start_sync(root, TMPDIR=str(temp))
    assert follower.wait(300) == 0, follower.stdout.read().decode()
    assert not left.exists()
    assert not list(temp.glob(PARSE_FOLDERS))


def test_orphan_parse_folders_go_and_a_running_process_keeps_its_own(tmp_path, monkeypatch):
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    mine = Path(tempfile.mkdtemp(prefix=f"pdn-dbt-parse-{process_identity()}-"))
    pid, started = process_identity().split(":")
    gone = Path(tempfile.mkdtemp(prefix=f"pdn-dbt-parse-{pid}:{int(started) + 1}-"))  # this pid, an older process
    assert remove_orphan_parse_folders() == [gone]
    assert mine.exists() and not gone.exists()
