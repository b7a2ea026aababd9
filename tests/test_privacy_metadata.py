"""Metadata is data: titles, tabs, headers, list values and the source folder go through the screen (flows/screen.py)
before the published file, the run reports, Prefect's database, the alerts and the terminal; so do the titles that
try to pass it (soft hyphen, word joiner, Cyrillic letter, hashtag, phone formats) and formulas.

`pdn synchroniser --source` runs as the coordinator runs it: its own process, its own Prefect database, scanned as bytes."""

from __future__ import annotations

import csv
import json
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pytest

from flows.screen import withheld_label
from flows.settings import SAMPLE_DIR
from tests.conftest import cold_pdn
from tests.ops.test_notify import WebhookReceiver

SPREADSHEET = "Suivi Léa Bertrand"  # a spreadsheet title naming a Promeneur of the sample's roster
QUESTION = "Question posée par Hugo Mercier"  # a questionnaire header naming another one
LIST_VALUE = "Famille de Léa Bertrand"  # a value of the Listes tab naming her
FOLDER = "Exports Hugo Mercier"  # the --source folder, named after him too
# Titles of valid actions published in detail (sheet rows of Activités), each with a marker word of its own, and
# the screen's reason: a soft hyphen, a word joiner, a Cyrillic Е, a hashtag, three phone formats, a formula.
TITLES = {
    13: ("Atelier Marqueurtiret avec Hu\u00adgo MERCIER", "nom"),
    26: ("Atelier Marqueurgluon avec Hugo\u2060 Mercier", "nom"),
    28: ("Atelier Marqueurcyrillique avec Hugo M\u0415RCIER", "nom"),
    34: ("Retour Marqueurdiese sur #LéaBertrand", "nom"),
    42: ("Marqueurtelun : +33 (0)6 12 34 56 78", "coordonnees"),
    61: ("Marqueurteldeux au 0033 6 12 34 56 78", "coordonnees"),
    64: ("Marqueurteltrois au 06/12/34/56/78", "coordonnees"),
    68: ('=HYPERLINK("http://exemple.invalid/Marqueurformule","clic")', "formule"),
}
CLEAN_ROW, CLEAN_TITLE = 70, "Conseil Départemental des Jeunes : atelier réseaux sociaux"
REASON_WORDS = {"nom": "contenant un nom", "coordonnees": "coordonnées", "formule": "formule de tableur"}


def rewrite_csv(path: Path, change) -> None:
    """Read a sample CSV export, let `change` edit its rows (header included), write it back as Sheets exports it."""
    with open(path, encoding="utf-8", newline="") as handle:
        rows = list(csv.reader(handle))
    change(rows)
    with open(path, "w", encoding="utf-8", newline="") as handle:
        csv.writer(handle, lineterminator="\r\n").writerows(rows)


def named_exports(root: Path) -> Path:
    """The sample, its Suivi spreadsheet titled after a Promeneur, with the titles, header and list value above."""
    folder = root / FOLDER
    shutil.copytree(SAMPLE_DIR, folder)
    config = folder / "sources.toml"
    config.write_text(config.read_text(encoding="utf-8").replace('titre = "Suivi"', f'titre = "{SPREADSHEET}"'), "utf-8")
    for export in folder.glob("Suivi - *.csv"):
        export.rename(folder / export.name.replace("Suivi - ", f"{SPREADSHEET} - "))

    def titles(rows: list[list[str]]) -> None:
        for line, (title, _) in TITLES.items():
            rows[line - 1][3] = title
        assert rows[CLEAN_ROW - 1][3] == CLEAN_TITLE

    rewrite_csv(folder / f"{SPREADSHEET} - Activités.csv", titles)

    def question(rows: list[list[str]]) -> None:
        rows[0].append(QUESTION)
        for row in rows[1:]:
            row.append("oui")

    rewrite_csv(folder / "Questionnaire 2019 - Réponses au formulaire 1.csv", question)
    (folder / f"{SPREADSHEET} - Listes.csv").write_text(
        f"Liste,Valeur,Variantes acceptées\r\nPublic,{LIST_VALUE},\r\n", encoding="utf-8"
    )
    return folder


def missing_tab_exports(root: Path) -> Path:
    """The sample, with the Activités tab exported under a Promeneur's name: the sync must refuse it."""
    folder = root / "exports"
    shutil.copytree(SAMPLE_DIR, folder)
    (folder / "Suivi - Activités.csv").rename(folder / "Suivi - Léa Bertrand.csv")
    return folder


@dataclass(frozen=True)
class Runs:
    """A sync that publishes despite named metadata, and one refused for a missing tab, with what they left."""

    published_root: Path
    published_folder: Path
    refused_root: Path
    refused_folder: Path
    published: subprocess.CompletedProcess
    refused: subprocess.CompletedProcess
    prefect_home: Path
    alerts: list[dict]

    def query(self, sql: str) -> list[tuple]:
        with duckdb.connect(str(self.published_root / "warehouse" / "pdn.duckdb"), read_only=True) as con:
            return con.execute(sql).fetchall()


