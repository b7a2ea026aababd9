"""Bad input, as coordinators really produce it, through `pdn synchroniser`.

Every case either stops with a French message and exit 2, leaving the published warehouse byte-identical,
or is read: then every non-blank sheet row is counted or quarantined at its own row, and the published
2019 figures stay exactly those of the sample (nothing bad was counted, nothing good was lost).
"""

from __future__ import annotations

import gzip
import hashlib
import json
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pandas as pd
import pytest

from flows.cli import main
from flows.ops.summary import format_summary
from flows.settings import SAMPLE_DIR
from flows.sources.catalogue import load_catalogue
from flows.sources.contract import ACTIVITES, PROMENEURS, REPONSES, TableContract, map_header, normalise_label
from tests.conftest import use_warehouse, use_warehouse_and_files
from tests.outputs.test_report import parse_html
from tests.pipeline.test_sync_sample import EXPECTED_2019, indicators

PROMENEURS_FILE = "Suivi - Promeneurs.csv"
ACTIVITES_FILE = "Suivi - Activités.csv"
REPONSES_FILE = "Questionnaire 2019 - Réponses au formulaire 1.csv"
TAB_OF_FILE = {PROMENEURS_FILE: "Promeneurs", ACTIVITES_FILE: "Activités", REPONSES_FILE: "Réponses au formulaire 1"}
SAMPLE_QUARANTINE = {("Réponses au formulaire 1", 22), ("Activités", 47), ("Activités", 53), ("Promeneurs", 31)}


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def read_export(path: Path) -> pd.DataFrame:
    return pd.read_csv(path, header=None, dtype=str, keep_default_na=False, skip_blank_lines=False)


def sample_copy(tmp_path: Path) -> Path:
    exports = tmp_path / "exports"
    shutil.copytree(SAMPLE_DIR, exports, ignore=shutil.ignore_patterns("*.md"))
    return exports


def sync(capsys, folder: Path | None = None, *extra: str) -> tuple[int, str]:
    """`pdn synchroniser` in this process (Prefect's test server); returns the exit code and everything printed."""
    args = ["sync", *(["--source", str(folder)] if folder else []), *extra]
    code = main(args)
    captured = capsys.readouterr()
    return code, captured.out + captured.err


def assert_no_traceback(output: str) -> None:
    assert "Traceback" not in output and "Error:" not in output.replace("Erreur", ""), output


# ----------------------------------------------------------------------------------------------
# Refused with exit 2: the message says what and where, the published file does not move
# ----------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def published_copy(published_sample, tmp_path_factory) -> Path:
    """One copy of the published sample that every refused case must leave byte-identical."""
    return published_sample.copy_to(tmp_path_factory.mktemp("refusals"))


def rewrite(path: Path, old: str, new: str) -> None:
    text = path.read_bytes().decode("utf-8")
    assert old in text, old
    path.write_bytes(text.replace(old, new, 1).encode("utf-8"))


def config(folder: Path, text: str, encoding: str = "utf-8", bom: bool = False) -> None:
    (folder / "sources.toml").write_bytes((b"\xef\xbb\xbf" if bom else b"") + text.encode(encoding))


SAMPLE_CONFIG = (SAMPLE_DIR / "sources.toml").read_text(encoding="utf-8")


def same_title_twice(folder: Path) -> None:
    config(folder, SAMPLE_CONFIG + '\n[[suivi]]\ntitre = "suivi"\n')


def same_key_twice(folder: Path) -> None:
    text = SAMPLE_CONFIG.replace('titre = "Suivi"', 'titre = "Suivi"\ncle = "1AbCdEfGhIjKlMnOp"')
    config(folder, text + '\n[[suivi]]\ntitre = "Suivi 63"\ncle = "https://docs.google.com/spreadsheets/d/1AbCdEfGhIjKlMnOp/edit"\n')


def year_not_matching_dates(folder: Path) -> None:
    config(folder, SAMPLE_CONFIG.replace("annee = 2019", "annee = 2020"))


def year_in_words(folder: Path) -> None:
    config(folder, SAMPLE_CONFIG.replace("annee = 2019", 'annee = "deux-mille-dix-neuf"'))


def departements_as_one_string(folder: Path) -> None:
    config(folder, SAMPLE_CONFIG.replace('departements = ["03", "63"]', 'departements = "03,63"'))


def config_with_bom(folder: Path) -> None:
    config(folder, SAMPLE_CONFIG, bom=True)


def config_in_latin1(folder: Path) -> None:
    config(folder, "# Réseau de l'Allier et du Puy-de-Dôme\n" + SAMPLE_CONFIG, encoding="latin-1")


def misspelt_field(folder: Path) -> None:
    config(folder, SAMPLE_CONFIG.replace("cloture =", "cloturee ="))


def toml_syntax_error(folder: Path) -> None:
    config(folder, SAMPLE_CONFIG.replace('["03", "63"]', '["03", "63"'))


def no_config(folder: Path) -> None:
    (folder / "sources.toml").unlink()


def binary_roster(folder: Path) -> None:
    (folder / PROMENEURS_FILE).write_bytes(bytes(range(256)) * 40)


def workbook_renamed_csv(folder: Path) -> None:
    from openpyxl import Workbook

    workbook = Workbook()
    workbook.active.append(["Nom", "Prénom"])
    workbook.save(folder / PROMENEURS_FILE)


