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
from tests.test_bad_input import ACTIVITES_FILE, read_export, sample_copy, sha256

AMERICAN = "Dates au format américain (mois/jour) : réenregistrez l'export au format français"
DAY_MONTH = re.compile(r"^(\d{1,2})/(\d{1,2})/(\d{4})$")


def filled_rows(frame) -> dict[int, str]:
    """Sheet row -> date cell of every non-blank row of an Activités export."""
    return {i + 1: frame.iloc[i, 0].strip() for i in range(1, len(frame)) if any(c.strip() for c in frame.iloc[i])}


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

