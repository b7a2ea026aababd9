"""The benchmark's floors (bench/floors.py) do the sync's work, not a part of it: the read_csv floor lands every
row the sync landed from the same files, and the compiled-SQL floor rebuilds every published table as dbt did."""

from __future__ import annotations

import duckdb
import pytest

from bench.floors import extraction_floor, transform_floor
from bench.generator import generate, small_spec, write_csv_folder
from flows.pipeline.sync import nightly_sync
from flows.settings import Settings


@pytest.fixture
def synced_exports(prefect_harness, warehouse: Settings, tmp_path):
    """A small generated network synced from CSV exports: the folder it was read from."""
    folder = write_csv_folder(generate(small_spec()), tmp_path / "exports")
    assert nightly_sync(source_dir=str(folder))["statut"] == "publie"
    return folder


def landed_rows(settings: Settings) -> int:
    """Rows the sync landed into the tab tables from the export files."""
    with duckdb.connect(str(settings.raw_db), read_only=True) as con:
        return con.execute(
            "select sum(row_count) from snapshots where spreadsheet_id like 'fichier:%'"
        ).fetchone()[0]


def test_read_csv_floor_lands_every_row_the_sync_landed_from_the_same_files(synced_exports, warehouse):
    seconds, rows = extraction_floor(warehouse.raw_db, synced_exports)

    assert seconds > 0
    assert rows == landed_rows(warehouse)


def test_compiled_sql_floor_rebuilds_every_published_table_as_the_build_made_it(synced_exports, warehouse):
    seconds, statements, differing = transform_floor(warehouse.private_dir)

    assert seconds > 0 and differing == []
    with duckdb.connect(str(warehouse.build_db), read_only=True) as con:
        models = con.execute("select count(*) from duckdb_tables() where schema_name in ('bilan', 'qualite')").fetchone()[0]
    assert statements > models


def test_compiled_sql_floor_says_so_when_a_published_table_differs_from_the_build(synced_exports, warehouse):
    with duckdb.connect(str(warehouse.build_db)) as con:
        removed = con.execute("delete from bilan.activites where rowid = (select min(rowid) from bilan.activites)").fetchone()[0]
    assert removed == 1

    _, _, differing = transform_floor(warehouse.private_dir)

    assert differing == ["bilan.activites"]
