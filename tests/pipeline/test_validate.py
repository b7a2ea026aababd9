"""The Great Expectations gate: each critical rule blocks, each warning reports, a valid candidate passes."""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import duckdb
import pytest

from flows.pipeline import validate
from flows.pipeline.validate import AVERTISSEMENT, CRITIQUE, GateResult, run_gate

# (indicateur, nature, additif) — one of each kind the rules distinguish.
DEFINITIONS = [
    ("promeneurs_actifs_fin_annee", "compte", True),
    ("ateliers", "compte", True),
    ("jours_formation", "jours", True),
    ("types_profils", "compte", False),
    ("questionnaire_taux_participation", "taux", False),
]


def domain(indicateur: str) -> str:
    """Where an indicator comes from, as the indicateurs seed says."""
    return "questionnaire" if indicateur.startswith("questionnaire_") else "activites"


# valeur by (annee, indicateur) -> (03, 63, ensemble); ateliers' ensemble adds one 03/63 action.
VALUES = {
    2019: {
        "promeneurs_actifs_fin_annee": (23, 43, 66),
        "ateliers": (5, 4, 10),
        "jours_formation": (1.5, 1.5, 3.0),
        "types_profils": (9, 7, 10),
        "questionnaire_taux_participation": (11 / 27, 20 / 48, 31 / 75),
    },
    2020: {
        "promeneurs_actifs_fin_annee": (27, 48, 75),
        "ateliers": (6, 5, 11),
        "jours_formation": (2.0, 1.0, 3.0),
        "types_profils": (9, 8, 10),
        "questionnaire_taux_participation": (12 / 27, 22 / 48, 34 / 75),
    },
}
EFFECTIFS = {  # (annee, departement) -> (debut, nouveaux, sorties, fin)
    (2019, "03"): (12, 12, 1, 23), (2019, "63"): (31, 14, 2, 43), (2019, "ensemble"): (43, 26, 3, 66),
    (2020, "03"): (23, 5, 1, 27), (2020, "63"): (43, 7, 2, 48), (2020, "ensemble"): (66, 12, 3, 75),
}
LIGNES_LUES = [
    ("Suivi", "Promeneurs", 75),
    ("Suivi", "Activités", 80),
    ("Questionnaire 2019", "Réponses au formulaire 1", 35),
]

# The control tables are derived from the marts exactly as the dbt models define them.
DERIVED_TABLES_SQL = """
create table qualite.controles_indicateurs as
with par_departement as (
    select i.annee, i.indicateur, d.additif, d.nature,
        sum(valeur) filter (where departement <> 'ensemble') as somme_departements,
        max(valeur) filter (where departement <> 'ensemble') as max_departement,
        max(valeur) filter (where departement = 'ensemble') as valeur_ensemble,
        count(*) filter (where departement <> 'ensemble') as nb_departements_presents,
        2 as nb_departements_attendus,
        count(*) filter (where valeur <> round(valeur)) as valeurs_non_entieres,
        min(valeur) as valeur_min
    from bilan.indicateurs_annuels i join bilan.definitions_indicateurs d using (indicateur)
    group by all
)
select annee, indicateur, additif, nature, somme_departements, max_departement,
    case when additif then valeur_ensemble - somme_departements end as valeur_bidepartementale,
    valeur_ensemble, nb_departements_presents, nb_departements_attendus,
    case when additif then 0.0 end as ecart_somme,
    valeurs_non_entieres, valeur_min
from par_departement;

create table qualite.controles_evolution as
select cur.annee, cur.departement, cur.indicateur, cur.valeur, prev.valeur as valeur_annee_precedente,
    case when prev.valeur > 0 then (cur.valeur - prev.valeur) / prev.valeur end as variation_relative
from bilan.indicateurs_annuels cur
join bilan.indicateurs_annuels prev
    on prev.annee = cur.annee - 1 and prev.departement = cur.departement and prev.indicateur = cur.indicateur;
"""


