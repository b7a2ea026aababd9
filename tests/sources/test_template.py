"""`pdn modele`: the Suivi spreadsheet brought to the template on the Google emulator (real HTTP), and the .xlsx."""

from __future__ import annotations

import csv
import json
import os
import re
import subprocess
import sys
from datetime import date, datetime

import pytest
import requests
from openpyxl import load_workbook

from flows.cli import main
from flows.settings import QUIET_TOOLS_ENV, SAMPLE_DIR, load_settings
from flows.sources.config import load_source_config
from flows.sources.contract import ACTIVITES, PROMENEURS, column_letter, map_header
from flows.sources.google import SHEETS_SCOPES, WRITE_SCOPES
from flows.sources.lists import DATE_FIELDS, NUMBER_FIELDS, bundled_lists
from flows.sources.sheets import extract_google
from flows.sources.template import NOTHING_TO_CHANGE, PROTECTION_DESCRIPTION, RESERVED_ROWS
from tests.conftest import SHEETS_CONFIG, SUIVI_KEY, sample_tab

LIST_OF_FIELD = {"profil": "Profil", "type_structure": "Type de structure", "type_action": "Type d'action",
                 "public": "Public"}
# Every constrained column of the two data tabs, and the condition its validation must carry.
EXPECTED_CONDITIONS = {
    ("Promeneurs", "profil"): "ONE_OF_RANGE",
    ("Promeneurs", "type_structure"): "ONE_OF_RANGE",
    ("Promeneurs", "departement"): "ONE_OF_LIST",
    ("Promeneurs", "date_signature_charte"): "DATE_IS_VALID",
    ("Promeneurs", "date_sortie"): "DATE_IS_VALID",
    ("Activités", "date"): "DATE_IS_VALID",
    ("Activités", "departement"): "ONE_OF_LIST",
    ("Activités", "type_action"): "ONE_OF_RANGE",
    ("Activités", "public"): "ONE_OF_RANGE",
    ("Activités", "participants"): "NUMBER_BETWEEN",
    ("Activités", "duree_jours"): "NUMBER_BETWEEN",
}
SAMPLE_FILES = {"Promeneurs": "Suivi - Promeneurs.csv", "Activités": "Suivi - Activités.csv"}
# The action types dbt quarantines without a duration (int_activites_validated), in every accepted spelling.
FORMATION_SPELLINGS = [
    spelling for e in bundled_lists() if e.indicateur == "sessions_formation" for spelling in (e.valeur, *e.variantes)
]
# An Excel dropdown's workbook name: from a block's first cell, as many cells as its range holds values.
_DYNAMIC_LIST = re.compile(r"OFFSET\('Listes'!\$B\$(\d+),0,0,COUNTA\('Listes'!\$B\$(\d+):\$B\$(\d+)\),1\)")
CONTRACTS = {"Promeneurs": PROMENEURS, "Activités": ACTIVITES}


# --- reading the emulator back through its HTTP API ----------------------------------------------


def api(emulator, path: str = "", **params) -> dict:
    """GET the Sheets API of the emulator (anonymous, as the test fixtures' pipeline calls are)."""
    answer = requests.get(f"{emulator.url}/v4/spreadsheets/{SUIVI_KEY}{path}", params=params, timeout=10)
    answer.raise_for_status()
    return answer.json()


def cell_values(emulator, tab: str, render: str = "UNFORMATTED_VALUE") -> list[list]:
    return api(emulator, f"/values/'{tab}'", valueRenderOption=render).get("values", [])


def data_rows(emulator) -> dict:
    """Rows 2.. of Promeneurs and Activités, unformatted and formatted: what the coordinator typed."""
    return {
        (tab, render): cell_values(emulator, tab, render)[1:]
        for tab in SAMPLE_FILES
        for render in ("UNFORMATTED_VALUE", "FORMATTED_VALUE")
    }


def sheet_titles(emulator) -> dict[int, str]:
    sheets = api(emulator, fields="sheets.properties(sheetId,title)")["sheets"]
    return {sheet["properties"]["sheetId"]: sheet["properties"]["title"] for sheet in sheets}