def edit_line(path: Path, number: int, edit) -> None:
    """Change one physical line (1-based) of an export, keeping its CRLF line ends."""
    lines = path.read_bytes().decode("utf-8").split("\r\n")
    lines[number - 1] = edit(lines[number - 1])
    path.write_bytes("\r\n".join(lines).encode("utf-8"))


def ragged_row(folder: Path) -> None:
    edit_line(folder / ACTIVITES_FILE, 10, lambda line: line + ",une cellule de trop")


def unclosed_quote(folder: Path) -> None:
    edit_line(folder / ACTIVITES_FILE, 7, lambda line: line.replace(",Professionnels,", ',"Professionnels,', 1))


def mixed_encodings(folder: Path) -> None:
    """A UTF-8 export to which rows were added by a program writing Windows-1252."""
    added = "12/05/2019,Atelier,63,Atelier réseaux,Riom,Jeunes,8,,\r\n"
    (folder / ACTIVITES_FILE).write_bytes((folder / ACTIVITES_FILE).read_bytes() + added.encode("cp1252"))


def file_name_not_utf8(folder: Path) -> None:
    source = folder / ACTIVITES_FILE
    target = bytes(folder) + b"/Suivi - Activit\xe9s.csv"
    source.rename(target.decode("utf-8", "surrogateescape"))


def xlsx_beside_csv(folder: Path) -> None:
    from openpyxl import Workbook

    Workbook().save(folder / "Suivi.xlsx")


def corrupt_xlsx(folder: Path) -> None:
    for name in (PROMENEURS_FILE, ACTIVITES_FILE):
        (folder / name).unlink()
    (folder / "Suivi.xlsx").write_bytes(b"PK\x03\x04 pas vraiment un classeur")


def title_row_above_header(folder: Path) -> None:
    text = (folder / PROMENEURS_FILE).read_bytes()
    (folder / PROMENEURS_FILE).write_bytes(b"Suivi des Promeneurs 2019,,,,,,,,,,\r\n,,,,,,,,,,\r\n" + text)


def renamed_required_column(folder: Path) -> None:
    rewrite(folder / ACTIVITES_FILE, "Type d’action", "Nature")


def required_column_twice(folder: Path) -> None:
    rewrite(folder / REPONSES_FILE, "Commentaires ", "Horodateur")


def missing_tab(folder: Path) -> None:
    (folder / REPONSES_FILE).unlink()


def two_exports_of_one_tab(folder: Path) -> None:
    shutil.copy(folder / PROMENEURS_FILE, folder / "Suivi - promeneurs .csv")


def empty_tab(folder: Path) -> None:
    (folder / PROMENEURS_FILE).write_bytes(b",,,\r\n,,,\r\n")


@dataclass(frozen=True)
class Refusal:
    name: str
    make: object  # callable(folder)
    message: str  # regex the French message must match


REFUSALS = [
    Refusal("same spreadsheet title twice", same_title_twice,
            r"\[\[suivi\]\] n°1 \(ligne \d+\) et \[\[suivi\]\] n°2 \(ligne \d+\) déclarent le même titre.*compté deux fois"),
    Refusal("same key twice", same_key_twice, r"déclarent la même clé \(« 1AbCdEfGhIjKlMnOp »\)"),
    Refusal("campaign year not matching its dates", year_not_matching_dates,
            r"ligne \d+, \[\[questionnaires\]\] n°1 : l'année évaluée \(2020\) ne correspond pas aux dates"),
    Refusal("year in words", year_in_words, r"ligne \d+, \[\[questionnaires\]\] n°1, champ « annee » : nombre entier"),
    Refusal("departements as one string", departements_as_one_string,
            r"ligne 3, champ « departements » : .*liste entre crochets"),
    Refusal("configuration with a BOM", config_with_bom, r"sources.toml : .*BOM.*UTF-8"),
    Refusal("configuration in latin-1", config_in_latin1, r"sources.toml : ligne 1, le texte n'est pas en UTF-8"),
    Refusal("misspelt field", misspelt_field, r"champ « cloturee » : champ inconnu"),
    Refusal("TOML syntax error", toml_syntax_error, r"sources.toml : syntaxe incorrecte, ligne \d+"),
    Refusal("no configuration", no_config, r"Aucun fichier sources.toml"),
    Refusal("binary file named .csv", binary_roster, r"Fichier « Suivi - Promeneurs.csv » : .*pas un fichier texte CSV"),
    Refusal("workbook renamed .csv", workbook_renamed_csv, r"Fichier « Suivi - Promeneurs.csv » : .*classeur Excel.*\.xlsx"),
    Refusal("ragged row", ragged_row, r"Fichier « Suivi - Activités.csv », ligne 10 : .*10 cellules.*en ont 9"),
    Refusal("unclosed quote", unclosed_quote, r"Fichier « Suivi - Activités.csv », ligne 7 : un guillemet"),
    Refusal("two encodings in one file", mixed_encodings, r"Fichier « Suivi - Activités.csv ».*ligne \d+"),
    Refusal("file name not in UTF-8", file_name_not_utf8, r"Fichier « Suivi - Activit�s.csv » : son nom n'est pas écrit en UTF-8"),
    Refusal("xlsx beside the csv exports", xlsx_beside_csv, r"Tableur « Suivi » : plusieurs exports du même tableur.*« Suivi.xlsx »"),
    Refusal("corrupt workbook", corrupt_xlsx, r"Fichier « Suivi.xlsx » : classeur Excel illisible"),
    Refusal("title row above the header", title_row_above_header,
            r"onglet « Promeneurs » : l'en-tête n'est pas en ligne 1.*1 cellule\(s\) remplie\(s\).*en ligne 3"),
    Refusal("required column renamed", renamed_required_column,
            r"Tableur « Suivi », onglet « Activités » : colonne\(s\) obligatoire\(s\) introuvable\(s\) : « Type d'action »"),
    Refusal("required column twice", required_column_twice, r"« Horodateur » apparaît deux fois"),
    Refusal("tab export missing", missing_tab, r"Questionnaire 2019.*aucun export"),
    Refusal("two exports of one tab", two_exports_of_one_tab, r"plusieurs onglets correspondent"),
    Refusal("empty tab", empty_tab, r"Fichier « Suivi - Promeneurs.csv » : le fichier est vide"),
]


