"""Closed years stay as published; open years move out loud (`pdn cloturer`, `pdn synchroniser --reviser`).

The case of issue 26: after `pdn purger`, the coordinator deletes the departed Promeneurs from the roster, as
the purge advises. Every sync here is the real flow (`pdn synchroniser --source` on a copy of the bundled sample).
"""

from __future__ import annotations

import contextlib
import csv
import io
import json
import shutil
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import duckdb
import pytest
from openpyxl import load_workbook

from flows.cli import main
from flows.ops.summary import rows_line
from flows.outputs.french import format_number
from flows.settings import SAMPLE_DIR
from tests.conftest import use_warehouse_and_files
from tests.outputs.test_exports import sheet_table

ROSTER = "Suivi - Promeneurs.csv"
EXIT_DATE_COLUMN = "Date de sortie"
CLOSED = (2018, 2019)
ERASED_EMAIL = "lea.bertrand@example.org"  # a Promeneur of the sample since 2018, still active


def run_pdn(root: Path, *args: str) -> tuple[int, str]:
    """`pdn ARGS` in this process on the warehouse under `root`; the exit code and everything printed."""
    out, err = io.StringIO(), io.StringIO()
    with pytest.MonkeyPatch.context() as patch, contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        use_warehouse_and_files(patch, root)
        code = main(list(args))
    return code, out.getvalue() + err.getvalue()


def figures(published_db: Path) -> dict[tuple[int, str, str], float | None]:
    """Every published indicator value by (annee, departement, indicateur)."""
    with duckdb.connect(str(published_db), read_only=True) as con:
        rows = con.execute("select annee, departement, indicateur, valeur from bilan.indicateurs_annuels").fetchall()
    return {(a, d, i): v for a, d, i, v in rows}


def yearly_rows(published_db: Path, annee: int) -> dict[str, list[tuple]]:
    """The year's rows of every bilan table that has an `annee` column, sorted (to compare whole tables)."""
    with duckdb.connect(str(published_db), read_only=True) as con:
        tables = [t for (t,) in con.execute(
            "select distinct table_name from duckdb_columns() where schema_name = 'bilan' and column_name = 'annee'"
        ).fetchall()]
        return {t: sorted(map(repr, con.execute(f"select * from bilan.{t} where annee = ?", [annee]).fetchall())) for t in tables}


def differences(before: dict, after: dict) -> dict[tuple[int, str, str], tuple]:
    """(avant, apres) of every figure that differs between two `figures` results."""
    return {k: (before.get(k), after.get(k)) for k in before.keys() | after.keys() if before.get(k) != after.get(k)}


def listed(moved: list[dict]) -> dict[tuple[int, str, str], tuple]:
    """A run report's list of moved figures, shaped like `differences`."""
    return {(f["annee"], f["departement"], f["indicateur"]): (f["avant"], f["apres"]) for f in moved}


@pytest.fixture(scope="module")
def departed_deleted(tmp_path_factory) -> tuple[Path, list[int]]:
    """The sample's exports with every roster row of a departed Promeneur deleted, and those rows' numbers."""
    folder = tmp_path_factory.mktemp("departs") / "exports"
    shutil.copytree(SAMPLE_DIR, folder, ignore=shutil.ignore_patterns("*.md"))
    with open(folder / ROSTER, encoding="utf-8", newline="") as handle:
        rows = list(csv.reader(handle))
    exit_date = [c.strip() for c in rows[0]].index(EXIT_DATE_COLUMN)
    deleted = [number for number, row in enumerate(rows[1:], start=2) if row[exit_date].strip()]
    with open(folder / ROSTER, "w", encoding="utf-8", newline="") as handle:
        csv.writer(handle, lineterminator="\r\n").writerows(r for n, r in enumerate(rows, start=1) if n not in deleted)
    return folder, deleted


@dataclass(frozen=True)
class Run:
    """A sync of `departed_deleted` on a copy of the published sample: before, after, what it said."""

    root: Path
    before: dict
    after: dict
    code: int
    output: str
    report: dict


def sync_after_deletion(published_sample, departed_deleted, root: Path, closed: tuple[int, ...]) -> Run:
    """Close these years, then sync the exports without the departed Promeneurs."""
    published_sample.copy_to(root)
    for annee in closed:
        code, output = run_pdn(root, "cloturer", str(annee))
        assert code == 0, output
    before = figures(published_sample.published_db)
    code, output = run_pdn(root, "sync", "--source", str(departed_deleted[0]))
    report = json.loads((root / "warehouse" / "runs" / "dernier.json").read_text(encoding="utf-8"))
    return Run(root, before, figures(root / "warehouse" / "pdn.duckdb"), code, output, report)


