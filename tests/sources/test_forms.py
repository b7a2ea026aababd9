"""Google Forms source: least scopes, French errors, questions as the catalogue sees them (no sync needed)."""

from __future__ import annotations

import json

import pytest

from flows.errors import InputError
from flows.settings import load_settings
from flows.sources.config import load_source_config
from flows.sources.google import FORMS_SCOPES, SHEETS_SCOPES
from flows.sources.sheets import extract_google
from tests.conftest import SUIVI_KEY, serve_sample
from tests.google_emulator import form_item

FORM_ID = "1FormulaireTestPdN03-63"
CONFIG = f"""
[[suivi]]
titre = "Suivi"
cle = "{SUIVI_KEY}"

[[questionnaires]]
titre = "Questionnaire 2021"
formulaire = "{FORM_ID}"
annee = 2021
ouverture = 2021-12-01
cloture = 2022-01-31
"""
ITEMS = [
    form_item("Département", "text"),
    form_item("Quels réseaux sociaux utilisez-vous ?", "checkbox", ["Facebook", "Instagram"], other=True),
    form_item("Votre intérêt", "grid", ["1", "2", "3", "4", "5"], rows=["les formations"]),
]


@pytest.fixture
def forms_source(google_emulator, warehouse, tmp_path, monkeypatch):
    serve_sample(google_emulator)
    google_emulator.add_form(FORM_ID, "Questionnaire 2021", ITEMS, [
        {"answers": {"Département": "63", "Quels réseaux sociaux utilisez-vous ?": ["Facebook", "Mes, amis"],
                     "Votre intérêt": {"les formations": "4"}},
         "submitted": "2021-12-03T10:00:00Z"},
    ])
    config = tmp_path / "sources.toml"
    config.write_text(CONFIG, encoding="utf-8")
    monkeypatch.setenv("PDN_SOURCES", str(config))
    monkeypatch.setenv("PDN_SHEETS_API_URL", google_emulator.url)
    monkeypatch.setenv("PDN_SHEETS_RETRY_TOTAL", "1")
    return google_emulator


def read():
    settings = load_settings()
    return extract_google(load_source_config(settings.sources_file), settings, full=False)


def test_a_service_account_asks_for_read_only_forms_scopes_only(forms_source, tmp_path, monkeypatch):
    info = forms_source.service_account_info("pdn-sync@pdn-test.iam.gserviceaccount.com")
    key = tmp_path / "cle.json"
    key.write_text(json.dumps(info), encoding="utf-8")
    monkeypatch.setenv("GOOGLE_APPLICATION_CREDENTIALS", str(key))
    read()
    assert forms_source.granted_scopes(info["client_email"]) == set(SHEETS_SCOPES + FORMS_SCOPES)
    assert all(scope.endswith(".readonly") for scope in FORMS_SCOPES)


def test_checkbox_answers_stay_lists_and_grid_rows_are_questions(forms_source):
    snapshot = next(s for s in read().snapshots if s.spreadsheet_id == FORM_ID)
    headers = dict(zip(snapshot.header, snapshot.cells.iloc[0]))
    assert headers["Quels réseaux sociaux utilisez-vous ?"] == ["Facebook", "Mes, amis"]  # never re-split on commas
    assert headers["Votre intérêt [les formations]"] == "4"
    assert headers["Département"] == "63"
    assert set(snapshot.question_ids) == {"Quels réseaux sociaux utilisez-vous ?", "Votre intérêt [les formations]"}


@pytest.mark.parametrize(("status", "wording"), [(403, "n’est pas partagé"), (404, "est introuvable")])
def test_an_unreadable_form_is_named_with_how_to_share_it(forms_source, status, wording):
    forms_source.fail_always(status, kind="forms.get")
    with pytest.raises(InputError) as caught:
        read()
    message = str(caught.value)
    assert f"Le formulaire « Questionnaire 2021 » (identifiant {FORM_ID}) {wording}" in message
    assert "forms.body.readonly" in message


def test_a_form_without_a_departement_question_is_refused(forms_source):
    forms_source.add_form(FORM_ID, "Questionnaire 2021", ITEMS[1:])
    with pytest.raises(InputError, match="aucune question intitulée « Département »"):
        read()


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ('cle = "1UneFeuilleDeReponses"\n', "donnés ensemble"),
        ('[questionnaires.correspondances]\n"Vos réseaux" = "reseau"\n', "inconnue\\(s\\) du catalogue : reseau"),
    ],
)
def test_a_campaign_is_read_from_one_place_and_maps_titles_to_known_questions(tmp_path, extra, message):
    config = tmp_path / "sources.toml"
    config.write_text(CONFIG + extra, encoding="utf-8")
    with pytest.raises(InputError, match=message):
        load_source_config(config)


def test_a_question_asking_the_address_is_the_respondents_address_and_the_others_keep_their_ids(forms_source):
    from tests.google_emulator.forms import build_items

    items = [ITEMS[0], form_item("Votre adresse e-mail", "text"), *ITEMS[1:]]
    forms_source.add_form(FORM_ID, "Questionnaire 2021", items, [
        {"answers": {"Département": "63", "Votre adresse e-mail": "lea.bertrand@example.org",
                     "Quels réseaux sociaux utilisez-vous ?": ["Facebook"], "Votre intérêt": {"les formations": "4"}},
         "submitted": "2021-12-03T10:00:00Z"},
    ])
    snapshot = next(s for s in read().snapshots if s.spreadsheet_id == FORM_ID)
    built = build_items(FORM_ID, items)
    assert snapshot.question_ids == {
        "Quels réseaux sociaux utilisez-vous ?": built[2]["questionItem"]["question"]["questionId"],
        "Votre intérêt [les formations]": built[3]["questionGroupItem"]["questions"][0]["questionId"],
    }
    assert snapshot.cells.iloc[0, snapshot.mapping.contract_positions["email"]] == "lea.bertrand@example.org"
