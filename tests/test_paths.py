"""Paths stay data: a récit file is read only from the folder of sources.toml, and a warehouse in a folder whose
name holds an apostrophe, a space and an accent publishes and reports (no path is ever part of SQL text)."""

from __future__ import annotations

from pathlib import Path

import pytest

from flows.cli import main
from flows.settings import SAMPLE_DIR
from tests.conftest import use_warehouse_and_files


def files_under(folder: Path) -> dict[str, int]:
    """Every file under `folder` with its modification time (what a command wrote, or did not)."""
    return {str(p): p.stat().st_mtime_ns for p in folder.rglob("*") if p.is_file()}


@pytest.mark.parametrize("fichier", ["../../private/pseudonym.key", "/etc/passwd", "lien.md"])
def test_report_refuses_a_recit_outside_the_sources_folder_naming_its_line(
    published_sample, tmp_path, monkeypatch, capsys, fichier
):
    root = published_sample.copy_to(tmp_path / "copie")
    (root / "private" / "pseudonym.key").write_text("0" * 64, encoding="utf-8")
    folder = root / "sources" / "2020"
    folder.mkdir(parents=True)
    (folder / "lien.md").symlink_to(root / "private" / "pseudonym.key")
    config = (SAMPLE_DIR / "sources.toml").read_text(encoding="utf-8")
    (folder / "sources.toml").write_text(config.replace("Bilan 2019 - récit.md", fichier), encoding="utf-8")
    line = next(n for n, text in enumerate(config.splitlines(), start=1) if text.startswith("fichier ="))
    use_warehouse_and_files(monkeypatch, root)
    written = files_under(root / "warehouse")

    code = main(["report", "--year", "2019", "--source", str(folder)])

    message = capsys.readouterr().err
    assert code == 2
    assert f"sources.toml [[recits]] n°1 (ligne {line}) : le fichier « {fichier} » n'est pas dans le dossier" in message
    assert "0" * 64 not in message
    assert files_under(root / "warehouse") == written  # no bilan, no export written


def test_a_warehouse_in_a_folder_named_with_an_apostrophe_publishes_and_reports(
    prefect_harness, tmp_path, monkeypatch, capsys
):
    from flows.pipeline.sync import nightly_sync

    root = tmp_path / "Entrepôt de l'Allier" / "données d'Yzeure"
    use_warehouse_and_files(monkeypatch, root)

    report = nightly_sync()
    assert report["statut"] == "publie"
    assert (root / "warehouse" / "pdn.duckdb").exists() and (root / "private" / "raw.duckdb").exists()

    # The next sync compares with the last publication, attached from the same folder.
    assert nightly_sync()["statut"] == "publie"
    capsys.readouterr()
    assert main(["report", "--year", "2019"]) == 0
    assert (root / "warehouse" / "rapports" / "bilan-2019.html").exists()