def sample_positions(tab: str) -> dict[str, int]:
    """Where each contract column sits in the sample's header (its order is not the template's)."""
    return map_header(sample_tab(SAMPLE_FILES[tab])[0], CONTRACTS[tab], tab).contract_positions


def requests_of(emulator, kind: str, update: int = -1) -> list[dict]:
    return [request[kind] for request in emulator.batch_updates(SUIVI_KEY)[update]["requests"] if kind in request]


def validations_by_column(emulator, update: int = -1) -> dict[tuple[str, str], dict]:
    """The setDataValidation requests of a batchUpdate, keyed by (tab, contract field of the header as it now is)."""
    titles = sheet_titles(emulator)
    fields = {}
    for tab, contract in CONTRACTS.items():
        positions = map_header(cell_values(emulator, tab)[0], contract, tab).contract_positions
        fields[tab] = {index: name for name, index in positions.items()}
    found = {}
    for request in requests_of(emulator, "setDataValidation", update):
        grid = request["range"]
        tab = titles[grid["sheetId"]]
        assert grid["startRowIndex"] == 1 and "endRowIndex" not in grid  # rows 2 to the end of the grid
        assert grid["endColumnIndex"] == grid["startColumnIndex"] + 1
        found[(tab, fields[tab][grid["startColumnIndex"]])] = request["rule"]
    return found


def key_file(emulator, tmp_path, monkeypatch) -> str:
    """A real service-account key whose tokens come from the emulator, set as GOOGLE_APPLICATION_CREDENTIALS."""
    info = emulator.service_account_info("pdn-sync@pdn-test.iam.gserviceaccount.com")
    path = tmp_path / "cle-compte-service.json"
    path.write_text(json.dumps(info), encoding="utf-8")
    monkeypatch.setenv("GOOGLE_APPLICATION_CREDENTIALS", str(path))
    return info["client_email"]


@pytest.fixture
def formatted(sheets_source, capsys):
    """The sample after one `pdn modele`, the data rows read before it, and what it printed."""
    before = data_rows(sheets_source)
    assert main(["modele"]) == 0
    return sheets_source, before, capsys.readouterr().out


# --- Google Sheets ---------------------------------------------------------------------------------


def test_modele_sets_a_validation_on_every_constrained_column_in_one_batch_update(formatted):
    emulator, _, printed = formatted
    assert len(emulator.batch_updates(SUIVI_KEY)) == 1
    rules = validations_by_column(emulator)
    assert {place: rule["condition"]["type"] for place, rule in rules.items()} == EXPECTED_CONDITIONS
    for rule in rules.values():
        assert rule["strict"] and rule["showCustomUi"] and rule["inputMessage"]
    def values(place):
        return [value["userEnteredValue"] for value in rules[place]["condition"]["values"]]

    assert values(("Promeneurs", "departement")) == ["03", "63"]
    assert values(("Activités", "departement")) == ["03", "63", "03/63"]  # an action may concern both
    assert values(("Activités", "participants")) == ["0", "1000"]  # sources.toml [bornes]
    assert values(("Activités", "duree_jours")) == ["0", "10"]
    assert "menu déroulant « Profil » (Promeneurs, colonne H)" in printed


def test_dropdowns_point_at_their_own_block_of_the_listes_tab(formatted):
    emulator, _, _ = formatted
    for (tab, name), rule in validations_by_column(emulator).items():
        if name not in LIST_OF_FIELD:
            continue
        liste = LIST_OF_FIELD[name]
        reference = rule["condition"]["values"][0]["userEnteredValue"]
        assert reference.startswith("='Listes'!$B$")
        assert f"Choisissez une valeur de la liste « {liste} »" in rule["inputMessage"]
        assert "ligne libre" in rule["inputMessage"] and "« Listes »" in rule["inputMessage"]
        whole_rows = reference[1:].replace("$B$", "$A$", 1).replace(":$B$", ":$C$")
        block = api(emulator, f"/values/{whole_rows}")["values"]
        entries = [entry for entry in bundled_lists() if entry.liste == liste]
        assert len(block) == len(entries) + RESERVED_ROWS, liste
        assert {row[0] for row in block} == {liste}  # column A names the list on every row of the block
        assert [row[1] for row in block[: len(entries)]] == [entry.valeur for entry in entries]
        assert [row[2] if len(row) > 2 else "" for row in block[: len(entries)]] == [
            " ; ".join(entry.variantes) for entry in entries
        ]
        assert all(len(row) == 1 for row in block[len(entries):])  # reserved rows: B and C empty
    listes = cell_values(emulator, "Listes")
    assert listes[0] == ["Liste", "Valeur", "Variantes acceptées"]
    assert all(len(row) <= 3 for row in listes)  # an action type's indicator is not written


