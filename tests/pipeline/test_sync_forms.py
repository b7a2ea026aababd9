"""A campaign read from the Google Forms API: the same figures as its response sheet, few requests, increments.

The 2019 campaign of the sample is served as a form by the emulator (same answers as its response sheet,
minus the one answer a form cannot produce: an interest of 6); the 2020 campaign stays a response sheet.
"""

from __future__ import annotations

import csv
import math
from datetime import datetime
from zoneinfo import ZoneInfo

import duckdb
import pytest

from flows.pipeline.sync import nightly_sync
from flows.settings import SAMPLE_DIR
from flows.sources.catalogue import load_catalogue
from flows.sources.contract import normalise_label
from tests.conftest import QUESTIONNAIRE_2020_KEY, SUIVI_KEY, serve_sample, use_warehouse
from tests.google_emulator import GoogleEmulator, form_item

FORM_ID = "1FormulaireQuestionnaire2019PdN"
PAGE_SIZE = 10
CONFIG = f"""
departements = ["03", "63"]

[[suivi]]
titre = "Suivi"
cle = "{SUIVI_KEY}"

[[questionnaires]]
titre = "Questionnaire 2019"
formulaire = "https://docs.google.com/forms/d/{FORM_ID}/edit"
annee = 2019
ouverture = 2019-12-01
cloture = 2020-01-31

[[questionnaires]]
titre = "Questionnaire 2020"
cle = "{QUESTIONNAIRE_2020_KEY}"
annee = 2020
ouverture = 2020-12-01
cloture = 2021-01-31
"""
KINDS = {"choix_multiple": "checkbox", "choix_unique": "radio", "echelle": "scale", "texte_libre": "paragraph"}


def catalogue_question(header: str):
    return next((q for q in load_catalogue() if normalise_label(header) in map(normalise_label, q.headers)), None)


def split_choices(cell: str, options: tuple[str, ...]) -> list[str]:
    """A response sheet's checkbox cell back into Forms choices: options (rejoined when they hold ', '), then
    the « Autre » text."""
    fragments = [f.strip() for f in cell.split(",")]
    keys = {normalise_label(option): option for option in options}
    chosen, other, start = [], [], 0
    while start < len(fragments):
        for length in (3, 2, 1):
            joined = ", ".join(fragments[start : start + length])
            if start + length <= len(fragments) and normalise_label(joined) in keys:
                chosen.append(keys[normalise_label(joined)])
                start += length
                break
        else:
            other.append(fragments[start])
            start += 1
    return chosen + ([", ".join(other)] if other else [])


def sample_form() -> tuple[list, list[dict]]:
    """The 2019 response sheet as a form (catalogue kinds and options) and its answers."""
    with open(SAMPLE_DIR / "Questionnaire 2019 - Réponses au formulaire 1.csv", encoding="utf-8", newline="") as f:
        header, *rows = list(csv.reader(f))
    questions = {h: catalogue_question(h) for h in header[3:]}
    items = [form_item("Département", "text")] + [
        form_item(h.strip(), KINDS[q.kind], (1, 5) if q.kind == "echelle" else q.options,
                  other=q.kind == "choix_multiple")
        for h, q in questions.items()
    ]
    responses = []
    for row in rows:
        if not any(cell.strip() for cell in row):
            continue
        answers = {"Département": row[2]}
        for h, cell in zip(header[3:], row[3:]):
            q = questions[h]
            if not cell.strip():
                continue
            if q.kind == "choix_multiple":
                answers[h.strip()] = split_choices(cell, q.options)
            elif q.kind == "echelle":
                answers[h.strip()] = int(cell)
            else:
                answers[h.strip()] = cell
        if any(isinstance(v, int) and not 1 <= v <= 5 for v in answers.values()):
            continue  # a form cannot record an interest of 6: the sheet's quarantined row
        local = datetime.strptime(row[0], "%d/%m/%Y %H:%M:%S").replace(tzinfo=ZoneInfo("Europe/Paris"))
        responses.append({"answers": answers, "submitted": local, "email": row[1]})
    return items, responses


def questionnaire_tables(published, annee=2019) -> dict[str, list]:
    with duckdb.connect(str(published), read_only=True) as con:
        return {
            "indicateurs": sorted(con.execute(
                "select departement, indicateur, valeur from bilan.indicateurs_annuels "
                "where annee = ? and indicateur like 'questionnaire%'", [annee]).fetchall()),
            "reponses": sorted(con.execute(
                "select * exclude (libelle_question) from bilan.reponses_questionnaire where annee = ?", [annee]
            ).fetchall(), key=repr),
            "interets": sorted(con.execute(
                "select * exclude (libelle_question) from bilan.interets_questionnaire where annee = ?", [annee]
            ).fetchall(), key=repr),
        }


