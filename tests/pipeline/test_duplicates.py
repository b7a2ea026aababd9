"""Nothing counted twice (dbt/models/intermediate/int_activites_validated.sql), through `pdn synchroniser --source`.

A block of rows pasted twice and a copy of the Suivi declared as a second spreadsheet leave every figure as it
was, their copies quarantined naming the kept row; an isolated identical pair (two individual meetings the same
day may be real) counts twice and is listed as a cell to check.
"""

from __future__ import annotations

import json
from pathlib import Path

import duckdb
import pandas as pd
import pytest

from flows.cli import main
from flows.sources.contract import ACTIVITES
from tests.conftest import use_warehouse_and_files
from tests.pipeline.test_sync_sample import indicators
from tests.test_bad_input import (
    ACTIVITES_FILE,
    PROMENEURS_FILE,
    SAMPLE_CONFIG,
    VALID_ACTIVITE,
    append_rows,
    config,
    read_export,
    sample_copy,
)

DOUBLE = "Action en double : même action que {titre}, Activités, ligne {ligne}"


def write_export(path: Path, frame: pd.DataFrame) -> None:
    """Write a frame of cells back as the export it came from (no header row of its own, CRLF ends)."""
    frame.to_csv(path, header=False, index=False, lineterminator="\r\n")


def sync_folder(root: Path, exports: Path) -> tuple[int, dict]:
    """`pdn synchroniser --source` of a folder into the warehouse under `root`; the exit code and the run report."""
    with pytest.MonkeyPatch.context() as patch:
        use_warehouse_and_files(patch, root)
        code = main(["sync", "--source", str(exports)])
    return code, json.loads((root / "warehouse" / "runs" / "dernier.json").read_text(encoding="utf-8"))


def activities_count(published: Path, annee: int) -> int:
    """Actions of a year in bilan.activites."""
    with duckdb.connect(str(published), read_only=True) as con:
        return con.execute("select count(*) from bilan.activites where annee = ?", [annee]).fetchone()[0]


@pytest.fixture(scope="module")
def pasted_run(prefect_harness, tmp_path_factory):
    """The sample with its December 2019 block pasted again below it, and its first row copied at the end."""
    root = tmp_path_factory.mktemp("bloc-recolle")
    exports = sample_copy(root)
    frame = read_export(exports / ACTIVITES_FILE)
    december = [i for i in range(1, len(frame)) if frame.iloc[i, 0].strip().endswith("/12/2019")]
    assert december == list(range(december[0], december[-1] + 1)) and len(december) >= 2  # one block
    block = frame.iloc[december]
    after = december[-1] + 1
    pasted = pd.concat([frame.iloc[:after], block, frame.iloc[after:], frame.iloc[[1]]], ignore_index=True)
    write_export(exports / ACTIVITES_FILE, pasted)
    # Sheet row = frame index + 1 (the header is row 1).
    copies = {after + 1 + k: original + 1 for k, original in enumerate(december)}
    pair_row = len(pasted)
    code, report = sync_folder(root, exports)
    return root, code, report, copies, pair_row, frame


def test_a_block_pasted_twice_leaves_every_figure_unchanged(pasted_run, published_sample):
    root, code, report, copies, _, _ = pasted_run
    assert code == 0 and report["statut"] == "publie"
    published = root / "warehouse" / "pdn.duckdb"
    assert indicators(published, 2019) == indicators(published_sample.published_db, 2019)
    assert activities_count(published, 2019) == activities_count(published_sample.published_db, 2019)


def test_each_pasted_copy_is_quarantined_naming_the_row_kept(pasted_run, published_sample):
    _, _, report, copies, _, _ = pasted_run
    quarantined = {row["ligne"]: row["motif"] for row in report["quarantaine"] if row["onglet"] == "Activités"}
    before = {row["ligne"]: row["motif"] for row in published_sample.report["quarantaine"] if row["onglet"] == "Activités"}
    assert {copy: quarantined[copy] for copy in copies} == {
        copy: DOUBLE.format(titre="Suivi", ligne=original) for copy, original in copies.items()
    }
    # Nothing else changed: the sample's own quarantined rows (all above the block) keep their reasons.
    assert {row: reason for row, reason in quarantined.items() if row not in copies} == before


