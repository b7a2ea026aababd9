"""The benchmark's network generator: its messy sheets go through the real pipeline and give back its
ground truth, both as CSV exports and served by the Sheets emulator."""

from __future__ import annotations

import duckdb
import numpy as np
import pandas as pd
import pytest

from bench.generator import (
    expected_indicators,
    generate,
    national_spec,
    row_counts,
    small_spec,
    write_csv_folder,
    write_emulator_json,
)
from flows.pipeline.sync import nightly_sync
from flows.settings import Settings

KEY = ["annee", "departement", "indicateur"]


@pytest.fixture(scope="module")
def small_network():
    """Three départements (one of them 2A) over two years: a few hundred rows."""
    return generate(small_spec())


def published_indicators(settings: Settings) -> pd.DataFrame:
    with duckdb.connect(str(settings.published_db), read_only=True) as con:
        return con.execute(f"select {', '.join(KEY)}, valeur from bilan.indicateurs_annuels").df()


def published_activities_per_department(settings: Settings) -> dict[str, int]:
    """Valid activities per département code (or code pair) in the published activity mart."""
    with duckdb.connect(str(settings.published_db), read_only=True) as con:
        rows = con.execute("select departement, count(*) from bilan.activites group by all").fetchall()
    return dict(rows)


def assert_same_indicators(published: pd.DataFrame, expected: pd.DataFrame) -> None:
    """Every (year, département, indicator) cell equal, none missing on either side."""
    merged = expected.merge(published, on=KEY, how="outer", suffixes=("_attendu", "_publie"), indicator=True)
    missing = merged[merged["_merge"] != "both"]
    assert missing.empty, missing[KEY + ["_merge"]].head(10).to_string()
    different = merged[~np.isclose(merged["valeur_attendu"], merged["valeur_publie"], rtol=0, atol=1e-9)]
    assert different.empty, different.head(10).to_string()


def test_generated_exports_publish_the_generator_ground_truth(prefect_harness, warehouse, small_network, tmp_path):
    folder = write_csv_folder(small_network, tmp_path / "exports")

    report = nightly_sync(source_dir=str(folder))

    assert report["statut"] == "publie"
    assert_same_indicators(published_indicators(warehouse), expected_indicators(small_network))
    counts = row_counts(small_network)
    assert published_activities_per_department(warehouse) == counts["activites"]["valides_par_departement"]
    # Exactly the deliberately broken rows are quarantined, and blank rows are not.
    assert report["quarantaine_total"] == sum(c["invalides"] for c in counts.values())
    assert sum(tab["lignes"] for tab in report["lignes_lues"]) == sum(c["lignes"] for c in counts.values())


def test_generated_spreadsheets_served_by_the_emulator_publish_the_same_truth(
    prefect_harness, warehouse, small_network, sheets_emulator, tmp_path, monkeypatch
):
    document = write_emulator_json(small_network, tmp_path / "sheets")
    sheets_emulator.load_json(document)
    monkeypatch.setenv("PDN_SOURCES", str(document.parent / "sources.toml"))
    monkeypatch.setenv("PDN_SHEETS_API_URL", sheets_emulator.url)

    report = nightly_sync()

    assert report["statut"] == "publie"
    assert_same_indicators(published_indicators(warehouse), expected_indicators(small_network))
    # Per spreadsheet: one Drive metadata call, its tab titles (a tab that continues a table may have been
    # added since) and one batchGet of the tabs it holds.
    spreadsheets = {sheet.key for sheet in small_network.sheets}
    assert report["requetes_sheets"] == 3 * len(spreadsheets)


def test_generator_is_deterministic_for_a_seed(small_network):
    again = generate(small_spec())
    other = generate(small_spec(seed=7))

    for mine, theirs in zip(small_network.sheets, again.sheets):
        assert mine.header == theirs.header
        pd.testing.assert_frame_equal(mine.rows, theirs.rows)
    assert not small_network.sheets[0].rows.equals(other.sheets[0].rows)


def test_national_network_has_every_department_and_few_broken_rows():
    network = generate(national_spec(scale=0.02))

    counts = row_counts(network)
    assert len(network.suivis) == 101
    assert {"2A", "2B", "976"} <= set(counts["promeneurs"]["valides_par_departement"])
    for table in counts.values():
        assert table["invalides"] / table["lignes"] < 0.004
