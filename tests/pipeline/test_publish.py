"""Publication: atomic swap under readers, one sync at a time, candidates hold only published schemas."""

import json
import multiprocessing
import os
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest
import yaml

from flows.errors import SyncAlreadyRunning
from flows.ops.status import status
from flows.pipeline.publish import (
    PublicationFailed,
    assemble_candidate,
    file_checksum,
    set_aside_stale_wal,
    swap_in,
    wal_path,
    warehouse_lock,
)
from flows.settings import DBT_PROJECT_DIR


def make_db(path, value, published=True):
    """A small database; `published` adds the run's metadata table that a published file carries."""
    with duckdb.connect(str(path)) as con:
        con.execute("create schema bilan; create schema qualite; create schema staging")
        con.execute(f"create table bilan.indicateurs_annuels as select {value} as valeur")
        con.execute("create table staging.secret as select 'lea@example.org' as email")
        con.execute("create view bilan.vue as select 1 as x")
        if published:
            con.execute(f"create table qualite.synchronisation as select 'run-{value}' as run_id")


def test_candidate_holds_published_schemas_tables_only(tmp_path):
    work = tmp_path / "work.duckdb"
    make_db(work, 1, published=False)
    tables = assemble_candidate(work, tmp_path / "candidate.duckdb", {"run_id": "r1", "sync_id": "s1"})
    assert tables == ["bilan.indicateurs_annuels", "qualite.synchronisation"]
    with duckdb.connect(str(tmp_path / "candidate.duckdb"), read_only=True) as con:
        schemas = {r[0] for r in con.execute("select distinct table_schema from information_schema.tables").fetchall()}
        assert schemas == {"bilan", "qualite"}
        assert con.execute("select run_id from qualite.synchronisation").fetchone()[0] == "r1"
    assert not (tmp_path / "candidate.duckdb.wal").exists()


def test_candidate_keeps_the_comments_of_tables_and_columns(tmp_path):
    work = tmp_path / "work.duckdb"
    make_db(work, 1, published=False)
    described = "L'indicateur « ensemble »,\nsur deux lignes ; -- pas du SQL"  # quotes and newlines, as in the yml
    literal = described.replace("'", "''")
    with duckdb.connect(str(work)) as con:
        con.execute("comment on table bilan.indicateurs_annuels is 'Le bilan d''une année.'")
        con.execute(f"comment on column bilan.indicateurs_annuels.valeur is '{literal}'")
        con.execute("comment on view bilan.vue is 'Une vue, non publiée.'")
    assemble_candidate(work, tmp_path / "candidate.duckdb", {"run_id": "r1", "sync_id": "s1"})
    with duckdb.connect(str(tmp_path / "candidate.duckdb"), read_only=True) as con:
        tables = dict(con.execute("select table_name, comment from duckdb_tables()").fetchall())
        columns = dict(con.execute("select table_name || '.' || column_name, comment from duckdb_columns()").fetchall())
    assert tables["indicateurs_annuels"] == "Le bilan d'une année."
    assert columns["indicateurs_annuels.valeur"] == described
    assert tables["synchronisation"] and columns["synchronisation.run_id"] and columns["synchronisation.sync_id"]


def test_every_published_table_and_column_carries_its_french_description(published_sample):
    with duckdb.connect(str(published_sample.published_db), read_only=True) as con:
        tables = con.execute(
            "select schema_name || '.' || table_name, comment from duckdb_tables() where not internal "
            "union all select schema_name || '.' || view_name, comment from duckdb_views() where not internal"
        ).fetchall()
        columns = con.execute(
            "select schema_name || '.' || table_name || '.' || column_name, comment from duckdb_columns() "
            "where not internal"
        ).fetchall()
    assert len(tables) > 10 and len(columns) > 100
    assert [name for name, comment in tables + columns if not (comment or "").strip()] == []
    mart = yaml.safe_load((DBT_PROJECT_DIR / "models/marts/bilan/indicateurs_annuels.yml").read_text(encoding="utf-8"))
    model = mart["models"][0]
    valeur = next(column for column in model["columns"] if column["name"] == "valeur")
    assert dict(tables)["bilan.indicateurs_annuels"] == model["description"]
    assert dict(columns)["bilan.indicateurs_annuels.valeur"] == valeur["description"]


READER = """
import sys, duckdb
con = duckdb.connect(sys.argv[1], read_only=True)
query = "select valeur from bilan.indicateurs_annuels"
print(con.execute(query).fetchone()[0], flush=True)
sys.stdin.readline()
print(con.execute(query).fetchone()[0], flush=True)
"""


