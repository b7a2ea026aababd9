"""Statistical secrecy of the published questionnaire: a minimum group size K, and its complement.

A group is a département or 'ensemble', for one year and one question. Shown whole with at least K respondents,
hidden whole below K, and a lone hidden département beside a shown 'ensemble' hides the smallest shown one.
Real syncs: the bundled sample (default K = 5), and a copy whose sources.toml sets K = 10.
"""

from __future__ import annotations

import os
import re
from collections import defaultdict
from pathlib import Path

import duckdb
import pytest

from flows.pipeline.sync import nightly_sync
from flows.pipeline.transform import dbt_args, invoke_dbt
from tests.conftest import ALERT_AND_SOURCE_VARIABLES, PublishedSample, use_warehouse
from tests.outputs.test_report import fetch_dicts
from tests.pipeline.test_sync_forms import sample_form
from tests.test_bad_input import sample_copy

ECHANGES_2019 = "Combien d’échanges avez-vous par semaine ?"  # header of the sample's 2019 response file
RAISED_THRESHOLD = 10


# --- Reading the published marts and the private exact counts ----------------------------------------------


def query(db: Path, sql: str) -> list[dict]:
    """Rows of a query on a DuckDB file opened read-only, as dicts."""
    with duckdb.connect(str(db), read_only=True) as con:
        return fetch_dicts(con, sql)


def published_answers(sample: PublishedSample) -> list[dict]:
    return query(sample.published_db, "select * from bilan.reponses_questionnaire")


def published_means(sample: PublishedSample) -> list[dict]:
    return query(sample.published_db, "select * from bilan.interets_questionnaire")


def exact_counts(sample: PublishedSample) -> dict[tuple, int]:
    """The counts before secrecy, from the private build: (annee, departement, question, reponse) -> count."""
    rows = query(
        sample.root / "private" / "build" / "work.duckdb",
        "select annee, departement, question, reponse, repondants from int_reponses_questionnaire_counted",
    )
    return {(r["annee"], r["departement"], r["question"], r["reponse"]): r["repondants"] for r in rows}


def group_secrecy(rows: list[dict]) -> dict[tuple, set[bool]]:
    """(annee, question, departement) -> the `secret` values of the group's rows."""
    groups: dict[tuple, set[bool]] = defaultdict(set)
    for row in rows:
        groups[(row["annee"], row["question"], row["departement"])].add(row["secret"])
    return groups


def secret_departements(rows: list[dict], annee: int) -> dict[str, bool]:
    """département -> hidden, for one year, every question agreeing (else the test fails)."""
    states: dict[str, set[bool]] = defaultdict(set)
    for (year, _, departement), secrets in group_secrecy(rows).items():
        if year == annee:
            states[departement] |= secrets
    assert all(len(s) == 1 for s in states.values()), f"{annee}: questions disagree: {dict(states)}"
    return {departement: s.pop() for departement, s in states.items()}


def group_sizes(rows: list[dict], annee: int, question: str) -> dict[str, int]:
    return {
        r["departement"]: r["repondants_question"] for r in rows if (r["annee"], r["question"]) == (annee, question)
    }


def assert_secrecy_holds(sample: PublishedSample) -> None:
    """Both marts obey the rule: whole groups, none under K shown, exact figures shown, no lone hidden département."""
    answers, means, exact = published_answers(sample), published_means(sample), exact_counts(sample)
    assert answers and means
    for row in answers:
        if row["secret"]:
            assert row["repondants"] is None and row["part"] is None, row
        else:
            assert row["repondants_question"] >= row["seuil_confidentialite"], f"a group under K is shown: {row}"
            key = (row["annee"], row["departement"], row["question"], row["reponse"])
            assert row["repondants"] == exact[key], f"a shown figure differs from the exact count: {row}"
    for mean in means:
        if mean["secret"]:
            assert mean["moyenne"] is None, mean
        else:
            assert mean["repondants_question"] >= mean["seuil_confidentialite"], f"a mean under K is shown: {mean}"
    groups = group_secrecy(answers)
    assert all(len(secrets) == 1 for secrets in groups.values()), "a group is shown or hidden whole"
    for (annee, question, departement), secrets in group_secrecy(means).items():
        assert secrets == groups[(annee, question, departement)], "a mean and its score distribution agree"
    assert_no_hidden_group_is_recoverable(answers)


