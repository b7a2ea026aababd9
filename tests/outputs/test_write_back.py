"""The « À corriger » tab ([retour]): real syncs against the Google emulator, the tab read back over its HTTP API;
and `a-corriger.xlsx` beside the exports of `pdn synchroniser --source`."""

from __future__ import annotations

import json
import re
import shutil
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

import duckdb
import pytest
import requests
from openpyxl import load_workbook

from flows.cli import main
from flows.errors import GateFailed
from flows.ops.summary import format_summary
from flows.outputs.write_back import COLUMNS, NOTHING, PROTECTION, TO_DELETE, XLSX_NAME
from flows.pipeline.sync import nightly_sync
from flows.settings import SAMPLE_DIR
from flows.sources.contract import column_letter, normalise_label
from flows.sources.google import SHEETS_SCOPES, WRITE_SCOPES
from flows.vocabulary import CORRECTIONS_TAB
from tests.conftest import (
    QUESTIONNAIRE_2020_KEY,
    QUESTIONNAIRE_KEY,
    SHEETS_CONFIG,
    SUIVI_KEY,
    sample_tab,
    serve_sample,
    use_warehouse,
    use_warehouse_and_files,
)
from tests.google_emulator import GoogleEmulator

RETOUR = "\n[retour]\nactif = true\n"
WRITES = ("batchUpdate", "valuesBatchUpdate")
LINK = re.compile(r"^https://docs\.google\.com/spreadsheets/d/([^/]+)/edit#gid=(\d+)&range=([A-Z]*\d+(?::\d+)?)$")


def read_tab(emulator: GoogleEmulator, key: str, a1: str = f"'{CORRECTIONS_TAB}'") -> list[list[str]]:
    """A range's displayed values, through the emulator's HTTP API (values.get)."""
    answer = requests.get(f"{emulator.url}/v4/spreadsheets/{key}/values/{quote(a1)}", timeout=10)
    answer.raise_for_status()
    return answer.json().get("values", [])


def sheets_of(emulator: GoogleEmulator, key: str) -> dict[str, dict]:
    """Each tab's properties and protections, by title (spreadsheets.get)."""
    fields = "sheets(properties(sheetId,title),protectedRanges)"
    answer = requests.get(f"{emulator.url}/v4/spreadsheets/{key}", params={"fields": fields}, timeout=10)
    answer.raise_for_status()
    return {sheet["properties"]["title"]: sheet for sheet in answer.json()["sheets"]}


def listed_lines(rows: list[list[str]]) -> dict[tuple[str, str, str], list[str]]:
    """The tab's lines below its column header, by (tab, row, column)."""
    start = rows.index(COLUMNS) + 1
    lines = [row + [""] * (len(COLUMNS) - len(row)) for row in rows[start:] if len(row) >= 5 and row[1]]
    return {(line[0], line[1], line[2]): line for line in lines}


def build_problems(root: Path, title: str) -> set[tuple[str, str, str]]:
    """Every quarantined row and flagged cell of one spreadsheet in the private build, as (tab, row, column)."""
    with duckdb.connect(str(root / "private" / "build" / "work.duckdb"), read_only=True) as con:
        rows = con.execute(
            "select onglet, numero_ligne::varchar, '' from int_lignes_quarantaine where spreadsheet_title = ? "
            "union all select onglet, numero_ligne::varchar, colonne from int_cellules_signalees "
            "where spreadsheet_title = ?",
            [title, title],
        ).fetchall()
    return set(rows)


def writes(emulator: GoogleEmulator, key: str) -> int:
    return sum(emulator.count(kind=kind, spreadsheet_id=key) for kind in WRITES)


@dataclass
class Run:
    report: dict
    suivi: list[list[str]]  # the Suivi's « À corriger » tab after the run
    problems: set[tuple[str, str, str]]  # the Suivi's problems in that run's build
    writes: dict[str, int]  # write requests per spreadsheet key


@dataclass
class World:
    root: Path
    emulator: GoogleEmulator
    runs: list[Run]
    tokens: list[frozenset[str]]  # the scopes of each token, in the order they were issued
    tokens_after_off: list[frozenset[str]]  # of the run with [retour] off
    erased_email: str
    erased_name: tuple[str, str]
    erased_row: int


def _sync(emulator: GoogleEmulator, root: Path) -> Run:
    emulator.reset_log()
    report = nightly_sync()
    keys = (SUIVI_KEY, QUESTIONNAIRE_KEY, QUESTIONNAIRE_2020_KEY)
    return Run(
        report, read_tab(emulator, SUIVI_KEY), build_problems(root, "Suivi"), {k: writes(emulator, k) for k in keys}
    )