@pytest.fixture(scope="module")
def open_run(published_sample, departed_deleted, tmp_path_factory) -> Run:
    """No year closed: the deletion is published."""
    return sync_after_deletion(published_sample, departed_deleted, tmp_path_factory.mktemp("ouverte"), ())


@pytest.fixture(scope="module")
def closed_run(published_sample, departed_deleted, tmp_path_factory) -> Run:
    """2018 and 2019 closed: the deletion is not applied to them."""
    return sync_after_deletion(published_sample, departed_deleted, tmp_path_factory.mktemp("close"), CLOSED)


# --- Open years: published, every moved figure listed ---------------------------------------------------------


def test_open_years_publish_the_deletion_and_list_every_moved_figure(open_run: Run):
    moved = differences(open_run.before, open_run.after)
    assert open_run.code == 0, open_run.output
    assert {annee for annee, _, _ in moved} >= {2019}  # the case of the issue: 2019 moves
    assert listed(open_run.report["indicateurs_modifies"]) == moved
    assert f"Chiffres déjà publiés modifiés par cette synchronisation : {len(moved)} valeur(s)" in open_run.output
    for (annee, departement, indicateur), (avant, apres) in moved.items():
        line = f"{annee} / {departement} / {indicateur} : {format_number(avant)} → {format_number(apres)}"
        assert line in open_run.output


def test_the_rows_behind_moved_figures_are_the_deleted_ones(open_run: Run, departed_deleted):
    _, deleted = departed_deleted
    tabs = {(t["tableur"], t["onglet"]): t for t in open_run.report["lignes_modifiees"]}
    roster = tabs[("Suivi", "Promeneurs")]
    assert roster["supprimees"] == deleted and roster["supprimees_total"] == len(deleted)
    assert "ajoutees" not in roster  # the rows below moved up, unchanged: not listed
    assert set(tabs) == {("Suivi", "Promeneurs")}
    assert rows_line(roster) in open_run.output


def test_the_quality_page_lists_the_moved_figures(open_run: Run):
    from tests.outputs.test_report import parse_html

    page = parse_html((open_run.root / "warehouse" / "rapports" / "qualite-des-donnees.html").read_text("utf-8"))
    moved = differences(open_run.before, open_run.after)
    (table,) = page.find_all("table", id="tableau-chiffres-modifies")
    rows = [[td.text() for td in tr.find_all("td")] for tr in table.find_all("tr")[1:]]
    expected = [
        [str(a), d, i, format_number(avant), format_number(apres)]
        for (a, d, i), (avant, apres) in sorted(moved.items(), key=lambda kv: (kv[0][0], kv[0][2], kv[0][1]))
    ]
    assert rows == expected
    (total,) = page.find_all("span", id="total-chiffres-modifies")
    assert total.text() == str(len(moved))


# --- Closed years: kept, the would-be changes listed, applied on request --------------------------------------


def test_closed_years_keep_their_published_figures_and_list_what_would_move(closed_run: Run, open_run: Run):
    assert closed_run.code == 0, closed_run.output
    for annee in CLOSED:
        kept = {k: v for k, v in closed_run.after.items() if k[0] == annee}
        assert kept == {k: v for k, v in closed_run.before.items() if k[0] == annee}
    would_move = {k: v for k, v in differences(open_run.before, open_run.after).items() if k[0] in CLOSED}
    assert would_move, "the deletion moves closed years' figures: nothing to prove otherwise"
    assert listed(closed_run.report["indicateurs_non_appliques"]) == would_move
    assert closed_run.report["annees_closes_conservees"] == sorted({k[0] for k in would_move})
    for (annee, departement, indicateur), (avant, apres) in would_move.items():
        line = f"{annee} / {departement} / {indicateur} : {format_number(avant)} → {format_number(apres)} non appliqué"
        assert line in closed_run.output
    assert "2019 fermée : chiffres publiés conservés" in closed_run.output
    assert "pdn synchroniser --reviser 2019 pour l'appliquer." in closed_run.output
    # The published file did not move for them: nothing listed as changed.
    assert not [f for f in closed_run.report["indicateurs_modifies"] if f["annee"] in CLOSED]


