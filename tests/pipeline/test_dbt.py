"""dbt's unit tests (the parsing and counting rules, given/expect rows) run here, with real dbt-duckdb.

The nightly build runs the data tests only: unit tests check the SQL, which changes with the code, not
with the data.
"""

import os

from flows.pipeline.transform import dbt_args

MIN_UNIT_TESTS = 17  # dbt/models/**/*.yml `unit_tests:` entries at the time of writing


def test_every_dbt_unit_test_passes(published_sample, tmp_path, monkeypatch):
    from dbt.cli.main import dbtRunner

    root = published_sample.copy_to(tmp_path)
    monkeypatch.setitem(os.environ, "PDN_DBT_DATABASE", str(root / "private" / "build" / "work.duckdb"))
    monkeypatch.setitem(os.environ, "PDN_RAW_DATABASE", str(root / "private" / "raw.duckdb"))
    args = dbt_args("test", root / "private" / "dbt") + ["--select", "test_type:unit"]
    result = dbtRunner().invoke(args)
    statuses = [str(node.status) for node in result.result.results]
    assert len(statuses) >= MIN_UNIT_TESTS
    assert set(statuses) == {"pass"}, [(n.node.name, n.message) for n in result.result.results if str(n.status) != "pass"]
    assert result.success


# One bad row per kind of constraint that replaced a data test: each must fail its model's build.
BAD_ROWS = {
    "effectifs_mensuels": ("primary key", "select * from final union all (select * from final limit 1)"),
    "activites": ("check", "select * from final union all (select * replace (13 as mois) from final limit 1)"),
    "definitions_indicateurs": (
        "not null", "select * from final union all (select * replace (null as libelle) from final limit 1)"
    ),
}


def test_enforced_contracts_fail_the_build_on_a_bad_row(published_sample, tmp_path, monkeypatch):
    import shutil

    from dbt.cli.main import dbtRunner

    from flows.settings import DBT_PROJECT_DIR

    project = tmp_path / "dbt"
    shutil.copytree(DBT_PROJECT_DIR, project, ignore=shutil.ignore_patterns("target", "logs"))
    for model, (_, bad_select) in BAD_ROWS.items():
        path = next(project.rglob(f"{model}.sql"))
        text = path.read_text(encoding="utf-8")
        assert text.rstrip().endswith("select * from final")
        path.write_text(text.rstrip().removesuffix("select * from final") + bad_select + "\n", encoding="utf-8")
    root = published_sample.copy_to(tmp_path / "copy")
    monkeypatch.setitem(os.environ, "PDN_DBT_DATABASE", str(tmp_path / "work.duckdb"))
    monkeypatch.setitem(os.environ, "PDN_RAW_DATABASE", str(root / "private" / "raw.duckdb"))
    args = ["--quiet", "build", "--project-dir", str(project), "--profiles-dir", str(project),
            "--target-path", str(tmp_path / "target"), "--log-path", str(tmp_path / "logs"),
            "--select", *[f"+{model}" for model in BAD_ROWS], "--exclude-resource-type", "test", "unit_test"]
    result = dbtRunner().invoke(args)
    assert not result.success
    failed = {r.node.name: r.message.lower() for r in result.result.results if str(r.status) == "error"}
    assert set(failed) == set(BAD_ROWS)
    for model, (kind, _) in BAD_ROWS.items():
        assert "constraint" in failed[model] and kind in failed[model].replace("_", " "), failed[model]
