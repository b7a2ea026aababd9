"""sources.toml: a schema with French errors that point at the line, defaults stated once."""

from datetime import date
from pathlib import Path

import pytest

from flows.errors import InputError
from flows.sources.config import Bounds, load_source_config, spreadsheet_key

BASE = '''departements = ["03", "63"]

[[suivi]]
titre = "Suivi"
'''


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "sources.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_departement_codes_are_normalised(tmp_path):
    config = load_source_config(write(tmp_path, BASE.replace('["03", "63"]', '[3, "63", "2a"]')))
    assert config.departements == ("03", "63", "2A")


def test_plausibility_bounds_default_and_can_be_set(tmp_path):
    assert load_source_config(write(tmp_path, BASE)).bounds == Bounds()
    custom = BASE + "\n[bornes]\ndate_min = 2015-06-01\nparticipants_max = 250\nduree_jours_max = 3.5\n"
    bounds = load_source_config(write(tmp_path, custom)).bounds
    assert (bounds.date_min, bounds.participants_max, bounds.duree_jours_max) == (date(2015, 6, 1), 250, 3.5)
    assert bounds.mois_sortie_future == Bounds().mois_sortie_future


@pytest.mark.parametrize(
    ("ouverture", "cloture", "annee"),
    [("2019-12-01", "2020-01-31", 2019), ("2020-01-06", "2020-02-14", 2019), ("2019-06-01", "2019-06-30", 2019)],
)
def test_a_campaign_evaluates_the_year_of_its_opening_or_the_year_before_its_closing(tmp_path, ouverture, cloture, annee):
    text = BASE + f'[[questionnaires]]\ntitre = "Q"\nannee = {annee}\nouverture = {ouverture}\ncloture = {cloture}\n'
    campaign = load_source_config(write(tmp_path, text)).spreadsheets[1].campaign
    assert campaign.annee == annee


def test_every_error_of_the_file_is_listed_with_its_line(tmp_path):
    text = BASE + '[[questionnaires]]\ntitre = "Q"\nannee = 19\nouverture = 2019-12-01\ncloture = "31/01/2020"\n'
    with pytest.raises(InputError) as caught:
        load_source_config(write(tmp_path, text))
    message = str(caught.value)
    assert "ligne 7, [[questionnaires]] n°1, champ « annee » : valeur trop petite (limite : 2000)" in message
    assert "ligne 9, [[questionnaires]] n°1, champ « cloture » : date attendue au format AAAA-MM-JJ" in message


@pytest.mark.parametrize(
    "address",
    [
        "https://docs.google.com/spreadsheets/d/1AbCdEfGhIjKlMnOp/edit#gid=0",
        "https://docs.google.com/forms/d/1AbCdEfGhIjKlMnOp/edit",
        "https://docs.google.com/document/d/1AbCdEfGhIjKlMnOp/edit",
        "1AbCdEfGhIjKlMnOp",
    ],
)
def test_a_document_is_given_by_its_address_or_its_key(address):
    assert spreadsheet_key(address, "test") == "1AbCdEfGhIjKlMnOp"


def test_a_key_that_is_neither_is_refused():
    with pytest.raises(InputError, match="ni une clé ni une adresse"):
        spreadsheet_key("pas une clé", "test")