def test_closed_years_keep_every_yearly_table_row_for_row(closed_run: Run, published_sample):
    for annee in CLOSED:
        assert yearly_rows(closed_run.root / "warehouse" / "pdn.duckdb", annee) == yearly_rows(
            published_sample.published_db, annee
        )


@pytest.fixture(scope="module")
def revised_run(closed_run: Run, departed_deleted) -> Run:
    """After the closed run: `pdn synchroniser --reviser 2019` on the same exports."""
    published = closed_run.root / "warehouse" / "pdn.duckdb"
    before = figures(published)
    code, output = run_pdn(closed_run.root, "sync", "--source", str(departed_deleted[0]), "--reviser", "2019")
    report = json.loads((closed_run.root / "warehouse" / "runs" / "dernier.json").read_text(encoding="utf-8"))
    return Run(closed_run.root, before, figures(published), code, output, report)


def test_reviser_applies_the_closed_year_and_only_it(revised_run: Run, open_run: Run):
    assert revised_run.code == 0, revised_run.output
    for key, value in revised_run.after.items():
        expected = open_run.after[key] if key[0] == 2019 else revised_run.before[key]
        assert value == expected, key
    moved = differences(revised_run.before, revised_run.after)
    assert moved and {k[0] for k in moved} == {2019}
    assert listed(revised_run.report["indicateurs_modifies"]) == moved
    assert revised_run.report["annees_revisees"] == [2019]
    assert "Année(s) close(s) révisée(s) : 2019 (enregistré)." in revised_run.output


def test_the_revision_is_recorded_with_what_moved(revised_run: Run):
    with duckdb.connect(str(revised_run.root / "private" / "raw.duckdb"), read_only=True) as con:
        rows = con.execute("select annee, revise_le, sync_id, motif, modifications_json from revisions").fetchall()
    assert len(rows) == 1
    annee, revise_le, sync_id, motif, moved = rows[0]
    assert (annee, sync_id, motif) == (2019, revised_run.report["run_id"], "reviser")
    assert revise_le.date() == datetime.now().date()
    assert listed(json.loads(moved)) == differences(revised_run.before, revised_run.after)


def test_a_revised_year_stays_frozen_at_its_new_figures(revised_run: Run, departed_deleted):
    code, output = run_pdn(revised_run.root, "sync", "--source", str(departed_deleted[0]))
    report = json.loads((revised_run.root / "warehouse" / "runs" / "dernier.json").read_text(encoding="utf-8"))
    assert code == 0, output
    assert figures(revised_run.root / "warehouse" / "pdn.duckdb") == revised_run.after
    assert 2019 not in report["annees_closes_conservees"]  # its frozen copy followed the revision
    assert report["indicateurs_modifies"] == []


def test_status_lists_closed_and_revised_years(revised_run: Run):
    code, output = run_pdn(revised_run.root, "status")
    today = f"{datetime.now():%d/%m/%Y}"
    assert "Années closes : 2" in output
    assert f"  2018 : close le {today}\n" in output + "\n"
    assert f"  2019 : close le {today}, révisée le {today}" in output


def test_the_bilan_and_the_export_of_a_revised_year_say_so(revised_run: Run):
    code, output = run_pdn(revised_run.root, "report", "--annee", "2019")
    assert code == 0, output
    folder = revised_run.root / "warehouse" / "rapports"
    mention = f"révisé le {datetime.now():%d/%m/%Y}"
    html = (folder / "bilan-2019.html").read_text(encoding="utf-8")
    assert f"Chiffres {mention} (année close, révisée après sa clôture)." in html
    workbook = load_workbook(folder / "bilan-2019.xlsx")
    header, _ = sheet_table(workbook.worksheets[0], "Indicateur")
    status = next(row for row in workbook.worksheets[0].iter_rows() if row[0].value == "Statut des chiffres")
    assert status[header.index(2019)].value == mention
    _, revised = sheet_table(workbook["Révisions"], "Année")
    assert [[c.value for c in row] for row in revised] == [[2019, f"Chiffres {mention}"]]
    code, output = run_pdn(revised_run.root, "report", "--annee", "2018")
    assert "révisé" not in (folder / "bilan-2018.html").read_text(encoding="utf-8")


def test_reviser_refuses_a_year_that_is_not_closed(revised_run: Run, departed_deleted):
    published = revised_run.root / "warehouse" / "pdn.duckdb"
    before = published.read_bytes()
    code, output = run_pdn(revised_run.root, "sync", "--source", str(departed_deleted[0]), "--reviser", "2020")
    assert code == 2
    assert "Année(s) 2020 non close(s) : --reviser ne s'emploie que pour une année close" in output
    assert published.read_bytes() == before


