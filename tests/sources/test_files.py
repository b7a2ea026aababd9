"""Files source: CSV and XLSX exports read as text, with sheet row numbers and nothing dropped."""

from datetime import date, datetime
from pathlib import Path

import pytest
from openpyxl import Workbook

from flows.errors import InputError
from flows.sources.config import parse_source_config
from flows.sources.files import extract_files, latest_date, read_folder
from flows.sources.snapshot import cell_text

CONFIG = parse_source_config(
    {
        "suivi": [{"titre": "Suivi"}],
        "questionnaires": [{"titre": "Questionnaire 2019", "annee": 2019, "ouverture": "2019-12-01", "cloture": "2020-01-31"}],
    },
    "test",
)
PROMENEURS_HEADER = "Nom,Prénom,E-mail,Département,Commune,Structure,Type de structure,Profil,Date de signature de la charte,Date de sortie"
ACTIVITES_HEADER = "Date,Département,Type d'action,Intitulé,Commune,Public,Participants,Durée (jours),Commentaire"
REPONSES_HEADER = (
    "Horodateur,Adresse e-mail,Département,Quels supports utilisez-vous ?,Quels réseaux sociaux utilisez-vous ?,"
    "Combien d'échanges avez-vous par semaine ?,Que publiez-vous sur vos profils ?,"
    "Intérêt : être présent sur les réseaux sociaux,Intérêt : faire partie du réseau Promeneurs du Net,"
    "Intérêt : les formations,Intérêt : les journées d'échanges,Commentaires"
)


def write_exports(folder: Path, activites: str) -> None:
    """A folder of Google CSV exports (CRLF, as downloaded)."""
    folder.mkdir(exist_ok=True)
    (folder / "Suivi - Promeneurs.csv").write_text(
        PROMENEURS_HEADER + "\r\nDurand,Léa,lea@example.org,03,Gannat,CS,Centre social,Référent famille,43620,\r\n",
        encoding="utf-8",
    )
    (folder / "Suivi - Activités.csv").write_text(activites, encoding="utf-8")
    (folder / "Questionnaire 2019 - Réponses au formulaire 1.csv").write_text(REPONSES_HEADER + "\r\n", encoding="utf-8")


def test_csv_blank_rows_are_kept_with_their_sheet_row_numbers(tmp_path):
    write_exports(
        tmp_path,
        ACTIVITES_HEADER + "\r\n04/06/2019,03,Formation,a,Moulins,,12,\"0,5\",\r\n,,,,,,,,\r\n\r\n2019-06-05,63,Atelier,b,,,,,\r\n",
    )
    tabs = {t.tab: t for t in extract_files(tmp_path, CONFIG)}
    activites = tabs["Activités"]
    assert activites.first_row_number == 2
    assert len(activites.cells) == 4  # two blank rows in the middle are kept
    assert activites.cells.iloc[3, 0] == "2019-06-05"  # sheet row 5
    assert activites.cells.iloc[0, 7] == "0,5"  # decimal comma left as typed
    assert set(tabs) == {"Promeneurs", "Activités", "Réponses au formulaire 1"}


def test_missing_tab_export_is_a_clear_error(tmp_path):
    write_exports(tmp_path, ACTIVITES_HEADER + "\r\n")
    (tmp_path / "Suivi - Activités.csv").unlink()
    with pytest.raises(InputError, match="Suivi.*Activités.*introuvable"):
        extract_files(tmp_path, CONFIG)


def test_xlsx_export_cells_are_rendered_like_unformatted_sheet_values(tmp_path):
    workbook = Workbook()
    sheet = workbook.active
    sheet.title = "Promeneurs"
    sheet.append(PROMENEURS_HEADER.split(","))
    sheet.append(["Martin", "Paul", "paul@example.org", 3, "Vichy", "PIJ", "PIJ", "Informateur jeunesse", date(2019, 6, 4), None])
    sheet.append([])
    activites = workbook.create_sheet("Activités")
    activites.append(ACTIVITES_HEADER.split(","))
    activites.append([datetime(2019, 6, 4, 12, 0), "03", "Formation", "x", "Moulins", "", 12, 0.5, ""])
    workbook.save(tmp_path / "Suivi.xlsx")
    (tmp_path / "Questionnaire 2019 - Réponses au formulaire 1.csv").write_text(REPONSES_HEADER + "\n", encoding="utf-8")
    tabs = {t.tab: t for t in extract_files(tmp_path, CONFIG)}
    promeneur = tabs["Promeneurs"].cells.iloc[0].tolist()
    assert promeneur[3] == "3"  # a département typed as a number arrives as 3, kept as text
    assert promeneur[8] == "43620"  # 2019-06-04 as a Sheets serial number
    assert tabs["Activités"].cells.iloc[0, 0] == "43620.5"
    assert tabs["Activités"].cells.iloc[0, 7] == "0.5"


