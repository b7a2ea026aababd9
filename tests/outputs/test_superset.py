"""The CAF's dashboard in a real Superset: installed by `make bi` (its own virtualenv), started on 127.0.0.1,
imported twice by `pdn bi superset`, every chart's data read back through Superset's REST API and compared with
the published marts, a sync published while the charts are queried, and a screenshot of the logged-in dashboard
taken by headless Chromium (artifacts/superset-tableau-de-bord.png).

The slowest file of the suite: `make bi` installs Superset once (minutes, then cached in .venv-bi) and Superset
takes one to three minutes to start on a loaded machine. It never skips: a failed install fails it.
"""

from __future__ import annotations

import asyncio
import base64
import json
import os
import re
import secrets
import signal
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from datetime import date, datetime, timezone
from pathlib import Path

import duckdb
import httpx
import pytest

from flows.outputs.pdf import HEADLESS_FLAGS, headless_browser
from flows.outputs.superset import load_assets
from flows.settings import REPO_ROOT
from tests.conftest import ALERT_AND_SOURCE_VARIABLES, PSEUDONYM_KEY_FOR_TESTS
from tests.outputs.test_secrecy import RAISED_THRESHOLD, with_threshold
from tests.test_bi import sample_with_one_more_atelier

STARTUP_TIMEOUT_SECONDS = 900  # Superset's first start (metadata tables, roles) on a loaded 2-core machine
SCREENSHOT = REPO_ROOT / "artifacts" / "superset-tableau-de-bord.png"
MEASURES = REPO_ROOT / "artifacts" / "superset-mesures.json"  # start-up, import and query counts, for the record
ASSETS = load_assets()
CHART_NAMES = {chart["slice_name"] for chart in ASSETS["charts"].values()}
TITLE = ASSETS["dashboard"]["dashboard_title"]
SLUG = ASSETS["dashboard"]["slug"]

# What each chart must show, computed from the published file with SQL written here, independently of the
# bundle: same columns, in the chart's order.
EXPECTED_SQL = {
    "Promeneurs actifs au 31 décembre":
        "select annee, departement, valeur from bilan.indicateurs_annuels "
        "where indicateur = 'promeneurs_actifs_fin_annee'",
    "Nouveaux Promeneurs et sorties du réseau":
        "select annee, departement, max(valeur) filter (where indicateur = 'nouveaux_promeneurs'), "
        "max(valeur) filter (where indicateur = 'sorties') from bilan.indicateurs_annuels "
        "where indicateur in ('nouveaux_promeneurs', 'sorties') group by all",
    "Actions par type et par mois":
        "select cast(date_trunc('month', date) as date), type_action, count(*) from bilan.activites group by all",
    "Formations":
        "select annee, departement, max(valeur) filter (where indicateur = 'sessions_formation'), "
        "max(valeur) filter (where indicateur = 'jours_formation') from bilan.indicateurs_annuels "
        "where indicateur in ('sessions_formation', 'jours_formation') group by all",
    "Taux de participation au questionnaire":
        "select annee, departement, valeur from bilan.indicateurs_annuels "
        "where indicateur = 'questionnaire_taux_participation'",
    "Réponses au questionnaire":
        "select annee, departement, libelle_question, reponse, repondants, part, secret "
        "from bilan.reponses_questionnaire",
    "Intérêt moyen par thème":
        "select annee, departement, libelle_question, repondants_question, moyenne, secret "
        "from bilan.interets_questionnaire",
    "Dernière publication": "select publie_le, source, run_id from qualite.synchronisation",
    "Lignes en quarantaine": "select sum(lignes_quarantaine) from qualite.lignes_lues",
}


# ---- Superset, started from .venv-bi -----------------------------------------------------------------------


