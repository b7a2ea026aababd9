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
