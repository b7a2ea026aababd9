"""`pdn synchroniser` parses the dbt project while Prefect starts its temporary server (flows/pipeline/transform.py):
the build starts from that manifest, keeps its partial-parse state, and nothing of the parse is left behind."""

import json
import stat
import tempfile
from pathlib import Path

from flows.pipeline import transform
from flows.pipeline.transform import PARTIAL_PARSE_FILE, parse_ahead
from flows.settings import load_settings
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


def test_a_parse_made_for_another_warehouse_is_not_used(tmp_path, monkeypatch):
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    monkeypatch.setattr(transform, "_parse_ahead", None)  # and back to it after the test
    use_warehouse(monkeypatch, tmp_path / "autre")
    parse_ahead()
    assert len(list(tmp_path.glob(PARSE_FOLDERS))) == 1
    here = load_settings()
    # The build of another warehouse (or another replay) gets no manifest: it parses for itself, as every
    # in-process sync of this suite does, and the parse's folder goes.
    other = (tmp_path / "entrepot" / "work.duckdb", here.raw_db)
    assert transform._parsed_ahead(other, here.private_dir / "dbt", None) is None
    assert not list(tmp_path.glob(PARSE_FOLDERS))
