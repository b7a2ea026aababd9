"""Every tab and every file accounted for, through `pdn synchroniser --source` on a copy of the sample: a tab continuing
a table is read with its own name and rows, a re-download of an export is read only when newer, anything else
is reported « non lu », and a question recreated in a form (two columns, one title) is one question."""

from __future__ import annotations

import csv
import hashlib
import json
import shutil
from pathlib import Path

import duckdb
import pytest

from flows.cli import main
from flows.settings import SAMPLE_DIR
from tests.conftest import use_warehouse_and_files
from tests.pipeline.test_sync_sample import indicators

ACTIVITES_FILE = "Suivi - Activités.csv"
REPONSES_FILE = "Questionnaire 2019 - Réponses au formulaire 1.csv"


def read_rows(path: Path) -> list[list[str]]:
    with open(path, encoding="utf-8", newline="") as handle:
        return list(csv.reader(handle))


def write_rows(path: Path, rows: list[list[str]]) -> None:
    with open(path, "w", encoding="utf-8", newline="") as handle:
        csv.writer(handle, lineterminator="\r\n").writerows(rows)


@pytest.fixture
def run(published_sample, tmp_path, monkeypatch, capsys):
    """A copy of the published sample and of its exports; run() syncs the exports and returns (code, output, report)."""
    root = published_sample.copy_to(tmp_path / "copy")
    use_warehouse_and_files(monkeypatch, root)
    exports = tmp_path / "exports"
    shutil.copytree(SAMPLE_DIR, exports)

    def sync() -> tuple[int, str, dict]:
        code = main(["sync", "--source", str(exports)])
        captured = capsys.readouterr()
        report = json.loads((root / "warehouse" / "runs" / "dernier.json").read_text(encoding="utf-8"))
        return code, captured.out + captured.err, report

    sync.exports = exports
    sync.published = root / "warehouse" / "pdn.duckdb"
    return sync


def activity(rows: list[list[str]], **values: str) -> list[str]:
    """An activity row in the sample's column order (its header is rows[0])."""
    labels = {"date": "Date", "departement": "Département", "type_action": "Type d’action", "participants": "Participants"}
    header = rows[0]
    row = [""] * len(header)
    for name, value in values.items():
        row[header.index(labels[name])] = value
    return row


def test_a_new_activites_2020_tab_is_counted_with_its_own_name_and_rows(run, published_sample):
    activites = read_rows(SAMPLE_DIR / ACTIVITES_FILE)
    added = [activity(activites, date=f"{day:02d}/03/2020", departement="03", type_action="Rencontre individuelle",
                      participants="1") for day in (3, 10, 17)]
    bad = activity(activites, date="24/03/2020", departement="Atlantide", type_action="Rencontre individuelle")
    write_rows(run.exports / "Suivi - Activités 2020.csv", [activites[0], *added, bad])
    before = indicators(published_sample.published_db, 2020).get(("presentations_individuelles", "03"), 0)
    code, output, report = run()
    assert code == 0, output
    assert indicators(run.published, 2020)[("presentations_individuelles", "03")] == before + len(added)
    assert {"tableur": "Suivi", "onglet": "Activités 2020", "lignes": len(added) + 1} in report["lignes_lues"]
    assert {(row["onglet"], row["ligne"]) for row in report["quarantaine"]} >= {("Activités 2020", len(added) + 2)}
    assert report["non_lus"] == []


def test_the_second_responses_tab_of_a_relinked_form_is_read_as_the_same_campaign(run, published_sample):
    rows = read_rows(SAMPLE_DIR / REPONSES_FILE)
    cut = 21  # responses from the 21st on arrived after the form was re-linked (the first tab keeps the others)
    write_rows(run.exports / REPONSES_FILE, rows[:cut])
    write_rows(run.exports / "Questionnaire 2019 - Réponses au formulaire 2.csv", [rows[0], *rows[cut:]])
    code, output, report = run()
    assert code == 0, output
    expected = indicators(published_sample.published_db)  # the same responses, in one tab
    got = indicators(run.published)
    for indicateur in ("questionnaire_repondants", "questionnaire_taux_participation"):
        for departement in ("03", "63", "ensemble"):
            assert got[(indicateur, departement)] == pytest.approx(expected[(indicateur, departement)])
    # The sample's bad response (sheet row 22 of the single tab) is now at its row of the second tab.
    assert ("Réponses au formulaire 2", 22 - cut + 1) in {(row["onglet"], row["ligne"]) for row in report["quarantaine"]}
    assert report["questions_non_cataloguees"] == published_sample.report["questions_non_cataloguees"]