@dataclass
class Superset:
    url: str
    user: str
    password: str
    log: Path
    make_bi: subprocess.CompletedProcess
    startup_seconds: float


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_until_up(url: str, process: subprocess.Popen, log: Path) -> None:
    """Until /health answers; fails at once if Superset exits, and after STARTUP_TIMEOUT_SECONDS."""
    deadline = time.monotonic() + STARTUP_TIMEOUT_SECONDS
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"Superset stopped (code {process.returncode}):\n{log.read_text()[-4000:]}")
        try:
            if httpx.get(f"{url}/health", timeout=10).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(2)
    pytest.fail(f"Superset did not answer within {STARTUP_TIMEOUT_SECONDS} s:\n{log.read_text()[-4000:]}")


@pytest.fixture(scope="module")
def superset(tmp_path_factory):
    """`make bi`, then Superset on a free loopback port with its metadata in a temporary folder."""
    make_bi = subprocess.run(["make", "bi"], cwd=REPO_ROOT, capture_output=True, text=True, timeout=3600)
    assert make_bi.returncode == 0, make_bi.stdout[-3000:] + make_bi.stderr[-3000:]
    home = tmp_path_factory.mktemp("superset")
    port = free_port()
    password = secrets.token_urlsafe(18)
    env = os.environ | {
        "PDN_SUPERSET_HOME": str(home), "PDN_SUPERSET_PORT": str(port),
        "SUPERSET_ADMIN_USER": "analyste", "SUPERSET_ADMIN_PASSWORD": password,
    }
    log = home / "superset.log"
    with log.open("w") as output:
        process = subprocess.Popen(
            [str(REPO_ROOT / "bi" / "serve-superset.sh")], env=env, stdout=output, stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    url = f"http://127.0.0.1:{port}"
    started = time.monotonic()
    try:
        wait_until_up(url, process, log)
        yield Superset(url, "analyste", password, log, make_bi, round(time.monotonic() - started, 1))
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)


class Api:
    """Superset's REST API as the analyst's account."""

    def __init__(self, superset: Superset):
        self.client = httpx.Client(base_url=superset.url, timeout=300)
        token = self.client.post("/api/v1/security/login", json={
            "username": superset.user, "password": superset.password, "provider": "db", "refresh": False,
        }).json()["access_token"]
        self.headers = {"Authorization": f"Bearer {token}"}
        csrf = self.client.get("/api/v1/security/csrf_token/", headers=self.headers).json()["result"]
        self.write_headers = self.headers | {"X-CSRFToken": csrf, "Referer": superset.url}

    def get(self, path: str, **params) -> dict:
        response = self.client.get(path, headers=self.headers, params=params)
        assert response.status_code == 200, f"{path}: {response.status_code} {response.text[:500]}"
        return response.json()

    def listing(self, resource: str) -> list[dict]:
        return self.get(f"/api/v1/{resource}/", q="(page_size:100)")["result"]

    def chart_data(self, chart_id: int) -> httpx.Response:
        """The chart's saved query, run now (no cache)."""
        return self.client.get(f"/api/v1/chart/{chart_id}/data/", headers=self.headers, params={"force": "true"})


# ---- what the dashboard shows, compared with the marts ------------------------------------------------------


def chart_rows(payload: dict) -> list[tuple]:
    """The rows of a chart-data answer, as tuples in the chart's column order."""
    result = payload["result"][0]
    rows = []
    for record in result["data"]:
        row = []
        for name in result["colnames"]:
            value = record[name]
            if name == "date" and value is not None:  # the monthly x axis: epoch milliseconds
                value = datetime.fromtimestamp(value / 1000, tz=timezone.utc).date()
            row.append(value)
        rows.append(tuple(row))
    return rows


def marts(published: Path) -> dict[str, list[tuple]]:
    """Each chart's expected rows, read from the published file."""
    with duckdb.connect(str(published), read_only=True) as con:
        return {name: [tuple(row) for row in con.execute(sql).fetchall()] for name, sql in EXPECTED_SQL.items()}


def as_set(rows: list[tuple]) -> list[tuple]:
    """Rows in a stable order, whatever order a chart sends them in."""
    return sorted(rows, key=repr)


def all_chart_data(api: Api, charts: dict[str, int]) -> dict[str, list[tuple]]:
    """Every chart's rows, through /api/v1/chart/{id}/data/."""
    data = {}
    for name, chart_id in charts.items():
        response = api.chart_data(chart_id)
        assert response.status_code == 200, f"{name}: {response.status_code} {response.text[:500]}"
        data[name] = chart_rows(response.json())
    return data