def test_header_rows_are_frozen_and_protected_once_and_data_rows_untouched(formatted):
    emulator, before, _ = formatted
    sheets = api(emulator, fields="sheets(properties(title,gridProperties),protectedRanges)")["sheets"]
    for sheet in sheets:
        assert sheet["properties"]["gridProperties"]["frozenRowCount"] == 1
        (protection,) = sheet["protectedRanges"]
        assert protection["description"] == PROTECTION_DESCRIPTION and protection["warningOnly"]
        assert (protection["range"]["startRowIndex"], protection["range"]["endRowIndex"]) == (0, 1)
    assert [sheet["properties"]["title"] for sheet in sheets] == ["Promeneurs", "Activités", "Listes"]
    assert data_rows(emulator) == before
    titles = sheet_titles(emulator)
    for request in requests_of(emulator, "updateCells"):  # values written: headers, and the Listes tab only
        assert request["start"]["rowIndex"] == 0 or titles[request["start"]["sheetId"]] == "Listes"
    text_format = {
        (titles[r["range"]["sheetId"]], r["range"]["startColumnIndex"])
        for r in requests_of(emulator, "repeatCell")
        if r["fields"] == "userEnteredFormat.numberFormat"
    }
    assert text_format == {(tab, sample_positions(tab)["departement"]) for tab in SAMPLE_FILES}


def test_modele_flags_a_formation_without_a_duration_on_the_duration_column(formatted):
    emulator, _, printed = formatted
    (flag,) = requests_of(emulator, "addConditionalFormatRule")
    (grid,) = flag["rule"]["ranges"]
    positions = sample_positions("Activités")  # the sample's order, not the template's
    duration, kind = column_letter(positions["duree_jours"]), column_letter(positions["type_action"])
    assert sheet_titles(emulator)[grid["sheetId"]] == "Activités"
    assert (grid["startRowIndex"], grid["startColumnIndex"], grid["endColumnIndex"]) == (
        1, positions["duree_jours"], positions["duree_jours"] + 1
    )
    condition = flag["rule"]["booleanRule"]["condition"]
    (formula,) = [value["userEnteredValue"] for value in condition["values"]]
    assert condition["type"] == "CUSTOM_FORMULA" and formula.startswith("=AND(")
    assert FORMATION_SPELLINGS == ["Formation", "Formations"]
    for spelling in FORMATION_SPELLINGS:
        assert f'TRIM(${kind}2)="{spelling}"' in formula
    assert f'${duration}2=""' in formula and f"${duration}2=0" in formula and "Atelier" not in formula
    assert flag["rule"]["booleanRule"]["format"]["backgroundColor"]["red"] == 1
    assert f"surlignée en rouge quand une Formation n'a pas de durée (Activités, colonne {duration})" in printed


def test_modele_sets_every_header_in_bold_and_nothing_below(formatted):
    emulator, _, printed = formatted
    sheets = api(emulator, includeGridData="true", ranges=["'Promeneurs'!1:2", "'Activités'!1:2", "'Listes'!1:2"],
                 fields="sheets(properties.title,data.rowData.values(formattedValue,userEnteredFormat))")["sheets"]
    for sheet in sheets:
        header, second = (row.get("values", []) for row in sheet["data"][0]["rowData"][:2])
        title = sheet["properties"]["title"]
        labels = [cell for cell in header if cell.get("formattedValue")]
        assert labels and all(cell["userEnteredFormat"]["textFormat"]["bold"] for cell in labels), title
        assert not any(cell.get("userEnteredFormat", {}).get("textFormat", {}).get("bold") for cell in second), title
        assert f"ligne d'en-tête en gras ({title})" in printed