@pytest.mark.parametrize("case", REFUSALS, ids=[case.name for case in REFUSALS])
def test_refused_input_exits_2_with_a_french_message_and_publishes_nothing(
    case, published_copy, tmp_path, monkeypatch, capsys
):
    use_warehouse(monkeypatch, published_copy)
    published = published_copy / "warehouse" / "pdn.duckdb"
    before = sha256(published)
    exports = sample_copy(tmp_path)
    case.make(exports)
    code, output = sync(capsys, exports)
    assert code == 2, output
    assert_no_traceback(output)
    report = json.loads((published_copy / "warehouse" / "runs" / "dernier.json").read_text(encoding="utf-8"))
    assert re.search(case.message, report["message"]), report["message"]
    assert report["statut"] == "erreur_entree" and report["message"] in output
    assert sha256(published) == before


def test_a_missing_source_folder_exits_2(published_copy, tmp_path, monkeypatch, capsys):
    use_warehouse(monkeypatch, published_copy)
    code, output = sync(capsys, tmp_path / "absent")
    assert code == 2 and "Aucun fichier sources.toml" in output


def test_at_least_40_bad_input_cases_are_exercised():
    assert len(REFUSALS) + len(ROW_CASES) + len(FLAGGED_CASES) + len(ENCODINGS) >= 40


# ----------------------------------------------------------------------------------------------
# Read and quarantined: each bad row at its own sheet row, with its reason; nothing bad counted
# ----------------------------------------------------------------------------------------------

VALID_PROMENEUR = {
    "nom": "Cas", "prenom": "Témoin", "departement": "03", "commune": "Moulins", "structure": "Centre social test",
    "type_structure": "Centre social", "profil": "Référent famille", "date_signature_charte": "15/03/2019",
    "date_sortie": "",
}
VALID_ACTIVITE = {
    "date": "12/05/2019", "departement": "63", "type_action": "Atelier", "intitule": "Cas témoin", "commune": "Riom",
    "public": "jeunes", "participants": "10", "duree_jours": "", "commentaire": "",
}
VALID_REPONSE = {
    "horodateur": "10/12/2019 10:00:00", "departement": "63", "supports": "Téléphone", "reseaux": "Facebook",
    "echanges": "Moins de 5", "publications": "Infos sur la structure (horaires, activités)",
    "interet_reseaux_sociaux": "4", "interet_reseau_pdn": "4", "interet_formations": "4",
    "interet_journees_echanges": "4", "commentaires": "",
}
# The sample's first Promeneur (sheet row 2): Léa Bertrand, Service jeunesse de Gannat.
SAME_PERSON_OTHER_SPELLING = {"email": " LÉA.Bertrand@Example.org ", "nom": "Bertrand", "prenom": "Léa"}
SAME_NAME_NO_EMAIL = {"email": "", "nom": "BERTRAND", "prenom": "Lea", "structure": "Service jeunesse de Gannat"}