def _fixed(rows: list[list], row: int, column: str, value) -> list[list]:
    """The tab's rows with one cell replaced (row: the sheet row number)."""
    rows = [list(r) for r in rows]
    rows[row - 1][[normalise_label(h) for h in rows[0]].index(normalise_label(column))] = value
    return rows


@pytest.fixture(scope="module")
def world(prefect_harness, tmp_path_factory):
    """Syncs of the emulated sample with [retour] on (Questionnaire 2019 shared as Viewer only): a first one, an
    unchanged one, one after two rows were fixed, one with [retour] off, then an erasure and the sync after it."""
    root = tmp_path_factory.mktemp("retour")
    config = root / "sources.toml"
    config.write_text(SHEETS_CONFIG + RETOUR, encoding="utf-8")
    promeneurs = sample_tab("Suivi - Promeneurs.csv")
    with GoogleEmulator() as emulator, pytest.MonkeyPatch.context() as patch:
        serve_sample(emulator)
        emulator.set_shared(QUESTIONNAIRE_KEY, "reader")
        use_warehouse(patch, root)
        patch.setenv("PDN_SOURCES", str(config))
        patch.setenv("PDN_SHEETS_API_URL", emulator.url)
        info = emulator.service_account_info("pdn-sync@pdn-test.iam.gserviceaccount.com")
        (root / "cle.json").write_text(json.dumps(info), encoding="utf-8")
        patch.setenv("GOOGLE_APPLICATION_CREDENTIALS", str(root / "cle.json"))
        runs = [_sync(emulator, root), _sync(emulator, root)]
        activites = _fixed(sample_tab("Suivi - Activités.csv"), 53, "Type d’action", "Rencontre individuelle")
        emulator.update_tab(SUIVI_KEY, "Activités", activites, modified_time="2020-03-01T10:00:00.000Z")
        promeneurs = _fixed(promeneurs, 31, "Date de sortie", "")
        emulator.update_tab(SUIVI_KEY, "Promeneurs", promeneurs, modified_time="2020-03-01T10:00:00.000Z")
        runs.append(_sync(emulator, root))
        tokens = [frozenset(t.scopes) for t in emulator.issued_tokens]
        config.write_text(SHEETS_CONFIG, encoding="utf-8")
        emulator.expire_tokens()
        issued = len(emulator.issued_tokens)
        runs.append(_sync(emulator, root))
        tokens_after_off = [frozenset(t.scopes) for t in emulator.issued_tokens[issued:]]
        config.write_text(SHEETS_CONFIG + RETOUR, encoding="utf-8")
        erased_row = 10
        erased = promeneurs[erased_row - 1]
        assert main(["oubli", "--email", erased[2], "--oui"]) == 0
        # Any later edit of the spreadsheet makes the sync read it again, and find her row still there.
        emulator.update_tab(SUIVI_KEY, "Promeneurs", promeneurs, modified_time="2020-05-01T10:00:00.000Z")
        runs.append(_sync(emulator, root))
        yield World(root, emulator, runs, tokens, tokens_after_off, erased[2], (erased[0], erased[1]), erased_row)


def test_the_tab_lists_exactly_the_spreadsheets_current_problems(world):
    first = world.runs[0]
    assert first.report["statut"] == "publie"
    assert first.suivi[0][0].startswith("À corriger : synchronisation du ")
    assert set(listed_lines(first.suivi)) == first.problems and len(first.problems) >= 4


def test_rows_fixed_in_the_sheet_disappear_at_the_next_sync(world):
    first, _, after_fix = world.runs[:3]
    fixed = {("Activités", "53", ""), ("Promeneurs", "31", "")}
    assert fixed <= set(listed_lines(first.suivi))
    assert set(listed_lines(after_fix.suivi)) == after_fix.problems == first.problems - fixed
    assert after_fix.writes[SUIVI_KEY] == 2  # one batchUpdate and one values write


def test_links_open_the_right_cell_of_the_right_tab(world):
    rows = world.runs[0].suivi
    gids = {title: sheet["properties"]["sheetId"] for title, sheet in sheets_of(world.emulator, SUIVI_KEY).items()}
    headers = {
        "Activités": sample_tab("Suivi - Activités.csv")[0],
        "Promeneurs": sample_tab("Suivi - Promeneurs.csv")[0],
    }
    for (tab, row, column), line in listed_lines(rows).items():
        key, gid, a1 = LINK.match(line[5]).groups()
        assert key == SUIVI_KEY and int(gid) == gids[tab]
        if column:
            letter = column_letter([normalise_label(h) for h in headers[tab]].index(normalise_label(column)))
            assert a1 == f"{letter}{row}"
            assert read_tab(world.emulator, SUIVI_KEY, f"'{tab}'!{a1}")  # the cell exists and holds a value
        else:
            assert a1 == f"{row}:{row}"
    assert ("Activités", "38", "Intitulé") in listed_lines(rows)  # a flagged cell, linked to its column


