"""`pdn synchroniser --replay SYNC_ID` republishes a past sync's figures from the raw history, without the sources."""

import shutil

import duckdb

from flows.pipeline.sync import nightly_sync
from flows.settings import SAMPLE_DIR
from tests.conftest import use_warehouse


def indicators_csv(published) -> bytes:
    """The published indicators, serialised in a stable order."""
    with duckdb.connect(str(published), read_only=True) as con:
        frame = con.execute("select * from bilan.indicateurs_annuels order by all").df()
    return frame.to_csv(index=False).encode()


def test_replay_reproduces_the_indicators_of_a_past_sync_byte_for_byte(published_sample, tmp_path, monkeypatch):
    root = published_sample.copy_to(tmp_path / "copy")
    use_warehouse(monkeypatch, root)
    published = root / "warehouse" / "pdn.duckdb"
    first_sync = published_sample.report["run_id"]
    original = indicators_csv(published)

    edited = tmp_path / "exports"  # the coordinator deletes half the 2019 activities by mistake
    shutil.copytree(SAMPLE_DIR, edited)
    activites = edited / "Suivi - Activités.csv"
    with open(activites, encoding="utf-8", newline="") as handle:
        lines = handle.read().split("\r\n")
    with open(activites, "w", encoding="utf-8", newline="") as handle:
        handle.write("\r\n".join(lines[:40]) + "\r\n")
    assert nightly_sync(source_dir=str(edited), accept_drop=True)["statut"] == "publie"
    assert indicators_csv(published) != original

    replayed = nightly_sync(replay=first_sync)
    assert replayed["statut"] == "publie" and replayed["source"] == f"rejeu de {first_sync}"
    assert replayed["lignes_lues"] == []  # no source was read
    assert indicators_csv(published) == original
    with duckdb.connect(str(published), read_only=True) as con:
        assert con.execute("select sync_id from qualite.synchronisation").fetchone()[0] == first_sync
