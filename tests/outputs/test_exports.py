"""CAF exports: the XLSX equals the published mart, numbers stay numbers, formula-like text is inert."""

from __future__ import annotations

import csv
import math
from pathlib import Path

import duckdb
import pytest
from openpyxl import load_workbook
from openpyxl.utils.escape import unescape

from flows.outputs.exports import CSV_HEADER, Entete, Ligne, neutralise, write_exports, write_xlsx

# Text cells a spreadsheet would evaluate (OWASP CSV injection), and what must come out.
INJECTIONS = {
    "=HYPERLINK(\"http://example.invalid\",\"clic\")": "'=HYPERLINK(\"http://example.invalid\",\"clic\")",
    "+33 6 00 00 00 00": "'+33 6 00 00 00 00",
    "-2+3": "'-2+3",
    "@SUM(A1:A9)": "'@SUM(A1:A9)",
    "\tTabulation": "'\tTabulation",
    "\rRetour chariot": "'\rRetour chariot",
}


def make_published(path: Path, definitions: list[tuple], values: list[tuple], departements: list[tuple]) -> Path:
    """A published-like warehouse file with the three marts the exports read."""
    with duckdb.connect(str(path)) as con:
        con.execute("create schema bilan")
        con.execute(
            "create table bilan.definitions_indicateurs (indicateur varchar, libelle varchar, nature varchar,"
            " additif boolean, ordre integer, description varchar)"
        )
        con.executemany("insert into bilan.definitions_indicateurs values (?, ?, ?, ?, ?, ?)", definitions)
        con.execute(
            "create table bilan.indicateurs_annuels (annee integer, departement varchar, indicateur varchar,"
            " valeur double)"
        )
        con.executemany("insert into bilan.indicateurs_annuels values (?, ?, ?, ?)", values)
        con.execute("create table bilan.departements_reseau (departement varchar, nom_departement varchar)")
        con.executemany("insert into bilan.departements_reseau values (?, ?)", departements)
    return path


@pytest.fixture
def crafted(tmp_path: Path) -> Path:
    """Every text field of one indicator and of a département's name begins like a formula."""
    texts = list(INJECTIONS)
    definitions = [
        ("ateliers", "Ateliers", "compte", True, 1, "Nombre d'ateliers."),
        ("jours_formation", "Jours de formation", "jours", True, 2, "Somme des durées."),
        ("questionnaire_taux_participation", "Taux de participation", "taux", False, 3, "Répondants / actifs."),
        (texts[0], texts[1], "compte", True, 4, texts[2]),
        (texts[2], texts[3], "jours", True, 5, texts[4]),
        (texts[4], texts[5], "compte", True, 6, texts[0]),
    ]
    values = []
    for annee in (2018, 2019, 2020):
        for departement in ("03", "63", "ensemble"):
            values += [
                (annee, departement, "ateliers", 5.0 + annee % 10),
                (annee, departement, "jours_formation", 1.5),
                (annee, departement, "questionnaire_taux_participation", 11 / 27),
                (annee, departement, texts[0], 3.0),
                (annee, departement, texts[2], -2.5),
                (annee, departement, texts[4], 0.0),
            ]
    return make_published(
        tmp_path / "pdn.duckdb", definitions, values, [("03", "Allier"), ("63", "=1+1 (injection)")]
    )


def mart_values(published: Path, annee: int) -> dict[tuple[str, str, int], float]:
    """(département, indicateur, année) -> valeur, for every year up to `annee`."""
    with duckdb.connect(str(published), read_only=True) as con:
        rows = con.execute(
            "select departement, indicateur, annee, valeur from bilan.indicateurs_annuels where annee <= ?", [annee]
        ).fetchall()
    return {(d, i, a): v for d, i, a, v in rows}


def sheet_table(sheet, first_header: str) -> tuple[list, list[tuple]]:
    """A sheet's table below its title block: the header row (the first row whose first cell is `first_header`)
    and the cells of the rows under it."""
    header_row = next(row[0].row for row in sheet.iter_rows() if row[0].value == first_header)
    return [cell.value for cell in sheet[header_row]], list(sheet.iter_rows(min_row=header_row + 1))


def indicator_row(sheet, code: str) -> dict:
    """One indicator's cells in a département's sheet, by header (years as numbers)."""
    header, rows = sheet_table(sheet, "Indicateur")
    column = header.index("Code indicateur")
    row = next(r for r in rows if r[column].value == code)
    return {name: cell for name, cell in zip(header, row)}


