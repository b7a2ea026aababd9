"""Dates read one way per column (dbt/macros/parser_dates.sql), through `pdn synchroniser --source`.

The order of day and month is decided once per column of a file from all its cells: a French column reads its
ambiguous cells day-first; a column re-saved by an English-locale program (month first) is refused whole, never
read with some cells swapped, and the previous publication stays.
"""

from __future__ import annotations

import json
import re
from datetime import date, timedelta

import duckdb
import pytest

from flows.cli import main
from flows.settings import SAMPLE_DIR
from tests.conftest import use_warehouse
from tests.pipeline.test_duplicates import write_export
from tests.test_bad_input import ACTIVITES_FILE, PROMENEURS_FILE, read_export, sample_copy, sha256

AMERICAN = "Dates au format américain (mois/jour) : réenregistrez l'export au format français"
CHARTER_AMERICAN = (
    "Date de signature de la charte au format américain (mois/jour) : réenregistrez l'export au format français"
)
EXIT_INCOMPLETE = "Date de sortie incomplète (jour, mois et année attendus)"
PROMENEURS_FILE_PATH = SAMPLE_DIR / PROMENEURS_FILE
DAY_MONTH = re.compile(r"^(\d{1,2})/(\d{1,2})/(\d{4})$")


def filled_rows(frame, column: int = 0) -> dict[int, str]:
    """Sheet row -> cell of `column` (Activités: the date) of every non-blank row of an export."""
    return {
        i + 1: frame.iloc[i, column].strip() for i in range(1, len(frame)) if any(c.strip() for c in frame.iloc[i])
    }


def read_date(cell: str) -> date:
    """A sample date cell read day-first: dd/mm/yyyy, ISO, or a serial number (days since 1899-12-30)."""
    match = DAY_MONTH.match(cell)
    if match:
        day, month, year = map(int, match.groups())
        return date(year, month, day)
    return date.fromisoformat(cell) if "-" in cell else date(1899, 12, 30) + timedelta(int(cell))


def roster_column(frame, word: str) -> int:
    """The roster export's column whose header holds `word` (« charte », « sortie »)."""
    return next(i for i, label in enumerate(frame.iloc[0]) if word in label.lower())


@pytest.fixture(scope="module")
def month_first_run(published_sample, tmp_path_factory):
    """The sample's Activités re-saved month first (as an English-locale Excel does), synced over its publication."""
    root = published_sample.copy_to(tmp_path_factory.mktemp("mois-jour"))
    exports = sample_copy(root)
    frame = read_export(exports / ACTIVITES_FILE)
    frame[0] = [cell if i == 0 else DAY_MONTH.sub(r"\2/\1/\3", cell.strip()) for i, cell in enumerate(frame[0])]
    write_export(exports / ACTIVITES_FILE, frame)
    published = root / "warehouse" / "pdn.duckdb"
    before = sha256(published)
    with pytest.MonkeyPatch.context() as patch:
        use_warehouse(patch, root)
        code = main(["sync", "--source", str(exports)])
    report = json.loads((root / "warehouse" / "runs" / "dernier.json").read_text(encoding="utf-8"))
    return root, code, report, before, filled_rows(frame)


def test_month_first_dates_quarantine_the_whole_column_with_their_reason(month_first_run):
    _, _, report, _, rows = month_first_run
    # The swap made some cells impossible day-first (13/.. and above): the column proves month-first.
    assert any(int(DAY_MONTH.match(cell).group(2)) > 12 for cell in rows.values() if DAY_MONTH.match(cell))
    quarantined = {row["ligne"]: row["motif"] for row in report["quarantaine"] if row["onglet"] == "Activités"}
    assert set(quarantined) == set(rows)
    assert all(reason.startswith(AMERICAN) for row, reason in quarantined.items() if rows[row])


def test_a_refused_date_column_publishes_nothing_and_keeps_the_last_publication(month_first_run):
    root, code, report, before, _ = month_first_run
    assert code == 1 and report["statut"] != "publie", report["statut"]
    # Refused by the gate (valid rows of the tab fell by more than half), saying why: not a build failure.
    blocking = [f["message"] for f in report["controles_en_echec"] if f["gravite"] == "critique"]
    assert any("Suivi / Activités" in message and AMERICAN in message for message in blocking), blocking
    assert sha256(root / "warehouse" / "pdn.duckdb") == before


def test_a_french_column_reads_every_ambiguous_date_day_first(published_sample):
    frame = read_export(SAMPLE_DIR / ACTIVITES_FILE)
    quarantined = {row["ligne"] for row in published_sample.report["quarantaine"] if row["onglet"] == "Activités"}
    expected, slashed = [], []
    for row, cell in filled_rows(frame).items():
        match = DAY_MONTH.match(cell)
        if row in quarantined:
            continue
        if match:
            day, month, year = map(int, match.groups())
            slashed.append(date(year, month, day))
        else:  # ISO, or a serial number (days since 1899-12-30): unambiguous
            expected.append(date.fromisoformat(cell) if "-" in cell else date(1899, 12, 30) + timedelta(int(cell)))
    # The sample holds both kinds: dates only day-first can read, and ambiguous ones (08/10/2019 is 8 October).
    assert any(d.day > 12 for d in slashed) and any(d.day <= 12 and d.month != d.day for d in slashed)
    expected += slashed
    with duckdb.connect(str(published_sample.published_db), read_only=True) as con:
        published = [d for (d,) in con.execute("select date from bilan.activites").fetchall()]
    assert sorted(published) == sorted(expected)



