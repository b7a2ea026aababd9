"""dbt's unit tests (the parsing and counting rules, given/expect rows) run here, with real dbt-duckdb.

The nightly build runs the data tests only: unit tests check the SQL, which changes with the code, not
with the data.
"""

import os
import shutil
from pathlib import Path

import duckdb

from flows.pipeline.transform import dbt_args, invoke_dbt

MIN_UNIT_TESTS = 17  # dbt/models/**/*.yml `unit_tests:` entries at the time of writing


def test_every_dbt_unit_test_passes(published_sample, tmp_path, monkeypatch):
    root = published_sample.copy_to(tmp_path)
    monkeypatch.setitem(os.environ, "PDN_DBT_DATABASE", str(root / "private" / "build" / "work.duckdb"))
    monkeypatch.setitem(os.environ, "PDN_RAW_DATABASE", str(root / "private" / "raw.duckdb"))
    args = dbt_args("test", root / "private" / "dbt") + ["--select", "test_type:unit"]
    result = invoke_dbt(args)
    statuses = [str(node.status) for node in result.result.results]
    assert len(statuses) >= MIN_UNIT_TESTS
    assert set(statuses) == {"pass"}, [(n.node.name, n.message) for n in result.result.results if str(n.status) != "pass"]
    assert result.success


# One bad row per kind of constraint that replaced a data test: each must fail its model's build.
BAD_ROWS = {
    "effectifs_mensuels": ("primary key", "select * from final union all (select * from final limit 1)"),
    "actions_detaillees": ("unique", "select * from final union all (select * from final limit 1)"),
    "activites": ("check", "select * from final union all (select * replace (13 as mois) from final limit 1)"),
    "definitions_indicateurs": (
        "not null", "select * from final union all (select * replace (null as libelle) from final limit 1)"
    ),
}

# Seeds carry their constraints in the column types of their CREATE TABLE (dbt/seeds/_seeds.yml): one bad line
# per kind, appended to the file, must fail the seed's load.
BAD_SEED_LINES = {
    "departements": ("primary key", "03,Allier bis"),
    "listes": ("unique", "Type d'action,Permanence,,sessions_formation"),
    "types_action_publies": ("check", "Permanence,tout"),
    "indicateurs": ("not null", "essai,,compte,true,activites,99,Un essai."),
}


def build_copy(project: Path, tmp_path: Path, monkeypatch, raw_db: Path, *select: str):
    """`dbt build` of a copy of the project (no data tests, no unit tests) into a fresh file."""
    monkeypatch.setitem(os.environ, "PDN_DBT_DATABASE", str(tmp_path / "work.duckdb"))
    monkeypatch.setitem(os.environ, "PDN_RAW_DATABASE", str(raw_db))
    args = ["--quiet", "build", "--project-dir", str(project), "--profiles-dir", str(project),
            "--target-path", str(tmp_path / "target"), "--log-path", str(tmp_path / "logs"),
            "--select", *select, "--exclude-resource-type", "test", "unit_test"]
    result = invoke_dbt(args)
    assert not result.success
    return {r.node.name: r.message.lower() for r in result.result.results if str(r.status) == "error"}


def project_copy(tmp_path: Path) -> Path:
    from flows.settings import DBT_PROJECT_DIR

    project = tmp_path / "dbt"
    shutil.copytree(DBT_PROJECT_DIR, project, ignore=shutil.ignore_patterns("target", "logs"))
    return project


def replace_final_select(project: Path, model: str, bad_select: str) -> None:
    """Make a model of the project copy end with `bad_select` instead of `select * from final`."""
    path = next(project.rglob(f"{model}.sql"))
    text = path.read_text(encoding="utf-8")
    assert text.rstrip().endswith("select * from final")
    path.write_text(text.rstrip().removesuffix("select * from final") + bad_select + "\n", encoding="utf-8")


def test_enforced_contracts_fail_the_build_on_a_bad_row(published_sample, tmp_path, monkeypatch):
    project = project_copy(tmp_path)
    for model, (_, bad_select) in BAD_ROWS.items():
        replace_final_select(project, model, bad_select)
    root = published_sample.copy_to(tmp_path / "copy")
    failed = build_copy(project, tmp_path, monkeypatch, root / "private" / "raw.duckdb", *[f"+{m}" for m in BAD_ROWS])
    assert set(failed) == set(BAD_ROWS)
    for model, (kind, _) in BAD_ROWS.items():
        assert "constraint" in failed[model] and kind in failed[model].replace("_", " "), failed[model]


