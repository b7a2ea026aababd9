"""Faults of the machine, not of the data: a full or read-only disk, a damaged raw history or published file.

Each ends in a French cause, a run report, no leftovers, and a way back that needs no one to clean up by hand.
Disks are real: a small tmpfs mounted for the test (CI runs as root), filled or remounted read-only. The sync that
meets the fault runs in a process of its own (on one shared Prefect server, its start not being under test); the
sync after the fix is an ordinary one and runs in this process."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import duckdb
import pytest

from flows.storage import file_checksum
from tests.conftest import cold_pdn, use_warehouse_and_files

FILLER = "remplissage"


@contextmanager
def tmpfs(folder: Path, megabytes: int) -> Iterator[Path]:
    """A tmpfs of `megabytes` mounted on `folder` for the duration; unmounted (lazily) after."""
    folder.mkdir(parents=True, exist_ok=True)
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={megabytes}m", "tmpfs", str(folder)], capture_output=True, text=True
    )
    assert mounted.returncode == 0, (
        f"These tests mount a small tmpfs to fill a real disk: run them as root, as CI does ({mounted.stderr.strip()})"
    )
    try:
        yield folder
    finally:
        subprocess.run(["umount", "-l", str(folder)], check=True)


def remount(folder: Path, mode: str) -> None:
    """`ro` or `rw`: as root, chmod does not stop a write; a read-only mount does."""
    subprocess.run(["mount", "-o", f"remount,{mode}", str(folder)], check=True)


def fill(folder: Path, leave_kib: int) -> None:
    """Fill the filesystem of `folder` until `leave_kib` KiB are left."""
    free_kib = shutil.disk_usage(folder).free // 1024
    with open(folder / FILLER, "wb") as handle:
        handle.truncate(0)
        for _ in range(max(free_kib - leave_kib, 0) // 64):
            handle.write(b"\0" * 65536)
    assert shutil.disk_usage(folder).free // 1024 <= leave_kib + 64


def size_for(source: Path, extra_mib: int) -> int:
    """MiB for a tmpfs holding a copy of `source` plus `extra_mib`."""
    used = sum(path.stat().st_size for path in source.rglob("*") if path.is_file())
    return used // (1 << 20) + extra_mib


@pytest.fixture
def on_tmpfs(published_sample, tmp_path) -> Iterator[Path]:
    """The published sample copied under a root whose warehouse folder is a small tmpfs of its own."""
    shutil.copytree(published_sample.root / "private", tmp_path / "private")
    with tmpfs(tmp_path / "warehouse", size_for(published_sample.root / "warehouse", extra_mib=12)) as folder:
        shutil.copytree(published_sample.root / "warehouse", folder, dirs_exist_ok=True)
        yield tmp_path


def finished(process: subprocess.Popen, timeout: float = 240) -> tuple[int, str, str]:
    out, err = process.communicate(timeout=timeout)
    return process.returncode, out, err


def run_report(root: Path, run_id: str, where: str = "warehouse/runs") -> dict:
    return json.loads((root / where / f"{run_id}.json").read_text(encoding="utf-8"))


def run_id_in(text: str) -> str:
    """The run id the summary starts with (« Synchronisation <id> : … »)."""
    return text.split("Synchronisation ", 1)[1].split(" ", 1)[0]


def published_run_id(published: Path) -> str:
    with duckdb.connect(str(published), read_only=True) as con:
        return con.execute("select run_id from qualite.synchronisation").fetchone()[0]


def fresh_sync(root: Path, prefect_server: str, **env: str) -> tuple[int, str, str]:
    """`pdn sync` in a process of its own, against the session's Prefect server."""
    return finished(cold_pdn(["sync"], root, root / "prefect-home", PREFECT_API_URL=prefect_server, **env))