def test_only_tabs_the_template_writes_get_columns_as_wide_as_their_longest_value(sheets_source, capsys):
    sheets_source.update_tab(SUIVI_KEY, "Activités", [])  # a blank tab: its header is written by the template
    assert main(["modele"]) == 0
    titles = sheet_titles(sheets_source)
    widths = {
        (titles[r["range"]["sheetId"]], r["range"]["startIndex"]): r["properties"]["pixelSize"]
        for r in requests_of(sheets_source, "updateDimensionProperties")
    }
    assert {tab for tab, _ in widths} == {"Activités", "Listes"}  # Promeneurs is in use: its widths are hers
    activites = list(ACTIVITES.columns)
    longest_type = max((e.valeur for e in bundled_lists() if e.liste == "Type d'action"), key=len)
    assert widths[("Activités", activites.index("type_action"))] >= 7 * len(longest_type)
    assert widths[("Activités", activites.index("commentaire"))] >= 7 * len("Commentaire")
    longest_value = max((e.valeur for e in bundled_lists()), key=len)
    assert widths[("Listes", 1)] >= 7 * len(longest_value)


def test_a_second_run_sends_nothing_and_says_so(formatted, capsys):
    emulator, _, _ = formatted
    emulator.reset_log()
    assert main(["modele"]) == 0
    assert NOTHING_TO_CHANGE in capsys.readouterr().out
    assert len(emulator.batch_updates(SUIVI_KEY)) == 1
    assert [request.kind for request in emulator.requests] == ["metadata"]  # one read, nothing else


def test_a_validation_changed_by_the_coordinator_is_the_only_one_restored(formatted, capsys):
    emulator, _, _ = formatted
    titles = {title: sheet_id for sheet_id, title in sheet_titles(emulator).items()}
    column = sample_positions("Promeneurs")["profil"]
    hers = {"condition": {"type": "ONE_OF_LIST", "values": [{"userEnteredValue": "Animateur"}]}, "showCustomUi": True}
    grid = {"sheetId": titles["Promeneurs"], "startRowIndex": 1, "startColumnIndex": column,
            "endColumnIndex": column + 1}
    answer = requests.post(
        f"{emulator.url}/v4/spreadsheets/{SUIVI_KEY}:batchUpdate",
        json={"requests": [{"setDataValidation": {"range": grid, "rule": hers}}]},
        timeout=10,
    )
    assert answer.status_code == 200
    assert main(["modele"]) == 0
    assert "la règle en place était différente" in capsys.readouterr().out
    (restored,) = emulator.batch_updates(SUIVI_KEY)[-1]["requests"]
    assert restored["setDataValidation"]["range"] == grid
    assert restored["setDataValidation"]["rule"]["condition"]["type"] == "ONE_OF_RANGE"


@pytest.mark.parametrize("share", ["reader", False])
def test_a_spreadsheet_not_shared_as_editor_is_refused_in_french_and_nothing_is_written(sheets_source, share, capsys):
    sheets_source.set_shared(SUIVI_KEY, share)
    before = sheets_source.to_document()
    assert main(["modele"]) == 2
    err = capsys.readouterr().err
    assert "« Éditeur »" in err and "Partager" in err and "créez le tableur dans votre propre Drive" in err
    assert "Traceback" not in err and "APIError" not in err
    assert sheets_source.batch_updates(SUIVI_KEY) == []
    assert sheets_source.to_document() == before


def test_only_modele_is_granted_the_write_scope(sheets_source, tmp_path, monkeypatch, capsys):
    account = key_file(sheets_source, tmp_path, monkeypatch)
    assert main(["modele"]) == 0
    assert sheets_source.granted_scopes(account) == set(WRITE_SCOPES)
    issued = len(sheets_source.issued_tokens)
    settings = load_settings()
    extract_google(load_source_config(settings.sources_file), settings, full=True)  # the sync's read
    sync_tokens = sheets_source.issued_tokens[issued:]
    assert sync_tokens and all(token.scopes == set(SHEETS_SCOPES) for token in sync_tokens)


def test_a_revoked_key_is_refused_in_french(sheets_source, tmp_path, monkeypatch, capsys):
    sheets_source.revoke_key(key_file(sheets_source, tmp_path, monkeypatch))
    assert main(["modele"]) == 2
    assert "Clé refusée par Google" in capsys.readouterr().err
    assert sheets_source.batch_updates(SUIVI_KEY) == []


