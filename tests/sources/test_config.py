"""sources.toml: a schema with French errors that point at the line, defaults stated once."""

import re
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


def test_the_example_configuration_is_valid_once_its_keys_are_filled(tmp_path):
    from itertools import count

    from flows.settings import REPO_ROOT

    text = (REPO_ROOT / "sources.example.toml").read_text(encoding="utf-8")
    numbers = count(1)
    for placeholder in ("REPLACE_WITH_THE_KEY", "REPLACE_WITH_THE_FORM_ID"):
        while placeholder in text:
            text = text.replace(placeholder, f"1CleExemple{next(numbers):06d}", 1)
    config = load_source_config(write(tmp_path, text))
    forms = [s for s in config.spreadsheets if s.form_id]
    assert len(forms) == 1 and dict(forms[0].correspondances) == {
        "Sur quelles plateformes échangez-vous avec les jeunes ?": "reseaux"
    }


@pytest.mark.parametrize("kind", ["parent", "absolute", "symlink"])
def test_a_recit_file_outside_the_folder_of_sources_toml_is_refused_naming_its_line(tmp_path, kind):
    folder = tmp_path / "sources"
    folder.mkdir()
    secret = tmp_path / "pseudonym.key"
    secret.write_text("0" * 64, encoding="utf-8")
    (folder / "lien.md").symlink_to(secret)
    name = {"parent": "../../pseudonym.key", "absolute": str(secret), "symlink": "lien.md"}[kind]
    if kind == "parent":
        (folder / "sous-dossier").mkdir()
        name = "sous-dossier/../../pseudonym.key"
    text = BASE + f'\n[[recits]]\nannee = 2020\nfichier = "{name}"\n'
    with pytest.raises(InputError) as caught:
        load_source_config(write(folder, text))
    message = str(caught.value)
    assert message.startswith("sources.toml [[recits]] n°1 (ligne 8) : ")
    assert "n'est pas dans le dossier de sources.toml" in message


def test_a_recit_file_in_a_subfolder_or_linked_inside_is_accepted(tmp_path):
    (tmp_path / "recits").mkdir()
    (tmp_path / "recits" / "2020.md").write_text("# Bilan", encoding="utf-8")
    (tmp_path / "lien.md").symlink_to(tmp_path / "recits" / "2020.md")
    text = BASE + '\n[[recits]]\nannee = 2020\nfichier = "recits/2020.md"\n[[recits]]\nannee = 2021\nfichier = "lien.md"\n'
    config = load_source_config(write(tmp_path, text))
    assert config.narrative(2020).fichier.read_text(encoding="utf-8") == "# Bilan"
    assert config.narrative(2021).fichier == (tmp_path / "recits" / "2020.md").resolve()


def test_retour_is_off_by_default_and_a_mistake_names_its_line(tmp_path):
    assert load_source_config(write(tmp_path, BASE)).retour.actif is False
    assert load_source_config(write(tmp_path, BASE + "\n[retour]\nactif = true\n")).retour.actif is True
    for text, said in (
        ('actif = "oui"', "ligne 7, [retour], champ « actif » : true ou false attendu, sans guillemets"),
        ("actif = true\nonglet = 1", "ligne 8, [retour], champ « onglet » : champ inconnu"),
    ):
        with pytest.raises(InputError, match=re.escape(said)):
            load_source_config(write(tmp_path, BASE + f"\n[retour]\n{text}\n"))