# (file, changes to a valid row, expected reason): each row alone breaks exactly one rule.
ROW_CASES = [
    (PROMENEURS_FILE, {"departement": "Bretagne"}, "Département non reconnu"),
    (PROMENEURS_FILE, {"departement": "15"}, "Département hors réseau"),
    (PROMENEURS_FILE, {"departement": "03/63"}, "Deux départements indiqués"),
    (PROMENEURS_FILE, {"departement": ""}, "Département manquant"),
    (PROMENEURS_FILE, {"date_signature_charte": ""}, "Date de signature de la charte manquante"),
    (PROMENEURS_FILE, {"date_signature_charte": "le 3 mai"}, "Date de signature de la charte illisible"),
    (PROMENEURS_FILE, {"date_signature_charte": "05/03/1905"}, "Date de signature de la charte invraisemblable (avant le 01/01/2010)"),
    # A number below Excel's plausible serials (20000 = 1954) is no date; a bare year is an incomplete one.
    (PROMENEURS_FILE, {"date_signature_charte": "2"}, "Date de signature de la charte illisible"),
    (PROMENEURS_FILE, {"date_signature_charte": "03/2019"}, "Date de signature de la charte incomplète"),
    (PROMENEURS_FILE, {"date_signature_charte": "01/01/2099"}, "Date de signature de la charte postérieure à la synchronisation"),
    (PROMENEURS_FILE, {"date_sortie": "bientôt"}, "Date de sortie illisible"),
    (PROMENEURS_FILE, {"date_sortie": "2019"}, "Date de sortie incomplète (jour, mois et année attendus)"),
    (PROMENEURS_FILE, {"date_sortie": "01/02/2019"}, "Date de sortie antérieure à la signature de la charte"),
    (PROMENEURS_FILE, {"date_sortie": "31/12/2099"}, "Date de sortie invraisemblable (plus de 12 mois après"),
    # The first Promeneur again (one address with another name would be a shared mailbox: two people, flagged).
    (PROMENEURS_FILE, {"email": "DUPLICATE", "nom": "BERTRAND", "prenom": "Léa"},
     "Promeneur en double : même personne que la ligne 2"),
    (PROMENEURS_FILE, SAME_PERSON_OTHER_SPELLING, "Promeneur en double : même personne que la ligne 2"),
    (PROMENEURS_FILE, SAME_NAME_NO_EMAIL, "Promeneur peut-être en double : même nom et même structure que la ligne 2"),
    (ACTIVITES_FILE, {"date": ""}, "Date manquante"),
    (ACTIVITES_FILE, {"date": "31/02/2019"}, "Date illisible"),
    (ACTIVITES_FILE, {"date": "12/05/1999"}, "Date invraisemblable (avant le 01/01/2010)"),
    (ACTIVITES_FILE, {"date": "2"}, "Date illisible"),
    (ACTIVITES_FILE, {"date": "2019"}, "Date incomplète (jour, mois et année attendus)"),
    (ACTIVITES_FILE, {"date": "juin-19"}, "Date incomplète (jour, mois et année attendus)"),
    (ACTIVITES_FILE, {"date": "12/05/2099"}, "Date invraisemblable (postérieure à la synchronisation"),
    (ACTIVITES_FILE, {"departement": "Atlantide"}, "Département non reconnu"),
    # What French Excel makes of « 03/63 »: never read as 63.
    (ACTIVITES_FILE, {"departement": "mars-63"}, "Département illisible (transformé en date par un tableur ?"),
    (ACTIVITES_FILE, {"departement": "23"}, "Département hors réseau"),
    (ACTIVITES_FILE, {"type_action": "Pique-nique"}, "Type d'action hors liste"),
    (ACTIVITES_FILE, {"type_action": ""}, "Type d'action manquant"),
    (ACTIVITES_FILE, {"participants": "douze"}, "Participants : pas un nombre entier positif ou nul"),
    (ACTIVITES_FILE, {"participants": "-3"}, "Participants : pas un nombre entier positif ou nul"),
    (ACTIVITES_FILE, {"participants": "43477"}, "Participants : nombre invraisemblable (plus de 1000)"),
    (ACTIVITES_FILE, {"duree_jours": "une"}, "Durée illisible"),
    (ACTIVITES_FILE, {"type_action": "Formation", "duree_jours": ""}, "Durée manquante pour une Formation"),
    (ACTIVITES_FILE, {"type_action": "Formation", "duree_jours": "400"}, "Durée (jours) invraisemblable (plus de 10 jours)"),
    (REPONSES_FILE, {"horodateur": "hier"}, "Horodateur illisible"),
    (REPONSES_FILE, {"horodateur": "15/11/2019 10:00:00"}, "Réponse hors période de la campagne (du 01/12/2019 au 31/01/2020)"),
    (REPONSES_FILE, {"horodateur": "01/02/2020 08:00:00"}, "Réponse hors période de la campagne"),
    (REPONSES_FILE, {"horodateur": "03/12/2031 10:00:00"}, "Réponse hors période de la campagne"),
    (REPONSES_FILE, {"email": ""}, "Adresse e-mail manquante"),
    (REPONSES_FILE, {"departement": "29"}, "Département hors réseau"),
    (REPONSES_FILE, {"interet_formations": "0"}, "Réponse « Intérêt : les formations » : pas un entier de 1 à 5"),
    (REPONSES_FILE, {"interet_reseaux_sociaux": "beaucoup"}, "Réponse « Intérêt : être présent sur les réseaux sociaux »"),
]
# A field problem, not a row problem: the row counts, the cell is listed for correction (never its content).
# Dated 2020, so that the 2019 figures the other cases check stay those of the sample.
REPONSES_2020_FILE = "Questionnaire 2020 - Réponses au formulaire 1.csv"
FLAGGED_CASES = [
    (PROMENEURS_FILE, {"profil": "Astronaute"}, "Profil", "Profil hors liste : compté « non reconnu »"),
    (PROMENEURS_FILE, {"profil": ""}, "Profil", "Profil manquant : compté « non renseigné »"),
    (PROMENEURS_FILE, {"type_structure": "Boulangerie"}, "Type de structure", "Type de structure hors liste"),
    (PROMENEURS_FILE, {"type_structure": " "}, "Type de structure", "Type de structure manquant"),
    (ACTIVITES_FILE, {"public": "Extraterrestres"}, "Public", "Public hors liste : compté « non reconnu »"),
    (REPONSES_2020_FILE, {"horodateur": "10/12/2020 10:00:00", "echanges": "Beaucoup"},
     "Combien d'échanges avez-vous par semaine ?", "Réponse hors des options du catalogue : comptée dans « Autre »"),
]

BASES = {PROMENEURS_FILE: (PROMENEURS, VALID_PROMENEUR), ACTIVITES_FILE: (ACTIVITES, VALID_ACTIVITE),
         REPONSES_FILE: (REPONSES, VALID_REPONSE)}