def test_missing_required_columns_are_appended_and_an_empty_tab_gets_the_header(sheets_source, capsys):
    rows = sample_tab(SAMPLE_FILES["Promeneurs"])
    drop = sample_positions("Promeneurs")["profil"]
    rows = [row[:drop] + row[drop + 1 :] for row in rows]
    sheets_source.update_tab(SUIVI_KEY, "Promeneurs", rows)
    sheets_source.update_tab(SUIVI_KEY, "Activités", [])
    promeneurs_before = cell_values(sheets_source, "Promeneurs")[1:]
    assert main(["modele"]) == 0
    printed = capsys.readouterr().out
    header = cell_values(sheets_source, "Promeneurs")[0]
    assert header == rows[0] + ["Profil"]  # added after the last used column, the rest left as it was
    assert cell_values(sheets_source, "Promeneurs")[1:] == promeneurs_before
    assert cell_values(sheets_source, "Activités") == [list(ACTIVITES.columns.values())]
    first_free = column_letter(len(rows[0]))
    assert f"ajoutée(s) à la fin de l'en-tête (Promeneurs, à partir de la colonne {first_free})" in printed
    assert "en-tête du modèle écrit en ligne 1 (Activités)" in printed
    rules = validations_by_column(sheets_source)
    assert rules[("Promeneurs", "profil")]["condition"]["type"] == "ONE_OF_RANGE"
    assert {place for place in rules} == set(EXPECTED_CONDITIONS)


def test_a_header_below_blank_rows_is_refused_without_writing_anything(sheets_source, capsys):
    sheets_source.update_tab(SUIVI_KEY, "Promeneurs", [[], [], *sample_tab(SAMPLE_FILES["Promeneurs"])])
    assert main(["modele"]) == 2
    err = capsys.readouterr().err
    assert "onglet « Promeneurs » : la ligne 1 est vide mais l'onglet contient des données plus bas" in err
    assert sheets_source.batch_updates(SUIVI_KEY) == []


def test_a_coordinator_made_listes_tab_is_kept_and_scattered_lists_fall_back_to_fixed_values(sheets_source, capsys):
    listes = [["Liste", "Valeur"], ["Profil", "Coordinatrice"], ["Public", "Jeunes"], ["Public"],
              ["Profil", "Animateur"], ["Type d'action", "Atelier"]]
    sheets_source.update_tab(SUIVI_KEY, "Listes", listes)
    assert main(["modele"]) == 0
    printed = capsys.readouterr().out
    assert cell_values(sheets_source, "Listes") == listes  # never rewritten once filled
    rules = validations_by_column(sheets_source)
    profil = rules[("Promeneurs", "profil")]["condition"]
    assert profil["type"] == "ONE_OF_LIST"
    bundled = [e.valeur for e in bundled_lists() if e.liste == "Profil"]
    assert [value["userEnteredValue"] for value in profil["values"]] == bundled + ["Coordinatrice", "Animateur"]
    assert rules[("Activités", "public")]["condition"]["values"] == [{"userEnteredValue": "='Listes'!$B$3:$B$4"}]
    assert rules[("Activités", "type_action")]["condition"]["values"] == [{"userEnteredValue": "='Listes'!$B$6:$B$6"}]
    assert rules[("Promeneurs", "type_structure")]["condition"]["type"] == "ONE_OF_LIST"
    assert "Attention" in printed and "« Profil » ne se suivent pas" in printed
    assert "« Type de structure » sont absentes" in printed and "relancez « pdn modele »" in printed


def test_several_suivi_entries_need_cle_and_cle_accepts_an_address(sheets_source, tmp_path, monkeypatch, capsys):
    config = tmp_path / "deux-suivis.toml"
    config.write_text(
        SHEETS_CONFIG.replace("[[questionnaires]]", '[[suivi]]\ntitre = "Autre"\ncle = "1AutreSuivi-0000"\n\n'
                              "[[questionnaires]]", 1),
        encoding="utf-8",
    )
    monkeypatch.setenv("PDN_SOURCES", str(config))
    assert main(["modele"]) == 2
    assert "--cle" in capsys.readouterr().err
    assert main(["modele", "--cle", f"https://docs.google.com/spreadsheets/d/{SUIVI_KEY}/edit#gid=0"]) == 0
    assert len(sheets_source.batch_updates(SUIVI_KEY)) == 1