@pytest.mark.parametrize(
    ("value", "text"),
    [(None, ""), (True, "TRUE"), (3, "3"), (3.0, "3"), (0.5, "0.5"), (date(1899, 12, 31), "1"), ("03", "03")],
)
def test_cell_text_is_lossless_text(value, text):
    assert cell_text(value) == text


# --- Every file accounted for; numbered downloads; tabs continuing a table -----------------------------------

def test_every_file_of_the_folder_is_read_ignored_by_rule_or_reported_non_lu(tmp_path):
    write_exports(tmp_path, ACTIVITES_HEADER + "\r\n")
    for name in ("sources.toml", "README.md", ".DS_Store", "~$Suivi.xlsx", "Bilan 2019 - récit.md", "notes.md",
                 "Suivi - Notes.csv", "photo.jpg"):
        (tmp_path / name).write_text("x\n", encoding="utf-8")
    (tmp_path / "archives").mkdir()
    config = parse_source_config(
        {"suivi": [{"titre": "Suivi"}],
         "questionnaires": [{"titre": "Questionnaire 2019", "annee": 2019, "ouverture": "2019-12-01", "cloture": "2020-01-31"}],
         "recits": [{"annee": 2019, "fichier": "Bilan 2019 - récit.md"}]},
        "test", base_dir=tmp_path,
    )
    read = read_folder(tmp_path, config)
    assert {s.tab for s in read.snapshots} == {"Promeneurs", "Activités", "Réponses au formulaire 1"}
    assert sorted((item.kind, item.spreadsheet, item.name, item.position) for item in read.unread) == [
        ("fichier", None, "notes.md", None),
        ("fichier", None, "photo.jpg", None),
        ("onglet", "Suivi", "Notes", None),
    ]


def test_an_empty_tab_continuing_a_table_holds_nothing(tmp_path):
    write_exports(tmp_path, ACTIVITES_HEADER + "\r\n")
    for name in ("Suivi - Promeneurs.csv", "Suivi - Activités.csv"):
        (tmp_path / name).unlink()
    workbook_with_activity(tmp_path / "Suivi.xlsx", date(2020, 3, 3), blank_tab="Activités 2021")
    tabs = {t.tab: t for t in extract_files(tmp_path, CONFIG)}
    assert tabs["Activités 2021"].contract.table_name == "activites"
    assert len(tabs["Activités 2021"].cells) == 0 and len(tabs["Activités"].cells) == 1


def workbook_with_activity(path: Path, day: date, blank_tab: str | None = None) -> None:
    """A Suivi workbook: an empty roster and one workshop on that day (and a blank tab)."""
    workbook = Workbook()
    sheet = workbook.active
    sheet.title = "Promeneurs"
    sheet.append(PROMENEURS_HEADER.split(","))
    activites = workbook.create_sheet("Activités")
    activites.append(ACTIVITES_HEADER.split(","))
    activites.append([day, "03", "Atelier", "x", "Moulins", "", 5, "", ""])
    if blank_tab:
        workbook.create_sheet(blank_tab)
    workbook.save(path)


def test_of_two_downloaded_workbooks_the_one_holding_the_latest_date_is_read(tmp_path):
    write_exports(tmp_path, ACTIVITES_HEADER + "\r\n")
    for name in ("Suivi - Promeneurs.csv", "Suivi - Activités.csv"):
        (tmp_path / name).unlink()
    workbook_with_activity(tmp_path / "Suivi.xlsx", date(2020, 5, 4))
    workbook_with_activity(tmp_path / "Suivi (1).xlsx", date(2020, 3, 2))  # downloaded later, from an old copy
    activites = next(t for t in extract_files(tmp_path, CONFIG) if t.tab == "Activités")
    assert activites.cells.iloc[0, 0] == cell_text(date(2020, 5, 4))
    assert activites.reading_note == "lu : « Suivi.xlsx », plus récent que « Suivi (1).xlsx »"


def test_a_download_without_a_readable_date_is_refused_naming_both(tmp_path):
    write_exports(tmp_path, ACTIVITES_HEADER + "\r\n04/06/2019,03,Formation,a,Moulins,,12,1,\r\n")
    (tmp_path / "Suivi - Activités (1).csv").write_text(ACTIVITES_HEADER + "\r\n", encoding="utf-8")
    with pytest.raises(InputError, match=r"« Suivi - Activités.csv » et « Suivi - Activités \(1\).csv » .*aucune date"):
        extract_files(tmp_path, CONFIG)


@pytest.mark.parametrize(
    ("text", "expected"),
    [("04/06/2019", datetime(2019, 6, 4)), ("01/01/2020 00:30:00", datetime(2020, 1, 1, 0, 30)),
     ("2019-06-05", datetime(2019, 6, 5)), ("43620.5", datetime(2019, 6, 4, 12)), ("le 3 mai", None)],
)
def test_latest_date_reads_dates_as_exports_and_workbooks_show_them(text, expected):
    rows = [["Date", "Participants"], [text, "43999"], ["", ""]]
    assert latest_date(rows) == expected