def xlsx_values(xlsx: Path) -> dict[tuple[str, str, int], float]:
    """The same mapping read back from the workbook, with each sheet's département from its title."""
    workbook = load_workbook(xlsx)
    found: dict[tuple[str, str, int], float] = {}
    for sheet in workbook.worksheets:
        if sheet.title in ("Définitions", "Questionnaire", "Actions détaillées", "Révisions", "À propos"):
            continue  # not an indicator sheet
        departement = "ensemble" if not sheet.title.endswith(")") else sheet.title.rsplit("(", 1)[1].rstrip(")")
        header, rows = sheet_table(sheet, "Indicateur")
        assert header[:2] == ["Indicateur", "Code indicateur"], "the French label first"
        years = {index: value for index, value in enumerate(header) if isinstance(value, int)}
        assert years and len(years) == len(header) - 2, "every year header is a number"
        for row in rows:
            code = row[1].value.removeprefix("'") if row[1].value.startswith("'") else row[1].value
            for index, year in years.items():
                cell = row[index]
                # A figure never measured is an empty cell; every other one is a number, never text.
                assert cell.value is None or cell.data_type == "n", (sheet.title, code, year)
                found[(departement, code, year)] = cell.value
    return found


def assert_xlsx_equals_mart(xlsx: Path, published: Path, annee: int) -> None:
    """Every (département, indicator, year ≤ annee) of the mart is in the workbook, with the same number."""
    expected = mart_values(published, annee)
    got = xlsx_values(xlsx)
    assert set(got) == set(expected)
    for key, value in expected.items():
        if value is None:
            assert got[key] is None, key
            continue
        # A spreadsheet keeps 15 significant digits (openpyxl writes 16): rates like 31/75 lose the 17th.
        # Rates are published to one decimal of a percent (0.407 = 40,7 %).
        assert math.isclose(got[key], value, rel_tol=1e-15) or got[key] == round(value, 3), key


def test_xlsx_reread_equals_the_mart(crafted, tmp_path):
    xlsx, _ = write_exports(crafted, 2019, tmp_path / "rapports")
    assert_xlsx_equals_mart(xlsx, crafted, 2019)
    sheets = load_workbook(xlsx).sheetnames
    assert sheets[0] == "Allier (03)" and sheets[-2:] == ["Ensemble du réseau", "Définitions"]


def test_formula_like_text_is_inert_in_xlsx(crafted, tmp_path):
    xlsx, _ = write_exports(crafted, 2019, tmp_path / "rapports")
    workbook = load_workbook(xlsx)
    texts = [cell for sheet in workbook.worksheets for row in sheet.iter_rows() for cell in row if cell.value is not None]
    assert not [cell.coordinate for cell in texts if cell.data_type == "f"], "no cell may be a formula"
    # A control character is stored escaped (_x000D_), as Excel reads it; openpyxl leaves inline strings escaped.
    values = {unescape(cell.value) for cell in texts if cell.data_type == "s"}
    for original, inert in INJECTIONS.items():
        # XML turns a stored carriage return into a line feed on reading: the quote is what matters.
        assert inert in values or inert.replace("\r", "\n") in values, repr(original)
        assert original not in values and original.replace("\r", "\n") not in values
    assert "'=1+1 (injection) (63)" in workbook.sheetnames or "=1+1 (injection) (63)" in workbook.sheetnames
    assert sheet_table(workbook.worksheets[0], "Indicateur")[0][:2] == ["Indicateur", "Code indicateur"]


def test_formula_like_text_is_inert_in_csv_and_numbers_stay_unquoted(crafted, tmp_path):
    _, csv_path = write_exports(crafted, 2019, tmp_path / "rapports")
    raw = csv_path.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf"), "UTF-8 with BOM, so Excel reads accents right"
    text = raw.decode("utf-8-sig")
    rows = list(csv.reader(text.splitlines(keepends=True), delimiter=";"))
    assert tuple(rows[0]) == CSV_HEADER
    fields = {field for row in rows[1:] for field in row}
    for original, inert in INJECTIONS.items():
        assert inert in fields, repr(original)
        assert original not in fields
    assert "'=1+1 (injection)" in fields
    # Numbers: unquoted on the line, French decimal comma, negative numbers not treated as formulas.
    for line in text.split("\r\n")[1:]:
        if line and not line.startswith('"'):
            value = line.rsplit(";", 2)[1]
            assert not value.startswith(("'", '"')), line
            float(value.replace(",", "."))
    values = [row[6] for row in rows[1:]]
    assert "-2,5" in values and "1,5" in values and "0,407" in values and "14" in values


