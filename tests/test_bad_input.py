"""Bad input: every case gets a clear error (exit 2) or a quarantine row with its sheet row and reason.

Row rules are exercised in one real flow run: bad rows are appended to a copy of the sample, and each
must come back quarantined at its own sheet row while the published 2019 figures stay exactly those of
the sample (nothing bad was counted). Structural errors are checked where they are raised.
"""

import shutil
from pathlib import Path

import pandas as pd
import pytest

from flows.errors import InputError
from flows.pipeline.sync import nightly_sync
from flows.settings import SAMPLE_DIR, load_settings
from flows.sources.config import load_source_config, parse_source_config
from flows.sources.contract import ACTIVITES, PROMENEURS, REPONSES, TableContract, map_header
from flows.sources.files import extract_files
from tests.pipeline.test_sync_sample import EXPECTED_2019, indicators

PROMENEURS_FILE = "Suivi - Promeneurs.csv"
ACTIVITES_FILE = "Suivi - Activités.csv"
REPONSES_FILE = "Questionnaire 2019 - Réponses au formulaire 1.csv"

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

# (file, changes to a valid row, expected reason): each row alone breaks exactly one rule.
ROW_CASES = [
    (PROMENEURS_FILE, {"departement": "Bretagne"}, "Département non reconnu"),
    (PROMENEURS_FILE, {"departement": "15"}, "Département hors réseau"),
    (PROMENEURS_FILE, {"departement": "03/63"}, "Deux départements indiqués"),
    (PROMENEURS_FILE, {"departement": ""}, "Département manquant"),
    (PROMENEURS_FILE, {"date_signature_charte": ""}, "Date de signature de la charte manquante"),
    (PROMENEURS_FILE, {"date_signature_charte": "le 3 mai"}, "Date de signature de la charte illisible"),
    (PROMENEURS_FILE, {"date_sortie": "bientôt"}, "Date de sortie illisible"),
    (PROMENEURS_FILE, {"date_sortie": "01/02/2019"}, "Date de sortie antérieure à la signature de la charte"),
    (PROMENEURS_FILE, {"profil": "Astronaute"}, "Profil hors liste"),
    (PROMENEURS_FILE, {"type_structure": "Boulangerie"}, "Type de structure hors liste"),
    (PROMENEURS_FILE, {"email": "DUPLICATE"}, "Promeneur en double"),
    (ACTIVITES_FILE, {"date": ""}, "Date manquante"),
    (ACTIVITES_FILE, {"date": "31/02/2019"}, "Date illisible"),
    (ACTIVITES_FILE, {"date": "12/05/1999"}, "Date invraisemblable"),
    (ACTIVITES_FILE, {"departement": "Atlantide"}, "Département non reconnu"),
    (ACTIVITES_FILE, {"departement": "23"}, "Département hors réseau"),
    (ACTIVITES_FILE, {"type_action": "Pique-nique"}, "Type d'action hors liste"),
    (ACTIVITES_FILE, {"type_action": ""}, "Type d'action manquant"),
    (ACTIVITES_FILE, {"participants": "douze"}, "Participants : pas un nombre entier positif ou nul"),
    (ACTIVITES_FILE, {"participants": "-3"}, "Participants : pas un nombre entier positif ou nul"),
    (ACTIVITES_FILE, {"duree_jours": "une"}, "Durée illisible"),
    (ACTIVITES_FILE, {"type_action": "Formation", "duree_jours": ""}, "Durée manquante pour une Formation"),
    (REPONSES_FILE, {"horodateur": "hier"}, "Horodateur illisible"),
    (REPONSES_FILE, {"email": ""}, "Adresse e-mail manquante"),
    (REPONSES_FILE, {"departement": "29"}, "Département hors réseau"),
    (REPONSES_FILE, {"echanges": "Beaucoup"}, "Nombre d'échanges hors liste"),
    (REPONSES_FILE, {"interet_formations": "0"}, "Intérêt « les formations » : pas un entier de 1 à 5"),
    (REPONSES_FILE, {"interet_reseaux_sociaux": "beaucoup"}, "Intérêt « être présent sur les réseaux sociaux »"),
]

BASES = {PROMENEURS_FILE: (PROMENEURS, VALID_PROMENEUR), ACTIVITES_FILE: (ACTIVITES, VALID_ACTIVITE),
         REPONSES_FILE: (REPONSES, VALID_REPONSE)}
TAB_OF_FILE = {PROMENEURS_FILE: "Promeneurs", ACTIVITES_FILE: "Activités", REPONSES_FILE: "Réponses au formulaire 1"}