def test_an_activity_row_met_twice_fails_where_it_is_published(published_sample, tmp_path, monkeypatch):
    """int_activites_validated has no primary key of its own: a duplicated row, valid or quarantined, fails the
    build on the key of the table that publishes it."""
    project = project_copy(tmp_path)
    replace_final_select(
        project,
        "int_activites_validated",
        "select * from final union all (select * from final where est_valide limit 1)"
        " union all (select * from final where not est_valide limit 1)",
    )
    root = published_sample.copy_to(tmp_path / "copy")
    failed = build_copy(
        project, tmp_path, monkeypatch, root / "private" / "raw.duckdb", "+activites", "+int_lignes_quarantaine"
    )
    assert set(failed) == {"activites", "int_lignes_quarantaine"}, failed
    assert "constraint" in failed["activites"] and "unique" in failed["activites"], failed["activites"]
    assert "primary key" in failed["int_lignes_quarantaine"], failed["int_lignes_quarantaine"]


def test_seed_constraints_fail_the_build_on_a_bad_line(published_sample, tmp_path, monkeypatch):
    project = project_copy(tmp_path)
    for seed, (_, line) in BAD_SEED_LINES.items():
        path = project / "seeds" / f"{seed}.csv"
        text = path.read_text(encoding="utf-8")
        path.write_text(text + ("" if text.endswith("\n") else "\n") + line + "\n", encoding="utf-8")
    root = published_sample.copy_to(tmp_path / "copy")
    failed = build_copy(project, tmp_path, monkeypatch, root / "private" / "raw.duckdb", *BAD_SEED_LINES)
    assert set(failed) == set(BAD_SEED_LINES)
    for seed, (kind, _) in BAD_SEED_LINES.items():
        assert "constraint" in failed[seed] and kind in failed[seed].replace("_", " "), failed[seed]


# One tampering per kind of broken roster identity, on the built tables of the sample: each must fail the data
# tests named (and only those), as a model computing them wrong would.
TAMPERED_ROSTER = {
    "an exit counted twice in a year": (
        "update bilan.indicateurs_annuels set valeur = valeur + 1"
        " where annee = 2019 and departement = '03' and indicateur = 'sorties'",
        {"assert_effectifs_annuels_equilibres"},
    ),
    "a year that does not start where the last ended": (
        "update bilan.indicateurs_annuels set valeur = valeur + 1 where annee = 2020 and departement = '63'"
        " and indicateur in ('promeneurs_actifs_debut_annee', 'promeneurs_actifs_fin_annee')",
        {"assert_effectifs_annuels_equilibres"},
    ),
    "a month whose exits do not add up": (
        "update bilan.effectifs_mensuels set sorties = sorties + 1"
        " where mois = date '2019-06-01' and departement = '03'",
        {"assert_effectifs_annuels_equilibres", "assert_effectifs_mensuels_equilibres"},
    ),
    "a month that does not start where the last ended": (
        "update bilan.effectifs_mensuels set promeneurs_actifs_debut_mois = promeneurs_actifs_debut_mois - 1,"
        " promeneurs_actifs_fin_mois = promeneurs_actifs_fin_mois - 1"
        " where mois = date '2018-03-01' and departement = 'ensemble'",
        {"assert_effectifs_mensuels_equilibres"},
    ),
}


def test_roster_identities_fail_the_build_on_a_tampered_table(published_sample, tmp_path, monkeypatch):
    root = published_sample.copy_to(tmp_path / "copy")
    built = root / "private" / "build" / "work.duckdb"
    identities = ["assert_effectifs_annuels_equilibres", "assert_effectifs_mensuels_equilibres"]
    monkeypatch.setitem(os.environ, "PDN_RAW_DATABASE", str(root / "private" / "raw.duckdb"))

    def failing_tests(work_db: Path) -> set[str]:
        monkeypatch.setitem(os.environ, "PDN_DBT_DATABASE", str(work_db))
        result = invoke_dbt(dbt_args("test", root / "private" / "dbt") + ["--select", *identities])
        assert len(result.result.results) == len(identities)
        return {r.node.name for r in result.result.results if str(r.status) == "fail"}

    assert failing_tests(built) == set()
    for number, (case, (tampering, expected)) in enumerate(TAMPERED_ROSTER.items()):
        tampered = tmp_path / f"tampered-{number}.duckdb"
        shutil.copyfile(built, tampered)
        with duckdb.connect(str(tampered)) as con:
            assert con.execute(tampering).fetchone()[0] >= 1, case  # the tampering took
        assert failing_tests(tampered) == expected, case