def test_csv_long_form_holds_every_value_of_the_mart(crafted, tmp_path):
    _, csv_path = write_exports(crafted, 2019, tmp_path / "rapports")
    rows = list(csv.reader(csv_path.read_text(encoding="utf-8-sig").splitlines(), delimiter=";"))[1:]
    got = {(r[1], r[3].removeprefix("'"), int(r[0])): float(r[6].replace(",", ".")) for r in rows}
    expected = mart_values(crafted, 2019)
    assert set(got) == set(expected)
    assert all(got[k] == v or got[k] == round(v, 3) for k, v in expected.items())


@pytest.mark.parametrize("text", ["Ateliers", "2019", "Allier (03)", "a=b", "e-mail", ""])
def test_ordinary_text_is_left_alone(text):
    assert neutralise(text) == text


def test_rates_are_rounded_to_one_decimal_of_a_percent(crafted, tmp_path):
    xlsx, csv_path = write_exports(crafted, 2019, tmp_path / "rapports")
    rate = indicator_row(load_workbook(xlsx)["Allier (03)"], "questionnaire_taux_participation")[2019]
    assert rate.value == round(11 / 27, 3) == 0.407 and rate.number_format == "0.0%"
    rates = {r.split(";")[6] for r in csv_path.read_text(encoding="utf-8-sig").splitlines() if ";taux;" in r}
    assert rates == {"0,407"}


def test_a_year_in_progress_is_marked_provisional_in_the_xlsx_and_the_csv(crafted, tmp_path):
    entete = Entete("Allier (03) et Puy-de-Dôme (63)", "30/06/2019 à 12:00", provisoire=2019)
    xlsx, csv_path = write_exports(crafted, 2019, tmp_path / "rapports", {2018: "révisé le 02/02/2019"}, entete)
    workbook = load_workbook(xlsx)
    for sheet in workbook.worksheets[:3]:
        header, _ = sheet_table(sheet, "Indicateur")
        header_row = next(row[0].row for row in sheet.iter_rows() if row[0].value == "Indicateur")
        assert header[2:] == [2018, 2019], "years stay numbers"
        statuses = [cell.value for cell in sheet[header_row - 1]]
        assert statuses[0] == "Statut des chiffres" and statuses[2:] == ["révisé le 02/02/2019", "provisoire"]
        block = [row[0].value for row in sheet.iter_rows(max_row=header_row - 2) if row[0].value]
        assert "Chiffres 2019 provisoires : l'année n'était pas terminée à la date des chiffres." in block
        assert "provisoires" in sheet.oddHeader.center.text and "30/06/2019" in sheet.oddHeader.center.text
        assert sheet.page_setup.orientation == "landscape" and sheet.sheet_properties.pageSetUpPr.fitToPage
        # One page wide (1 is the file format's default, so a writer may leave fitToWidth out), pages down.
        assert (sheet.page_setup.fitToWidth or 1) == 1 and sheet.page_setup.fitToHeight == 0
        assert sheet.print_title_rows == f"${header_row}:${header_row}"
    about = [row[0].value for row in workbook["À propos"].iter_rows()]
    assert about[0].startswith("Promeneurs du Net — Allier (03) et Puy-de-Dôme (63)") and "30/06/2019" in about[0]
    assert about[2] == "Chiffres 2019 provisoires : l'année n'était pas terminée à la date des chiffres."
    rows = list(csv.DictReader(csv_path.read_text(encoding="utf-8-sig").splitlines(), delimiter=";"))
    assert {r["Statut"] for r in rows if r["Année"] == "2019"} == {"provisoire"}
    assert {r["Statut"] for r in rows if r["Année"] == "2018"} == {"révisé le 02/02/2019"}


def test_a_finished_year_is_final_and_says_nothing_provisional(crafted, tmp_path):
    entete = Entete("Allier (03) et Puy-de-Dôme (63)", "15/01/2020 à 04:00")
    xlsx, csv_path = write_exports(crafted, 2019, tmp_path / "rapports", None, entete)
    workbook = load_workbook(xlsx)
    header, _ = sheet_table(workbook.worksheets[0], "Indicateur")
    assert header[2:] == [2018, 2019]
    assert not [row for row in workbook.worksheets[0].iter_rows() if row[0].value == "Statut des chiffres"]
    assert not any("provisoire" in str(cell.value) for sheet in workbook for row in sheet.iter_rows() for cell in row)
    with open(csv_path, encoding="utf-8-sig", newline="") as handle:
        assert {r["Statut"] for r in csv.DictReader(handle, delimiter=";")} == {"définitif"}