def test_closing_a_year_twice_or_a_year_not_published_is_refused(revised_run: Run):
    code, output = run_pdn(revised_run.root, "cloturer", "2019")
    assert code == 2 and "L'année 2019 est déjà close depuis le" in output
    code, output = run_pdn(revised_run.root, "cloturer", "2031")
    assert code == 2 and "L'année 2031 n'est pas dans l'entrepôt publié (années : 2018, 2019, 2020)" in output


def test_years_past_the_automatic_closing_day_close_before_the_sync_changes_them(
    published_sample, departed_deleted, tmp_path: Path
):
    exports = tmp_path / "exports"
    shutil.copytree(departed_deleted[0], exports)
    config = exports / "sources.toml"
    config.write_text(
        config.read_text(encoding="utf-8").replace("[bilan]\n", '[bilan]\ncloture_automatique = "31/03"\n'),
        encoding="utf-8",
    )
    root = published_sample.copy_to(tmp_path / "auto")
    before = figures(published_sample.published_db)
    years = sorted({annee for annee, _, _ in before})
    due = [y for y in years if datetime.now().date() >= datetime(y + 1, 3, 31).date()]
    assert due, "the sample's years are long past their closing day"
    code, output = run_pdn(root, "sync", "--source", str(exports))
    assert code == 0, output
    for annee in due:
        assert f"Année {annee} close automatiquement" in output
    after = figures(root / "warehouse" / "pdn.duckdb")
    assert {k: v for k, v in after.items() if k[0] in due} == {k: v for k, v in before.items() if k[0] in due}
    code, output = run_pdn(root, "status")
    assert f"Années closes : {len(due)}" in output


def test_an_erasure_revises_closed_years_by_design_and_records_it(published_sample, tmp_path: Path):
    root = published_sample.copy_to(tmp_path / "oubli")
    for annee in CLOSED:
        code, output = run_pdn(root, "cloturer", str(annee))
        assert code == 0, output
    before = figures(published_sample.published_db)
    code, output = run_pdn(root, "oubli", "--email", ERASED_EMAIL, "--oui")
    assert code == 0, output
    after = figures(root / "warehouse" / "pdn.duckdb")
    moved_years = sorted({k[0] for k in differences(before, after)} & set(CLOSED))
    assert moved_years, "she counted in the closed years: the erasure must move them"
    with duckdb.connect(str(root / "private" / "raw.duckdb"), read_only=True) as con:
        revisions = con.execute("select annee, motif, modifications_json from revisions order by annee").fetchall()
    assert [(annee, motif) for annee, motif, _ in revisions] == [(annee, "effacement") for annee in moved_years]
    for annee, _, moved in revisions:
        assert listed(json.loads(moved)) == {k: v for k, v in differences(before, after).items() if k[0] == annee}
    assert f"Année(s) close(s) révisée(s) : {', '.join(map(str, moved_years))} (enregistré)." in output


def test_an_open_year_whose_start_no_longer_follows_the_closed_year_is_flagged(published_sample, tmp_path: Path):
    exports = tmp_path / "exports"
    shutil.copytree(SAMPLE_DIR, exports, ignore=shutil.ignore_patterns("*.md"))
    text = (exports / ROSTER).read_text(encoding="utf-8")
    (exports / ROSTER).write_text(
        "".join(line for line in text.splitlines(keepends=True) if ERASED_EMAIL not in line), encoding="utf-8"
    )
    root = published_sample.copy_to(tmp_path / "rupture")
    code, output = run_pdn(root, "cloturer", "2019")
    assert code == 0, output
    code, output = run_pdn(root, "sync", "--source", str(exports))
    assert code == 0, output
    after = figures(root / "warehouse" / "pdn.duckdb")
    gaps = {
        d: (after[(2020, d, "promeneurs_actifs_debut_annee")], after[(2019, d, "promeneurs_actifs_fin_annee")])
        for d in ("03", "63", "ensemble")
        if after[(2020, d, "promeneurs_actifs_debut_annee")] != after[(2019, d, "promeneurs_actifs_fin_annee")]
    }
    assert set(gaps) == {"03", "ensemble"}  # she was a Promeneur of the 03
    for departement, (debut, fin) in gaps.items():
        assert (
            f"Attention : 2020 / {departement} : début 2020 = {format_number(debut)} ≠ fin 2019 fermée = "
            f"{format_number(fin)}"
        ) in output
