"""No name or e-mail from the inputs reaches the published warehouse, the run report, Data Docs or the logs."""

import re
from pathlib import Path

import duckdb
import pandas as pd

from flows.settings import SAMPLE_DIR
from flows.sources.contract import PROMENEURS, REPONSES, map_header

IDENTITY_FIELDS = {PROMENEURS: ("nom", "prenom", "email"), REPONSES: ("email",)}
SOURCE_FILES = {PROMENEURS: "Suivi - Promeneurs.csv", REPONSES: "Questionnaire 2019 - Réponses au formulaire 1.csv"}


def personal_values() -> set[str]:
    """Every name and e-mail typed in the sample's sheets, normalised for a case-blind search."""
    values = set()
    for contract, fields in IDENTITY_FIELDS.items():
        frame = pd.read_csv(SAMPLE_DIR / SOURCE_FILES[contract], header=None, dtype=str, keep_default_na=False)
        positions = map_header(frame.iloc[0].tolist(), contract, "test").contract_positions
        for field in fields:
            values |= {v.strip().lower() for v in frame.iloc[1:, positions[field]] if v.strip()}
    return values


PERSONAL = personal_values()
SINGLE_WORDS = {v for v in PERSONAL if re.fullmatch(r"[\w.@+-]+", v)}
SEVERAL_WORDS = PERSONAL - SINGLE_WORDS


def leaks(text: str) -> set[str]:
    """Names and e-mails found in `text` as whole words (case-blind)."""
    lowered = text.lower()
    words = set(re.findall(r"[\w.@+-]+", lowered))
    words |= {w.strip(".-") for w in words}  # a name at the end of a sentence
    return (words & SINGLE_WORDS) | {v for v in SEVERAL_WORDS if v in lowered}


def test_the_scan_knows_the_inputs_and_would_catch_a_leak():
    assert len(PERSONAL) > 150 and "lea.bertrand@example.org" in PERSONAL and "bertrand" in PERSONAL
    assert leaks("Promeneur : Léa BERTRAND <lea.bertrand@example.org>") == {"léa", "bertrand", "lea.bertrand@example.org"}


def test_no_published_table_holds_a_name_or_an_email(published_sample):
    with duckdb.connect(str(published_sample.published_db), read_only=True) as con:
        tables = con.execute("select table_schema, table_name from information_schema.tables").fetchall()
        assert len(tables) >= 10
        # The one table with free text (titles and communes, screened); the sample names a Promeneur in a title.
        assert ("bilan", "actions_detaillees") in tables
        for schema, table in tables:
            frame = con.execute(f'select * from {schema}."{table}"').df()
            text = frame.to_csv(index=False)
            assert not leaks(text), f"{schema}.{table}"


def files_under(folder: Path) -> list[Path]:
    return [path for path in folder.rglob("*") if path.is_file() and path.suffix in {".json", ".html", ".csv", ".txt", ".log", ".md"}]


def test_run_reports_and_data_docs_hold_no_personal_data(published_sample):
    runs = published_sample.root / "warehouse" / "runs"
    scanned = files_under(runs)
    assert any(path.name == "dernier.json" for path in scanned)
    assert any(path.name == "index.html" for path in scanned)
    for path in scanned:
        assert not leaks(path.read_text(encoding="utf-8", errors="replace")), path


def test_dbt_logs_and_compiled_sql_hold_no_personal_data(published_sample):
    dbt_state = published_sample.root / "private" / "dbt"
    scanned = files_under(dbt_state) + list(dbt_state.rglob("*.sql"))
    assert any(path.name == "dbt.log" for path in scanned)
    for path in scanned:
        assert not leaks(path.read_text(encoding="utf-8", errors="replace")), path


def test_prefect_logs_of_the_run_hold_no_personal_data(published_sample):
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import LogFilter

    with get_client(sync_client=True) as client:
        logs = client.read_logs(log_filter=LogFilter(), limit=200)
    assert logs, "the flow's logs reached the Prefect server"
    assert not leaks("\n".join(log.message for log in logs))


def test_bilan_and_caf_exports_hold_no_personal_data(published_sample):
    from openpyxl import load_workbook

    reports = published_sample.root / "warehouse" / "rapports"
    texts = [path.read_text(encoding="utf-8-sig") for path in files_under(reports)]
    workbooks = list(reports.glob("*.xlsx"))
    assert len(texts) >= 2 and workbooks, "the sync wrote the bilan and its exports"
    for workbook in workbooks:
        cells = load_workbook(workbook, read_only=True).worksheets
        texts.append("\n".join(str(v) for sheet in cells for row in sheet.iter_rows(values_only=True) for v in row))
    for text in texts:
        assert not leaks(text)


