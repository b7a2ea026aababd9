"""`pdn sync` parses the dbt project while Prefect starts its temporary server (flows/pipeline/transform.py):
the build starts from that manifest, keeps its partial-parse state, and nothing of the parse is left behind."""

import json
import shutil
import stat
import tempfile
from pathlib import Path

from flows.pipeline.transform import PARTIAL_PARSE_FILE, dbt_build, parse_ahead
from tests.conftest import cold_pdn, use_warehouse

PARSE_FOLDERS = "pdn-dbt-parse-*"


def last_invocation(root: Path) -> str:
    """dbt.log from the last `Running with dbt=` on: the build's own lines."""
    text = (root / "private" / "dbt" / "logs" / "dbt.log").read_text(encoding="utf-8")
    return text[text.rindex("Running with dbt=") :]


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


def test_a_parse_made_for_another_warehouse_is_not_used(published_sample, tmp_path, monkeypatch):
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    use_warehouse(monkeypatch, tmp_path / "autre")
    parse_ahead()
    root = published_sample.copy_to(tmp_path / "entrepot")
    state_dir = root / "private" / "dbt"
    shutil.rmtree(state_dir)  # no partial-parse state of its own: a parse of the build shows in its log
    outcome = dbt_build(tmp_path / "work.duckdb", root / "private" / "raw.duckdb", state_dir)
    assert outcome.success, outcome.failures
    assert "Starting full parse" in last_invocation(root)
    assert not list(tmp_path.glob(PARSE_FOLDERS))