FLAGGED_BASES = {
    PROMENEURS_FILE: (PROMENEURS, {**VALID_PROMENEUR, "date_signature_charte": "15/03/2020"}),
    ACTIVITES_FILE: (ACTIVITES, {**VALID_ACTIVITE, "date": "12/05/2020"}),
    # the 2020 form dropped the « journées d'échanges » question
    REPONSES_2020_FILE: (REPONSES, {k: v for k, v in VALID_REPONSE.items() if k != "interet_journees_echanges"}),
}


def field_positions(header: list[str], contract: TableContract) -> dict[str, int]:
    """Sheet column of each contract field, and of each catalogue question (a response sheet's other columns)."""
    mapping = map_header(header, contract, "test")
    questions = {
        normalise_label(title): question.code for question in load_catalogue() for title in question.headers
    }
    found = {questions[normalise_label(label)]: i for label, i in mapping.extra_positions.items()
             if normalise_label(label) in questions}
    return mapping.contract_positions | found


def append_rows(path: Path, contract: TableContract, rows: list[dict]) -> list[int]:
    """Append rows (by field) in the file's own column order; return their sheet row numbers."""
    frame = read_export(path)
    positions = field_positions(frame.iloc[0].tolist(), contract)
    first = len(frame) + 1
    cells = [[""] * frame.shape[1] for _ in rows]
    for line, row in zip(cells, rows):
        for name, value in row.items():
            line[positions[name]] = value
    pd.concat([frame, pd.DataFrame(cells)]).to_csv(path, header=False, index=False, lineterminator="\r\n")
    return list(range(first, first + len(rows)))


def non_blank_rows(path: Path) -> int:
    """Sheet rows below the header with at least one filled cell (what the pipeline must account for)."""
    frame = read_export(path).iloc[1:]
    return int((frame.apply(lambda column: column.str.strip() != "").any(axis=1)).sum())


# Typed by someone into the title of the Suivi spreadsheet, and into free-text cells of a valid action.
HOSTILE_TITLE = "Suivi <img src=x onerror=alert(1)>"
FREE_TEXT_ACTION = {**VALID_ACTIVITE, "date": "12/05/2020", "public": "Léa Bertrand lea.bertrand@example.org",
                    "commune": "chez Léa Bertrand", "intitule": "Atelier avec lea.bertrand@example.org"}


# A Listes tab adding a type of action, which no indicator counts: the run says so, naming it.
TYPE_WITHOUT_INDICATOR = "Café numérique"
LISTES_TAB = f"Liste,Valeur,Variantes acceptées\r\nType d'action,{TYPE_WITHOUT_INDICATOR},\r\n"


@pytest.fixture(scope="module")
def bad_rows_run(prefect_harness, tmp_path_factory):
    """The sample plus one bad row per case, under a hostile title, synced once by `pdn synchroniser`."""
    root = tmp_path_factory.mktemp("bad-rows")
    exports = root / "exports"
    shutil.copytree(SAMPLE_DIR, exports)
    append_rows(exports / ACTIVITES_FILE, ACTIVITES, [FREE_TEXT_ACTION])
    existing_email = read_export(exports / PROMENEURS_FILE).iloc[1, 2]  # the first Promeneur's e-mail
    expected = []
    flagged = []
    for file_name, (contract, valid) in FLAGGED_BASES.items():
        cases = [(changes, column, reason) for name, changes, column, reason in FLAGGED_CASES if name == file_name]
        rows = [{**valid, **changes, **({"email": f"signale.{n}@example.org"} if "email" in contract.columns else {})}
                for n, (changes, _, _) in enumerate(cases)]
        for sheet_row, (_, column, reason) in zip(append_rows(exports / file_name, contract, rows), cases):
            flagged.append((file_name, sheet_row, column, reason))
    for file_name, (contract, valid) in BASES.items():
        cases = [(changes, reason) for name, changes, reason in ROW_CASES if name == file_name]
        rows = []
        for number, (changes, _) in enumerate(cases):
            row = {**valid, **changes}
            if "email" in contract.columns:
                row.setdefault("email", f"cas.{number}@example.org")
                row["email"] = existing_email if row["email"] == "DUPLICATE" else row["email"]
            rows.append(row)
        for sheet_row, (_, reason) in zip(append_rows(exports / file_name, contract, rows), cases):
            expected.append((TAB_OF_FILE[file_name], sheet_row, reason))
    for name in (PROMENEURS_FILE, ACTIVITES_FILE):
        (exports / name).rename(exports / name.replace("Suivi", HOSTILE_TITLE))
    (exports / f"{HOSTILE_TITLE} - Listes.csv").write_text(LISTES_TAB, encoding="utf-8")
    config(exports, SAMPLE_CONFIG.replace('titre = "Suivi"', f'titre = "{HOSTILE_TITLE}"'))
    with pytest.MonkeyPatch.context() as patch:
        use_warehouse_and_files(patch, root)
        code = main(["sync", "--source", str(exports)])
    report = json.loads((root / "warehouse" / "runs" / "dernier.json").read_text(encoding="utf-8"))
    report["_flagged"] = flagged
    return root, exports, code, report, expected