def latest_activity_date(rows: list[list[str]]) -> tuple[int, int, int]:
    """(year, month, day) of the latest dd/mm/yyyy date of an activities export."""
    column = rows[0].index("Date")
    dates = [tuple(map(int, reversed(row[column].split("/")))) for row in rows[1:] if row[column].count("/") == 2]
    return max(d for d in dates if len(d) == 3)


def newer_activities() -> tuple[list[list[str]], int]:
    """The sample's activities and one more workshop in 63, dated after all of them; its year."""
    rows = read_rows(SAMPLE_DIR / ACTIVITES_FILE)
    year, _, _ = latest_activity_date(rows)
    later = activity(rows, date=f"15/06/{year + 1}", departement="63", type_action="Atelier", participants="8")
    return [*rows, later], year + 1


def test_a_newer_numbered_download_is_read_and_the_run_report_says_so(run, published_sample):
    rows, year = newer_activities()
    write_rows(run.exports / "Suivi - Activités (1).csv", rows)
    before = indicators(published_sample.published_db, year).get(("ateliers", "63"), 0)
    code, output, report = run()
    assert code == 0, output
    assert indicators(run.published, year)[("ateliers", "63")] == before + 1
    read = next(tab for tab in report["lignes_lues"] if tab["onglet"] == "Activités")
    assert read["lignes"] == len(rows) - 1
    assert read["lecture"] == "lu : « Suivi - Activités (1).csv », plus récent que « Suivi - Activités.csv »"
    assert read["lecture"] in output
    assert report["non_lus"] == []


def test_an_older_numbered_download_is_not_read(run, published_sample):
    rows, year = newer_activities()
    shutil.copy(SAMPLE_DIR / ACTIVITES_FILE, run.exports / "Suivi - Activités (1).csv")
    write_rows(run.exports / ACTIVITES_FILE, rows)
    before = indicators(published_sample.published_db, year).get(("ateliers", "63"), 0)
    code, output, report = run()
    assert code == 0, output
    assert indicators(run.published, year)[("ateliers", "63")] == before + 1
    read = next(tab for tab in report["lignes_lues"] if tab["onglet"] == "Activités")
    assert read["lecture"] == "lu : « Suivi - Activités.csv », plus récent que « Suivi - Activités (1).csv »"


def test_two_downloads_with_the_same_latest_date_are_refused_naming_both(run):
    before = run.published.read_bytes()
    shutil.copy(SAMPLE_DIR / ACTIVITES_FILE, run.exports / "Suivi - Activités (1).csv")
    code, output, report = run()
    assert code == 2, output
    assert report["statut"] == "erreur_entree"
    assert "« Suivi - Activités.csv » et « Suivi - Activités (1).csv »" in report["message"]
    assert run.published.read_bytes() == before


def test_an_unrelated_tab_and_file_are_reported_non_lu_and_a_name_never_shown(run):
    rows = read_rows(SAMPLE_DIR / ACTIVITES_FILE)
    write_rows(run.exports / "Suivi - Notes.csv", [["Note"], ["à relire"]])
    write_rows(run.exports / "Suivi - Léa Bertrand.csv", [["Note"], ["suivi"]])  # the sample's first Promeneur
    write_rows(run.exports / "Contacts 2020.csv", rows[:2])
    (run.exports / ".~lock.Suivi - Activités.csv#").write_text("verrou", encoding="utf-8")
    (run.exports / "archives").mkdir()
    code, output, report = run()
    assert code == 0, output
    listed = {(item["type"], item["tableur"], item["nom"]) for item in report["non_lus"]}
    masked = next(item["nom"] for item in report["non_lus"] if item["nom"].startswith("onglet masqué"))
    assert listed == {("onglet", "Suivi", "Notes"), ("onglet", "Suivi", masked), ("fichier", None, "Contacts 2020.csv")}
    assert "Non lu : Suivi / onglet « Notes » : son nom n'est ni celui d'un onglet attendu" in output
    assert "Non lu : fichier « Contacts 2020.csv » : ne correspond à aucun tableur déclaré" in output
    assert "Bertrand" not in json.dumps(report["non_lus"], ensure_ascii=False)
    assert "Bertrand" not in output


