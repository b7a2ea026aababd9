"""The physical floors the sync's steps are compared with, measured in the benchmark's own process.

- Extraction + landing: DuckDB's own `read_csv` of the same export files into the same raw tables (a fresh
  raw history with the current schema), its sniffer finding the separator, every cell as text.
- Transformation: the compiled SQL of every node the nightly `dbt build` ran (run_results.json, in its
  completion order, which respects dependencies), executed directly in one DuckDB connection: a table or
  view per model, a count per data test, a copy per seed; no dbt, no contract DDL, no bookkeeping.
"""

from __future__ import annotations

import json
import shutil
import tempfile
import time
from pathlib import Path

import duckdb

from flows.pipeline.land import ensure_raw_schema
from flows.sources.contract import CONTRACTS, map_header


def _exported_tabs(raw_db: Path, source_dir: Path) -> list[tuple[Path, str, list[str]]]:
    """(CSV file, raw table, header) of every tab the sync read from a folder of CSV exports."""
    with duckdb.connect(str(raw_db), read_only=True) as con:
        rows = con.execute(
            "select spreadsheet_title, tab, table_name, header_json from snapshots "
            "where spreadsheet_id like 'fichier:%' order by spreadsheet_title, tab"
        ).fetchall()
    tabs = []
    for title, tab, table, header in rows:
        path = source_dir / f"{title} - {tab}.csv"
        if path.exists():
            tabs.append((path, table, json.loads(header)))
    return tabs


def _insert_statement(table: str, header: list[str]) -> str:
    """`insert … select … from read_csv(?)`: the contract's columns of one tab, by the positions its header gives."""
    contract = next(c for c in CONTRACTS if c.table_name == table)
    positions = map_header(header, contract, "banc d'essai").contract_positions
    names = ", ".join(f"'c{i}'" for i in range(len(header)))
    targets = ", ".join(['snapshot_id', 'numero_ligne', *positions])
    sources = ", ".join(["?", "cast(row_number() over () + 1 as integer)", *(f"c{p}" for p in positions.values())])
    return (
        f"insert into {table} ({targets}) select {sources} "
        f"from read_csv(?, header = true, all_varchar = true, names = [{names}])"
    )


def extraction_floor(raw_db: Path, source_dir: Path) -> tuple[float, int] | None:
    """Seconds DuckDB's read_csv takes to land the tabs the sync read, and the rows it landed (None when none
    were CSV files)."""
    tabs = _exported_tabs(raw_db, source_dir)
    if not tabs:
        return None
    statements = [(_insert_statement(table, header), path) for path, table, header in tabs]
    folder = Path(tempfile.mkdtemp(prefix="pdn-floor-"))
    try:
        with duckdb.connect(str(folder / "raw.duckdb")) as con:
            con.execute("set enable_progress_bar = false")
            ensure_raw_schema(con)
            started = time.perf_counter()
            con.execute("begin transaction")
            for number, (statement, path) in enumerate(statements):
                con.execute(statement, [f"floor-{number}", str(path)])
            con.execute("commit")
            seconds = time.perf_counter() - started
            tables = sorted({table for _, table, _ in tabs})
            rows = sum(con.execute(f"select count(*) from {table}").fetchone()[0] for table in tables)
            return seconds, rows
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _relation(node: dict) -> str:
    return f'"{node["database"]}"."{node["schema"]}"."{node["alias"]}"'


def _node_statement(node: dict, compiled: str) -> str | None:
    """What the build did for one node, as plain SQL: a table or a view for a model, a count for a data test."""
    kind, materialized = node["resource_type"], node["config"].get("materialized")
    if kind == "model" and materialized in ("table", "incremental"):
        return f"create table {_relation(node)} as {compiled}"
    if kind == "model" and materialized == "view":
        return f"create view {_relation(node)} as {compiled}"
    if kind == "test":
        return f"select count(*) from ({compiled}) as failures"
    return None


def _same_rows(con: duckdb.DuckDBPyConnection, relation: str, built: str) -> bool:
    """The floor's table and the build's hold the same rows (as multisets)."""
    differing = con.execute(
        f"select count(*) from ((select * from {relation} except all select * from {built}) "
        f"union all (select * from {built} except all select * from {relation}))"
    ).fetchone()[0]
    return differing == 0


def transform_floor(private_dir: Path) -> tuple[float, int, list[str]] | None:
    """Seconds the compiled SQL of the last build takes in one DuckDB connection, the statements it ran, and
    the published tables (the schemas other than main) whose rows differ from the build's."""
    target = private_dir / "dbt" / "target"
    built = private_dir / "build" / "work.duckdb"
    if not (target / "run_results.json").exists() or not built.exists():
        return None
    results = json.loads((target / "run_results.json").read_text(encoding="utf-8"))["results"]
    nodes = json.loads((target / "manifest.json").read_text(encoding="utf-8"))["nodes"]
    ran = [(nodes[r["unique_id"]], r.get("compiled_code")) for r in results if r["unique_id"] in nodes]
    database = next(node["database"] for node, _ in ran)
    folder = Path(tempfile.mkdtemp(prefix="pdn-floor-"))
    try:
        with duckdb.connect(str(folder / f"{database}.duckdb")) as con:
            from flows.screen import register

            con.execute("set enable_progress_bar = false")
            register(con)
            con.execute("attach ? as raw (read_only)", [str(private_dir / "raw.duckdb")])
            con.execute("attach ? as built (read_only)", [str(built)])
            for schema in {node["schema"] for node, _ in ran if node["resource_type"] != "test"}:
                con.execute(f'create schema if not exists "{schema}"')
            statements = []
            for node, compiled in ran:
                if node["resource_type"] == "seed":  # the seed's rows as dbt loaded them
                    statements.append(
                        f'create table {_relation(node)} as select * from built."{node["schema"]}"."{node["alias"]}"'
                    )
                elif compiled and (statement := _node_statement(node, compiled)):
                    statements.append(statement)
            started = time.perf_counter()
            for statement in statements:
                con.execute(statement).fetchall()
            seconds = time.perf_counter() - started
            published = [
                node for node, _ in ran
                if node["resource_type"] == "model" and node["schema"] != "main"
                and node["config"].get("materialized") == "table"
            ]
            differing = [
                f'{node["schema"]}.{node["alias"]}' for node in published
                if not _same_rows(con, _relation(node), f'built."{node["schema"]}"."{node["alias"]}"')
            ]
            return seconds, len(statements), differing
    finally:
        shutil.rmtree(folder, ignore_errors=True)