def read_export(path: Path) -> pd.DataFrame:
    return pd.read_csv(path, header=None, dtype=str, keep_default_na=False, skip_blank_lines=False)


def append_rows(path: Path, contract: TableContract, rows: list[dict]) -> list[int]:
    """Append rows (by contract field) in the file's own column order; return their sheet row numbers."""
    frame = read_export(path)
    positions = map_header(frame.iloc[0].tolist(), contract, path.name).contract_positions
    first = len(frame) + 1
    cells = [[""] * frame.shape[1] for _ in rows]
    for line, row in zip(cells, rows):
        for name, value in row.items():
            line[positions[name]] = value
    pd.concat([frame, pd.DataFrame(cells)]).to_csv(path, header=False, index=False, lineterminator="\r\n")
    return list(range(first, first + len(rows)))


@pytest.fixture(scope="module")
def bad_rows_run(prefect_harness, tmp_path_factory):
    """The sample plus one bad row per case, synced once into a fresh warehouse."""
    root = tmp_path_factory.mktemp("bad-rows")
    exports = root / "exports"
    shutil.copytree(SAMPLE_DIR, exports)
    existing_email = read_export(exports / PROMENEURS_FILE).iloc[1, 2]  # the first Promeneur's e-mail
    expected = []
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
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("PDN_WAREHOUSE_DIR", str(root / "warehouse"))
        patch.setenv("PDN_PRIVATE_DIR", str(root / "private"))
        patch.setenv("PDN_PSEUDONYM_KEY", "cle-de-test")
        for name in ("PDN_SOURCES", "PDN_SHEETS_API_URL"):
            patch.delenv(name, raising=False)
        report = nightly_sync(source_dir=str(exports))
    return root, report, expected


def test_at_least_25_distinct_bad_row_cases_are_exercised():
    assert len({(name, reason, tuple(changes.items())) for name, changes, reason in ROW_CASES}) >= 25


def test_each_bad_row_is_quarantined_at_its_sheet_row_with_its_reason(bad_rows_run):
    _, report, expected = bad_rows_run
    quarantined = {(row["onglet"], row["ligne"]): row["motif"] for row in report["quarantaine"]}
    for tab, sheet_row, reason in expected:
        assert (tab, sheet_row) in quarantined, f"{tab} row {sheet_row} ({reason}) was not quarantined"
        assert reason in quarantined[(tab, sheet_row)], (tab, sheet_row, quarantined[(tab, sheet_row)])


def test_quarantined_rows_count_in_no_indicator_and_the_run_still_publishes(bad_rows_run):
    root, report, _ = bad_rows_run
    assert report["statut"] == "publie"
    values = indicators(root / "warehouse" / "pdn.duckdb")
    for indicateur, expected in EXPECTED_2019.items():
        got = tuple(values[(indicateur, departement)] for departement in ("03", "63", "ensemble"))
        assert got == pytest.approx(expected), indicateur


def test_quarantine_counts_are_published_without_row_content(bad_rows_run):
    import duckdb

    root, report, expected = bad_rows_run
    with duckdb.connect(str(root / "warehouse" / "pdn.duckdb"), read_only=True) as con:
        columns = [row[0] for row in con.execute("describe qualite.quarantaine").fetchall()]
        total = con.execute("select sum(lignes) from qualite.quarantaine").fetchone()[0]
    assert columns == ["spreadsheet_title", "onglet", "motif", "lignes"]
    assert total >= len(expected) + 4  # the sample's own 4 bad rows too


def test_raw_history_keeps_every_quarantined_row(bad_rows_run):
    import duckdb

    root, _, expected = bad_rows_run
    with duckdb.connect(str(root / "private" / "raw.duckdb"), read_only=True) as con:
        landed = set(con.execute(
            "select tab, numero_ligne from snapshots join ("
            "  select snapshot_id, numero_ligne from promeneurs union all"
            "  select snapshot_id, numero_ligne from activites union all"
            "  select snapshot_id, numero_ligne from reponses) using (snapshot_id)"
        ).fetchall())
    assert {(tab, row) for tab, row, _ in expected} <= landed


# --- Structural errors: stop before landing anything, with a French message that says where ---------

CONFIG = parse_source_config(
    {"suivi": [{"titre": "Suivi"}],
     "questionnaires": [{"titre": "Questionnaire 2019", "annee": 2019, "ouverture": "2019-12-01", "cloture": "2020-01-31"}]},
    "test",
)