# ---- the logged-in dashboard in headless Chromium ------------------------------------------------------------


def session_cookie(superset: Superset) -> str:
    """Log in through Superset's login form, as a person does; return the session cookie."""
    with httpx.Client(base_url=superset.url, timeout=120) as client:
        page = client.get("/login/").text
        token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page) or re.search(
            r'value="([^"]+)"[^>]*name="csrf_token"', page
        )
        client.post("/login/", data={"username": superset.user, "password": superset.password,
                                      "csrf_token": token.group(1)})
        return client.cookies["session"]


# Every request but Superset's own (127.0.0.1) goes nowhere: Superset's pages carry a usage pixel.
BROWSER_FLAGS = [
    "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1" if flag.startswith("--host-resolver-rules") else flag
    for flag in HEADLESS_FLAGS if "pdf" not in flag
]
DASHBOARD_STATE = (
    "JSON.stringify({holders: [...document.querySelectorAll('.dashboard-component-chart-holder')]"
    ".map(e => e.innerText.split('\\n')[0]), loading: document.querySelectorAll('.loading').length,"
    " errors: [...document.querySelectorAll('.ant-alert-error, [data-test=\"error-alert\"]')].map(e => e.innerText)})"
)


async def _screenshot(url: str, cookie: str, target: Path) -> dict:
    """Open the dashboard with the session cookie, wait until every chart is drawn, save a PNG; the page's state."""
    with headless_browser(
        "--remote-debugging-port=0", "about:blank", flags=BROWSER_FLAGS, stderr=subprocess.PIPE, text=True
    ) as browser:
        endpoint = next(m.group(1) for line in browser.stderr if (m := re.search(r"(ws://\S+)", line)))
        return await _drive(endpoint, url, cookie, target)


async def _drive(endpoint: str, url: str, cookie: str, target: Path) -> dict:
    """The DevTools protocol steps: a page, the cookie, the dashboard, the wait, the capture."""
    import websockets

    async with websockets.connect(endpoint, max_size=None) as socket_:
        counter = 0

        async def call(method: str, session: str | None = None, **params):
            nonlocal counter
            counter += 1
            await socket_.send(json.dumps({"id": counter, "method": method, "params": params}
                                          | ({"sessionId": session} if session else {})))
            while (message := json.loads(await socket_.recv())).get("id") != counter:
                pass
            assert "error" not in message, message
            return message["result"]

        target_id = (await call("Target.createTarget", url="about:blank"))["targetId"]
        session = (await call("Target.attachToTarget", targetId=target_id, flatten=True))["sessionId"]
        await call("Network.enable", session)
        await call("Network.setCookie", session, name="session", value=cookie, domain="127.0.0.1", path="/")
        await call("Emulation.setDeviceMetricsOverride", session, width=1600, height=2200, deviceScaleFactor=1,
                   mobile=False)
        await call("Page.navigate", session, url=f"{url}/superset/dashboard/{SLUG}/")
        state: dict = {}
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline:
            value = (await call("Runtime.evaluate", session, expression=DASHBOARD_STATE, returnByValue=True))["result"]
            state = json.loads(value["value"]) if "value" in value else {}
            if len(state.get("holders", [])) > len(CHART_NAMES) - 1 and state["loading"] == 0:
                break
            await asyncio.sleep(2)
        await asyncio.sleep(3)  # the charts' entry animations
        image = (await call("Page.captureScreenshot", session, format="png"))["data"]
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(base64.b64decode(image))
        return state


# ---- one scenario, observed once -------------------------------------------------------------------------------