@pytest.fixture(scope="module")
def forms_runs(prefect_harness, tmp_path_factory):
    """Four syncs: first read, nothing new, an edited and a new response, then --full."""
    root = tmp_path_factory.mktemp("forms")
    config = root / "sources.toml"
    config.write_text(CONFIG, encoding="utf-8")
    items, responses = sample_form()
    with GoogleEmulator() as emulator, pytest.MonkeyPatch.context() as patch:
        serve_sample(emulator)
        ids = emulator.add_form(FORM_ID, "Questionnaire 2019", items, responses, email_collection="VERIFIED")
        use_warehouse(patch, root)
        patch.setenv("PDN_SOURCES", str(config))
        patch.setenv("PDN_SHEETS_API_URL", emulator.url)
        patch.setenv("PDN_FORMS_PAGE_SIZE", str(PAGE_SIZE))
        runs = []

        def sync(**options):
            emulator.reset_log()
            report = nightly_sync(**options)
            runs.append({
                "report": report,
                "gets": emulator.count(kind="forms.get"),
                "lists": emulator.count(kind="forms.responses"),
                "tables": questionnaire_tables(root / "warehouse" / "pdn.duckdb"),
            })

        sync()
        sync()
        # The first respondent (Puy-de-Dôme) edits their answer to Allier, and a newcomer from Allier answers.
        assert responses[0]["answers"]["Département"] == "63"
        emulator.edit_response(FORM_ID, ids[0], {"Département": "03"}, submitted="2020-01-29T10:00:00Z")
        emulator.add_responses(FORM_ID, [{
            "answers": {**responses[1]["answers"], "Département": "03"},
            "submitted": "2020-01-30T10:00:00Z", "email": "nouvelle.repondante@example.org",
        }])
        sync()
        sync(full=True)
    return root, len(responses), runs


def test_a_forms_campaign_gives_the_figures_of_its_response_sheet(forms_runs, published_sample):
    _, _, runs = forms_runs
    assert runs[0]["report"]["statut"] == "publie"
    assert runs[0]["tables"] == questionnaire_tables(published_sample.published_db)
    sample_2020 = questionnaire_tables(published_sample.published_db, 2020)
    assert questionnaire_tables(forms_runs[0] / "warehouse" / "pdn.duckdb", 2020) == sample_2020


def test_a_read_costs_one_get_and_one_list_call_per_page(forms_runs):
    _, responses, runs = forms_runs
    assert (runs[0]["gets"], runs[0]["lists"]) == (1, math.ceil(responses / PAGE_SIZE))
    assert runs[0]["report"]["requetes_forms"] == 1 + math.ceil(responses / PAGE_SIZE)


def test_nothing_submitted_since_the_last_sync_rereads_no_answer(forms_runs):
    root, _, runs = forms_runs
    assert (runs[1]["gets"], runs[1]["lists"]) == (1, 1)  # one list call, answered with no response
    assert runs[1]["tables"] == runs[0]["tables"]
    with duckdb.connect(str(root / "private" / "raw.duckdb"), read_only=True) as con:
        reads = con.execute(
            "select count(*) from snapshots where spreadsheet_id = ?", [FORM_ID]
        ).fetchall()[0][0]
    assert reads == 3  # the first read, the increment of the third sync, the full read; none for the second


def test_an_edited_response_counts_once_with_its_latest_answer(forms_runs):
    _, _, runs = forms_runs
    before = dict(((d, i), v) for d, i, v in runs[0]["tables"]["indicateurs"])
    after = dict(((d, i), v) for d, i, v in runs[2]["tables"]["indicateurs"])
    assert runs[2]["lists"] == 1  # only the two new submissions were read
    assert after[("ensemble", "questionnaire_repondants")] == before[("ensemble", "questionnaire_repondants")] + 1
    assert after[("63", "questionnaire_repondants")] == before[("63", "questionnaire_repondants")] - 1
    assert after[("03", "questionnaire_repondants")] == before[("03", "questionnaire_repondants")] + 2


def test_a_full_read_gives_the_same_figures_as_the_increments(forms_runs):
    _, responses, runs = forms_runs
    assert runs[3]["lists"] == math.ceil((responses + 1) / PAGE_SIZE)
    assert runs[3]["tables"] == runs[2]["tables"]