def test_a_cell_outside_its_list_is_listed_and_its_row_still_counts(bad_rows_run, published_sample):
    root, _, _, report, _ = bad_rows_run
    listed = {(c["tableur"], c["onglet"], c["ligne"]): (c["colonne"], c["motif"]) for c in report["cellules_signalees"]}
    quarantined = {(row["tableur"], row["onglet"], row["ligne"]) for row in report["quarantaine"]}
    for file_name, row, column, reason in report["_flagged"]:
        title = HOSTILE_TITLE if file_name.startswith("Suivi") else "Questionnaire 2020"
        tab = TAB_OF_FILE.get(file_name, "Réponses au formulaire 1")
        found_column, found_reason = listed[(title, tab, row)]
        assert found_column == column and found_reason.startswith(reason), (file_name, row, found_reason)
        assert (title, tab, row) not in quarantined
    # The cells to correct are on the coordinator's quality page; the 2020 bilan keeps « non reconnu » apart.
    dom = parse_html((root / "warehouse" / "rapports" / "bilan-2020.html").read_text(encoding="utf-8"))
    page = parse_html((root / "warehouse" / "rapports" / "qualite-des-donnees.html").read_text(encoding="utf-8"))
    quality = " ".join(row.text() for row in page.find_all("table", id="tableau-cellules-signalees")[0].find_all("tr"))
    assert "Profil hors liste" in quality and "Type de structure manquant" in quality
    fiche_03 = dom.find_all("article", data_departement="03")[0]
    assert fiche_03.find_all("p", **{"class": "note hors-liste"})
    assert "non reconnu" not in " ".join(li.text() for li in fiche_03.find_all("li"))
    # Every flagged Promeneur is counted among the 2020 actives (the sample's own count plus them).
    flagged_promeneurs = sum(1 for name, *_ in report["_flagged"] if name == PROMENEURS_FILE)
    before = indicators(published_sample.published_db, 2020)[("promeneurs_actifs_fin_annee", "03")]
    after = indicators(root / "warehouse" / "pdn.duckdb", 2020)[("promeneurs_actifs_fin_annee", "03")]
    assert after == before + flagged_promeneurs


def test_a_listed_action_type_counting_in_no_indicator_is_named_in_a_warning(bad_rows_run):
    _, _, code, report, _ = bad_rows_run
    assert code == 0
    warning = (f"Type d'action « {TYPE_WITHOUT_INDICATOR} » (onglet Listes) : ses actions comptent dans "
               "bilan.activites, mais dans aucun indicateur du bilan")
    assert [event for event in report["evenements"] if event.startswith(warning)]
    assert warning in format_summary(report)
    # Only it: the bundled types all feed an indicator.
    assert len([event for event in report["evenements"] if "aucun indicateur" in event]) == 1


def test_each_bad_row_is_quarantined_at_its_sheet_row_with_its_reason(bad_rows_run):
    _, _, code, report, expected = bad_rows_run
    assert code == 0 and report["statut"] == "publie"
    quarantined = {(row["onglet"], row["ligne"]): row["motif"] for row in report["quarantaine"]}
    for tab, sheet_row, reason in expected:
        assert (tab, sheet_row) in quarantined, f"{tab} row {sheet_row} ({reason}) was not quarantined"
        assert reason in quarantined[(tab, sheet_row)], (tab, sheet_row, quarantined[(tab, sheet_row)])
    assert set(quarantined) == {(tab, row) for tab, row, _ in expected} | SAMPLE_QUARANTINE


def test_every_non_blank_row_is_counted_or_quarantined(bad_rows_run):
    root, exports, _, report, _ = bad_rows_run
    exports_of = {name: exports / name.replace("Suivi", HOSTILE_TITLE) for name in TAB_OF_FILE}
    with duckdb.connect(str(root / "warehouse" / "pdn.duckdb"), read_only=True) as con:
        read = {(title, tab): (lues, valides, quarantaine) for title, tab, lues, valides, quarantaine in con.execute(
            "select spreadsheet_title, onglet, lignes_lues, lignes_valides, lignes_quarantaine from qualite.lignes_lues"
        ).fetchall()}
    for file_name, tab in TAB_OF_FILE.items():
        title = exports_of[file_name].name.split(" - ")[0]
        lues, valides, quarantaine = read[(title, tab)]
        assert lues == non_blank_rows(exports_of[file_name]) == valides + quarantaine, tab
        assert quarantaine == sum(1 for row in report["quarantaine"] if (row["tableur"], row["onglet"]) == (title, tab))


def test_quarantined_rows_count_in_no_indicator_and_the_published_file_is_the_checked_one(bad_rows_run):
    root, _, _, report, _ = bad_rows_run
    published = root / "warehouse" / "pdn.duckdb"
    assert report["sha256"] == sha256(published)
    values = indicators(published)
    for indicateur, expected in EXPECTED_2019.items():
        got = tuple(values[(indicateur, departement)] for departement in ("03", "63", "ensemble"))
        assert got == pytest.approx(expected), indicateur


def test_quarantine_counts_are_published_without_row_content(bad_rows_run):
    root, _, _, _, expected = bad_rows_run
    with duckdb.connect(str(root / "warehouse" / "pdn.duckdb"), read_only=True) as con:
        columns = [row[0] for row in con.execute("describe qualite.quarantaine").fetchall()]
        total = con.execute("select sum(lignes) from qualite.quarantaine").fetchone()[0]
    assert columns == ["spreadsheet_title", "onglet", "motif", "lignes"]
    assert total >= len(expected) + len(SAMPLE_QUARANTINE)


def test_raw_history_keeps_every_quarantined_row(bad_rows_run):
    root, _, _, _, expected = bad_rows_run
    with duckdb.connect(str(root / "private" / "raw.duckdb"), read_only=True) as con:
        landed = set(con.execute(
            "select tab, numero_ligne from snapshots join ("
            "  select snapshot_id, numero_ligne from promeneurs union all"
            "  select snapshot_id, numero_ligne from activites union all"
            "  select snapshot_id, numero_ligne from reponses) using (snapshot_id)"
        ).fetchall())
    assert {(tab, row) for tab, row, _ in expected} <= landed