def run_pdn(args: list[str], root: Path, prefect_home: Path, **env: str) -> subprocess.CompletedProcess:
    """`pdn` in its own process, to completion."""
    process = cold_pdn(args, root, prefect_home, **env)
    stdout, stderr = process.communicate(timeout=420)
    return subprocess.CompletedProcess(process.args, process.returncode, stdout, stderr)


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> Runs:
    prefect_home = tmp_path_factory.mktemp("prefect-home-metadata")
    published_root, refused_root = tmp_path_factory.mktemp("named-metadata"), tmp_path_factory.mktemp("named-tab")
    published_folder, refused_folder = named_exports(published_root), missing_tab_exports(refused_root)
    webhook = WebhookReceiver()
    try:
        published = run_pdn(["sync", "--source", str(published_folder)], published_root, prefect_home,
                            PDN_ALERT_WEBHOOK_URL=webhook.url)
        refused = run_pdn(["sync", "--source", str(refused_folder)], refused_root, prefect_home,
                          PDN_ALERT_WEBHOOK_URL=webhook.url)
    finally:
        webhook.close()
    return Runs(published_root, published_folder, refused_root, refused_folder, published, refused, prefect_home,
                webhook.bodies)


def spellings(text: str) -> set[bytes]:
    """A value as it may be stored: as typed, lower and upper case, UTF-8 and UTF-16 (DuckDB and SQLite pages)."""
    return {v.encode(encoding) for v in (text, text.lower(), text.upper()) for encoding in ("utf-8", "utf-16-le")}


def forbidden(runs: Runs) -> dict[str, set[bytes]]:
    """What must be nowhere a person can read, by what it is."""
    values = {
        "titre du tableur": SPREADSHEET,
        "en-tête de question": QUESTION,
        "valeur de liste": LIST_VALUE,
        "nom du dossier": FOLDER,
        "chemin du dossier": str(runs.published_folder),
        "chemin du dossier refusé": str(runs.refused_folder),
        "onglet nommé": "Léa Bertrand",
        "Hugo Mercier": "Hugo Mercier",
    }
    found = {what: spellings(value) for what, value in values.items()}
    found |= {f"marqueur de la ligne {line}": spellings(re.search(r"Marqueur\w+", title)[0]) for line, (title, _) in TITLES.items()}
    return found


def leaked(data: bytes, runs: Runs) -> list[str]:
    """The forbidden values found in bytes."""
    return [what for what, variants in forbidden(runs).items() if any(variant in data for variant in variants)]


def test_the_named_sync_publishes_and_the_named_tab_is_refused(runs):
    assert runs.published.returncode == 0, runs.published.stderr
    assert runs.refused.returncode == 2, runs.refused.stderr
    assert "onglets présents" in runs.refused.stderr and "onglet n°" in runs.refused.stderr


def test_published_file_holds_no_named_metadata_nor_withheld_title_as_bytes(runs):
    published = (runs.published_root / "warehouse" / "pdn.duckdb").read_bytes()
    assert CLEAN_TITLE.encode() in published  # the scan reads text as DuckDB stores it
    assert leaked(published, runs) == []


def test_withheld_metadata_is_published_as_its_label(runs):
    titles = {row[0] for row in runs.query("select distinct spreadsheet_title from qualite.lignes_lues")}
    assert withheld_label("tableur masqué", SPREADSHEET) in titles and SPREADSHEET not in titles
    questions = runs.query("select colonne from qualite.questions_non_cataloguees where annee = 2019")
    assert questions and all(re.fullmatch(r"question \d+", colonne) for (colonne,) in questions)
    values = {row[0] for row in runs.query("select valeur from bilan.valeurs_listes where liste = 'Public'")}
    assert withheld_label("valeur masquée", LIST_VALUE) in values and LIST_VALUE not in values
    assert runs.query("select source from qualite.synchronisation") == [("fichiers (dossier masqué)",)]


def test_every_bypass_and_the_formula_are_withheld_and_flagged_with_their_reason(runs):
    rows = runs.query(
        "select date_action, intitule, intitule_masque from bilan.actions_detaillees where intitule_masque"
    )
    assert len(rows) >= len(TITLES) and all(intitule is None for _, intitule, _ in rows)
    assert runs.query(f"select count(*) from bilan.actions_detaillees where intitule = '{CLEAN_TITLE}'") == [(1,)]
    report = json.loads((runs.published_root / "warehouse" / "runs" / "dernier.json").read_text(encoding="utf-8"))
    flagged = {c["ligne"]: c["motif"] for c in report["cellules_signalees"] if c["colonne"] == "Intitulé"}
    for line, (_, why) in TITLES.items():
        assert REASON_WORDS[why] in flagged[line], (line, flagged.get(line))
    assert {c["tableur"] for c in report["cellules_signalees"]} >= {withheld_label("tableur masqué", SPREADSHEET)}


def test_run_reports_bilans_and_terminal_hold_no_named_metadata(runs):
    scanned = []
    for root in (runs.published_root, runs.refused_root):
        for folder in ("runs", "rapports"):
            scanned += [p for p in (root / "warehouse" / folder).rglob("*") if p.is_file()]
    assert any(p.name == "dernier.json" for p in scanned) and any(p.suffix == ".html" for p in scanned)
    for path in scanned:
        assert leaked(path.read_bytes(), runs) == [], path
    for run in (runs.published, runs.refused):
        assert leaked((run.stdout + run.stderr).encode(), runs) == []


def test_prefect_database_holds_no_named_metadata_nor_source_path(runs):
    database = runs.prefect_home / "prefect.db"
    stored = b"".join(p.read_bytes() for p in (database, database.with_name("prefect.db-wal")) if p.exists())
    assert b"nightly_sync" in stored and "onglets présents".encode() in stored  # both runs are in it
    assert leaked(stored, runs) == []


def test_the_alert_of_the_refused_run_names_the_tab_by_position_only(runs):
    assert len(runs.alerts) == 1
    text = json.dumps(runs.alerts[0], ensure_ascii=False)
    assert "onglet n°" in text and "introuvable" in text
    assert leaked(text.encode(), runs) == [] and leaked(json.dumps(runs.alerts[0]).encode(), runs) == []
