"""The pseudonym key is part of the history: another key is refused everywhere, `pdn recle` moves the history to
a new key, and a person erased under the old key stays erased. Real flow runs on a copy of the bundled sample."""

from __future__ import annotations

import hashlib
import shutil
import stat
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pytest

from flows.cli import main
from flows.errors import InputError, PdnError
from flows.ops.access import read_held_data
from flows.ops.erasure import preview_erasure, run_erasure
from flows.ops.purge import run_purge
from flows.ops.rekey import run_rekey
from flows.ops.subject import SubjectRequest
from flows.pseudonym_keys import key_fingerprint
from flows.settings import SAMPLE_DIR, load_settings
from tests.conftest import PSEUDONYM_KEY_FOR_TESTS, use_warehouse_and_files
from tests.ops.test_erasure import ERASED, EXTRACTED, indicators

NEW_KEY = "nouvelle-cle-de-test-apres-changement-0123456789"
ACTIVES = (2019, "ensemble", "promeneurs_actifs_fin_annee")


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def sync_count(root: Path) -> int:
    with duckdb.connect(str(root / "private" / "raw.duckdb"), read_only=True) as con:
        return con.execute("select count(*) from syncs").fetchone()[0]


def refused(call) -> str:
    """The French message of the InputError (exit 2) a call raises."""
    with pytest.raises(PdnError) as caught:
        call()
    assert caught.value.exit_code == 2
    return str(caught.value)


@dataclass
class RekeyedWorld:
    root: Path
    exports: Path
    before_erasure: dict
    after_erasure: dict
    after_rekey_sync: dict
    wrong_key_sync: str
    wrong_key_oubli: str
    wrong_key_acces: str
    wrong_key_purge: str
    wrong_old_key: str
    syncs_before_refusal: int
    syncs_after_refusal: int
    published_before_refusal: str
    published_after_refusal: str
    rekey_code: int
    report_after_rekey: dict
    held_after_rekey: int


@pytest.fixture(scope="module")
def world(prefect_harness, tmp_path_factory) -> RekeyedWorld:
    base = tmp_path_factory.mktemp("recle")
    root, exports = base / "entrepot", base / "exports"
    shutil.copytree(SAMPLE_DIR, exports)
    from flows.pipeline.sync import nightly_sync

    with pytest.MonkeyPatch.context() as patch:
        use_warehouse_and_files(patch, root)
        nightly_sync(source_dir=str(exports))
        published = root / "warehouse" / "pdn.duckdb"
        before = indicators(published)
        run_erasure(load_settings(), SubjectRequest(email=ERASED.email))
        after = indicators(published)
        old_key_file = base / "ancienne.key"
        old_key_file.write_text(PSEUDONYM_KEY_FOR_TESTS + "\n", encoding="utf-8")

        # The key changes (a new machine, a typo): everything that reads or writes keys refuses.
        patch.setenv("PDN_PSEUDONYM_KEY", NEW_KEY)
        syncs, checksum = sync_count(root), sha256(published)
        wrong_sync = refused(lambda: nightly_sync(source_dir=str(exports)))
        syncs_after, checksum_after = sync_count(root), sha256(published)
        someone = SubjectRequest(email=EXTRACTED.email)
        oubli = refused(lambda: preview_erasure(load_settings(), someone))
        acces = refused(lambda: read_held_data(load_settings(), someone))
        purge = refused(lambda: run_purge(load_settings(), dry_run=True))
        wrong_key_file = base / "autre.key"
        wrong_key_file.write_text("une-autre-cle-qui-n-a-jamais-servi", encoding="utf-8")
        wrong_old = refused(lambda: run_rekey(load_settings(), wrong_key_file))

        # `pdn recle` with the old key; then the sheet, which still holds the erased person, is synced again.
        code = main(["rekey", "--ancienne-cle-fichier", str(old_key_file)])
        report = nightly_sync(source_dir=str(exports))
        held = len(read_held_data(load_settings(), SubjectRequest(email=EXTRACTED.email)).roster)
    return RekeyedWorld(
        root, exports, before, after, indicators(published), wrong_sync, oubli, acces, purge, wrong_old, syncs,
        syncs_after, checksum, checksum_after, code, report, held,
    )