def test_reader_holding_the_published_file_keeps_old_data_new_reader_sees_new(tmp_path):
    # Analysts and BI tools are other processes: DuckDB shares one instance per path within a process.
    published, candidate = tmp_path / "pdn.duckdb", tmp_path / "candidate.duckdb"
    make_db(published, 1)
    make_db(candidate, 2)
    reader = subprocess.Popen(
        [sys.executable, "-c", READER, str(published)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    assert reader.stdout.readline().strip() == "1"
    swap_in(candidate, published, file_checksum(candidate))
    reader.stdin.write("\n")
    reader.stdin.flush()
    assert reader.stdout.readline().strip() == "1"  # the open connection still reads the old file
    reader.wait(30)
    with duckdb.connect(str(published), read_only=True) as fresh:
        assert fresh.execute("select valeur from bilan.indicateurs_annuels").fetchone()[0] == 2
    assert not candidate.exists()


def _hold_lock(lock_file, ready, release):
    with warehouse_lock(lock_file):
        ready.set()
        release.wait(30)


def test_second_sync_is_refused_while_another_process_holds_the_lock(tmp_path):
    lock_file = tmp_path / ".pdn-sync.lock"
    ctx = multiprocessing.get_context("spawn")
    ready, release = ctx.Event(), ctx.Event()
    holder = ctx.Process(target=_hold_lock, args=(lock_file, ready, release))
    holder.start()
    try:
        assert ready.wait(30)
        with pytest.raises(SyncAlreadyRunning, match=f"déjà en cours \\(processus {holder.pid}\\)"):
            with warehouse_lock(lock_file):
                pass
    finally:
        release.set()
        holder.join(30)
    with warehouse_lock(lock_file):  # free again once the other sync ended
        pass


def test_pdn_sync_started_while_another_sync_runs_is_refused_with_exit_3(prefect_harness, warehouse, capsys):
    from flows.cli import main

    ctx = multiprocessing.get_context("spawn")
    ready, release = ctx.Event(), ctx.Event()
    holder = ctx.Process(target=_hold_lock, args=(warehouse.lock_file, ready, release))
    holder.start()
    try:
        assert ready.wait(30)
        assert main(["sync"]) == 3
    finally:
        release.set()
        holder.join(30)
    assert "Une synchronisation est déjà en cours" in capsys.readouterr().err
    assert not warehouse.published_db.exists()  # the refused run built and published nothing
    report = json.loads((warehouse.runs_dir / "dernier.json").read_text(encoding="utf-8"))
    assert report["statut"] == "refuse" and "déjà en cours" in report["message"]
    code, text = status(warehouse)
    assert "refusée" in text and "déjà en cours" in text and code == 4  # nothing ever published


def leave_a_stale_wal(published: Path) -> None:
    """What a process that held the published file read-write and was killed leaves behind."""
    script = (
        "import duckdb, os, sys\n"
        "con = duckdb.connect(sys.argv[1])\n"
        "con.execute('set wal_autocheckpoint=\\'1GB\\'')\n"
        "con.execute('create table bilan.note as select 42 as x')\n"
        "os._exit(0)\n"  # no checkpoint, no close: the WAL stays
    )
    subprocess.run([sys.executable, "-c", script, str(published)], check=True, timeout=60)
    assert wal_path(published).exists()


def test_a_stale_wal_is_set_aside_and_the_new_file_opens(tmp_path):
    published, candidate = tmp_path / "pdn.duckdb", tmp_path / "candidate.duckdb"
    make_db(published, 1)
    leave_a_stale_wal(published)
    make_db(candidate, 2)
    event = set_aside_stale_wal(published)
    assert event and "mis de côté" in event and not wal_path(published).exists()
    swap_in(candidate, published, file_checksum(candidate))
    with duckdb.connect(str(published), read_only=True) as con:
        assert con.execute("select valeur from bilan.indicateurs_annuels").fetchone()[0] == 2


def test_a_published_file_that_cannot_be_read_back_restores_the_previous_one(tmp_path):
    published, candidate = tmp_path / "pdn.duckdb", tmp_path / "candidate.duckdb"
    make_db(published, 1)
    leave_a_stale_wal(published)  # not set aside: the swapped-in file would be read with a foreign WAL
    before = published.read_bytes()
    make_db(candidate, 2)
    with pytest.raises(PublicationFailed, match="n'a pas pu être relu.*remis en place"):
        swap_in(candidate, published, file_checksum(candidate))
    assert published.read_bytes() == before


def test_taking_the_lock_on_a_full_disk_first_removes_what_a_failed_run_left(tmp_path):
    from tests.pipeline.test_faults import fill, tmpfs

    with tmpfs(tmp_path / "warehouse", 2) as warehouse:
        lock_file = warehouse / ".pdn-sync.lock"
        lock_file.touch()
        leftover = warehouse / ".pdn-candidate-20990101T000000Z-aaaaaa.duckdb"
        fill(warehouse, leave_kib=0)
        (warehouse / "remplissage").rename(leftover)  # the disk is full of a failed run's candidate…
        wal_path(leftover).touch()  # …and its WAL
        with pytest.raises(OSError):
            lock_file.write_text("1")
        with warehouse_lock(lock_file):
            assert not leftover.exists() and not wal_path(leftover).exists()
            assert lock_file.read_text() == str(os.getpid())


def test_a_pid_that_cannot_be_written_does_not_keep_the_lock_from_working(tmp_path):
    from tests.pipeline.test_faults import fill, tmpfs

    with tmpfs(tmp_path / "warehouse", 2) as warehouse:
        lock_file = warehouse / ".pdn-sync.lock"
        lock_file.touch()
        fill(warehouse, leave_kib=0)  # full of something that is not ours to remove
        with warehouse_lock(lock_file):
            assert lock_file.read_text() == ""
        assert (warehouse / "remplissage").exists()