def build_candidate(path: Path) -> Path:
    """A small valid candidate: 03/63/ensemble for 2019 and 2020, every table the gate reads."""
    with duckdb.connect(str(path)) as con:
        con.execute("create schema bilan; create schema qualite;")
        con.execute(
            "create table bilan.definitions_indicateurs (indicateur varchar, libelle varchar, nature varchar,"
            " additif boolean, domaine varchar, ordre integer, description varchar)"
        )
        con.executemany(
            "insert into bilan.definitions_indicateurs values (?, ?, ?, ?, ?, ?, ?)",
            [(name, name.replace("_", " "), nature, additif, domain(name), rank, "")
             for rank, (name, nature, additif) in enumerate(DEFINITIONS)],
        )
        con.execute(
            "create table bilan.indicateurs_annuels (annee integer, departement varchar, indicateur varchar,"
            " valeur double)"
        )
        con.executemany(
            "insert into bilan.indicateurs_annuels values (?, ?, ?, ?)",
            [(year, dep, name, value)
             for year, by_name in VALUES.items() for name, values in by_name.items()
             for dep, value in zip(("03", "63", "ensemble"), values)],
        )
        con.execute(DERIVED_TABLES_SQL)
        con.execute(
            "create table qualite.controles_effectifs (annee integer, departement varchar, debut integer,"
            " nouveaux integer, sorties integer, fin integer, ecart integer)"
        )
        con.executemany(
            "insert into qualite.controles_effectifs values (?, ?, ?, ?, ?, ?, ?)",
            [(y, d, a, n, s, f, a + n - s - f) for (y, d), (a, n, s, f) in EFFECTIFS.items()],
        )
        con.execute(
            "create table qualite.lignes_lues (spreadsheet_title varchar, onglet varchar, lignes_lues integer,"
            " lignes_valides integer, lignes_quarantaine integer)"
        )
        con.executemany(
            "insert into qualite.lignes_lues values (?, ?, ?, ?, 0)", [(t, o, n, n) for t, o, n in LIGNES_LUES]
        )
        con.execute(
            "create table qualite.quarantaine (spreadsheet_title varchar, onglet varchar, motif varchar,"
            " lignes bigint)"
        )
    return path