def sync_in_process(root: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture) -> tuple[int, str, str]:
    """`pdn sync` in this process on the warehouse under `root`: the run after a fault is fixed."""
    from flows.cli import main

    use_warehouse_and_files(monkeypatch, root)
    capsys.readouterr()  # what came before is not this run's
    code = main(["sync"])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_full_warehouse_disk_says_so_in_french_leaves_no_candidate_and_the_next_sync_publishes(
    on_tmpfs, prefect_server, webhook, monkeypatch, capsys
):
    root = on_tmpfs
    warehouse = root / "warehouse"
    before = file_checksum(warehouse / "pdn.duckdb")
    fill(warehouse, leave_kib=1024)  # room for a report, not for a 5 MB candidate
    code, out, err = fresh_sync(root, prefect_server, PDN_ALERT_WEBHOOK_URL=webhook.url)
    assert code == 5, err
    assert f"Disque plein : impossible d'écrire dans {warehouse}" in err
    assert f"libérez de la place dans {warehouse}" in err and "Erreur inattendue" not in err
    assert "Traceback" not in out + err
    assert list(warehouse.glob(".pdn-candidate-*")) == []  # neither the candidate nor its WAL
    assert file_checksum(warehouse / "pdn.duckdb") == before
    failed = run_report(root, run_id_in(err))
    assert failed["statut"] == "echec" and failed["message"].startswith("Disque plein")
    assert [body for body in webhook.bodies if failed["run_id"] in body["text"]], "no alert was sent"

    (warehouse / FILLER).unlink()  # the coordinator frees space; nothing else
    code, out, err = sync_in_process(root, monkeypatch, capsys)
    assert code == 0, err
    published = run_report(root, run_id_in(out))
    assert published["statut"] == "publie"
    assert published_run_id(warehouse / "pdn.duckdb") == published["run_id"]


def test_read_only_warehouse_says_so_in_french_and_the_report_goes_to_the_private_folder(
    on_tmpfs, prefect_server, monkeypatch, capsys
):
    root = on_tmpfs
    warehouse = root / "warehouse"
    before = file_checksum(warehouse / "pdn.duckdb")
    remount(warehouse, "ro")
    code, out, err = fresh_sync(root, prefect_server)
    assert code == 5, err
    assert f"Dossier en lecture seule : impossible d'écrire dans {warehouse}" in err
    assert "Erreur inattendue" not in err and "Traceback" not in out + err
    assert file_checksum(warehouse / "pdn.duckdb") == before
    report = run_report(root, run_id_in(err), where="private/runs")
    assert report["message"].startswith("Dossier en lecture seule")
    assert f"il est dans {root / 'private' / 'runs' / report['run_id']}.json" in err

    remount(warehouse, "rw")  # the coordinator has the folder remounted; nothing else
    code, out, err = sync_in_process(root, monkeypatch, capsys)
    assert code == 0, err
    assert published_run_id(warehouse / "pdn.duckdb") == run_report(root, run_id_in(out))["run_id"]


@pytest.fixture
def copy_in_process(published_sample, tmp_path, monkeypatch, webhook):
    """A copy of the published sample that `pdn` run in this process works on, alerts going to `webhook`."""
    root = published_sample.copy_to(tmp_path)
    use_warehouse_and_files(monkeypatch, root)
    monkeypatch.setenv("PDN_ALERT_WEBHOOK_URL", webhook.url)
    return root