def test_an_isolated_identical_pair_counts_twice_and_is_listed_to_check(pasted_run, published_sample):
    root, _, report, copies, pair_row, frame = pasted_run
    assert pair_row not in copies
    assert not [row for row in report["quarantaine"] if row["onglet"] == "Activités" and row["ligne"] == pair_row]
    listed = [(c["ligne"], c["motif"]) for c in report["cellules_signalees"] if c["onglet"] == "Activités"]
    assert (pair_row, "Action identique à la ligne 2 : vérifier qu'il ne s'agit pas d'un doublon (comptée deux "
            "fois d'ici là)") in listed
    # The copied row (sheet row 2) is an action of its year: that year has one more action, counted.
    annee = int(frame.iloc[1, 0].strip()[-4:])
    published = root / "warehouse" / "pdn.duckdb"
    assert activities_count(published, annee) == activities_count(published_sample.published_db, annee) + 1


# A 2020 action typed only in the copy: the copy's own new rows still count.
NEW_IN_COPY = {**VALID_ACTIVITE, "date": "08/10/2020", "type_action": "Atelier", "intitule": "Atelier nouveau",
               "departement": "03"}


@pytest.fixture(scope="module")
def copied_suivi_run(prefect_harness, tmp_path_factory):
    """The sample plus a copy of its Suivi (File › Make a copy) declared as « Suivi 2020 », with one new action."""
    root = tmp_path_factory.mktemp("copie-du-suivi")
    exports = sample_copy(root)
    for name in (ACTIVITES_FILE, PROMENEURS_FILE):
        (exports / name.replace("Suivi", "Suivi 2020")).write_bytes((exports / name).read_bytes())
    copied = read_export(exports / ACTIVITES_FILE)
    filled = [i + 1 for i in range(1, len(copied)) if any(cell.strip() for cell in copied.iloc[i])]
    new_row = append_rows(exports / ACTIVITES_FILE.replace("Suivi", "Suivi 2020"), ACTIVITES, [NEW_IN_COPY])[0]
    config(exports, SAMPLE_CONFIG.replace('titre = "Suivi"', 'titre = "Suivi"\n\n[[suivi]]\ntitre = "Suivi 2020"'))
    code, report = sync_folder(root, exports)
    return root, code, report, new_row, filled


def test_a_copy_of_the_suivi_counts_no_action_twice(copied_suivi_run, published_sample):
    root, code, report, new_row, _ = copied_suivi_run
    assert code == 0 and report["statut"] == "publie", report.get("message")
    published = root / "warehouse" / "pdn.duckdb"
    assert indicators(published, 2019) == indicators(published_sample.published_db, 2019)
    assert activities_count(published, 2019) == activities_count(published_sample.published_db, 2019)
    # Its one new action counts, once.
    assert activities_count(published, 2020) == activities_count(published_sample.published_db, 2020) + 1
    before_2020 = indicators(published_sample.published_db, 2020)
    assert indicators(published, 2020)[("ateliers", "03")] == before_2020[("ateliers", "03")] + 1
    assert new_row not in {r["ligne"] for r in report["quarantaine"] if (r["tableur"], r["onglet"]) == ("Suivi 2020", "Activités")}


def test_every_copied_row_is_quarantined_naming_the_first_spreadsheet(copied_suivi_run, published_sample):
    _, _, report, _, filled = copied_suivi_run
    own = {row["ligne"]: row["motif"] for row in published_sample.report["quarantaine"] if row["onglet"] == "Activités"}
    copy = {row["ligne"]: row["motif"] for row in report["quarantaine"]
            if (row["tableur"], row["onglet"]) == ("Suivi 2020", "Activités")}
    # A row bad on its own keeps its reason; every other copied (non-blank) row names the same row of the Suivi.
    assert copy == {row: own.get(row, DOUBLE.format(titre="Suivi", ligne=row)) for row in filled}
    # The first spreadsheet keeps all its rows.
    first = {row["ligne"] for row in report["quarantaine"] if (row["tableur"], row["onglet"]) == ("Suivi", "Activités")}
    assert first == set(own)