@pytest.fixture(scope="module")
def valid_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The shared valid candidate (never modified: tests mutate copies)."""
    return build_candidate(tmp_path_factory.mktemp("candidat") / "valide.duckdb")


@pytest.fixture(scope="module")
def valid_result(valid_db: Path, tmp_path_factory: pytest.TempPathFactory) -> GateResult:
    """One gate run on the valid candidate, shared by the tests that only read it."""
    return run_gate(valid_db, None, "valide", tmp_path_factory.mktemp("docs"))


def mutated(valid_db: Path, tmp_path: Path, sql: str) -> Path:
    """A copy of the valid candidate with one thing changed."""
    path = tmp_path / "candidat.duckdb"
    shutil.copy(valid_db, path)
    with duckdb.connect(str(path)) as con:
        con.execute(sql)
    return path


def gate(valid_db: Path, tmp_path: Path, sql: str, previous: Path | None = None) -> GateResult:
    """Run the gate on a mutated copy of the valid candidate."""
    return run_gate(mutated(valid_db, tmp_path, sql), previous, "test", tmp_path / "docs")


def failure_with(result: GateResult, message: str):
    """The failure carrying exactly this coordinator message (fails the test if absent)."""
    found = [f for f in result.failures if f.message == message]
    assert found, f"no failure with message {message!r}; got {[f.message for f in result.failures]}"
    return found[0]


def assert_blocked_by(result: GateResult, message: str):
    """The gate refuses publication, and this critical message is among the reasons."""
    failure = failure_with(result, message)
    assert result.passed is False
    assert failure.severity == CRITIQUE
    return failure


def assert_warned(result: GateResult, message: str):
    """The gate lets the candidate through but reports this warning, and nothing critical."""
    failure = failure_with(result, message)
    assert failure.severity == AVERTISSEMENT
    assert result.passed is True
    assert all(f.severity == AVERTISSEMENT for f in result.failures)
    return failure


# --- The valid candidate ---------------------------------------------------------------------


def test_valid_candidate_passes_with_no_failure(valid_result: GateResult):
    assert valid_result.failures == []
    assert valid_result.passed is True


def test_data_docs_index_is_written_for_the_run(valid_result: GateResult):
    index = valid_result.data_docs_index
    assert index is not None and index.name == "index.html" and index.is_file()
    assert "bilan_indicateurs_annuels" in index.read_text(encoding="utf-8")


def test_repeated_runs_share_a_docs_folder_and_leave_the_committed_project_untouched(
    valid_db: Path, tmp_path: Path
):
    committed = sorted(p for p in validate.GX_DIR.rglob("*") if p.is_file() and "uncommitted" not in p.parts)
    before = {p: hashlib.sha256(p.read_bytes()).hexdigest() for p in committed}
    first = run_gate(valid_db, None, "premier", tmp_path)
    second = run_gate(valid_db, valid_db, "second", tmp_path)
    assert first.passed and second.passed
    index = second.data_docs_index.read_text(encoding="utf-8")
    assert "premier" in index and "second" in index
    after = sorted(p for p in validate.GX_DIR.rglob("*") if p.is_file() and "uncommitted" not in p.parts)
    assert after == committed
    assert {p: hashlib.sha256(p.read_bytes()).hexdigest() for p in after} == before


# --- Critical rules: each one blocks publication ----------------------------------------------


def test_empty_indicator_table_blocks(valid_db: Path, tmp_path: Path):
    result = gate(valid_db, tmp_path, "delete from bilan.indicateurs_annuels")
    assert_blocked_by(result, "La table bilan.indicateurs_annuels est vide : aucun indicateur n'a été calculé.")


def test_missing_required_column_blocks(valid_db: Path, tmp_path: Path):
    result = gate(valid_db, tmp_path, "alter table bilan.indicateurs_annuels drop column valeur")
    failure = assert_blocked_by(
        result,
        "La table bilan.indicateurs_annuels n'a pas les colonnes attendues (annee, departement, indicateur, valeur).",
    )
    assert failure.details["colonnes_manquantes"] == ["valeur"]


def test_null_value_blocks(valid_db: Path, tmp_path: Path):
    result = gate(
        valid_db, tmp_path, "update bilan.indicateurs_annuels set valeur = null where indicateur = 'ateliers'"
    )
    failure = assert_blocked_by(
        result, "Un indicateur mesuré chaque année (hors questionnaire) est vide dans bilan.indicateurs_annuels."
    )
    assert failure.details["lignes_en_erreur"] == 6


def test_an_unmeasured_questionnaire_figure_may_be_null(valid_db: Path, tmp_path: Path):
    result = gate(
        valid_db, tmp_path,
        "update bilan.indicateurs_annuels set valeur = null where indicateur = 'questionnaire_taux_participation'",
    )
    assert result.passed, [f.message for f in result.failures if f.severity == CRITIQUE]


def test_duplicate_indicator_row_blocks(valid_db: Path, tmp_path: Path):
    result = gate(
        valid_db, tmp_path,
        "insert into bilan.indicateurs_annuels select * from bilan.indicateurs_annuels"
        " where annee = 2019 and departement = '03' and indicateur = 'ateliers'",
    )
    failure = assert_blocked_by(
        result, "Un même indicateur apparaît plusieurs fois pour une même année et un même département."
    )
    assert {"annee": 2019, "departement": "03", "indicateur": "ateliers"} in failure.details["exemples"]


def test_indicator_missing_for_a_department_blocks(valid_db: Path, tmp_path: Path):
    result = gate(
        valid_db, tmp_path,
        "delete from bilan.indicateurs_annuels where annee = 2020 and departement = '63' and indicateur = 'ateliers'",
    )
    failure = assert_blocked_by(
        result,
        "Le tableau des indicateurs est incomplet : chaque indicateur défini doit avoir une valeur pour chaque "
        "année, chaque département du réseau et l'ensemble.",
    )
    assert failure.details["valeur_observee"] == 29


def test_department_count_mismatch_in_controls_blocks(valid_db: Path, tmp_path: Path):
    result = gate(
        valid_db, tmp_path,
        "update qualite.controles_indicateurs set nb_departements_presents = 1"
        " where annee = 2020 and indicateur = 'ateliers'",
    )
    failure = assert_blocked_by(result, "Un indicateur manque pour au moins un département du réseau.")
    assert failure.details["exemples"][0]["indicateur"] == "ateliers"


def test_unknown_department_blocks(valid_db: Path, tmp_path: Path):
    result = gate(
        valid_db, tmp_path, "update bilan.indicateurs_annuels set departement = '15' where departement = '63'"
    )
    assert_blocked_by(
        result, "Des indicateurs portent sur un département qui n'est ni un département du réseau ni « ensemble »."
    )


def test_undefined_indicator_blocks(valid_db: Path, tmp_path: Path):
    result = gate(
        valid_db, tmp_path, "delete from bilan.definitions_indicateurs where indicateur = 'types_profils'"
    )
    failure = assert_blocked_by(
        result, "Des indicateurs calculés ne figurent pas dans bilan.definitions_indicateurs."
    )
    assert failure.details["lignes_en_erreur"] == 6


def test_negative_value_blocks(valid_db: Path, tmp_path: Path):
    result = gate(
        valid_db, tmp_path,
        "update bilan.indicateurs_annuels set valeur = -1 where annee = 2019 and departement = '03'"
        " and indicateur = 'ateliers'",
    )
    failure = assert_blocked_by(result, "Des indicateurs ont une valeur négative.")
    assert failure.details["exemples"] == [
        {"annee": 2019, "departement": "03", "indicateur": "ateliers", "valeur": -1.0}
    ]


def test_non_integer_count_blocks(valid_db: Path, tmp_path: Path):
    result = gate(
        valid_db, tmp_path,
        "update qualite.controles_indicateurs set valeurs_non_entieres = 1 where indicateur = 'ateliers'",
    )
    assert_blocked_by(result, "Un indicateur de comptage (nature « compte ») a une valeur non entière.")


def test_non_integer_days_are_allowed(valid_result: GateResult, valid_db: Path):
    # jours_formation is 1.5 in the valid candidate: only 'compte' indicators must be integral.
    with duckdb.connect(str(valid_db), read_only=True) as con:
        non_integer = con.execute(
            "select valeurs_non_entieres from qualite.controles_indicateurs"
            " where indicateur = 'jours_formation' and annee = 2019"
        ).fetchone()[0]
    assert non_integer == 2
    assert valid_result.passed and valid_result.failures == []


def test_additive_sum_gap_blocks(valid_db: Path, tmp_path: Path):
    result = gate(
        valid_db, tmp_path,
        "update qualite.controles_indicateurs set ecart_somme = 1 where indicateur = 'promeneurs_actifs_fin_annee'",
    )
    assert_blocked_by(
        result,
        "Pour un indicateur additif, la valeur « ensemble » diffère de la somme des départements et des actions "
        "bi-départementales.",
    )


def test_distinct_count_above_department_sum_blocks(valid_db: Path, tmp_path: Path):
    result = gate(
        valid_db, tmp_path,
        "update qualite.controles_indicateurs set valeur_ensemble = somme_departements + 1"
        " where indicateur = 'types_profils'",
    )
    assert_blocked_by(
        result,
        "Pour un comptage non additif (nombre de types distincts), la valeur « ensemble » dépasse la somme des "
        "départements.",
    )


def test_distinct_count_below_a_department_blocks(valid_db: Path, tmp_path: Path):
    result = gate(
        valid_db, tmp_path,
        "update qualite.controles_indicateurs set valeur_ensemble = max_departement - 1"
        " where indicateur = 'types_profils'",
    )
    assert_blocked_by(
        result,
        "Pour un comptage non additif (nombre de types distincts), la valeur « ensemble » est inférieure à celle "
        "d'un département.",
    )


def test_rate_above_one_blocks(valid_db: Path, tmp_path: Path):
    result = gate(
        valid_db, tmp_path,
        "update bilan.indicateurs_annuels set valeur = 1.2"
        " where indicateur = 'questionnaire_taux_participation' and departement = '03' and annee = 2019",
    )
    assert_blocked_by(result, "Un taux (indicateur de nature « taux ») sort de l'intervalle 0 à 1.")


def test_headcount_that_does_not_balance_blocks(valid_db: Path, tmp_path: Path):
    result = gate(
        valid_db, tmp_path,
        "update qualite.controles_effectifs set fin = fin + 1, ecart = -1 where annee = 2020 and departement = '03'",
    )
    failure = assert_blocked_by(
        result,
        "Les effectifs ne bouclent pas : Promeneurs actifs en début d'année + nouveaux − sorties ≠ actifs en fin "
        "d'année.",
    )
    assert failure.details["exemples"] == [{"annee": 2020, "departement": "03", "ecart": -1}]


def test_empty_source_tab_blocks(valid_db: Path, tmp_path: Path):
    result = gate(
        valid_db, tmp_path,
        "update qualite.lignes_lues set lignes_lues = 0, lignes_valides = 0 where onglet = 'Activités'",
    )
    failure = assert_blocked_by(
        result, "Un onglet source est vide (aucune ligne lue) : a-t-il été vidé par erreur ?"
    )
    assert failure.details["exemples"][0]["onglet"] == "Activités"


def test_missing_table_blocks(valid_db: Path, tmp_path: Path):
    result = gate(valid_db, tmp_path, "drop table qualite.controles_effectifs")
    failure = assert_blocked_by(
        result,
        "La table qualite.controles_effectifs est absente du fichier candidat : le contrôle qualité est impossible.",
    )
    assert failure.expectation == "table_presente"


# --- Collapse of rows read versus the last published file -------------------------------------

COLLAPSE = (
    "Le nombre de lignes lues dans un onglet a baissé de plus de 50 % par rapport au dernier entrepôt publié : "
    "onglet vidé ou tronqué par erreur ?"
)


def test_rows_read_collapsing_below_half_of_previous_blocks(valid_db: Path, tmp_path: Path):
    # 80 -> 30 rows in Activités: the tab was probably truncated by mistake.
    result = gate(
        valid_db, tmp_path, "update qualite.lignes_lues set lignes_lues = 30 where onglet = 'Activités'", valid_db
    )
    failure = assert_blocked_by(result, COLLAPSE)
    assert failure.details["exemples"] == [
        {"spreadsheet_title": "Suivi", "onglet": "Activités", "ratio_lignes_lues": 0.375}
    ]


def test_moderate_drop_in_rows_read_passes(valid_db: Path, tmp_path: Path):
    result = gate(
        valid_db, tmp_path, "update qualite.lignes_lues set lignes_lues = 40 where onglet = 'Activités'", valid_db
    )
    assert result.passed is True
    assert result.failures == []


def test_tab_no_longer_read_counts_as_a_collapse(valid_db: Path, tmp_path: Path):
    result = gate(valid_db, tmp_path, "delete from qualite.lignes_lues where onglet = 'Promeneurs'", valid_db)
    failure = assert_blocked_by(result, COLLAPSE)
    assert failure.details["exemples"][0]["onglet"] == "Promeneurs"


def test_collapse_is_not_checked_without_a_previous_file(valid_db: Path, tmp_path: Path):
    result = gate(valid_db, tmp_path, "update qualite.lignes_lues set lignes_lues = 30 where onglet = 'Activités'")
    assert result.passed is True
    assert COLLAPSE not in [f.message for f in result.failures]


VALID_COLLAPSE = (
    "Le nombre de lignes valides d'un onglet a baissé de plus de 50 % par rapport au dernier entrepôt publié : "
    "les lignes sont lues mais mises en quarantaine."
)
YEAR_GONE = (
    "Une année publiée a disparu des indicateurs (plus aucune activité valide ni campagne de questionnaire pour "
    "cette année) : lignes mises en quarantaine ou onglet vidé ?"
)
ACTIVITES_READ = dict(((t, o), n) for t, o, n in LIGNES_LUES)[("Suivi", "Activités")]


def quarantined_activities(valid: int, reasons: dict[str, int]) -> str:
    """SQL: the Activités tab read whole, only `valid` rows valid, the others quarantined for these reasons."""
    inserts = "".join(
        f"insert into qualite.quarantaine values ('Suivi', 'Activités', '{motif}', {lignes});"
        for motif, lignes in reasons.items()
    )
    return (
        f"update qualite.lignes_lues set lignes_valides = {valid}, lignes_quarantaine = {ACTIVITES_READ - valid} "
        f"where onglet = 'Activités';{inserts}"
    )


def test_valid_rows_collapsing_below_half_block_and_name_the_dominant_quarantine_reason(valid_db: Path, tmp_path: Path):
    # Every row still read (the rows-read check passes), none valid: a reformatted Date column.
    quarantined = ACTIVITES_READ
    sql = quarantined_activities(0, {"Date illisible": quarantined, "Participants illisible": 2})
    result = gate(valid_db, tmp_path, sql, valid_db)
    failure = assert_blocked_by(
        result,
        f"{VALID_COLLAPSE} Suivi / Activités : {quarantined} lignes : Date illisible — la colonne Date a-t-elle "
        "changé de format ?",
    )
    assert failure.details["exemples"] == [{"spreadsheet_title": "Suivi", "onglet": "Activités", "ratio_lignes_valides": 0.0}]
    assert COLLAPSE not in [f.message for f in result.failures]


def test_valid_rows_falling_by_less_than_half_only_warn_about_the_quarantine(valid_db: Path, tmp_path: Path):
    valid = ACTIVITES_READ // 2 + 1
    result = gate(valid_db, tmp_path, quarantined_activities(valid, {"Date illisible": ACTIVITES_READ - valid}), valid_db)
    assert result.passed is True
    assert {f.suite for f in result.failures} == {"qualite_lignes_lues"}


def test_valid_rows_are_not_compared_without_a_previous_file(valid_db: Path, tmp_path: Path):
    result = gate(valid_db, tmp_path, quarantined_activities(0, {"Date illisible": ACTIVITES_READ}))
    assert result.passed is True


def test_a_published_year_missing_from_the_candidate_blocks(valid_db: Path, tmp_path: Path):
    result = gate(valid_db, tmp_path, "delete from bilan.indicateurs_annuels where annee = 2019", valid_db)
    failure = assert_blocked_by(result, YEAR_GONE)
    assert failure.details["exemples"] == [{"annee": 2019, "presente": 0}]


def test_a_missing_year_names_the_dominant_quarantine_reason(valid_db: Path, tmp_path: Path):
    sql = "delete from bilan.indicateurs_annuels where annee = 2019;" + quarantined_activities(
        ACTIVITES_READ - 5, {"Date illisible": 4, "Participants illisible": 1}
    )
    result = gate(valid_db, tmp_path, sql, valid_db)
    assert_blocked_by(result, f"{YEAR_GONE} 4 lignes : Date illisible — la colonne Date a-t-elle changé de format ?")


def test_a_year_is_not_compared_without_a_previous_file(valid_db: Path, tmp_path: Path):
    result = gate(valid_db, tmp_path, "delete from bilan.indicateurs_annuels where annee = 2019")
    assert YEAR_GONE not in [f.message for f in result.failures]


# --- Warnings: published, but reported -------------------------------------------------------


def test_implausible_variation_warns_only_above_the_base_threshold(valid_db: Path, tmp_path: Path):
    result = gate(
        valid_db, tmp_path,
        # ateliers 63: 4 -> 5 recorded as +150 % (base 4 < 5: ignored); 03: 5 -> 6 recorded as +150 % (base 5).
        "update qualite.controles_evolution set variation_relative = 1.5 where indicateur = 'ateliers'"
        " and departement in ('03', '63')",
    )
    failure = assert_warned(
        result,
        "Un indicateur varie de plus de ±100 % par rapport à l'année précédente (base d'au moins 5) : vérifier "
        "la saisie.",
    )
    assert failure.details["exemples"] == [
        {"annee": 2020, "departement": "03", "indicateur": "ateliers", "variation_relative": 1.5}
    ]


def test_quarantined_rows_warn_with_their_reason(valid_db: Path, tmp_path: Path):
    result = gate(
        valid_db, tmp_path,
        "update qualite.lignes_lues set lignes_valides = 78, lignes_quarantaine = 2 where onglet = 'Activités';"
        "insert into qualite.quarantaine values ('Suivi', 'Activités', 'type d''action inconnu', 2)",
    )
    failure = assert_warned(
        result,
        "Des lignes ont été mises en quarantaine (valeurs non reconnues) : elles ne sont pas comptées dans les "
        "indicateurs. Les corriger dans le tableur.",
    )
    assert failure.details["motifs"] == [
        {"spreadsheet_title": "Suivi", "onglet": "Activités", "motif": "type d'action inconnu", "lignes": 2}
    ]


def test_low_participation_rate_warns(valid_db: Path, tmp_path: Path):
    result = gate(
        valid_db, tmp_path,
        "update bilan.indicateurs_annuels set valeur = 0.1"
        " where indicateur = 'questionnaire_taux_participation' and departement = '03' and annee = 2020",
    )
    assert_warned(
        result,
        "Le taux de participation au questionnaire est inférieur à 20 % : les résultats du questionnaire sont "
        "fragiles (relancer les Promeneurs ?).",
    )


# --- The committed project -------------------------------------------------------------------


def test_committed_suites_match_the_rules_in_code():
    """A threshold changed in flows/validate.py without `--rebuild` would silently not apply."""
    for spec in validate.SUITES:
        committed = json.loads((validate.GX_DIR / "expectations" / f"{spec.name}.json").read_text(encoding="utf-8"))
        in_code = [e.configuration.to_json_dict() for e in validate.suite_rules(spec.name)]
        strip = lambda configs: [{k: v for k, v in c.items() if k != "id"} for c in configs]  # noqa: E731
        assert strip(committed["expectations"]) == strip(in_code), spec.name
        for name in ("validation_definitions", "checkpoints"):
            assert (validate.GX_DIR / name / f"{spec.name}.json").is_file()


def test_every_expectation_carries_a_severity_and_a_french_message():
    for spec in validate.SUITES:
        for expectation in validate.suite_rules(spec.name):
            assert expectation.meta["severity"] in (CRITIQUE, AVERTISSEMENT)
            assert expectation.meta["message"].endswith((".", "?"))
            assert expectation.severity.value == {CRITIQUE: "critical", AVERTISSEMENT: "warning"}[
                expectation.meta["severity"]
            ]


def test_data_docs_keep_only_the_latest_runs(valid_db: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setattr(validate, "DATA_DOCS_RUNS_KEPT", 1)
    run_gate(valid_db, None, "ancien", tmp_path)
    latest = run_gate(valid_db, None, "recent", tmp_path)
    index = latest.data_docs_index.read_text(encoding="utf-8")
    assert "recent" in index and "ancien" not in index
    assert not [p for p in tmp_path.rglob("*") if p.is_file() and "ancien" in p.parts]


def test_zero_participation_rate_means_no_campaign_and_does_not_warn(valid_db: Path, tmp_path: Path):
    result = gate(
        valid_db, tmp_path,
        "update bilan.indicateurs_annuels set valeur = 0 where indicateur = 'questionnaire_taux_participation'"
        " and annee = 2020",
    )
    assert result.passed is True
    assert result.failures == []


def test_previous_file_held_open_read_write_by_someone_else_is_still_compared(tmp_path):
    import subprocess
    import sys

    from flows.pipeline.validate import _previous_lignes_lues

    previous = tmp_path / "pdn.duckdb"
    with duckdb.connect(str(previous)) as con:
        con.execute("create schema qualite")
        con.execute("create table qualite.lignes_lues as select 'Suivi' as spreadsheet_title, 'Activités' as onglet, 74 as lignes_lues")
    holder = subprocess.Popen(
        [sys.executable, "-c", f"import duckdb, sys; c = duckdb.connect({str(previous)!r}); print('ok', flush=True); sys.stdin.readline()"],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "ok"  # a read-write connection locks the file
        frame = _previous_lignes_lues(previous)
    finally:
        holder.stdin.write("\n")
        holder.stdin.flush()
        holder.wait(30)
    assert frame["lignes_lues"].tolist() == [74]


# --- Through the real flow: `pdn synchroniser --source` on a copy of the sample ----------------------------------------


def _sync_refused(published_sample, tmp_path: Path, change) -> tuple[int, str, dict, bytes, bytes]:
    """Sync a changed copy of the sample's exports onto a copy of its publication: code, output, report, files."""
    import contextlib
    import io

    from flows.cli import main
    from flows.settings import SAMPLE_DIR
    from tests.conftest import use_warehouse_and_files

    root = published_sample.copy_to(tmp_path / "copie")
    exports = tmp_path / "exports"
    shutil.copytree(SAMPLE_DIR, exports, ignore=shutil.ignore_patterns("*.md"))
    change(exports / "Suivi - Activités.csv")
    published = root / "warehouse" / "pdn.duckdb"
    before = published.read_bytes()
    out = io.StringIO()
    with pytest.MonkeyPatch.context() as patch, contextlib.redirect_stdout(out), contextlib.redirect_stderr(out):
        use_warehouse_and_files(patch, root)
        code = main(["sync", "--source", str(exports)])
    report = json.loads((root / "warehouse" / "runs" / "dernier.json").read_text(encoding="utf-8"))
    return code, out.getvalue(), report, before, published.read_bytes()