def assert_no_hidden_group_is_recoverable(rows: list[dict]) -> None:
    """'ensemble' hidden hides everything; shown, it never sits beside exactly one hidden non-empty département."""
    questions: dict[tuple, dict[str, tuple[bool, int]]] = defaultdict(dict)
    for row in rows:
        questions[(row["annee"], row["question"])][row["departement"]] = (row["secret"], row["repondants_question"])
    for key, groups in questions.items():
        ensemble_hidden, _ = groups.pop("ensemble")
        hidden = [d for d, (secret, size) in groups.items() if secret and size > 0]
        if ensemble_hidden:
            assert all(secret for secret, _ in groups.values()), f"{key}: a département shown under a hidden network"
        else:
            assert len(hidden) != 1, f"{key}: ensemble minus the shown départements gives {hidden[0]} back"


# --- The bundled sample, default threshold -----------------------------------------------------------------


def counted_exchanges_2019() -> dict[str, int]:
    """Answers to « échanges par semaine » in the sample's 2019 file as the pipeline counts them.

    From the file itself: blank rows and the quarantined row (an interest of 7, which is also « Plus de 10 »)
    are left out by `sample_form`; a person who answered twice counts once, with the latest answer.
    """
    _, responses = sample_form()
    latest: dict[str, dict] = {}
    for response in sorted(responses, key=lambda r: r["submitted"]):
        latest[response["email"].strip().lower()] = response["answers"]
    counted: dict[str, int] = defaultdict(int)
    for answers in latest.values():
        if ECHANGES_2019 in answers:
            counted[answers[ECHANGES_2019]] += 1
    return counted


def test_the_network_exchanges_of_2019_are_shown_with_17_above_ten(published_sample):
    above_ten = counted_exchanges_2019()["Plus de 10"]
    rows = query(
        published_sample.published_db,
        "select reponse, repondants, secret from bilan.reponses_questionnaire "
        "where annee = 2019 and departement = 'ensemble' and question = 'echanges'",
    )
    assert rows and not any(row["secret"] for row in rows), "the network's exchanges chart is published"
    published = {row["reponse"]: row["repondants"] for row in rows}
    assert above_ten == 17 and published["Plus de 10"] == above_ten
    assert published["Aucun"] == counted_exchanges_2019()["Aucun"] == 1  # a cell of 1 no longer hides the chart


def test_a_small_answer_in_a_large_enough_group_is_published_exactly(published_sample):
    """Under the old cell rule the 3 Allier Promeneurs on TikTok were « secret »; their group of 11 is shown."""
    exact = exact_counts(published_sample)
    rows = query(
        published_sample.published_db,
        "select repondants_question, repondants, secret, seuil_confidentialite from bilan.reponses_questionnaire "
        "where annee = 2019 and departement = '03' and question = 'reseaux' and reponse = 'TikTok'",
    )
    assert len(rows) == 1
    tiktok = rows[0]
    assert (
        0 < exact[(2019, "03", "reseaux", "TikTok")] < tiktok["seuil_confidentialite"] <= tiktok["repondants_question"]
    )
    assert not tiktok["secret"] and tiktok["repondants"] == exact[(2019, "03", "reseaux", "TikTok")]


def test_every_group_of_the_sample_is_published_under_the_default_threshold(published_sample):
    answers, means = published_answers(published_sample), published_means(published_sample)
    assert {row["seuil_confidentialite"] for row in answers + means} == {5}
    assert min(row["repondants_question"] for row in answers) >= 5  # smallest group: Allier 2020, 9 respondents
    assert not any(row["secret"] for row in answers + means)


def test_the_sample_publication_keeps_statistical_secrecy(published_sample):
    assert_secrecy_holds(published_sample)


# --- The sample with `[bilan] seuil_confidentialite = 10` in its sources.toml --------------------------------