def sync_edited_roster(published_sample, tmp_path_factory, edit) -> tuple:
    """The sample's roster changed by `edit(frame)`, synced over its publication: (root, code, report, before)."""
    root = published_sample.copy_to(tmp_path_factory.mktemp("promeneurs"))
    exports = sample_copy(root)
    frame = read_export(exports / PROMENEURS_FILE)
    edit(frame)
    write_export(exports / PROMENEURS_FILE, frame)
    before = sha256(root / "warehouse" / "pdn.duckdb")
    with pytest.MonkeyPatch.context() as patch:
        use_warehouse(patch, root)
        code = main(["sync", "--source", str(exports)])
    report = json.loads((root / "warehouse" / "runs" / "dernier.json").read_text(encoding="utf-8"))
    return root, code, report, before


@pytest.fixture(scope="module")
def month_first_roster_run(published_sample, tmp_path_factory):
    """The sample's roster re-saved month first: both date columns swapped, synced over its publication."""
    frame = read_export(PROMENEURS_FILE_PATH)
    charter, exit_ = roster_column(frame, "charte"), roster_column(frame, "sortie")

    def swap(edited) -> None:
        for column in (charter, exit_):
            cells = enumerate(edited[column])
            edited[column] = [c if i == 0 else DAY_MONTH.sub(r"\2/\1/\3", c.strip()) for i, c in cells]

    return (*sync_edited_roster(published_sample, tmp_path_factory, swap), filled_rows(frame, charter))


def test_a_month_first_roster_is_refused_as_american_dates_and_the_last_publication_stays(month_first_roster_run):
    root, code, report, before, charters = month_first_roster_run
    # Some charter dates of the sample read only day-first (25/10/2018): swapped, they prove month-first.
    assert any(DAY_MONTH.match(c) and int(DAY_MONTH.match(c).group(1)) > 12 for c in charters.values())
    quarantined = {row["ligne"]: row["motif"] for row in report["quarantaine"] if row["onglet"] == "Promeneurs"}
    # The whole column is refused, its ISO and serial cells too: never some cells read swapped.
    assert set(quarantined) == {row for row, cell in charters.items() if cell}
    assert all(reason.startswith(CHARTER_AMERICAN) for reason in quarantined.values())
    assert code == 1 and report["statut"] != "publie", report["statut"]
    blocking = [f["message"] for f in report["controles_en_echec"] if f["gravite"] == "critique"]
    assert any("Suivi / Promeneurs" in message and CHARTER_AMERICAN in message for message in blocking), blocking
    assert sha256(root / "warehouse" / "pdn.duckdb") == before


def test_an_exit_typed_as_a_bare_year_is_an_incomplete_date(published_sample, tmp_path_factory):
    frame = read_export(PROMENEURS_FILE_PATH)
    exit_ = roster_column(frame, "sortie")
    quarantined = {row["ligne"] for row in published_sample.report["quarantaine"] if row["onglet"] == "Promeneurs"}
    # A counted Promeneur with no exit yet: « 2019 » typed as her exit.
    row = next(r for r, cell in filled_rows(frame, exit_).items() if not cell and r not in quarantined)

    def exit_2019(edited) -> None:
        edited.iloc[row - 1, exit_] = "2019"

    _, code, report, _ = sync_edited_roster(published_sample, tmp_path_factory, exit_2019)
    assert code == 0, report["statut"]
    reasons = {r["ligne"]: r["motif"] for r in report["quarantaine"] if r["onglet"] == "Promeneurs"}
    # Not read as serial day 2019 (11/07/1905), which would be « invraisemblable »: incomplete, and not counted.
    assert reasons[row] == EXIT_INCOMPLETE
    assert set(reasons) == quarantined | {row}


def test_a_french_roster_column_reads_every_ambiguous_charter_date_day_first(published_sample):
    frame = read_export(PROMENEURS_FILE_PATH)
    quarantined = {row["ligne"] for row in published_sample.report["quarantaine"] if row["onglet"] == "Promeneurs"}
    charters = {row: cell for row, cell in filled_rows(frame, roster_column(frame, "charte")).items()
                if row not in quarantined}
    read = [read_date(cell) for cell in charters.values()]
    slashed = [read_date(cell) for cell in charters.values() if DAY_MONTH.match(cell)]
    # The column mixes dates that only read day-first (25/10/2018) with ambiguous ones (11/10/2018 is 11 October).
    assert any(d.day > 12 for d in slashed) and any(d.day <= 12 and d.month != d.day for d in slashed)
    expected = {}
    for d in read:
        expected[(d.year, d.month)] = expected.get((d.year, d.month), 0) + 1
    with duckdb.connect(str(published_sample.published_db), read_only=True) as con:
        rows = con.execute(
            "select year(mois), month(mois), nouveaux_promeneurs from bilan.effectifs_mensuels "
            "where departement = 'ensemble' and nouveaux_promeneurs > 0"
        ).fetchall()
    assert {(y, m): n for y, m, n in rows} == expected