def test_truncated_raw_history_stops_every_command_in_french_and_pdn_reparer_brings_the_sync_back(
    copy_in_process, webhook, capsys
):
    from flows.cli import main

    root = copy_in_process
    raw, published = root / "private" / "raw.duckdb", root / "warehouse" / "pdn.duckdb"
    before = file_checksum(published)
    os.truncate(raw, raw.stat().st_size // 2)

    assert main(["sync"]) == 6
    err = capsys.readouterr().err
    assert "L'historique brut (raw.duckdb, dossier privé) est endommagé" in err and "pdn reparer" in err
    assert "Erreur inattendue" not in err and "Traceback" not in err
    assert file_checksum(published) == before
    failed = run_report(root, run_id_in(err))
    assert failed["statut"] == "echec" and "endommagé" in failed["message"]
    assert [body for body in webhook.bodies if failed["run_id"] in body["text"]], "no alert was sent"
    for command in (["acces", "--email", "personne@example.org"], ["purge"]):
        assert main(command) == 6, command
        err = capsys.readouterr().err
        assert "est endommagé" in err and "pdn reparer" in err and "Traceback" not in err

    assert main(["reparer"]) == 0
    out = capsys.readouterr().out
    assert "Historique brut reconstruit depuis la sauvegarde" in out and "Rien n'est perdu" in out
    assert main(["sync"]) == 0
    published_now = run_report(root, run_id_in(capsys.readouterr().out))
    assert published_now["statut"] == "publie" and published_run_id(published) == published_now["run_id"]


def test_damaged_published_file_is_republished_by_the_next_sync_which_says_so(copy_in_process, capsys):
    from flows.cli import main

    root = copy_in_process
    published = root / "warehouse" / "pdn.duckdb"
    os.truncate(published, published.stat().st_size // 2)
    assert main(["sync"]) == 0
    report = run_report(root, run_id_in(capsys.readouterr().out))
    assert report["statut"] == "publie" and published_run_id(published) == report["run_id"]
    assert [e for e in report["evenements"] if e.startswith("Publication précédente illisible")]
    assert main(["status"]) == 0


def test_full_private_folder_is_named_in_french_and_the_next_sync_publishes(
    published_sample, tmp_path, prefect_server, monkeypatch, capsys
):
    root = tmp_path
    shutil.copytree(published_sample.root / "warehouse", root / "warehouse")
    with tmpfs(root / "private", size_for(published_sample.root / "private", extra_mib=8)) as private:
        shutil.copytree(published_sample.root / "private", private, dirs_exist_ok=True)
        before = file_checksum(root / "warehouse" / "pdn.duckdb")
        shutil.rmtree(private / "build")  # else the build's own file, dropped first, would make room for the next
        fill(private, leave_kib=256)
        code, out, err = fresh_sync(root, prefect_server)
        assert code == 5, err
        assert f"Disque plein : impossible d'écrire dans {private}" in err
        assert "Logging error" not in err and "Traceback" not in err and "Erreur inattendue" not in err
        assert file_checksum(root / "warehouse" / "pdn.duckdb") == before
        assert run_report(root, run_id_in(err))["message"].startswith("Disque plein")

        (private / FILLER).unlink()
        code, out, err = sync_in_process(root, monkeypatch, capsys)
        assert code == 0, err
        assert run_report(root, run_id_in(out))["statut"] == "publie"


def test_a_log_file_on_a_full_disk_is_one_french_warning_and_the_sync_still_publishes(
    published_sample, tmp_path, prefect_server
):
    root = published_sample.copy_to(tmp_path)
    logs = root / "private" / "dbt" / "logs"
    shutil.rmtree(logs, ignore_errors=True)
    with tmpfs(logs, 1) as folder:
        fill(folder, leave_kib=0)  # dbt's file log, in the private folder, cannot take a line
        code, out, err = fresh_sync(root, prefect_server)
    assert code == 0, err
    assert "Logging error" not in err and "Traceback" not in out + err
    report = run_report(root, run_id_in(out))
    assert report["statut"] == "publie"
    assert f"Journal non écrit (disque plein ou lecture seule) : {logs / 'dbt.log'}." in report["evenements"]
    assert f"Journal non écrit (disque plein ou lecture seule) : {logs / 'dbt.log'}." in out


def test_system_exit_inside_the_flow_still_writes_the_run_report_and_sends_the_alert(
    published_sample, tmp_path, prefect_server, webhook
):
    root = published_sample.copy_to(tmp_path)
    before = file_checksum(root / "warehouse" / "pdn.duckdb")
    code, out, err = fresh_sync(root, prefect_server, PDN_FAILPOINT="sortie_dbt", PDN_ALERT_WEBHOOK_URL=webhook.url)
    assert code != 0, out
    assert file_checksum(root / "warehouse" / "pdn.duckdb") == before
    latest = json.loads((root / "warehouse" / "runs" / "dernier.json").read_text(encoding="utf-8"))
    assert latest["run_id"] != published_sample.report["run_id"]
    assert latest["statut"] not in ("en_cours", "publie") and latest["message"]
    assert [body for body in webhook.bodies if latest["run_id"] in body["text"]], "no alert was sent"
    assert list((root / "warehouse").glob(".pdn-candidate-*")) == []