def with_threshold(config: str, threshold: int) -> str:
    """A sources.toml text with `seuil_confidentialite` set in its [bilan] section (added when absent)."""
    assert "seuil_confidentialite" not in config
    setting = f"seuil_confidentialite = {threshold}\n"
    if re.search(r"^\[bilan\]\n", config, flags=re.MULTILINE):
        return re.sub(r"^\[bilan\]\n", lambda match: match.group(0) + setting, config, count=1, flags=re.MULTILINE)
    return f"{config}\n[bilan]\n{setting}"


@pytest.fixture(scope="module")
def raised_threshold(prefect_harness, tmp_path_factory) -> PublishedSample:
    """The sample synced from a copy of its folder whose sources.toml raises K to 10."""
    root = tmp_path_factory.mktemp("seuil-10")
    exports = sample_copy(root)
    config = exports / "sources.toml"
    config.write_text(with_threshold(config.read_text(encoding="utf-8"), RAISED_THRESHOLD), encoding="utf-8")
    with pytest.MonkeyPatch.context() as patch:
        use_warehouse(patch, root)
        for name in ALERT_AND_SOURCE_VARIABLES:
            patch.delenv(name, raising=False)
        report = nightly_sync(source_dir=str(exports))
    return PublishedSample(root=root, report=report)


def test_the_threshold_is_read_from_the_bilan_section_of_sources_toml(raised_threshold, published_sample):
    answers, means = published_answers(raised_threshold), published_means(raised_threshold)
    assert raised_threshold.report["statut"] == "publie"
    assert {row["seuil_confidentialite"] for row in answers + means} == {RAISED_THRESHOLD}
    sizes = group_sizes(answers, 2020, "echanges")
    assert 5 <= sizes["03"] < RAISED_THRESHOLD  # shown under K = 5, hidden under K = 10
    assert secret_departements(published_answers(published_sample), 2020)["03"] is False
    assert secret_departements(answers, 2020)["03"] is True


def test_a_department_under_the_threshold_is_hidden_with_its_complement(raised_threshold):
    answers, means = published_answers(raised_threshold), published_means(raised_threshold)
    sizes = group_sizes(answers, 2020, "echanges")
    assert sizes["03"] < RAISED_THRESHOLD <= sizes["63"] <= sizes["ensemble"]
    # Allier is too small; Puy-de-Dôme is hidden too, else the network minus Puy-de-Dôme gives Allier back.
    expected = {"03": True, "63": True, "ensemble": False}
    assert secret_departements(answers, 2020) == expected
    assert secret_departements(means, 2020) == expected
    assert all(row["moyenne"] is not None for row in means if (row["annee"], row["departement"]) == (2020, "ensemble"))
    # 2019: Allier's 11 respondents reach K = 10, everything stays published.
    assert min(group_sizes(answers, 2019, "echanges").values()) >= RAISED_THRESHOLD
    assert not any(secret_departements(answers, 2019).values())
    assert not any(secret_departements(means, 2019).values())


def test_the_raised_threshold_publication_keeps_statistical_secrecy(raised_threshold):
    assert_secrecy_holds(raised_threshold)


def test_the_build_fails_when_a_group_under_the_threshold_is_published(raised_threshold, tmp_path, monkeypatch):
    """The dbt data test that guards publication catches Allier's 2020 group shown under K = 10."""
    root = raised_threshold.copy_to(tmp_path)
    work_db = root / "private" / "build" / "work.duckdb"
    with duckdb.connect(str(work_db)) as con:
        shown = con.execute(
            "update bilan.reponses_questionnaire set secret = false, repondants = 0 "
            "where annee = 2020 and departement = '03' and question = 'echanges'"
        ).fetchone()[0]
    assert shown > 0
    monkeypatch.setitem(os.environ, "PDN_DBT_DATABASE", str(work_db))
    monkeypatch.setitem(os.environ, "PDN_RAW_DATABASE", str(root / "private" / "raw.duckdb"))
    args = dbt_args("test", root / "private" / "dbt") + ["--select", "assert_secret_statistique_respecte"]
    result = invoke_dbt(args)
    statuses = {node.node.name: str(node.status) for node in result.result.results}
    assert statuses == {"assert_secret_statistique_respecte": "fail"}
    assert not result.success
