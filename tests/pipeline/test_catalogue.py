"""The questionnaire catalogue: campaigns that differ, a question added in one file, history that replays.

Expected figures are counted here from the sample's CSV files, not taken from the pipeline.
"""

from __future__ import annotations

import csv
import gzip
import os
import shutil
from collections import Counter
from pathlib import Path

import duckdb
import pytest

from flows.pipeline.sync import nightly_sync
from flows.pipeline.transform import invoke_dbt
from flows.settings import DBT_PROJECT_DIR, SAMPLE_DIR
from flows.sources.contract import normalise_label
from tests.conftest import use_warehouse
from tests.pipeline.test_sync_sample import EXPECTED_2019, indicators

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
CAMPAIGN_2020 = SAMPLE_DIR / "Questionnaire 2020 - Réponses au formulaire 1.csv"
WEBINAIRE = "Avez-vous suivi le webinaire de rentrée ?"


def answers_2020() -> list[dict[str, str]]:
    with open(CAMPAIGN_2020, encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


def test_the_2020_campaign_publishes_its_edited_form(published_sample):
    rows = answers_2020()
    by_department = Counter(row["Département"] for row in rows)
    twitch = sum("Twitch" in row["Sur quels réseaux sociaux êtes-vous présent pour votre travail ?"] for row in rows)
    x = sum("X (Twitter)" in row["Sur quels réseaux sociaux êtes-vous présent pour votre travail ?"] for row in rows)
    values = indicators(published_sample.published_db, 2020)
    assert [values[("questionnaire_repondants", d)] for d in ("03", "63", "ensemble")] == [
        by_department["03"], by_department["63"], len(rows)
    ]
    with duckdb.connect(str(published_sample.published_db), read_only=True) as con:
        networks = dict(con.execute(
            "select reponse, repondants from bilan.reponses_questionnaire "
            "where annee = 2020 and departement = 'ensemble' and question = 'reseaux'"
        ).fetchall())
        asked = dict(con.execute("select question, est_posee from bilan.questions_campagnes where annee = 2020").fetchall())
        rows_of_dropped = con.execute(
            "select count(*) from bilan.reponses_questionnaire where annee = 2020 and question = 'interet_journees_echanges'"
        ).fetchone()[0]
        in_2019 = {r[0] for r in con.execute(
            "select reponse from bilan.reponses_questionnaire where annee = 2019 and question = 'reseaux'"
        ).fetchall()}
    assert networks["Twitch"] == twitch and networks["Twitter"] == x  # a new option; a reworded one (variant)
    assert "Twitch" not in in_2019  # not offered in 2019: no misleading 0
    assert asked["interet_journees_echanges"] is False and rows_of_dropped == 0
    assert asked["reseaux"] is True  # reworded title, matched by the catalogue's variant


def test_an_uncatalogued_question_is_listed_and_not_counted(published_sample):
    listed = published_sample.report["questions_non_cataloguees"]
    assert listed == [{"annee": 2020, "tableur": "Questionnaire 2020", "colonne": WEBINAIRE, "motif": "non cataloguée"}]
    from flows.ops.summary import format_summary

    assert f"question « {WEBINAIRE} » non cataloguée" in format_summary(published_sample.report)


def test_the_bilan_says_which_question_was_not_asked(published_sample, tmp_path, monkeypatch):
    from flows.outputs.french import french_spaces
    from flows.outputs.report import produce_bilan
    from flows.settings import load_settings

    use_warehouse(monkeypatch, published_sample.copy_to(tmp_path))
    files = produce_bilan(load_settings(), 2020)
    html = files.html.read_text(encoding="utf-8")
    # French typography puts a narrow no-break space before each colon.
    assert "Intérêt\u202f: les journées d&#39;échanges\u202f: question non posée en 2020." in html
    quality = files.qualite.read_text(encoding="utf-8")
    shown = french_spaces(WEBINAIRE).replace("'", "&#39;")  # as the pages print it: « rentrée ? » unbreakable
    assert shown in quality and shown not in html


def build_with_catalogue(project: Path, raw_db: Path, work_db: Path) -> None:
    """`dbt build` of a project copy (the questionnaire marts and what they read) on a landed history."""
    env = {"PDN_DBT_DATABASE": str(work_db), "PDN_RAW_DATABASE": str(raw_db)}
    saved = {name: os.environ.get(name) for name in env}
    os.environ.update(env)
    try:
        result = invoke_dbt([
            "--quiet", "build", "--project-dir", str(project), "--profiles-dir", str(project),
            "--target-path", str(work_db.parent / "target"), "--log-path", str(work_db.parent / "logs"),
            "--select", "+reponses_questionnaire", "+questions_non_cataloguees", "--indirect-selection", "cautious",
            "--exclude-resource-type", "unit_test",
        ])
    finally:
        for name, value in saved.items():
            os.environ.pop(name) if value is None else os.environ.__setitem__(name, value)
    assert result.success, [(r.node.name, r.message) for r in result.result.results if str(r.status) != "pass"]


def test_a_question_added_to_the_catalogue_is_counted_from_the_history_already_landed(published_sample, tmp_path):
    project = tmp_path / "dbt"
    shutil.copytree(DBT_PROJECT_DIR, project, ignore=shutil.ignore_patterns("target", "logs"))
    with open(project / "seeds" / "questionnaire.csv", "a", encoding="utf-8", newline="") as handle:
        csv.writer(handle, lineterminator="\n").writerow(
            ["webinaire", "choix_unique", "10", "Webinaire de rentrée suivi", WEBINAIRE, "Oui | Non"]
        )
    work = tmp_path / "work" / "work.duckdb"
    work.parent.mkdir()
    build_with_catalogue(project, published_sample.root / "private" / "raw.duckdb", work)
    rows = answers_2020()
    expected = {
        (dep, answer): sum(1 for r in rows if r[WEBINAIRE] == answer and dep in (r["Département"], "ensemble"))
        for dep in ("03", "63", "ensemble") for answer in ("Oui", "Non")
    }
    with duckdb.connect(str(work), read_only=True) as con:
        counted = {(d, r): n for d, r, n in con.execute(
            "select departement, reponse, repondants from int_reponses_questionnaire_counted "
            "where annee = 2020 and question = 'webinaire'"
        ).fetchall()}
        published = con.execute(
            "select count(*) from bilan.reponses_questionnaire where question = 'webinaire' and annee = 2020"
        ).fetchone()[0]
        still_listed = con.execute("select count(*) from qualite.questions_non_cataloguees").fetchone()[0]
    assert counted == expected
    assert published == 6 and still_listed == 0  # in the published mart; no longer « non cataloguée »


def test_a_history_written_by_the_previous_release_replays_to_its_exact_counts(prefect_harness, tmp_path, monkeypatch):
    """The first release landed the 2019 sample with its questions as fixed columns; this release replays
    that very sync through the catalogue and must count exactly what the first release counted."""
    root = tmp_path
    (root / "private").mkdir(mode=0o700)
    with gzip.open(FIXTURES / "raw-v1.duckdb.gz") as packed:
        (root / "private" / "raw.duckdb").write_bytes(packed.read())
    with duckdb.connect(str(root / "private" / "raw.duckdb"), read_only=True) as con:
        (sync_id,) = con.execute("select sync_id from syncs").fetchone()
    use_warehouse(monkeypatch, root)
    report = nightly_sync(replay=sync_id)
    assert report["statut"] == "publie"
    values = indicators(root / "warehouse" / "pdn.duckdb")
    for indicateur, expected in EXPECTED_2019.items():
        assert tuple(values[(indicateur, d)] for d in ("03", "63", "ensemble")) == pytest.approx(expected), indicateur
    with open(FIXTURES / "reponses-comptees-v1.csv", encoding="utf-8", newline="") as handle:
        before = {(r["annee"], r["departement"], r["question"], r["reponse"]): (r["repondants_question"], r["repondants"])
                  for r in csv.DictReader(handle)}
    with duckdb.connect(str(root / "private" / "build" / "work.duckdb"), read_only=True) as con:
        now = {(str(a), d, q, r): (str(rq), str(n)) for a, d, q, r, rq, n in con.execute(
            "select annee, departement, question, reponse, repondants_question, repondants "
            "from int_reponses_questionnaire_counted"
        ).fetchall()}
    assert now == before


def test_the_catalogue_headers_match_the_sample_forms():
    """Every question column of the bundled campaigns but the new webinar question is in the catalogue."""
    from flows.sources.catalogue import load_catalogue

    headers = {normalise_label(h) for q in load_catalogue() for h in q.headers}
    for path in SAMPLE_DIR.glob("Questionnaire * - Réponses au formulaire 1.csv"):
        with open(path, encoding="utf-8", newline="") as handle:
            columns = next(csv.reader(handle))[3:]
        missing = [c for c in columns if normalise_label(c) not in headers]
        assert missing == ([WEBINAIRE] if "2020" in path.name else []), path.name
