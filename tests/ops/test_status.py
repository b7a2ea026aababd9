"""`pdn etat`: the last runs in French, and exit 4 when the warehouse is stale or was never published."""

from __future__ import annotations

import json
from datetime import datetime, timezone

import pytest

from flows.errors import InputError
from flows.ops.status import STALE_EXIT_CODE, status
from flows.settings import Settings, load_settings

NOW = datetime(2025, 10, 27, 9, 0, tzinfo=timezone.utc)


def write_report(settings: Settings, run_id: str, statut: str, debut: str, fin: str, **extra) -> None:
    """A run report as the flow writes it (UTC ISO timestamps); only the fields status reads matter here."""
    settings.runs_dir.mkdir(parents=True, exist_ok=True)
    debut, fin = f"{debut}:00+00:00", f"{fin}+00:00"
    report = {"run_id": run_id, "statut": statut, "source": "sheets", "debut": debut, "fin": fin, **extra}
    (settings.runs_dir / f"{run_id}.json").write_text(json.dumps(report, ensure_ascii=False), encoding="utf-8")


def test_recent_publication_is_ok_and_runs_are_listed_newest_first_in_paris_time(warehouse):
    write_report(warehouse, "20251025T020000Z-aaaaaa", "publie", "2025-10-25T02:00", "2025-10-25T02:01:30")
    write_report(
        warehouse, "20251026T030000Z-bbbbbb", "bloque", "2025-10-26T03:00", "2025-10-26T03:01:00",
        message="Le contrôle qualité a bloqué la publication : l'entrepôt publié n'a pas changé.",
    )
    write_report(warehouse, "20251027T030000Z-cccccc", "publie", "2025-10-27T03:00", "2025-10-27T03:02:00")
    # dernier.json duplicates the newest report: it must not be listed twice.
    (warehouse.runs_dir / "dernier.json").write_text(
        (warehouse.runs_dir / "20251027T030000Z-cccccc.json").read_text(encoding="utf-8"), encoding="utf-8"
    )

    code, text = status(warehouse, now=NOW)

    assert code == 0
    lines = text.splitlines()
    assert lines[0] == "Dernières synchronisations (3 sur 3, heure de Paris) :"
    assert [line.split()[3] for line in lines if "Z-" in line] == [
        "20251027T030000Z-cccccc",
        "20251026T030000Z-bbbbbb",
        "20251025T020000Z-aaaaaa",
    ]
    assert "27/10/2025 04:00  publiée" in text  # 03:00 UTC is 04:00 in winter time
    assert "25/10/2025 04:00  publiée" in text  # 02:00 UTC is 04:00 in summer time
    assert "bloquée" in text and "Le contrôle qualité a bloqué la publication" in text
    assert lines[-1] == "OK : dernière publication le 27/10/2025 04:02, il y a 6 h (seuil : 26 h)."


def test_last_publication_older_than_the_threshold_exits_4(warehouse):
    write_report(warehouse, "20251025T020000Z-aaaaaa", "publie", "2025-10-25T02:00", "2025-10-25T02:01:00")
    write_report(warehouse, "20251026T030000Z-bbbbbb", "erreur_entree", "2025-10-26T03:00", "2025-10-26T03:00:05")

    code, text = status(warehouse, now=NOW)

    assert code == STALE_EXIT_CODE == 4
    assert "ALERTE : dernière publication le 25/10/2025 04:01, il y a 2 jours et 7 h, au-delà du seuil de 26 h" in text


def test_threshold_comes_from_the_environment(warehouse, monkeypatch):
    write_report(warehouse, "20251025T020000Z-aaaaaa", "publie", "2025-10-25T02:00", "2025-10-25T02:01:00")

    monkeypatch.setenv("PDN_STATUS_MAX_AGE_HOURS", "72")
    assert status(load_settings(), now=NOW)[0] == 0
    monkeypatch.setenv("PDN_STATUS_MAX_AGE_HOURS", "48")
    assert status(load_settings(), now=NOW)[0] == STALE_EXIT_CODE
    monkeypatch.setenv("PDN_STATUS_MAX_AGE_HOURS", "bientôt")
    with pytest.raises(InputError, match="PDN_STATUS_MAX_AGE_HOURS"):
        load_settings()


def test_no_successful_run_at_all_exits_4(warehouse):
    write_report(warehouse, "20251027T030000Z-cccccc", "bloque", "2025-10-27T03:00", "2025-10-27T03:01:00")
    write_report(warehouse, "20251027T031000Z-dddddd", "refuse", "2025-10-27T03:10", "2025-10-27T03:10:00")

    code, text = status(warehouse, now=NOW)

    assert code == STALE_EXIT_CODE
    assert "ALERTE : aucune synchronisation n'a jamais publié l'entrepôt." in text


def test_no_report_at_all_exits_4(warehouse):
    code, text = status(warehouse, now=NOW)

    assert code == STALE_EXIT_CODE
    assert text.startswith("Aucun rapport d'exécution")


def test_unreadable_reports_are_named_and_skipped(warehouse):
    write_report(warehouse, "20251027T030000Z-cccccc", "publie", "2025-10-27T03:00", "2025-10-27T03:02:00")
    (warehouse.runs_dir / "20251027T040000Z-tronque.json").write_text('{"run_id": "20251027T04', encoding="utf-8")

    code, text = status(warehouse, now=NOW)

    assert code == 0
    assert "Rapports illisibles, ignorés : 20251027T040000Z-tronque.json" in text


def test_limit_keeps_the_newest_runs(warehouse):
    for day in range(20, 27):
        write_report(warehouse, f"202510{day}T020000Z-x", "publie",
                     f"2025-10-{day}T02:00", f"2025-10-{day}T02:01:00")

    code, text = status(warehouse, limit=2, now=NOW)

    assert "(2 sur 7, heure de Paris)" in text
    assert "20251026T020000Z-x" in text and "20251025T020000Z-x" in text
    assert "20251024T020000Z-x" not in text


@pytest.mark.parametrize("damage", ["tronqué", "illisible"])
def test_a_damaged_published_file_is_an_alert_even_right_after_its_publication(published_sample, warehouse, damage):
    import os
    import shutil

    warehouse.warehouse_dir.mkdir(parents=True)
    shutil.copy(published_sample.published_db, warehouse.published_db)
    write_report(warehouse, "20251027T030000Z-cccccc", "publie", "2025-10-27T03:00", "2025-10-27T03:02:00")
    assert status(warehouse, now=NOW)[0] == 0
    if damage == "tronqué":
        os.truncate(warehouse.published_db, warehouse.published_db.stat().st_size // 2)
    else:
        warehouse.published_db.write_bytes(b"ni DuckDB ni rien" * 1000)

    code, text = status(warehouse, now=NOW)

    assert code == STALE_EXIT_CODE
    assert f"ALERTE : l'entrepôt publié ({warehouse.published_db}) est endommagé" in text
    assert "lancez « pdn synchroniser »" in text and "OK :" not in text
