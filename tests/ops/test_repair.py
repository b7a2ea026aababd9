"""The raw history's health: damage found before use, backups after each publication, `pdn reparer` restores."""

from __future__ import annotations

import os
import shutil
import stat
from pathlib import Path

import duckdb
import pytest

from flows.errors import DamagedHistory
from flows.ops.repair import (
    BACKUPS_KEPT,
    backup_sync_id,
    backups,
    check_raw_history,
    format_repair,
    keep_backup,
    record_checksum,
    renew_backups,
    repair,
)
from flows.settings import load_settings
from flows.storage import file_checksum
from tests.conftest import use_warehouse


@pytest.fixture
def copy_of_published(published_sample, tmp_path, monkeypatch):
    """The published sample (one sync, so one backup) copied, and the settings pointing at the copy."""
    root = published_sample.copy_to(tmp_path)
    use_warehouse(monkeypatch, root)
    return load_settings()


def data_block_offset(raw: Path) -> int:
    """An offset inside a block holding the roster's data (after DuckDB's three 4 KiB headers)."""
    with duckdb.connect(str(raw), read_only=True) as con:
        block = con.execute(
            "select block_id from pragma_storage_info('promeneurs') where block_id >= 0 order by block_id limit 1"
        ).fetchone()[0]
        block_size = con.execute("select block_size from pragma_database_size()").fetchone()[0]
    return 3 * 4096 + block * block_size + 100


def flip_bytes(raw: Path, offset: int) -> None:
    """A corrupted block, as a failing disk leaves it: same size, same name, a few bytes changed."""
    with open(raw, "r+b") as handle:
        handle.seek(offset)
        original = handle.read(64)
        handle.seek(offset)
        handle.write(bytes(b ^ 0xFF for b in original))


def test_a_sync_leaves_one_owner_only_backup_equal_to_the_history_it_landed(copy_of_published, published_sample):
    settings = copy_of_published
    kept = backups(settings)
    assert [backup_sync_id(b) for b in kept] == [published_sample.report["run_id"]]
    assert file_checksum(kept[0]) == file_checksum(settings.raw_db)
    assert stat.S_IMODE(kept[0].stat().st_mode) == 0o600
    check_raw_history(settings)  # the recorded checksum matches: nothing to say


def test_only_the_newest_two_backups_are_kept(copy_of_published):
    settings = copy_of_published
    for sync_id in ("20990101T000000Z-aaaaaa", "20990102T000000Z-bbbbbb", "20990103T000000Z-cccccc"):
        assert keep_backup(settings, sync_id) is None
    assert [backup_sync_id(b) for b in backups(settings)] == ["20990103T000000Z-cccccc", "20990102T000000Z-bbbbbb"]
    assert len(backups(settings)) == BACKUPS_KEPT


def test_a_truncated_history_is_refused_in_french_naming_pdn_reparer(copy_of_published):
    settings = copy_of_published
    os.truncate(settings.raw_db, settings.raw_db.stat().st_size // 3)
    with pytest.raises(DamagedHistory, match="historique brut .* endommagé.*pdn reparer") as raised:
        check_raw_history(settings)
    assert raised.value.exit_code == 6


def test_a_corrupted_block_of_the_same_size_is_found(copy_of_published):
    settings = copy_of_published
    size = settings.raw_db.stat().st_size
    flip_bytes(settings.raw_db, data_block_offset(settings.raw_db))
    assert settings.raw_db.stat().st_size == size
    with pytest.raises(DamagedHistory, match="ne se relit pas"):
        check_raw_history(settings)


def test_a_history_changed_but_sound_is_read_whole_and_accepted(copy_of_published):
    settings = copy_of_published
    with duckdb.connect(str(settings.raw_db)) as con:  # what a purge or an erasure does: new bytes, sound ones
        con.execute("create table note_de_test as select 1 as x")
    check_raw_history(settings)
    flip_bytes(settings.raw_db, data_block_offset(settings.raw_db))
    with pytest.raises(DamagedHistory):
        check_raw_history(settings)  # the new bytes were recorded: damage after them is still found


def test_pdn_reparer_restores_the_newest_sound_backup_and_names_the_syncs_lost(copy_of_published, published_sample):
    settings = copy_of_published
    backed_up = file_checksum(backups(settings)[0])
    later = "20991231T000000Z-ffffff"  # a sync that landed after the backup, as its run report says
    report = (settings.runs_dir / f"{published_sample.report['run_id']}.json").read_text(encoding="utf-8")
    (settings.runs_dir / f"{later}.json").write_text(
        report.replace(published_sample.report["run_id"], later), encoding="utf-8"
    )
    os.truncate(settings.raw_db, 4096)
    result = repair(settings)
    assert result.sauvegarde == published_sample.report["run_id"] and result.syncs_perdues == [later]
    assert file_checksum(settings.raw_db) == backed_up
    check_raw_history(settings)
    [aside] = result.mis_de_cote
    assert Path(aside).stat().st_size == 4096  # set aside, not deleted
    text = format_repair(result)
    assert f"sauvegarde prise après la synchronisation {published_sample.report['run_id']}" in text
    assert later in text and "pdn synchroniser" in text


def test_without_a_readable_backup_reparer_says_how_to_restart_from_an_empty_history(copy_of_published):
    settings = copy_of_published
    for backup in backups(settings):
        os.truncate(backup, 4096)
    os.truncate(settings.raw_db, 4096)
    with pytest.raises(DamagedHistory, match="Aucune sauvegarde lisible.*pdn reparer --repartir-de-zero"):
        repair(settings)
    assert settings.raw_db.stat().st_size == 4096  # nothing moved without being asked
    result = repair(settings, from_scratch=True)
    assert not settings.raw_db.exists() and len(result.mis_de_cote) == 1
    assert "historique vide" in format_repair(result)


def test_an_intact_history_needs_no_repair(copy_of_published):
    settings = copy_of_published
    before = file_checksum(settings.raw_db)
    result = repair(settings)
    assert result.intact and file_checksum(settings.raw_db) == before
    assert format_repair(result) == "L'historique brut se relit en entier : rien à réparer."


def test_renewed_backups_hold_only_the_history_as_it_is_now(copy_of_published):
    settings = copy_of_published
    keep_backup(settings, "20990101T000000Z-aaaaaa")
    aside = settings.private_dir / "endommages"
    aside.mkdir()
    (aside / "raw.duckdb.20990101T000000Z").write_bytes(b"ancien")
    with duckdb.connect(str(settings.raw_db)) as con:  # the erasure's or purge's rewrite
        con.execute("create table apres_effacement as select 1 as x")
    assert renew_backups(settings) is None
    [only] = backups(settings)
    assert file_checksum(only) == file_checksum(settings.raw_db)
    assert list(aside.iterdir()) == []


def test_a_missing_history_that_existed_is_damage_not_a_fresh_start(copy_of_published):
    settings = copy_of_published
    record_checksum(settings)
    shutil.move(settings.raw_db, settings.private_dir / "ailleurs.duckdb")
    with pytest.raises(DamagedHistory, match="a disparu"):
        check_raw_history(settings)
