"""The BI tool's way in: SQLAlchemy + duckdb-engine, read-only, as Superset connects, across a publication.

A sync publishes by renaming a new file over `pdn.duckdb`. A connection opened before keeps reading
the old file, whole and consistent; another process sees the new file at once; in the same process,
DuckDB hands every new connection to a path the instance already open there, so the new file is seen
only once every connection to it (pooled ones included) is closed: BI tools must not pool.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.pool import NullPool, QueuePool

from flows.outputs.report_data import report_queries
from flows.settings import REPO_ROOT, SAMPLE_DIR
from tests.conftest import ALERT_AND_SOURCE_VARIABLES, PSEUDONYM_KEY_FOR_TESTS

MARKER_SQL = (
    "select (select run_id from qualite.synchronisation) as run_id, "
    "(select valeur from bilan.indicateurs_annuels where annee = 2019 and departement = '03' "
    "and indicateur = 'ateliers') as ateliers"
)

READER = """
import sys
from sqlalchemy import create_engine, text
from sqlalchemy.pool import NullPool
engine = create_engine("duckdb:///" + sys.argv[1], connect_args={"read_only": True}, poolclass=NullPool)
with engine.connect() as con:
    run_id, ateliers = con.execute(text(sys.argv[2])).one()
print(run_id, ateliers)
"""


def superset_engine(path: Path, pooled: bool = False):
    """The engine Superset builds from `duckdb:////path/pdn.duckdb` and {"connect_args": {"read_only": true}}."""
    return create_engine(
        f"duckdb:///{path}", connect_args={"read_only": True}, poolclass=QueuePool if pooled else NullPool
    )


def run_queries(connection) -> dict[str, list[tuple]]:
    """Every query of the 2019 report, through SQLAlchemy."""
    return {name: [tuple(row) for row in connection.execute(text(sql))] for name, sql in report_queries(2019).items()}


def marker(connection) -> tuple[str, float]:
    return tuple(connection.execute(text(MARKER_SQL)).one())


def sample_with_one_more_atelier(folder: Path) -> Path:
    """The bundled sample plus one 2019 workshop in Allier: the next publication differs visibly."""
    shutil.copytree(SAMPLE_DIR, folder)
    activites = folder / "Suivi - Activités.csv"
    content = activites.read_text(encoding="utf-8")
    activites.write_text(content + "15/06/2019,Atelier,03,Atelier ajouté,Moulins,Jeunes,12,,\r\n", encoding="utf-8")
    return folder


@dataclass
class Swap:
    """What each connection saw before and after a `pdn synchroniser` run in another process published."""

    published: Path
    old: tuple = ()
    new_from_cli: tuple = ()
    cli: subprocess.CompletedProcess | None = None
    inode_changed: bool = False
    before: dict = field(default_factory=dict)
    after_on_open_connection: dict = field(default_factory=dict)
    marker_on_open_connection: tuple = ()
    new_engine_same_process_while_open: tuple = ()
    pooled_engine_after_swap: tuple = ()
    other_process: str = ""
    new_engine_after_closing_all: tuple = ()
    queries_after_closing_all: dict = field(default_factory=dict)


@pytest.fixture(scope="module")
def swap(published_sample, tmp_path_factory) -> Swap:
    """Connect to a copy of the published sample, publish again from another process, look again."""
    from prefect.settings import get_current_settings

    root = published_sample.copy_to(tmp_path_factory.mktemp("bi"))
    env = {
        "PDN_WAREHOUSE_DIR": str(root / "warehouse"),
        "PDN_PRIVATE_DIR": str(root / "private"),
        "PDN_PSEUDONYM_KEY": PSEUDONYM_KEY_FOR_TESTS,
    }
    api_url = get_current_settings().api.url  # the session's test server: no second Prefect server
    published = root / "warehouse" / "pdn.duckdb"
    seen = Swap(published)

    held_engine = superset_engine(published)
    pooled_engine = superset_engine(published, pooled=True)
    held = held_engine.connect()
    seen.before = run_queries(held)
    seen.old = marker(held)
    with pooled_engine.connect() as pooled:  # returned to the pool, where it stays open
        assert marker(pooled) == seen.old
    inode = published.stat().st_ino

    source = sample_with_one_more_atelier(root / "exports")
    cli = Path(sys.executable).with_name("pdn")
    child_env = {k: v for k, v in os.environ.items() if k not in ALERT_AND_SOURCE_VARIABLES}
    child_env |= env | ({"PREFECT_API_URL": api_url} if api_url else {})
    seen.cli = subprocess.run(
        [str(cli), "sync", "--source", str(source)], env=child_env, cwd=REPO_ROOT,
        capture_output=True, text=True, timeout=300,
    )
    seen.inode_changed = published.stat().st_ino != inode

    seen.after_on_open_connection = run_queries(held)
    seen.marker_on_open_connection = marker(held)
    with superset_engine(published).connect() as fresh:
        seen.new_engine_same_process_while_open = marker(fresh)
    with pooled_engine.connect() as pooled:
        seen.pooled_engine_after_swap = marker(pooled)
    seen.other_process = subprocess.run(
        [sys.executable, "-c", READER, str(published), MARKER_SQL], capture_output=True, text=True, timeout=60
    ).stdout.strip()

    held.close()
    held_engine.dispose()
    pooled_engine.dispose()
    with superset_engine(published).connect() as fresh:
        seen.new_engine_after_closing_all = marker(fresh)
        seen.queries_after_closing_all = run_queries(fresh)
    seen.new_from_cli = seen.new_engine_after_closing_all
    return seen


def test_a_sync_in_another_process_published_a_new_file(swap):
    assert swap.cli.returncode == 0, swap.cli.stderr[-3000:]
    assert "publiée" in swap.cli.stdout
    assert swap.inode_changed
    assert swap.old[1] == 5 and swap.new_from_cli[1] == 6
    assert swap.new_from_cli[0] != swap.old[0]


def test_an_open_connection_keeps_reading_the_old_file_consistently(swap):
    assert swap.marker_on_open_connection == swap.old
    assert swap.after_on_open_connection == swap.before
    assert all(swap.before[name] for name in ("indicateurs", "reponses", "interets", "effectifs", "types"))


def test_another_process_sees_the_new_file_at_once(swap):
    run_id, ateliers = swap.other_process.split()
    assert run_id == swap.new_from_cli[0] and float(ateliers) == 6


def test_in_one_process_new_data_shows_only_once_every_connection_is_closed(swap):
    # DuckDB shares one database instance per path within a process: a new engine, or a pooled
    # connection, keeps the instance opened before the swap, with its old data.
    assert swap.new_engine_same_process_while_open == swap.old
    assert swap.pooled_engine_after_swap == swap.old
    assert swap.new_engine_after_closing_all == swap.new_from_cli
    assert swap.queries_after_closing_all["indicateurs"] != swap.before["indicateurs"]


def duckdb_cli() -> str | None:
    return shutil.which("duckdb", path=f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}")


def test_duckdb_cli_opens_the_published_file_read_only(swap):
    cli = duckdb_cli()
    if cli is None:
        pytest.skip("the DuckDB CLI (PyPI package duckdb-cli) is not installed")
    result = subprocess.run(
        [cli, "-readonly", "-csv", "-noheader", str(swap.published), "-c",
         "select valeur from bilan.indicateurs_annuels where annee = 2019 and indicateur = "
         "'promeneurs_actifs_fin_annee' order by departement"],
        capture_output=True, text=True, timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert [float(v) for v in result.stdout.split()] == [23, 43, 66]
