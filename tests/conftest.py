"""Shared fixtures: isolated warehouse directories, a Prefect test harness, the Sheets emulator."""

from __future__ import annotations

from flows.settings import silence_telemetry

silence_telemetry()  # before any tool is imported: no telemetry calls out of this closed machine

from pathlib import Path  # noqa: E402

import pytest  # noqa: E402

from flows.settings import Settings, load_settings  # noqa: E402

# Files with the longest syncs run first: a heavy file (or group) handed out last keeps one core busy for a minute
# while the other has nothing left to run.
HEAVY_FILES_FIRST = (
    "tests/outputs/test_superset.py",  # installs (once) and starts a real Superset: minutes
    "tests/pipeline/test_faults.py",
    "tests/ops/test_erasure.py",
    "tests/pipeline/test_crash_safety.py",
    "tests/test_bad_input.py",
    "tests/test_privacy.py",
    "tests/pipeline/test_sync_forms.py",
    "tests/pipeline/test_parse_ahead.py",
    "tests/pipeline/test_reference_lists.py",
    "tests/outputs/test_report.py",
    "tests/pipeline/test_replay.py",
    "tests/test_generator.py",
    "tests/ops/test_unattended.py",
    "tests/ops/test_rekey.py",
    "tests/test_paths.py",
    "tests/test_privacy_metadata.py",
    "tests/pipeline/test_stints.py",
    "tests/pipeline/test_tabs_and_files.py",
    "tests/pipeline/test_duplicates.py",
    "tests/pipeline/test_dates.py",
)


SHARED_SCOPES = ("module", "package", "class")


def _shares_a_fixture(item: pytest.Item) -> bool:
    """Whether the test uses a module-, package- or class-scoped fixture (built once for several tests)."""
    definitions = getattr(item, "_fixtureinfo", None)
    if definitions is None:
        return False
    return any(
        definition.scope in SHARED_SCOPES
        for name in item.fixturenames
        for definition in definitions.name2fixturedefs.get(name, ())
    )