def test_unread_tabs_and_files_are_listed_on_the_quality_page_with_their_rule_and_names_screened(run):
    from tests.outputs.test_report import parse_html

    address_tab = "relances camille.roux@exemple.fr"  # a tab named after someone's address
    write_rows(run.exports / "Suivi - Notes.csv", [["Note"], ["à relire"]])
    write_rows(run.exports / f"Suivi - {address_tab}.csv", [["Note"], ["relancer"]])
    write_rows(run.exports / "Contacts 2020.csv", [["Nom"], ["x"]])
    code, output, report = run()
    assert code == 0, output
    masked = "onglet masqué " + hashlib.md5(address_tab.encode("utf-8")).hexdigest()[:4]
    expected = {("onglet", "Suivi", "Notes"), ("onglet", "Suivi", masked), ("fichier", None, "Contacts 2020.csv")}
    with duckdb.connect(str(run.published), read_only=True) as con:
        mart = con.execute("select type, spreadsheet_title, onglet_ou_fichier, motif from qualite.non_lus").fetchall()
    assert {row[:3] for row in mart} == expected
    # Each with its rule, the one the run report gives (what would make it read).
    by_name = {item["nom"]: item["motif"] for item in report["non_lus"]}
    assert {nom: motif for _, _, nom, motif in mart} == by_name
    assert by_name["Notes"].startswith("son nom n'est ni celui d'un onglet attendu")
    page_text = (run.published.parent / "rapports" / "qualite-des-donnees.html").read_text(encoding="utf-8")
    table = parse_html(page_text).find_all("table", id="tableau-non-lus")[0]
    shown = {tuple(cell.text() for cell in row.find_all("td"))[:3] for row in table.find_all("tr")[1:]}
    assert shown == {(kind, title or "", name) for kind, title, name in expected}
    assert "Onglets et fichiers non lus" in page_text
    assert "camille.roux" not in page_text and all("camille.roux" not in str(row) for row in mart)


def answered(published: Path, question: str) -> dict[str, tuple[int, int]]:
    """Per option of one 2019 question, the network's respondents to the question and those who chose it."""
    with duckdb.connect(str(published), read_only=True) as con:
        rows = con.execute(
            "select reponse, repondants_question, repondants from bilan.reponses_questionnaire "
            "where annee = 2019 and question = ? and departement = 'ensemble'", [question],
        ).fetchall()
    return {reponse: (asked, chose) for reponse, asked, chose in rows}


def test_a_question_recreated_mid_campaign_is_one_question_covering_both_columns(run, published_sample):
    rows = read_rows(SAMPLE_DIR / REPONSES_FILE)
    column = next(i for i, label in enumerate(rows[0]) if label.strip() == "Quels réseaux sociaux utilisez-vous ?")
    recreated_at = 20  # from this response on, the answers are in the recreated question's column, at the end
    header = [*rows[0], rows[0][column]]
    moved = [
        [*row, ""] if number < recreated_at else [*row[:column], "", *row[column + 1 :], row[column]]
        for number, row in enumerate(rows[1:], start=1)
    ]
    write_rows(run.exports / REPONSES_FILE, [header, *moved])
    answering = sum(1 for row in rows[1:] if row[column].strip())
    assert sum(1 for row in moved if row[column].strip()) < answering  # each column alone holds fewer answers
    code, output, report = run()
    assert code == 0, output
    assert answered(run.published, "reseaux") == answered(published_sample.published_db, "reseaux")
    assert report["questions_non_cataloguees"] == published_sample.report["questions_non_cataloguees"]