def test_free_text_typed_in_a_valid_action_is_not_published(bad_rows_run):
    root, _, _, _, _ = bad_rows_run
    with duckdb.connect(str(root / "warehouse" / "pdn.duckdb"), read_only=True) as con:
        tables = con.execute("select table_schema, table_name from information_schema.tables").fetchall()
        text = "\n".join(con.execute(f'select * from {s}."{t}"').df().to_csv(index=False) for s, t in tables)
        publics = con.execute("select public, count(*) from bilan.activites where annee = 2020 group by all").fetchall()
    assert "bertrand" not in text.lower()
    # Each action counts; its public shows as unrecognised (this one, and the flagged public case).
    unknown_publics = 1 + sum(1 for name, changes, *_ in FLAGGED_CASES if name == ACTIVITES_FILE and "public" in changes)
    assert ("non reconnu", unknown_publics) in publics


def test_every_html_page_shows_a_hostile_title_as_text(bad_rows_run):
    root, _, _, report, _ = bad_rows_run
    pages = [*(root / "warehouse" / "runs").rglob("*.html"), *(root / "warehouse" / "rapports").glob("*.html")]
    assert len(pages) > 5
    texts = [page.read_text(encoding="utf-8") for page in pages]
    assert not [page for page, text in zip(pages, texts) if "<img src=x" in text]
    assert any("&lt;img src=x onerror=alert(1)&gt;" in text for text in texts)  # shown, escaped
    assert any(row["tableur"] == HOSTILE_TITLE for row in report["quarantaine"])  # the report keeps the real title


# ----------------------------------------------------------------------------------------------
# Read as French Excel and LibreOffice write them, into a warehouse a killed program left dirty
# ----------------------------------------------------------------------------------------------

# file -> (encoding, separator, line end): cp1252 + ';' is French Excel's "CSV (séparateur : point-virgule)",
# UTF-16 + TAB its "Texte Unicode", CR-only line ends an old Mac or LibreOffice setting.
ENCODINGS = {
    PROMENEURS_FILE: ("cp1252", ";", "\r\n"),
    ACTIVITES_FILE: ("utf-16", "\t", "\r\n"),
    REPONSES_FILE: ("cp1252", ";", "\r"),
}
EXPECTED_NOTES = {
    ("Suivi", "Promeneurs"): "encodage Windows-1252, séparateur « ; »",
    ("Suivi", "Activités"): "encodage UTF-16, séparateur tabulation",
    ("Questionnaire 2019", "Réponses au formulaire 1"): "encodage Windows-1252, séparateur « ; », fins de ligne Mac (CR)",
}


def reencode(path: Path, encoding: str, separator: str, line_end: str) -> None:
    """Re-save an export as another program would; LibreOffice quotes every text cell."""
    import csv

    frame = read_export(path)
    quoting = csv.QUOTE_MINIMAL if line_end == "\r\n" else csv.QUOTE_ALL
    text = frame.to_csv(header=False, index=False, sep=separator, lineterminator=line_end, quoting=quoting)
    path.write_bytes(text.encode(encoding))


def leave_a_stale_wal(published: Path) -> None:
    """What a program that held the published file read-write and was killed leaves behind."""
    script = (
        "import duckdb, os, sys\n"
        "con = duckdb.connect(sys.argv[1])\n"
        "con.execute(\"set wal_autocheckpoint='1GB'\")\n"
        "con.execute('create table bilan.note as select 42 as x')\n"
        "os._exit(0)\n"
    )
    subprocess.run([sys.executable, "-c", script, str(published)], check=True, timeout=60)
    assert published.with_name(published.name + ".wal").exists()


@pytest.fixture(scope="module")
def french_excel_run(published_sample, tmp_path_factory):
    """The sample re-saved by French Excel, synced over a warehouse with a stale WAL and a loosened private folder."""
    root = published_sample.copy_to(tmp_path_factory.mktemp("french-excel"))
    exports = root / "exports"
    shutil.copytree(SAMPLE_DIR, exports)
    for name, (encoding, separator, line_end) in ENCODINGS.items():
        reencode(exports / name, encoding, separator, line_end)
    leave_a_stale_wal(root / "warehouse" / "pdn.duckdb")
    (root / "private").chmod(0o755)
    (root / "private" / "raw.duckdb").chmod(0o644)
    with pytest.MonkeyPatch.context() as patch:
        use_warehouse(patch, root)
        code = main(["sync", "--source", str(exports)])
        report_code = main(["report", "--year", "2019"])
    report = json.loads((root / "warehouse" / "runs" / "dernier.json").read_text(encoding="utf-8"))
    return root, code, report_code, report


def test_french_excel_exports_are_read_and_give_the_2019_figures(french_excel_run):
    root, code, _, report = french_excel_run
    assert code == 0 and report["statut"] == "publie"
    values = indicators(root / "warehouse" / "pdn.duckdb")
    for indicateur, expected in EXPECTED_2019.items():
        got = tuple(values[(indicateur, departement)] for departement in ("03", "63", "ensemble"))
        assert got == pytest.approx(expected), indicateur
    assert {(row["onglet"], row["ligne"]) for row in report["quarantaine"]} == SAMPLE_QUARANTINE