def test_an_unchanged_list_costs_no_request_at_all(world):
    second = world.runs[1]
    assert second.report["statut"] == "publie"
    assert second.writes[SUIVI_KEY] == 0 and second.writes[QUESTIONNAIRE_2020_KEY] == 0
    assert {t["tableur"]: t["etat"] for t in second.report["a_corriger"]}["Suivi"] == "inchange"


def test_the_sync_does_not_report_its_own_tab_as_unread(world):
    second = world.runs[1]  # the first run's write changed the Suivi: read again, « À corriger » included
    assert {row["onglet"] for row in second.report["lignes_lues"] if row["tableur"] == "Suivi"} == {
        "Promeneurs",
        "Activités",
    }
    assert world.runs[0].writes[SUIVI_KEY] == 2 and second.report["requetes_sheets"] > 3
    assert not [item for item in second.report["non_lus"] if item["nom"] == CORRECTIONS_TAB]


def test_a_spreadsheet_without_problems_says_rien_a_corriger(world):
    rows = read_tab(world.emulator, QUESTIONNAIRE_2020_KEY)
    assert rows[0][0].startswith("À corriger : synchronisation du ") and [NOTHING] in rows
    assert world.runs[0].writes[QUESTIONNAIRE_2020_KEY] == 2


def test_a_viewer_only_share_gives_a_french_warning_and_the_sync_still_publishes(world):
    first = world.runs[0]
    failed = {t["tableur"]: t for t in first.report["a_corriger"]}["Questionnaire 2019"]
    assert first.report["statut"] == "publie" and failed["etat"] == "echec"
    assert "403" in failed["message"] and "Éditeur" in failed["message"]
    assert "pdn-sync@pdn-test.iam.gserviceaccount.com" in failed["message"]
    summary = format_summary(first.report)
    assert "Attention : l'onglet « À corriger » du tableur « Questionnaire 2019 » n'a pas été écrit" in summary
    assert world.emulator.count(kind="batchUpdate", spreadsheet_id=QUESTIONNAIRE_KEY, status=403) == 1
    assert CORRECTIONS_TAB not in sheets_of(world.emulator, QUESTIONNAIRE_KEY)


def test_only_the_tab_is_written_and_it_is_protected_by_a_warning(world):
    sheets = sheets_of(world.emulator, SUIVI_KEY)
    tab_id = sheets[CORRECTIONS_TAB]["properties"]["sheetId"]
    for body in world.emulator.batch_updates(SUIVI_KEY):
        for request in body["requests"]:
            (payload,) = request.values()
            ids = {v for k, v in _walk(payload) if k == "sheetId"}
            assert ids == {tab_id}, request
    for body in world.emulator.values_batch_updates(SUIVI_KEY):
        assert [data["range"] for data in body["data"]] == [f"'{CORRECTIONS_TAB}'!A1"]
    (protection,) = sheets[CORRECTIONS_TAB]["protectedRanges"]
    assert protection["warningOnly"] is True and protection["description"] == PROTECTION


def _walk(value, key=None):
    """Every (key, value) pair of a JSON tree."""
    if isinstance(value, dict):
        for k, v in value.items():
            yield from _walk(v, k)
    elif isinstance(value, list):
        for v in value:
            yield from _walk(v, key)
    else:
        yield key, value


def test_the_write_scope_is_asked_only_when_retour_is_on(world):
    assert set(world.tokens) == {frozenset(SHEETS_SCOPES), frozenset(WRITE_SCOPES)}
    off = world.runs[3]
    assert off.report["statut"] == "publie" and off.report["a_corriger"] == []
    assert sum(off.writes.values()) == 0
    assert world.tokens_after_off and set(world.tokens_after_off) == {frozenset(SHEETS_SCOPES)}


def test_an_erased_persons_row_says_delete_it_without_a_name(world):
    after = world.runs[4]
    lines = listed_lines(after.suivi)
    line = lines[("Promeneurs", str(world.erased_row), "")]
    assert line[4] == TO_DELETE
    text = json.dumps(after.suivi, ensure_ascii=False).lower()
    for personal in (world.erased_email, *world.erased_name):
        assert personal.strip().lower() not in text
    assert next(iter(lines.values()))[4] == TO_DELETE  # rows to delete come first


