"""Header matching: the tolerances real sheets need, and clear errors for what cannot be matched."""

import pytest

from flows.errors import InputError
from flows.sources.contract import ACTIVITES, PROMENEURS, REPONSES, contract_for_tab, map_header, normalise_label


@pytest.mark.parametrize(
    "written",
    ["Type d'action", "type d’action", "  TYPE D‘ACTION ", "Type  d'Action", "Type dʼaction"],
)
def test_header_matches_regardless_of_case_spaces_and_apostrophes(written):
    header = ["Date", "Département", written, "Intitulé", "Commune", "Public", "Participants", "Durée (jours)"]
    mapping = map_header(header, ACTIVITES, "Suivi / Activités")
    assert mapping.contract_positions["type_action"] == 2


def test_header_matches_without_accents_and_in_any_column_order():
    header = ["duree (jours)", "PARTICIPANTS", "public", "commune", "intitule", "type d'action", "departement", "date"]
    mapping = map_header(header, ACTIVITES, "Suivi / Activités")
    assert mapping.contract_positions["date"] == 7
    assert mapping.contract_positions["duree_jours"] == 0
    assert mapping.contract_positions["departement"] == 6


def test_extra_blank_and_repeated_headers_are_kept_under_generated_names():
    header = [*PROMENEURS.columns.values(), "Remarques", "", "Remarques"]
    mapping = map_header(header, PROMENEURS, "Suivi / Promeneurs")
    assert mapping.extra_positions == {"Remarques": 10, "colonne L": 11, "Remarques (colonne M)": 12}


def test_missing_required_column_names_the_sheet_and_the_column():
    header = [label for name, label in REPONSES.columns.items() if name != "horodateur"]
    with pytest.raises(InputError) as caught:
        map_header(header, REPONSES, "Tableur « Questionnaire 2019 », onglet « Réponses au formulaire 1 »")
    message = str(caught.value)
    assert "Questionnaire 2019" in message and "Réponses au formulaire 1" in message
    assert "« Horodateur »" in message


def test_required_column_given_twice_is_an_error_not_a_silent_choice():
    header = [*PROMENEURS.columns.values(), "E-MAIL"]
    with pytest.raises(InputError, match="apparaît deux fois"):
        map_header(header, PROMENEURS, "Suivi / Promeneurs")


def test_tab_titles_match_tolerantly_and_only_within_their_spreadsheet_kind():
    assert contract_for_tab(" activites ", "suivi") is ACTIVITES
    assert contract_for_tab("Réponses au formulaire 1", "questionnaire") is REPONSES
    assert contract_for_tab("Réponses au formulaire 1", "suivi") is None


def test_normalised_label_folds_accents_case_and_spaces():
    assert normalise_label("  Puy-de-DÔME ’ ") == "puy-de-dome '"


@pytest.mark.parametrize("title", ["Votre adresse e-mail", "E-mail", "Courriel", "adresse mail"])
def test_a_question_asking_the_address_is_the_respondents_address_not_a_question(title):
    header = ["Horodateur", "Département", "Quels supports utilisez-vous ?", title]
    mapping = map_header(header, REPONSES, "Questionnaire")
    assert mapping.contract_positions["email"] == 3
    assert list(mapping.extra_positions) == ["Quels supports utilisez-vous ?"]


def test_a_collected_address_wins_over_one_asked_and_the_asked_one_is_no_question():
    header = ["Horodateur", "Courriel", "Adresse e-mail", "Département", "Commentaires"]
    mapping = map_header(header, REPONSES, "Questionnaire")
    assert mapping.contract_positions["email"] == 2 and list(mapping.extra_positions) == ["Commentaires"]
    with pytest.raises(InputError, match="apparaît deux fois"):
        map_header(["Horodateur", "Adresse e-mail", "Département", "Adresse e-mail"], REPONSES, "Questionnaire")