def _date_cell(text: str):
    """The date a sample Date cell holds: dd/mm/yyyy, ISO or a spreadsheet serial number; None when blank or
    impossible (the sample's 31/02: a text cell, left as it is)."""
    import datetime as dt

    text = text.strip()
    try:
        if text.isdigit():
            return dt.date(1899, 12, 30) + dt.timedelta(days=int(text))
        return dt.date.fromisoformat(text) if "-" in text else dt.datetime.strptime(text, "%d/%m/%Y").date()
    except ValueError:
        return None


def _rewrite_dates(path: Path, keep) -> int:
    """Rewrite the Date column (first) of each data row with `keep(day, month, year)`: a row it returns None for
    is dropped. Returns the number of non-blank data rows left."""
    import csv

    with open(path, encoding="utf-8", newline="") as handle:
        header, *rows = list(csv.reader(handle))
    kept = []
    for row in rows:
        moment = _date_cell(row[0])
        if moment is not None:  # as a spreadsheet reformats the whole column: typed dates of every kind
            new = keep(f"{moment.day:02d}", f"{moment.month:02d}", f"{moment.year}")
            row = None if new is None else [new, *row[1:]]
        if row is not None:
            kept.append(row)
    with open(path, "w", encoding="utf-8", newline="") as handle:
        csv.writer(handle, lineterminator="\r\n").writerows([header, *kept])
    return sum(1 for row in kept if any(cell.strip() for cell in row))