def test_a_formatted_spreadsheet_still_syncs_and_publishes_the_2019_figures(prefect_harness, formatted, warehouse):
    from flows.pipeline.sync import nightly_sync
    from tests.pipeline.test_sync_sample import EXPECTED_2019, indicators

    report = nightly_sync()
    assert report["statut"] == "publie"
    values = indicators(warehouse.published_db)
    for indicateur in ("promeneurs_actifs_fin_annee", "types_profils", "ateliers"):
        got = tuple(values[(indicateur, departement)] for departement in ("03", "63", "ensemble"))
        assert got == pytest.approx(EXPECTED_2019[indicateur]), indicateur


# --- Excel ---------------------------------------------------------------------------------------


def test_xlsx_template_has_the_right_validation_on_every_constrained_column(sheets_source, tmp_path, capsys):
    path = tmp_path / "Suivi.xlsx"
    assert main(["modele", "--xlsx", str(path)]) == 0
    assert sheets_source.requests == []  # no Google call at all
    assert str(path) in capsys.readouterr().out
    book = load_workbook(path)
    assert book.sheetnames == ["Promeneurs", "Activités", "Listes"]
    listes = book["Listes"]
    wanted = {
        "ONE_OF_RANGE": ("list", None), "ONE_OF_LIST": ("list", None), "DATE_IS_VALID": ("date", "greaterThanOrEqual"),
        "NUMBER_BETWEEN": (None, "between"),
    }
    for tab, contract in CONTRACTS.items():
        sheet = book[tab]
        assert [cell.value for cell in sheet[1]] == list(contract.columns.values())
        assert sheet.freeze_panes == "A2"
        by_column = {
            str(validation.sqref).split(":")[0].rstrip("0123456789"): validation
            for validation in sheet.data_validations.dataValidation
        }
        constrained = {name for (t, name) in EXPECTED_CONDITIONS if t == tab}
        assert set(by_column) == {column_letter(list(contract.columns).index(name)) for name in constrained}
        for name in constrained:
            validation = by_column[column_letter(list(contract.columns).index(name))]
            kind, operator = wanted[EXPECTED_CONDITIONS[(tab, name)]]
            assert validation.type == (kind or ("whole" if name == "participants" else "decimal")), name
            assert validation.operator == operator or operator is None, name
            assert validation.prompt and validation.showErrorMessage
            if name in LIST_OF_FIELD:
                first, last = named_block(book, validation.formula1)
                entries = [e for e in bundled_lists() if e.liste == LIST_OF_FIELD[name]]
                assert last - first + 1 == len(entries) + RESERVED_ROWS
                assert [listes.cell(r, 2).value for r in range(first, last + 1)] == [e.valeur for e in entries] + [
                    None
                ] * RESERVED_ROWS
                assert {listes.cell(r, 1).value for r in range(first, last + 1)} == {LIST_OF_FIELD[name]}
            elif name == "departement":
                assert validation.formula1 == ('"03,63,03/63"' if tab == "Activités" else '"03,63"')
                assert sheet.column_dimensions[column_letter(list(contract.columns).index(name))].number_format == "@"
            elif name.startswith("date"):
                assert validation.formula1 == str((date(2010, 1, 1) - date(1899, 12, 30)).days)
            else:
                assert (validation.formula1, validation.formula2) == ("0", "1000" if name == "participants" else "10")


def test_xlsx_template_refuses_to_overwrite_a_file(sheets_source, tmp_path, capsys):
    path = tmp_path / "Suivi.xlsx"
    assert main(["modele", "--xlsx", str(path)]) == 0
    written = path.read_bytes()
    assert main(["modele", "--xlsx", str(path)]) == 2
    assert "existe déjà" in capsys.readouterr().err
    assert path.read_bytes() == written


def named_block(book, name: str) -> tuple[int, int]:
    """The rows of `Listes` a dropdown's workbook name counts its values in (its OFFSET/COUNTA formula)."""
    match = _DYNAMIC_LIST.fullmatch(book.defined_names[name].attr_text)
    assert match and match.group(1) == match.group(2), book.defined_names[name].attr_text
    return int(match.group(2)), int(match.group(3))


