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