@pytest.hookimpl(tryfirst=True)  # before xdist's own hook, which reads the groups into the node ids
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Heavy files first; tests sharing a module fixture stay on one worker, the others spread (`--dist loadgroup`)."""
    rank = {name: position for position, name in enumerate(HEAVY_FILES_FIRST)}
    root = Path(config.rootpath)
    items.sort(key=lambda item: rank.get(item.path.relative_to(root).as_posix(), len(rank)))  # stable: same order within
    for item in items:
        if _shares_a_fixture(item):  # else a second worker would build the module's world (a real sync) again
            item.add_marker(pytest.mark.xdist_group(item.path.relative_to(root).as_posix()))


PSEUDONYM_KEY_FOR_TESTS = "cle-de-test-ne-pas-utiliser-en-production"
# A developer's real sources and alert channels must never be reached by a test.
ALERT_AND_SOURCE_VARIABLES = (
    "PDN_SOURCES",
    "PDN_SHEETS_API_URL",
    "GOOGLE_APPLICATION_CREDENTIALS",
    "PDN_GOOGLE_SECRET_BLOCK",
    "PDN_ALERT_WEBHOOK_URL",
    "PDN_SMTP_HOST",
    "PDN_ALERT_TO",
)


@pytest.fixture(scope="session")
def prefect_harness():
    """One temporary Prefect server for the whole session (it costs ~10 s to start)."""
    from prefect.testing.utilities import prefect_test_harness

    with prefect_test_harness(server_startup_timeout=120):
        yield


@pytest.fixture
def warehouse(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Settings:
    """Settings pointing at a fresh warehouse directory, with no real source configured."""
    monkeypatch.setenv("PDN_WAREHOUSE_DIR", str(tmp_path / "warehouse"))
    monkeypatch.setenv("PDN_PRIVATE_DIR", str(tmp_path / "private"))
    monkeypatch.setenv("PDN_PSEUDONYM_KEY", PSEUDONYM_KEY_FOR_TESTS)
    for name in ALERT_AND_SOURCE_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    return load_settings()


# --- Google Sheets: the local emulator, and the bundled sample served as typed spreadsheets ---------

import csv  # noqa: E402
import re  # noqa: E402
from datetime import datetime  # noqa: E402

from flows.settings import SAMPLE_DIR  # noqa: E402
from tests.google_emulator import SheetsEmulator, date_cell, google_emulator, sheets_emulator  # noqa: E402, F401

SUIVI_KEY = "1SuiviPromeneursDuNet-03-63"
QUESTIONNAIRE_KEY = "1Questionnaire2019-PdN-03-63"
QUESTIONNAIRE_2020_KEY = "1Questionnaire2020-PdN-03-63"
_DATE_FORMATS = ("%d/%m/%Y %H:%M:%S", "%d/%m/%Y", "%Y-%m-%d")


def typed_cell(text: str):
    """What a French Google Sheet stores for a typed-in text: dates and numbers become typed values."""
    for fmt in _DATE_FORMATS:
        try:
            return date_cell(datetime.strptime(text, fmt), formatted=text)
        except ValueError:
            pass
    if re.fullmatch(r"[1-9]\d*", text):  # "03" stays text: such columns are formatted as text
        return int(text)
    if re.fullmatch(r"\d+,\d+", text):
        return float(text.replace(",", "."))
    return text


def sample_tab(file_name: str) -> list[list]:
    """One bundled sample CSV as typed spreadsheet rows."""
    with open(SAMPLE_DIR / file_name, encoding="utf-8", newline="") as handle:
        rows = list(csv.reader(handle))
    return [rows[0]] + [[typed_cell(cell) for cell in row] for row in rows[1:]]


def serve_sample(emulator: SheetsEmulator, modified_time: str = "2020-02-01T10:00:00.000Z") -> None:
    """Serve the bundled sample as the two spreadsheets the coordinator keeps."""
    emulator.add_spreadsheet(
        SUIVI_KEY,
        "Suivi",
        {"Promeneurs": sample_tab("Suivi - Promeneurs.csv"), "Activités": sample_tab("Suivi - Activités.csv")},
        modified_time=modified_time,
    )
    for key, year in ((QUESTIONNAIRE_KEY, 2019), (QUESTIONNAIRE_2020_KEY, 2020)):
        emulator.add_spreadsheet(
            key,
            f"Questionnaire {year}",
            {"Réponses au formulaire 1": sample_tab(f"Questionnaire {year} - Réponses au formulaire 1.csv")},
            modified_time=modified_time,
        )


SHEETS_CONFIG = f"""
departements = ["03", "63"]

[[suivi]]
titre = "Suivi"
cle = "https://docs.google.com/spreadsheets/d/{SUIVI_KEY}/edit#gid=0"

[[questionnaires]]
titre = "Questionnaire 2019"
cle = "{QUESTIONNAIRE_KEY}"
annee = 2019
ouverture = 2019-12-01
cloture = 2020-01-31