@dataclass
class Observed:
    """What the analyst's Superset showed, from the first import to after a sync published a new file."""

    published: Path
    imports: list[subprocess.CompletedProcess] = field(default_factory=list)
    import_seconds: list[float] = field(default_factory=list)
    renamed_by_hand: str = ""
    name_after_second_import: str = ""
    charts: dict[str, int] = field(default_factory=dict)
    before: dict = field(default_factory=dict)
    expected_before: dict = field(default_factory=dict)
    page: dict = field(default_factory=dict)
    sync: subprocess.CompletedProcess | None = None
    inode_changed: bool = False
    queries_during_sync: int = 0
    failures_during_sync: list = field(default_factory=list)
    after: dict = field(default_factory=dict)
    expected_after: dict = field(default_factory=dict)


def pdn(args: list[str], env: dict[str, str], timeout: int = 600) -> subprocess.CompletedProcess:
    """`pdn ARGS` in its own process (the venv's console script), with no real source or alert channel."""
    child = {k: v for k, v in os.environ.items() if k not in ALERT_AND_SOURCE_VARIABLES} | env
    cli = Path(sys.executable).with_name("pdn")
    return subprocess.run([str(cli), *args], env=child, cwd=REPO_ROOT, capture_output=True, text=True, timeout=timeout)


def query_until(api: Api, charts: dict[str, int], done: threading.Event, seen: Observed) -> None:
    """Query every chart again and again until `done`; count the queries and keep every failure."""
    while not done.is_set():
        for name, chart_id in charts.items():
            seen.queries_during_sync += 1
            try:
                response = api.chart_data(chart_id)
            except httpx.HTTPError as error:  # kept as a failure: the thread must not die silently
                seen.failures_during_sync.append((name, type(error).__name__, str(error)[:300]))
                continue
            if response.status_code != 200:
                seen.failures_during_sync.append((name, response.status_code, response.text[:300]))


@pytest.fixture(scope="module")
def observed(superset, published_sample, tmp_path_factory) -> Observed:
    """Import twice (a chart renamed by hand in between), read every chart, take the screenshot, then publish
    a new file (threshold K raised to 10, one more workshop) while the charts are queried, and read them again."""
    from prefect.settings import get_current_settings

    root = published_sample.copy_to(tmp_path_factory.mktemp("bi-superset"))
    env = {
        "PDN_WAREHOUSE_DIR": str(root / "warehouse"), "PDN_PRIVATE_DIR": str(root / "private"),
        "PDN_PSEUDONYM_KEY": PSEUDONYM_KEY_FOR_TESTS, "PDN_SUPERSET_PASSWORD": superset.password,
    }
    seen = Observed(published=root / "warehouse" / "pdn.duckdb")
    install = ["bi", "superset", "--url", superset.url, "--utilisateur", superset.user]

    started = time.monotonic()
    seen.imports.append(pdn(install, env))
    seen.import_seconds.append(time.monotonic() - started)
    api = Api(superset)
    seen.charts = {chart["slice_name"]: chart["id"] for chart in api.get(f"/api/v1/dashboard/{SLUG}/charts")["result"]}
    first = seen.charts["Formations"]
    seen.renamed_by_hand = "Formations (modifié à la main)"
    renamed = api.client.put(f"/api/v1/chart/{first}", headers=api.write_headers,
                             json={"slice_name": seen.renamed_by_hand})
    assert renamed.status_code == 200, renamed.text
    started = time.monotonic()
    seen.imports.append(pdn(install, env))
    seen.import_seconds.append(time.monotonic() - started)
    seen.name_after_second_import = api.get(f"/api/v1/chart/{first}")["result"]["slice_name"]
    seen.charts = {chart["slice_name"]: chart["id"] for chart in api.get(f"/api/v1/dashboard/{SLUG}/charts")["result"]}

    seen.expected_before = marts(seen.published)
    seen.before = all_chart_data(api, seen.charts)
    seen.page = asyncio.run(_screenshot(superset.url, session_cookie(superset), SCREENSHOT))

    exports = sample_with_one_more_atelier(root / "exports")
    config = exports / "sources.toml"
    config.write_text(with_threshold(config.read_text(encoding="utf-8"), RAISED_THRESHOLD), encoding="utf-8")
    api_url = get_current_settings().api.url  # the session's Prefect test server
    inode = seen.published.stat().st_ino
    done = threading.Event()
    querying = threading.Thread(target=query_until, args=(Api(superset), seen.charts, done, seen))
    querying.start()
    try:
        seen.sync = pdn(["sync", "--source", str(exports)], env | ({"PREFECT_API_URL": api_url} if api_url else {}))
    finally:
        done.set()
        querying.join(timeout=600)
    seen.inode_changed = seen.published.stat().st_ino != inode
    seen.expected_after = marts(seen.published)
    seen.after = all_chart_data(api, seen.charts)
    MEASURES.write_text(json.dumps({
        "superset_startup_seconds": superset.startup_seconds,
        "import_seconds": [round(seconds, 1) for seconds in seen.import_seconds],
        "chart_queries_during_sync": seen.queries_during_sync,
        "failed_queries_during_sync": len(seen.failures_during_sync),
    }, indent=2))
    return seen