# --- Broken inputs, run as the coordinator runs them: `pdn synchroniser` in its own process, its own Prefect ---------

import json  # noqa: E402
import shutil  # noqa: E402
import subprocess  # noqa: E402

import pytest  # noqa: E402

from tests.conftest import cold_pdn  # noqa: E402
from tests.ops.test_notify import WebhookReceiver  # noqa: E402

ROSTER = "Suivi - Promeneurs.csv"


def latin1_roster(folder: Path) -> None:
    """The roster re-saved in ISO-8859-1 (a curly apostrophe cannot be written: it becomes a straight one)."""
    text = (folder / ROSTER).read_bytes().decode("utf-8").replace("’", "'")
    (folder / ROSTER).write_bytes(text.encode("latin-1"))


def pdn(args: list[str], root: Path, prefect_home: Path, **env: str) -> subprocess.CompletedProcess:
    """`pdn` run to completion in its own process; stdout and stderr kept."""
    process = cold_pdn(args, root, prefect_home, **env)
    stdout, stderr = process.communicate(timeout=300)
    return subprocess.CompletedProcess(process.args, process.returncode, stdout, stderr)


@pytest.fixture(scope="module")
def broken_runs(tmp_path_factory, cold_prefect_home):
    """Two syncs on a latin-1 roster that break: an unexpected error carrying the whole file in its
    arguments (as a decoding error does), and a ragged row; both alert a chat webhook."""
    root = tmp_path_factory.mktemp("broken-runs")
    exports = root / "exports"
    shutil.copytree(SAMPLE_DIR, exports)
    latin1_roster(exports)
    webhook = WebhookReceiver()
    try:
        unexpected = pdn(["sync", "--source", str(exports)], root, cold_prefect_home, PDN_FAILPOINT="erreur_chargement",
                         PDN_ALERT_WEBHOOK_URL=webhook.url)
        ragged = exports / ROSTER
        lines = ragged.read_bytes().split(b"\r\n")
        lines[5] += b",en trop"
        ragged.write_bytes(b"\r\n".join(lines))
        refused = pdn(["sync", "--source", str(exports)], root, cold_prefect_home, PDN_ALERT_WEBHOOK_URL=webhook.url)
    finally:
        webhook.close()
    return root, cold_prefect_home, unexpected, refused, webhook.bodies


def test_broken_inputs_give_french_messages_and_exit_codes_without_traceback(broken_runs):
    _, _, unexpected, refused, alerts = broken_runs
    assert unexpected.returncode == 1, unexpected.stderr
    assert "Erreur inattendue (UnicodeDecodeError)" in unexpected.stderr and "la trace complète est dans" in unexpected.stderr
    assert refused.returncode == 2 and "ligne 6" in refused.stderr
    for run in (unexpected, refused):
        assert "Traceback" not in run.stdout + run.stderr
    assert len(alerts) == 2


def test_the_full_trace_is_kept_in_the_private_folder_only(broken_runs):
    root, _, unexpected, _, _ = broken_runs
    traces = list((root / "private" / "erreurs").glob("*.txt"))
    assert len(traces) == 1 and str(traces[0]) in unexpected.stderr
    assert "UnicodeDecodeError" in traces[0].read_text(encoding="utf-8")
    assert traces[0].stat().st_mode & 0o777 == 0o600


def test_no_name_or_email_in_prefect_database_reports_alerts_or_output_after_broken_runs(broken_runs):
    root, prefect_home, unexpected, refused, alerts = broken_runs
    database = prefect_home / "prefect.db"
    assert database.exists() and database.stat().st_size > 0
    # Bytes, not queries: whatever Prefect stored (logs, states, results), in any table or free page, and in
    # the write-ahead log that SQLite has not yet checkpointed into the file.
    files = [database, database.with_name("prefect.db-wal")]
    stored = ["".join(f.read_bytes().decode("utf-8", "replace") for f in files if f.exists())]
    stored += [p.read_text(encoding="utf-8") for p in (root / "warehouse" / "runs").glob("*.json")]
    stored += [json.dumps(body, ensure_ascii=False) for body in alerts]
    stored += [run.stdout + run.stderr for run in (unexpected, refused)]
    assert any("UnicodeDecodeError" in text for text in stored[:1]), "the failure was logged in Prefect"
    for text in stored:
        assert not leaks(text)