def dropdown_entries(book, name: str) -> list:
    """What Excel's dropdown of a named list offers: from the block's first cell, as many cells as COUNTA counts."""
    first, last = named_block(book, name)
    listes = book["Listes"]
    count = sum(listes.cell(row, 2).value not in (None, "") for row in range(first, last + 1))
    return [listes.cell(row, 2).value for row in range(first, first + count)]


def header_letters(sheet, contract) -> dict[str, str]:
    """Contract field -> column letter, read from the header row of the file."""
    positions = map_header([cell.value for cell in sheet[1]], contract, sheet.title).contract_positions
    return {name: column_letter(index) for name, index in positions.items()}


def list_validations(sheet) -> dict[str, object]:
    """The list validations of a tab, by column letter."""
    return {
        str(v.sqref).split(":")[0].rstrip("0123456789"): v for v in sheet.data_validations.dataValidation
        if v.type == "list"
    }


@pytest.fixture
def xlsx_template(sheets_source, tmp_path):
    """A template written by `pdn modele --xlsx`, opened with openpyxl."""
    path = tmp_path / "Suivi.xlsx"
    assert main(["modele", "--xlsx", str(path)]) == 0
    return path, load_workbook(path)


def test_xlsx_headers_are_bold_and_frozen_on_every_tab(xlsx_template):
    _, book = xlsx_template
    for sheet in book:
        assert sheet.freeze_panes == "A2", sheet.title
        header = [cell for cell in sheet[1] if cell.value]
        assert header and all(cell.font.b for cell in header), sheet.title
        assert not any(cell.font.b for row in sheet.iter_rows(min_row=2, max_row=5) for cell in row)


def test_xlsx_dropdowns_offer_every_list_value_and_no_blank_entry(xlsx_template):
    path, book = xlsx_template
    for tab, contract in CONTRACTS.items():
        letters = header_letters(book[tab], contract)
        validations = list_validations(book[tab])
        for name, liste in LIST_OF_FIELD.items():
            if name not in letters:
                continue
            offered = dropdown_entries(book, validations[letters[name]].formula1)
            assert offered == [e.valeur for e in bundled_lists() if e.liste == liste], (tab, name)
        fixed = validations[letters["departement"]].formula1.strip('"').split(",")
        assert fixed and all(value.strip() for value in fixed)
    # The coordinator's addition on the first free row of a block joins its dropdown, still without blanks.
    name = list_validations(book["Activités"])[header_letters(book["Activités"], ACTIVITES)["public"]].formula1
    first, _ = named_block(book, name)
    bundled = [e.valeur for e in bundled_lists() if e.liste == "Public"]
    book["Listes"].cell(first + len(bundled), 2).value = "Familles"
    book.save(path)
    assert dropdown_entries(load_workbook(path), name) == bundled + ["Familles"]


def test_xlsx_list_columns_are_wide_enough_for_their_longest_value(xlsx_template):
    _, book = xlsx_template
    for tab, contract in CONTRACTS.items():
        sheet, letters = book[tab], header_letters(book[tab], contract)
        validations = list_validations(sheet)
        for name, letter in letters.items():
            if name in LIST_OF_FIELD:
                values = [e.valeur for e in bundled_lists() if e.liste == LIST_OF_FIELD[name]]
            elif name == "departement":
                values = validations[letter].formula1.strip('"').split(",")
            else:
                values = []
            longest = max([contract.columns[name], *values], key=len)
            assert sheet.column_dimensions[letter].width >= len(longest), (tab, name, longest)
    listes = book["Listes"]
    assert listes.column_dimensions["A"].width >= max(len(e.liste) for e in bundled_lists())
    assert listes.column_dimensions["B"].width >= max(len(e.valeur) for e in bundled_lists())