# ---- the tests -------------------------------------------------------------------------------------------------


def test_make_bi_installs_superset_6_1_with_the_warehouse_duckdb(superset):
    versions = subprocess.run(
        [str(REPO_ROOT / ".venv-bi" / "bin" / "python"), "-c",
         "import duckdb, duckdb_engine, importlib.metadata as m; "
         "print(m.version('apache-superset'), duckdb.__version__, duckdb_engine.__version__)"],
        capture_output=True, text=True, timeout=300,
    )
    superset_version, duckdb_version, engine_version = versions.stdout.split()
    assert superset_version == "6.1.0" and engine_version.startswith("0.17.")
    assert duckdb_version == duckdb.__version__  # the warehouse's own DuckDB: one storage format
    key = REPO_ROOT / ".venv-bi" / "superset-secret-key"
    assert len(key.read_text().strip()) >= 40 and key.stat().st_mode & 0o077 == 0
    tracked = subprocess.run(["git", "ls-files", ".venv-bi"], cwd=REPO_ROOT, capture_output=True, text=True)
    assert tracked.stdout == ""


def test_pdn_bi_superset_imports_twice_without_showing_the_password(observed, superset):
    for run in observed.imports:
        assert run.returncode == 0, run.stderr[-3000:]
        assert f"« {TITLE} » installé" in run.stdout and f"{len(CHART_NAMES)} graphiques" in run.stdout
        assert superset.password not in run.stdout + run.stderr
    assert superset.password not in superset.log.read_text()


def test_two_imports_leave_one_dashboard_one_database_and_each_chart_once(observed, superset):
    api = Api(superset)
    assert [d["dashboard_title"] for d in api.listing("dashboard")] == [TITLE]
    assert sorted(c["slice_name"] for c in api.listing("chart")) == sorted(CHART_NAMES)
    assert len(api.listing("dataset")) == len(ASSETS["datasets"]["tables"])
    assert len(api.listing("database")) == 1


def test_the_second_import_updates_a_chart_changed_by_hand(observed):
    assert observed.name_after_second_import == "Formations" != observed.renamed_by_hand


def test_the_dashboard_lists_every_chart_and_filters_on_year_and_department(observed, superset):
    assert set(observed.charts) == CHART_NAMES == set(EXPECTED_SQL)
    dashboard = Api(superset).get(f"/api/v1/dashboard/{SLUG}")["result"]
    filters = json.loads(dashboard["json_metadata"])["native_filter_configuration"]
    assert {(f["name"], f["targets"][0]["column"]["name"]) for f in filters} == {
        ("Année", "annee"), ("Département", "departement")
    }


def test_the_database_reads_the_published_file_read_only_without_credentials(observed, superset):
    api = Api(superset)
    database = api.get(f"/api/v1/database/{api.listing('database')[0]['id']}/connection")["result"]
    assert database["sqlalchemy_uri"] == f"duckdb:///{observed.published.resolve()}"
    assert json.loads(database["extra"])["engine_params"]["connect_args"] == {"read_only": True}
    assert not database["allow_dml"]