def test_from_google_sheets_a_new_tab_is_counted_and_an_unrelated_one_reported_non_lu(prefect_harness, sheets_source):
    from flows.pipeline.sync import nightly_sync
    from tests.conftest import SUIVI_KEY, sample_tab

    header = sample_tab(ACTIVITES_FILE)[0]
    meetings = [activity([header], date=f"{day:02d}/03/2020", departement="03", type_action="Rencontre individuelle",
                         participants="1") for day in (5, 12)]
    sheets_source.update_tab(SUIVI_KEY, "Activités 2020", [header, *meetings])
    sheets_source.update_tab(SUIVI_KEY, "Notes", [["Note"], ["à relire"]])
    report = nightly_sync()
    assert report["statut"] == "publie"
    assert {"tableur": "Suivi", "onglet": "Activités 2020", "lignes": len(meetings)} in report["lignes_lues"]
    assert [(item["type"], item["tableur"], item["nom"]) for item in report["non_lus"]] == [("onglet", "Suivi", "Notes")]
    rows = read_rows(SAMPLE_DIR / ACTIVITES_FILE)
    column = {label: rows[0].index(label) for label in ("Date", "Département", "Type d’action")}
    in_sample = sum(  # the sample's own 2020 meetings in 03 (none today, but the figure comes from the data)
        1 for row in rows[1:]
        if row[column["Date"]].endswith("/2020") and row[column["Département"]] == "03"
        and row[column["Type d’action"]] == "Rencontre individuelle"
    )
    published = Path(report["fichier_publie"])
    assert indicators(published, 2020)[("presentations_individuelles", "03")] == in_sample + len(meetings)
    with duckdb.connect(str(published), read_only=True) as con:  # on the quality page's table too
        assert con.execute("select type, spreadsheet_title, onglet_ou_fichier from qualite.non_lus").fetchall() == [
            ("onglet", "Suivi", "Notes")
        ]
    # The next night nothing changed: the Suivi is not read again, and the page still lists the tab it left.
    quiet = nightly_sync()
    assert quiet["statut"] == "publie" and quiet["non_lus"] == []
    with duckdb.connect(quiet["fichier_publie"], read_only=True) as con:
        assert con.execute("select type, spreadsheet_title, onglet_ou_fichier from qualite.non_lus").fetchall() == [
            ("onglet", "Suivi", "Notes")
        ]


def test_a_single_choice_answered_differently_in_two_same_title_columns_counts_the_rightmost(run, published_sample):
    rows = read_rows(SAMPLE_DIR / REPONSES_FILE)
    column = next(i for i, label in enumerate(rows[0]) if label.strip() == "Combien d’échanges avez-vous par semaine ?")
    tab = "Réponses au formulaire 1"
    quarantined = {r["ligne"] for r in published_sample.report["quarantaine"] if r["onglet"] == tab}
    before = answered(published_sample.published_db, "echanges")
    # A counted response: its old answer stays in the first column, the recreated question's column (appended
    # at the right, same title) holds another option of the catalogue.
    number = next(n for n, row in enumerate(rows[1:], start=2) if row[column] in before and n not in quarantined)
    old = rows[number - 1][column]
    new = next(option for option in before if option not in (old, "Autre"))
    header = [*rows[0], rows[0][column]]
    letter = chr(ord("A") + len(rows[0]))  # the appended column's letter (the sample has fewer than 26 columns)
    assert len(rows[0]) < 26
    edited = [[*row, new if n == number else ""] for n, row in enumerate(rows[1:], start=2)]
    write_rows(run.exports / REPONSES_FILE, [header, *edited])
    code, output, report = run()
    assert code == 0, output
    after = answered(run.published, "echanges")
    # Counted once, under the rightmost answer: not « Autre », the respondents to the question unchanged.
    assert after[new][1] == before[new][1] + 1 and after[old][1] == before[old][1] - 1
    assert after.get("Autre", (0, 0))[1] == before.get("Autre", (0, 0))[1]
    assert {asked for asked, _ in after.values()} == {asked for asked, _ in before.values()}
    flagged = [c for c in report["cellules_signalees"] if c["onglet"] == tab and c["ligne"] == number]
    assert [c["colonne"].strip() for c in flagged] == [rows[0][column].strip()]
    assert f"colonne {letter}, la plus à droite, est comptée" in flagged[0]["motif"]
    assert "première colonne de ce titre" in flagged[0]["motif"]
    with duckdb.connect(str(run.published), read_only=True) as con:
        published = con.execute(
            "select lignes from qualite.cellules_signalees where onglet = 'Réponses au formulaire 1' "
            "and motif like 'Réponses différentes dans les colonnes de même titre%'"
        ).fetchall()
    assert published == [(1,)]