def test_every_sheet_opens_with_the_title_block_above_its_table(crafted, tmp_path):
    entete = Entete("Allier (03) et Puy-de-Dôme (63)", "30/06/2019 à 12:00", provisoire=2019)
    xlsx, _ = write_exports(crafted, 2019, tmp_path / "rapports", {2018: "révisé le 02/02/2019"}, entete)
    workbook = load_workbook(xlsx)
    first_headers = {"Définitions": "Indicateur", "Révisions": "Année"}
    for sheet in workbook.worksheets:
        if sheet.title == "À propos":
            continue  # the block alone
        first = first_headers.get(sheet.title, "Indicateur")
        header_row = next(row[0].row for row in sheet.iter_rows() if row[0].value == first)
        block = [sheet.cell(row=n, column=1).value for n in range(1, header_row)]
        title = block[0]
        assert title.startswith("Promeneurs du Net — Allier (03) et Puy-de-Dôme (63)"), sheet.title
        assert "2019" in title and "30/06/2019" in title, sheet.title
        assert "Chiffres 2019 provisoires : l'année n'était pas terminée à la date des chiffres." in block, sheet.title
        assert sheet.cell(row=header_row, column=1).font.bold
    allier = workbook["Allier (03)"]
    assert "Indicateurs : Allier (03)" in [row[0].value for row in allier.iter_rows(max_row=5)]
    assert indicator_row(allier, "ateliers")["Indicateur"].value == "Ateliers"
    definitions, _ = sheet_table(workbook["Définitions"], "Indicateur")
    assert definitions == ["Indicateur", "Code indicateur", "Nature", "Définition"]


def test_exports_without_a_header_still_open_with_a_title_naming_the_years(crafted, tmp_path):
    xlsx, _ = write_exports(crafted, 2019, tmp_path / "rapports")
    sheet = load_workbook(xlsx).worksheets[0]
    assert sheet["A1"].value == "Promeneurs du Net — indicateurs jusqu'à 2019"
    assert sheet_table(sheet, "Indicateur")[0][2:] == [2018, 2019]


def _line(departement: str, nom: str, annee: int = 2019) -> Ligne:
    return Ligne(annee, departement, nom, "ateliers", "Ateliers", "compte", 1, "Ateliers menés", 3.0)


def test_a_detail_table_longer_than_a_sheet_continues_on_numbered_sheets_with_every_row(tmp_path):
    from datetime import date, timedelta

    rows = [(2019, date(2019, 1, 1) + timedelta(days=n), "Allier", "03", "Atelier", f"Atelier {n}", "Moulins")
            for n in range(25)]
    xlsx = write_xlsx([_line("03", "Allier")], tmp_path / "bilan.xlsx", details={"Actions détaillées": rows},
                      max_rows=12)
    workbook = load_workbook(xlsx)
    parts = [name for name in workbook.sheetnames if name.startswith("Actions détaillées")]
    # 12 rows a sheet: the two-line title block, a blank row and the header leave 8 for data.
    assert parts == ["Actions détaillées", "Actions détaillées (2)", "Actions détaillées (3)", "Actions détaillées (4)"]
    reread = []
    for name in parts:
        header, table = sheet_table(workbook[name], "Année")
        assert header[:2] == ["Année", "Date"] and workbook[name].max_row <= 12, name
        reread += [tuple(cell.value for cell in row) for row in table]
    assert [(r[0], r[1].date(), *r[2:]) for r in reread] == rows, "every row once, in order, dates as dates"


def test_two_sheet_names_cut_to_the_same_31_characters_both_stay(tmp_path):
    long_name = "Communauté de communes du Pays de Lapalisse"
    lines = [_line("03a", long_name + " Nord"), _line("03b", long_name + " Sud")]
    names = load_workbook(write_xlsx(lines, tmp_path / "bilan.xlsx")).sheetnames
    assert len(names[:2]) == len(set(names[:2])) == 2 and all(len(name) <= 31 for name in names)
    assert names[0] == long_name[:31] and names[1].endswith("(2)")


def test_a_national_network_keeps_a_printed_header_excel_accepts(tmp_path):
    # 101 départements named in the title: far past the 255 characters Excel allows in a printed header.
    reseau = " et ".join(f"Département numéro {n} ({n:02d})" for n in range(1, 102))
    entete = Entete(reseau, "15/01/2020 à 04:00")
    sheet = load_workbook(write_xlsx([_line("03", "Allier")], tmp_path / "bilan.xlsx", entete=entete))["Allier (03)"]
    header = sheet.oddHeader.center.text
    assert header and header.startswith("Promeneurs du Net — Département numéro 1 (01)") and len(header) <= 255