def test_datasets_read_only_bilan_and_qualite_described_by_the_warehouse_comments(observed, superset):
    api = Api(superset)
    with duckdb.connect(str(observed.published), read_only=True) as con:
        tables = dict(con.execute(
            "select schema_name || '.' || table_name, comment from duckdb_tables()").fetchall())
        columns = {(f"{s}.{t}", c): comment for s, t, c, comment in con.execute(
            "select schema_name, table_name, column_name, comment from duckdb_columns()").fetchall()}
    for listed in api.listing("dataset"):
        dataset = api.get(f"/api/v1/dataset/{listed['id']}")["result"]
        name = f"{dataset['schema']}.{dataset['table_name']}"
        assert dataset["schema"] in ("bilan", "qualite")
        assert dataset["description"] == tables[name]
        for column in dataset["columns"]:
            assert column["description"] == columns[(name, column["column_name"])]
            assert column["verbose_name"] and "_" not in column["verbose_name"]


def test_every_chart_shows_the_published_figures(observed):
    for name, expected in observed.expected_before.items():
        assert expected, f"{name}: the sample gives this chart no row"
        assert as_set(observed.before[name]) == as_set(expected), name


def test_the_2019_promeneurs_actifs_are_23_43_66(observed):
    actifs = {(annee, departement): value for annee, departement, value in
              observed.before["Promeneurs actifs au 31 décembre"]}
    assert [actifs[(2019, d)] for d in ("03", "63", "ensemble")] == [23, 43, 66]


def test_a_sync_publishing_meanwhile_breaks_no_chart_query(observed):
    assert observed.sync.returncode == 0, observed.sync.stderr[-3000:]
    assert "publiée" in observed.sync.stdout and observed.inode_changed
    assert observed.queries_during_sync >= len(CHART_NAMES)
    assert observed.failures_during_sync == []


def test_after_the_sync_the_charts_show_the_new_file(observed):
    for name, expected in observed.expected_after.items():
        assert as_set(observed.after[name]) == as_set(expected), name
    added = date(2019, 6, 1), "Atelier"
    before = {row[:2]: row[2] for row in observed.before["Actions par type et par mois"]}
    after = {row[:2]: row[2] for row in observed.after["Actions par type et par mois"]}
    assert after[added] == before.get(added, 0) + 1


def test_secret_cells_stay_secret_in_the_questionnaire_charts(observed):
    # Threshold K = 10 in the new publication: the small groups of the sample are secret.
    answers = observed.after["Réponses au questionnaire"]
    secret = [row for row in answers if row[-1] is True]
    assert secret and len(secret) < len(answers)
    assert all(row[4] is None and row[5] is None for row in secret)
    means = observed.after["Intérêt moyen par thème"]
    assert any(row[-1] is True for row in means)
    assert all(row[4] is None for row in means if row[-1] is True)


def test_the_logged_in_dashboard_draws_every_chart(observed):
    assert SCREENSHOT.stat().st_size > 50_000
    assert set(observed.page["holders"]) >= CHART_NAMES
    assert observed.page["loading"] == 0 and observed.page["errors"] == []


def test_without_a_published_warehouse_pdn_bi_superset_says_so_before_asking_a_password(tmp_path):
    run = subprocess.run(
        [str(Path(sys.executable).with_name("pdn")), "bi", "superset", "--utilisateur", "analyste"],
        env={k: v for k, v in os.environ.items() if k != "PDN_SUPERSET_PASSWORD"} | {
            "PDN_WAREHOUSE_DIR": str(tmp_path / "warehouse"), "PDN_PRIVATE_DIR": str(tmp_path / "private"),
        },
        stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=120,
    )
    assert run.returncode == 2
    assert "Aucun entrepôt publié" in run.stderr and "Mot de passe" not in run.stderr + run.stdout


def test_the_bundle_refuses_a_dataset_outside_bilan_and_qualite(published_sample):
    from flows.errors import InputError
    from flows.outputs.superset import build_bundle

    assets = load_assets()
    assets["datasets"]["tables"].append({"table": "main.reponses_brutes", "uuid": "6f1c2a57-0d0e-4b8e-9d55-8f7f5d1f0a11"})
    with pytest.raises(InputError, match="ne lit que bilan"):
        build_bundle(published_sample.published_db, assets)