def test_a_sync_under_another_key_is_refused_lands_nothing_and_keeps_the_publication(world):
    assert "n'est pas celle avec laquelle l'historique brut a été écrit" in world.wrong_key_sync
    assert key_fingerprint(NEW_KEY.encode()) in world.wrong_key_sync
    assert key_fingerprint(PSEUDONYM_KEY_FOR_TESTS.encode()) in world.wrong_key_sync
    assert "pdn recle" in world.wrong_key_sync and "PDN_PSEUDONYM_KEY" in world.wrong_key_sync
    assert NEW_KEY not in world.wrong_key_sync and PSEUDONYM_KEY_FOR_TESTS not in world.wrong_key_sync
    assert world.syncs_after_refusal == world.syncs_before_refusal
    assert world.published_after_refusal == world.published_before_refusal


def test_oubli_acces_and_purge_under_another_key_are_refused(world):
    for message in (world.wrong_key_oubli, world.wrong_key_acces, world.wrong_key_purge):
        assert "n'est pas celle avec laquelle l'historique brut a été écrit" in message


def test_rekey_refuses_an_old_key_that_is_not_the_historys(world):
    assert "n'est pas celle de l'historique" in world.wrong_old_key


def test_after_rekey_a_sync_lands_and_the_erased_person_stays_erased(world):
    assert world.rekey_code == 0
    assert world.report_after_rekey["statut"] == "publie"
    # Counted once: the erasure took one active Promeneur away, the sheet still holding them changes nothing.
    assert world.after_erasure[ACTIVES] == world.before_erasure[ACTIVES] - 1
    assert world.after_rekey_sync[ACTIVES] == world.after_erasure[ACTIVES]
    assert world.after_rekey_sync == world.after_erasure
    erased_rows = [r for r in world.report_after_rekey["quarantaine"] if "effacement" in r["motif"]]
    assert len(erased_rows) == ERASED.roster_rows + ERASED.responses
    with duckdb.connect(str(world.root / "private" / "raw.duckdb"), read_only=True) as con:
        kept = con.execute("select count(*) from promeneurs where lower(email) = ?", [ERASED.email.lower()]).fetchone()
    assert kept[0] == 0  # landed without their address


def test_after_rekey_rows_landed_under_the_old_key_are_found_under_the_new_one(world):
    assert world.held_after_rekey == 2 * EXTRACTED.roster_rows  # the sync before the rekey and the one after


def test_the_old_key_is_kept_owner_only_in_the_ring(world):
    ring = world.root / "private" / "cles" / f"{key_fingerprint(PSEUDONYM_KEY_FOR_TESTS.encode())}.key"
    assert ring.read_bytes() == PSEUDONYM_KEY_FOR_TESTS.encode()
    assert stat.S_IMODE(ring.stat().st_mode) == 0o600


def test_without_the_ring_a_sync_refuses_rather_than_land_an_erased_person_again(world, tmp_path, monkeypatch):
    from flows.pipeline.sync import nightly_sync

    root = tmp_path / "copie"
    for part in ("warehouse", "private"):
        shutil.copytree(world.root / part, root / part)
    shutil.rmtree(root / "private" / "cles")
    use_warehouse_and_files(monkeypatch, root)
    monkeypatch.setenv("PDN_PSEUDONYM_KEY", NEW_KEY)
    syncs = sync_count(root)
    with pytest.raises(PdnError, match="n'est plus dans le trousseau"):
        nightly_sync(source_dir=str(world.exports))
    assert sync_count(root) == syncs


# --- No key made up for real sources --------------------------------------------------------------------------------


def test_no_key_file_is_created_when_sources_are_configured(prefect_harness, warehouse, tmp_path, monkeypatch):
    from flows.pipeline.sync import nightly_sync

    monkeypatch.delenv("PDN_PSEUDONYM_KEY")
    with pytest.raises(InputError, match="Aucune clé de pseudonymisation : définissez la variable PDN_PSEUDONYM_KEY"):
        nightly_sync(source_dir=str(SAMPLE_DIR))
    assert not warehouse.pseudonym_key_file.exists()
    assert not warehouse.raw_db.exists()


def test_the_bundled_sample_alone_gets_a_random_key_and_says_so(warehouse, monkeypatch):
    from flows.pseudonym_keys import prepare_key

    monkeypatch.delenv("PDN_PSEUDONYM_KEY")
    events = prepare_key(warehouse, sample=True)
    assert len(events) == 1 and str(warehouse.pseudonym_key_file) in events[0]
    assert len(warehouse.pseudonym_key_file.read_text(encoding="utf-8")) == 64
    assert stat.S_IMODE(warehouse.pseudonym_key_file.stat().st_mode) == 0o600
    assert prepare_key(warehouse, sample=True) == []  # kept, never replaced