# --- Files: a-corriger.xlsx beside the exports ---------------------------------------------------------------


def xlsx_lines(path: Path, sheet: str) -> dict[tuple[str, str, str], list[str]]:
    """The lines of one sheet of a-corriger.xlsx, by (tab, row, column)."""
    rows = load_workbook(path)[sheet].iter_rows(values_only=True)
    return listed_lines([["" if cell is None else str(cell) for cell in row] for row in rows])


KEPT = 36  # lines of the Activités export kept (its header, rows 2-36): less than half its rows


def test_files_mode_writes_a_corriger_xlsx_beside_the_exports_even_when_the_gate_blocks(prefect_harness, tmp_path):
    exports = tmp_path / "exports"
    shutil.copytree(SAMPLE_DIR, exports)
    config = exports / "sources.toml"
    config.write_text(config.read_text(encoding="utf-8") + RETOUR, encoding="utf-8")
    with pytest.MonkeyPatch.context() as patch:
        use_warehouse_and_files(patch, tmp_path)
        published = nightly_sync(source_dir=str(exports))
        lines = xlsx_lines(exports / XLSX_NAME, "Suivi")
        problems = build_problems(tmp_path, "Suivi")
        activites = exports / "Suivi - Activités.csv"
        activites.write_text("".join(activites.read_text(encoding="utf-8").splitlines(True)[:KEPT]), encoding="utf-8")
        with pytest.raises(GateFailed):
            nightly_sync(source_dir=str(exports))  # most of a tab gone: the gate blocks the publication
        blocked = json.loads((tmp_path / "warehouse" / "runs" / "dernier.json").read_text(encoding="utf-8"))
    assert published["statut"] == "publie" and blocked["statut"] == "bloque"
    assert load_workbook(exports / XLSX_NAME).sheetnames == ["Suivi", "Questionnaire 2019", "Questionnaire 2020"]
    assert set(lines) == problems
    assert lines[("Activités", "38", "Intitulé")][5] == "Activités!D38"
    assert lines[("Activités", "53", "")][5] == "Activités!53:53"
    after = xlsx_lines(exports / XLSX_NAME, "Suivi")
    kept = {p for p in problems if p[0] != "Activités" or int(p[1]) <= KEPT}
    assert set(after) == build_problems(tmp_path, "Suivi") == kept != problems
    assert {t["etat"] for t in blocked["a_corriger"]} == {"ecrit"}


# --- A campaign read through the Forms API: its lines in the Suivi's tab -------------------------------------


def test_a_forms_campaigns_lines_go_to_the_suivi_tab_under_its_heading_with_the_response_time(
    prefect_harness, tmp_path
):
    from tests.pipeline.test_sync_forms import CONFIG, FORM_ID, sample_form

    config = tmp_path / "sources.toml"
    config.write_text(CONFIG + RETOUR, encoding="utf-8")
    items, responses = sample_form()
    late = {**responses[0], "submitted": "2020-03-02T09:15:00Z"}  # after the campaign closed: quarantined
    with GoogleEmulator() as emulator, pytest.MonkeyPatch.context() as patch:
        serve_sample(emulator)
        emulator.add_form(FORM_ID, "Questionnaire 2019", items, [*responses, late], email_collection="VERIFIED")
        use_warehouse(patch, tmp_path)
        patch.delenv("GOOGLE_APPLICATION_CREDENTIALS", raising=False)  # anonymous, whatever ran before
        patch.setenv("PDN_SOURCES", str(config))
        patch.setenv("PDN_SHEETS_API_URL", emulator.url)
        report = nightly_sync()
        rows = read_tab(emulator, SUIVI_KEY)
    assert report["statut"] == "publie"
    with duckdb.connect(str(tmp_path / "private" / "build" / "work.duckdb"), read_only=True) as con:
        quarantined = con.execute(
            "select count(*) from int_lignes_quarantaine where spreadsheet_title = 'Questionnaire 2019'"
        ).fetchone()[0]
    heading = next(i for i, row in enumerate(rows) if row and row[0].startswith("Questionnaire 2019 ("))
    lines = [row for row in rows[heading + 1 :] if len(row) >= 5]
    assert quarantined == 1 and len(lines) == 1
    assert lines[0][1] == "réponse du 02/03/2020 10:15:00" and lines[0][4].startswith("corriger la ligne")
    assert len(lines[0]) == 5 or lines[0][5] == ""  # no sheet to link to
    assert {t["tableur"] for t in report["a_corriger"]} == {"Suivi", "Questionnaire 2020"}