def test_a_date_column_reformatted_dd_mm_yy_is_refused_naming_the_reason(published_sample, tmp_path: Path):
    read = {}

    def two_digit_years(path: Path) -> None:
        read["rows"] = _rewrite_dates(path, lambda d, m, y: f"{d}/{m}/{y[2:]}")

    code, output, report, before, after = _sync_refused(published_sample, tmp_path, two_digit_years)
    assert code == 1, output
    assert after == before
    assert report["statut"] == "bloque"
    reason = f"Suivi / Activités : {read['rows']} lignes : Date illisible — la colonne Date a-t-elle changé de format ?"
    assert f"{VALID_COLLAPSE} {reason}" in output
    assert f"{VALID_COLLAPSE} {reason}" in [f["message"] for f in report["controles_en_echec"]]
    assert any(f["message"].startswith(YEAR_GONE) for f in report["controles_en_echec"])  # 2018: activities only


def test_a_year_that_disappears_is_refused(published_sample, tmp_path: Path):
    with duckdb.connect(str(published_sample.published_db), read_only=True) as con:
        years = [y for (y,) in con.execute("select distinct annee from bilan.indicateurs_annuels order by 1").fetchall()]
    first = years[0]

    def without_first_year(path: Path) -> None:
        _rewrite_dates(path, lambda d, m, y: None if int(y) == first else f"{d}/{m}/{y}")

    code, output, report, before, after = _sync_refused(published_sample, tmp_path, without_first_year)
    assert code == 1, output
    assert after == before
    failures = [f for f in report["controles_en_echec"] if f["gravite"] == "critique"]
    assert [f["message"] for f in failures] == [YEAR_GONE]
    assert failures[0]["details"]["exemples"] == [{"annee": first, "presente": 0}]