def test_xlsx_flags_a_formation_without_a_duration_on_the_duration_column(xlsx_template):
    _, book = xlsx_template
    sheet = book["Activités"]
    letters = header_letters(sheet, ACTIVITES)
    duration, kind = letters["duree_jours"], letters["type_action"]
    (flag,) = sheet.conditional_formatting  # one flagged range, on Activités only
    assert str(flag.sqref) == f"{duration}2:{duration}1048576"
    (rule,) = flag.rules
    (formula,) = rule.formula
    assert FORMATION_SPELLINGS == ["Formation", "Formations"]
    for spelling in FORMATION_SPELLINGS:
        assert f'TRIM(${kind}2)="{spelling}"' in formula
    assert f'${duration}2=""' in formula and f"${duration}2=0" in formula  # empty, or 0 as dbt counts it
    assert "Atelier" not in formula
    assert rule.dxf.fill.fgColor.rgb.endswith("FFC7CE")
    assert not any(book[tab].conditional_formatting for tab in ("Promeneurs", "Listes"))
    duration_validation = next(
        v for v in sheet.data_validations.dataValidation if str(v.sqref).startswith(f"{duration}2:")
    )
    assert "Obligatoire pour une Formation" in duration_validation.prompt


def test_modele_xlsx_runs_without_pdn_sources_in_a_folder_without_sources_toml(tmp_path):
    folder = tmp_path / "dossier vide"
    folder.mkdir()
    env = {key: value for key, value in os.environ.items() if not key.startswith(("PDN_", "GOOGLE_"))}
    env |= QUIET_TOOLS_ENV | {"PDN_WAREHOUSE_DIR": str(tmp_path / "entrepot")}
    done = subprocess.run(
        [sys.executable, "-m", "flows.cli", "modele", "--xlsx", "Suivi.xlsx"],
        cwd=folder, env=env, capture_output=True, text=True, timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert "Modèle écrit : Suivi.xlsx" in done.stdout and "échantillon fourni" in done.stdout
    assert sorted(p.name for p in folder.iterdir()) == ["Suivi.xlsx"]
    book = load_workbook(folder / "Suivi.xlsx")
    sample = load_source_config(SAMPLE_DIR / "sources.toml")
    departements = list_validations(book["Activités"])[header_letters(book["Activités"], ACTIVITES)["departement"]]
    assert departements.formula1 == '"' + ",".join([*sample.departements, "/".join(sample.departements)]) + '"'
    numbers = {v.type: v.formula2 for v in book["Activités"].data_validations.dataValidation}
    assert numbers["whole"] == f"{sample.bounds.participants_max:g}"
    assert numbers["decimal"] == f"{sample.bounds.duree_jours_max:g}"


def excel_cell(field: str, text: str):
    """A sample cell as the coordinator types it in Excel: dates and numbers as such (Excel reads « 2018-12-06 » and
    « 06/12/2018 » alike), anything else as the text it is."""
    text = text.strip()
    if not text:
        return None
    for fmt in ("%d/%m/%Y", "%Y-%m-%d"):
        if field in DATE_FIELDS and re.fullmatch(r"[\d/-]+", text):
            try:
                return datetime.strptime(text, fmt)
            except ValueError:
                pass
    if field in NUMBER_FIELDS and re.fullmatch(r"\d+(,\d+)?", text):
        return float(text.replace(",", ".")) if "," in text else int(text)
    return text


def test_xlsx_template_filled_with_the_sample_rows_publishes_the_sample_figures(
    prefect_harness, published_sample, xlsx_template, tmp_path
):
    from tests.pipeline.test_duplicates import sync_folder
    from tests.pipeline.test_sync_sample import indicators
    from tests.test_bad_input import sample_copy

    path, book = xlsx_template
    for tab, file_name in SAMPLE_FILES.items():
        with open(SAMPLE_DIR / file_name, encoding="utf-8", newline="") as handle:
            rows = list(csv.reader(handle))
        positions = map_header(rows[0], CONTRACTS[tab], tab).contract_positions
        for row in rows[1:]:
            book[tab].append([
                excel_cell(name, row[positions[name]]) if name in positions else None for name in CONTRACTS[tab].columns
            ])
    exports = sample_copy(tmp_path / "copie")
    for file_name in SAMPLE_FILES.values():
        (exports / file_name).unlink()
    book.save(exports / "Suivi.xlsx")
    code, report = sync_folder(tmp_path / "copie", exports)
    assert code == 0 and report["statut"] == "publie"
    published = tmp_path / "copie" / "warehouse" / "pdn.duckdb"
    expected = indicators(published_sample.published_db, 2019)
    assert expected and indicators(published, 2019) == expected