def test_the_summary_says_how_each_export_was_read(french_excel_run):
    _, _, _, report = french_excel_run
    notes = {(row["tableur"], row["onglet"]): row.get("lecture") or "" for row in report["lignes_lues"]}
    for (title, tab), expected in EXPECTED_NOTES.items():
        assert expected in notes[(title, tab)], (tab, notes[(title, tab)])
    assert not notes[("Questionnaire 2020", "Réponses au formulaire 1")]  # left as Google writes it


def test_a_stale_wal_is_set_aside_and_the_publication_stays_readable(french_excel_run):
    root, _, report_code, report = french_excel_run
    published = root / "warehouse" / "pdn.duckdb"
    assert any("journal d'écriture (WAL)" in event for event in report["evenements"])
    assert not published.with_name("pdn.duckdb.wal").exists()
    assert report_code == 0  # `pdn rapport` opens it
    with duckdb.connect(str(published), read_only=True) as con:
        assert con.execute("select count(*) from bilan.indicateurs_annuels").fetchone()[0] > 0


def test_loosened_private_permissions_are_reported_and_tightened(french_excel_run):
    root, _, _, report = french_excel_run
    assert sum("Droits d'accès trop ouverts" in event for event in report["evenements"]) == 2
    private = root / "private"
    assert private.stat().st_mode & 0o777 == 0o700
    loose = [p for p in private.rglob("*") if not p.is_symlink() and p.stat().st_mode & 0o077]
    assert not loose, loose


# ----------------------------------------------------------------------------------------------
# What was never measured is absent, never 0
# ----------------------------------------------------------------------------------------------


def test_years_without_a_campaign_have_no_questionnaire_figures(published_sample):
    published = published_sample.published_db
    with duckdb.connect(str(published), read_only=True) as con:
        rows = con.execute(
            "select i.annee, i.valeur from bilan.indicateurs_annuels as i "
            "join bilan.definitions_indicateurs as d using (indicateur) where d.domaine = 'questionnaire'"
        ).fetchall()
    by_year: dict[int, set] = {}
    for annee, valeur in rows:
        by_year.setdefault(annee, set()).add(valeur is None)
    assert by_year[2019] == by_year[2020] == {False}  # the 2019 and 2020 campaigns measured them
    assert {annee for annee, nulls in by_year.items() if nulls == {True}} == {2018}


def test_exports_leave_unmeasured_figures_empty(published_sample):
    from openpyxl import load_workbook

    from tests.outputs.test_exports import indicator_row

    rapports = published_sample.root / "warehouse" / "rapports"
    latest = max(rapports.glob("bilan-*.csv"))  # every year up to the latest
    lines = latest.read_text(encoding="utf-8-sig").splitlines()
    header = lines[0].split(";")
    rows = [dict(zip(header, line.split(";"))) for line in lines[1:]]
    unmeasured = [r["Valeur"] for r in rows if r["Année"] == "2018" and r["Code indicateur"] == "questionnaire_repondants"]
    measured = [r["Valeur"] for r in rows if r["Année"] == "2019" and r["Code indicateur"] == "questionnaire_repondants"]
    assert unmeasured == ["", "", ""] and sorted(measured) == ["11", "20", "31"]
    row = indicator_row(load_workbook(latest.with_suffix(".xlsx"))["Ensemble du réseau"], "questionnaire_taux_participation")
    assert row[2018].value is None and row[2019].value > 0


# ----------------------------------------------------------------------------------------------
# Raw history written by an earlier release
# ----------------------------------------------------------------------------------------------


def test_replay_of_an_unknown_sync_is_an_input_error(published_sample, tmp_path, monkeypatch, capsys):
    use_warehouse(monkeypatch, published_sample.copy_to(tmp_path))
    code, output = sync(capsys, None, "--replay", "20000101T000000Z-000000")
    assert code == 2 and "« 20000101T000000Z-000000 » inconnue" in output


def test_a_raw_history_of_the_previous_release_is_migrated_at_landing(tmp_path):
    from flows.pipeline.land import SCHEMA_VERSION, land_sync
    from flows.sources.config import load_source_config
    from flows.sources.files import extract_files

    raw = tmp_path / "raw.duckdb"
    with gzip.open(Path(__file__).parent / "fixtures" / "raw-v1.duckdb.gz") as packed:
        raw.write_bytes(packed.read())
    with duckdb.connect(str(raw), read_only=True) as con:
        ((old_sync,),), old_rows = con.execute("select sync_id from syncs").fetchall(), row_counts(con)
    config = load_source_config(SAMPLE_DIR / "sources.toml")
    land_sync(raw, "s2", "fichiers", config.departements, extract_files(SAMPLE_DIR, config), [], b"k", config.bounds)
    with duckdb.connect(str(raw), read_only=True) as con:
        versions = [row[0] for row in con.execute("select version from schema_version order by version").fetchall()]
        syncs = con.execute("select sync_id, parametres is not null from syncs order by started_at").fetchall()
        kept = row_counts(con, "where sync_id <> 's2'")
    assert versions == list(range(1, SCHEMA_VERSION + 1))
    assert syncs == [(old_sync, True), ("s2", True)]
    assert kept == old_rows  # the earlier release's rows are all still there


def row_counts(con, where: str = "") -> dict[str, int]:
    return {
        table: con.execute(f"select count(*) from {table} join snapshots using (snapshot_id) {where}").fetchone()[0]
        for table in ("promeneurs", "activites", "reponses")
    }