def sample_copy(tmp_path: Path) -> Path:
    exports = tmp_path / "exports"
    shutil.copytree(SAMPLE_DIR, exports)
    return exports


def rewrite_header(path: Path, old: str, new: str) -> None:
    with open(path, encoding="utf-8", newline="") as handle:
        header, rest = handle.read().split("\r\n", 1)
    assert old in header
    with open(path, "w", encoding="utf-8", newline="") as handle:
        handle.write(header.replace(old, new, 1) + "\r\n" + rest)


def test_renamed_required_column_names_the_sheet_tab_and_column(tmp_path):
    exports = sample_copy(tmp_path)
    rewrite_header(exports / ACTIVITES_FILE, "Type d’action", "Nature")
    with pytest.raises(InputError, match="Tableur « Suivi », onglet « Activités ».*« Type d'action »"):
        extract_files(exports, CONFIG)


def test_required_column_twice_is_an_error(tmp_path):
    exports = sample_copy(tmp_path)
    rewrite_header(exports / REPONSES_FILE, "Commentaires ", "Horodateur")
    with pytest.raises(InputError, match="« Horodateur » apparaît deux fois"):
        extract_files(exports, CONFIG)


def test_missing_tab_export_is_an_error(tmp_path):
    exports = sample_copy(tmp_path)
    (exports / REPONSES_FILE).unlink()
    with pytest.raises(InputError, match="Questionnaire 2019.*aucun export"):
        extract_files(exports, CONFIG)


def test_tab_without_even_a_header_row_is_an_error(tmp_path):
    exports = sample_copy(tmp_path)
    (exports / PROMENEURS_FILE).write_text(",,,\r\n,,,\r\n", encoding="utf-8")
    with pytest.raises(InputError, match="onglet « Promeneurs » : l'onglet est vide"):
        extract_files(exports, CONFIG)


@pytest.mark.parametrize(
    ("document", "message"),
    [
        ("departements = [\"03\"\n", "syntaxe incorrecte"),
        ("[[questionnaires]]\ntitre = \"Q\"\nannee = 2019\nouverture = 2020-01-31\ncloture = 2019-12-01\n"
         "[[suivi]]\ntitre = \"Suivi\"\n", "la clôture précède l'ouverture"),
        ("[[questionnaires]]\ntitre = \"Q\"\nannee = 2019\n[[suivi]]\ntitre = \"Suivi\"\n", "« ouverture » est obligatoire"),
        ("[[suivi]]\ntitre = \"Suivi\"\ncle = \"pas une clé\"\n", "ni une clé ni une adresse"),
        ("[[questionnaires]]\ntitre = \"Q\"\nannee = 2019\nouverture = 2019-12-01\ncloture = 2020-01-31\n",
         "aucun tableur de suivi"),
        ("[[suivi]]\ncle = \"1AbCdEfGhIjKlMnOp\"\n", "« titre » est obligatoire"),
    ],
)
def test_configuration_errors_name_the_file_and_the_field(tmp_path, document, message):
    config = tmp_path / "sources.toml"
    config.write_text(document, encoding="utf-8")
    with pytest.raises(InputError, match=message):
        load_source_config(config)


def test_unknown_configuration_file_is_an_error(tmp_path):
    with pytest.raises(InputError, match="introuvable"):
        load_source_config(tmp_path / "absent.toml")


def test_sheets_source_without_credentials_says_what_to_set(warehouse, tmp_path, monkeypatch):
    from flows.sources.google import open_client

    with pytest.raises(InputError, match="GOOGLE_APPLICATION_CREDENTIALS"):
        open_client(load_settings())


def test_unreadable_service_account_key_is_named_without_its_content(warehouse, tmp_path, monkeypatch):
    from flows.sources.google import open_client

    key = tmp_path / "cle-compte-service.json"
    key.write_text('{"type": "service_account", "private_key": "-----SECRET-----"}', encoding="utf-8")
    monkeypatch.setenv("GOOGLE_APPLICATION_CREDENTIALS", str(key))
    with pytest.raises(InputError) as caught:
        open_client(load_settings())
    assert "cle-compte-service.json" in str(caught.value) and "SECRET" not in str(caught.value)


def test_replay_of_an_unknown_sync_is_an_input_error(published_sample, tmp_path, monkeypatch):
    from tests.conftest import use_warehouse

    use_warehouse(monkeypatch, published_sample.copy_to(tmp_path))
    with pytest.raises(InputError, match="« 20000101T000000Z-000000 » inconnue"):
        nightly_sync(replay="20000101T000000Z-000000")