[[questionnaires]]
titre = "Questionnaire 2020"
cle = "{QUESTIONNAIRE_2020_KEY}"
annee = 2020
ouverture = 2020-12-01
cloture = 2021-01-31
"""


@pytest.fixture
def sheets_source(sheets_emulator: SheetsEmulator, warehouse: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):  # noqa: F811
    """The sample served by the emulator, and the environment pointing the pipeline at it."""
    serve_sample(sheets_emulator)
    config = tmp_path / "sources.toml"
    config.write_text(SHEETS_CONFIG, encoding="utf-8")
    monkeypatch.setenv("PDN_SOURCES", str(config))
    monkeypatch.setenv("PDN_SHEETS_API_URL", sheets_emulator.url)
    monkeypatch.setenv("PDN_SHEETS_RETRY_BASE", "0.01")
    monkeypatch.setenv("PDN_SHEETS_RETRY_CAP", "0.05")
    monkeypatch.setenv("PDN_SHEETS_RETRY_TOTAL", "2")
    return sheets_emulator


# --- One real sync of the bundled sample per test session, shared (each flow run costs ~15 s) --------

from dataclasses import dataclass  # noqa: E402


@dataclass(frozen=True)
class PublishedSample:
    """A warehouse published by the real flow from the bundled sample. Copy it before changing it."""

    root: Path
    report: dict

    @property
    def published_db(self) -> Path:
        return self.root / "warehouse" / "pdn.duckdb"

    def copy_to(self, destination: Path) -> Path:
        """A private copy (warehouse and raw history) that a test may change."""
        import shutil

        for part in ("warehouse", "private"):
            shutil.copytree(self.root / part, destination / part)
        return destination


@pytest.fixture(scope="session")
def published_sample(prefect_harness, tmp_path_factory) -> PublishedSample:
    """Run `nightly_sync` once on the sample, with nothing configured, as `pdn synchroniser` does."""
    from flows.pipeline.sync import nightly_sync

    root = tmp_path_factory.mktemp("published-sample")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("PDN_WAREHOUSE_DIR", str(root / "warehouse"))
        patch.setenv("PDN_PRIVATE_DIR", str(root / "private"))
        patch.setenv("PDN_PSEUDONYM_KEY", PSEUDONYM_KEY_FOR_TESTS)
        for name in ALERT_AND_SOURCE_VARIABLES:
            patch.delenv(name, raising=False)
        report = nightly_sync()
    return PublishedSample(root=root, report=report)


def use_warehouse(monkeypatch: pytest.MonkeyPatch, root: Path) -> None:
    """Point the pipeline at a warehouse copied under `root`."""
    monkeypatch.setenv("PDN_WAREHOUSE_DIR", str(root / "warehouse"))
    monkeypatch.setenv("PDN_PRIVATE_DIR", str(root / "private"))
    monkeypatch.setenv("PDN_PSEUDONYM_KEY", PSEUDONYM_KEY_FOR_TESTS)


def use_warehouse_and_files(monkeypatch: pytest.MonkeyPatch, root: Path) -> None:
    """use_warehouse, with no configured source: what `pdn synchroniser --source FOLDER` reads is the folder alone."""
    use_warehouse(monkeypatch, root)
    for name in ("PDN_SOURCES", "PDN_SHEETS_API_URL"):
        monkeypatch.delenv(name, raising=False)


# --- `pdn` in a fresh process with no Prefect server configured, as the coordinator runs it ---------

import os  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402

from flows.settings import QUIET_TOOLS_ENV  # noqa: E402


@pytest.fixture(scope="session")
def cold_prefect_home(tmp_path_factory) -> Path:
    """PREFECT_HOME of the tests that run `pdn` cold: the first run creates Prefect's database (~5 s)."""
    return tmp_path_factory.mktemp("prefect-home")


@pytest.fixture
def webhook():
    """A local webhook that records the alerts sent to it (tests/ops/test_notify.py WebhookReceiver)."""
    from tests.ops.test_notify import WebhookReceiver

    receiver = WebhookReceiver()
    yield receiver
    receiver.close()


@pytest.fixture(scope="session")
def prefect_server(tmp_path_factory):
    """The API URL of one real `prefect server start` per worker, for `pdn` processes whose test is about a disk or an
    exit, not about Prefect's temporary server: each then skips that server's start (~9 s, ~35 s on a new home)."""
    from tests.prefect_service import PrefectService

    service = PrefectService(tmp_path_factory.mktemp("prefect-server"))
    service.start_server()
    try:
        yield service.url
    finally:
        service.stop()


def cold_pdn(args: list[str], root: Path, prefect_home: Path, **env: str) -> subprocess.Popen:
    """`pdn ARGS` in its own process on the warehouse under `root`; it starts Prefect's temporary server."""
    child = {
        key: value for key, value in os.environ.items()
        if not key.startswith(("PDN_", "PREFECT_")) and key != "GOOGLE_APPLICATION_CREDENTIALS"
    }
    child |= QUIET_TOOLS_ENV | {
        "PREFECT_HOME": str(prefect_home),
        "PDN_WAREHOUSE_DIR": str(root / "warehouse"),
        "PDN_PRIVATE_DIR": str(root / "private"),
        "PDN_PSEUDONYM_KEY": PSEUDONYM_KEY_FOR_TESTS,
        **env,
    }
    return subprocess.Popen(
        [sys.executable, "-m", "flows.cli", *args], env=child, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
