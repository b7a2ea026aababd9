"""Exports in a folder (`pdn sync --source`): CSV or XLSX files downloaded from Google Sheets."""

from __future__ import annotations

import logging
from datetime import datetime, timezone
from functools import partial
from pathlib import Path

import pandas as pd

from flows.errors import InputError
from flows.sources.config import SourceConfig, SpreadsheetSource
from flows.sources.contract import contract_for_tab, normalise_label
from flows.sources.snapshot import (
    TabSnapshot,
    cell_text,
    expected_contracts,
    missing_tab_error,
    tab_from_frame,
    tab_from_rows,
)

log = logging.getLogger(__name__)


def _file_modified_time(path: Path) -> str:
    stamp = datetime.fromtimestamp(path.stat().st_mtime, tz=timezone.utc)
    return stamp.isoformat(timespec="seconds").replace("+00:00", "Z")


def _read_csv(path: Path) -> pd.DataFrame:
    """A Google CSV export as text cells; blank lines are kept so row numbers match the sheet."""
    return pd.read_csv(
        path,
        header=None,
        dtype=str,
        keep_default_na=False,
        skip_blank_lines=False,
        encoding="utf-8-sig",
    )


def _csv_tab(path: Path, *context) -> TabSnapshot:
    """Read one CSV export only when its tab is wanted."""
    return tab_from_frame(_read_csv(path), *context)


def _read_xlsx_tabs(path: Path) -> dict[str, list[list[str]]]:
    """Every tab of an XLSX export as rows of text (typed cells rendered like the Sheets API)."""
    from openpyxl import load_workbook

    workbook = load_workbook(path, read_only=True, data_only=True)
    try:
        return {
            sheet.title: [[cell_text(value) for value in row] for row in sheet.iter_rows(values_only=True)]
            for sheet in workbook.worksheets
        }
    finally:
        workbook.close()


def _csv_tabs(folder: Path, title: str) -> dict[str, Path]:
    """CSV exports of one spreadsheet: files named '<title> - <tab>.csv', the title matched tolerantly."""
    wanted = normalise_label(title)
    tabs = {}
    for path in sorted(folder.glob("*.csv")):
        parts = path.stem.split(" - ")
        # A title or a tab may itself contain " - ": try every split point.
        for cut in range(1, len(parts)):
            if normalise_label(" - ".join(parts[:cut])) == wanted:
                tabs[" - ".join(parts[cut:])] = path
                break
    return tabs


def extract_spreadsheet_files(folder: Path, spreadsheet: SpreadsheetSource) -> list[TabSnapshot]:
    """Read one spreadsheet from a folder of exports: '<title>.xlsx' or '<title> - <tab>.csv' files."""
    xlsx = [p for p in folder.glob("*.xlsx") if normalise_label(p.stem) == normalise_label(spreadsheet.title)]
    spreadsheet_id = f"fichier:{spreadsheet.title}"
    if xlsx:
        modified = _file_modified_time(xlsx[0])
        tabs = {name: partial(tab_from_rows, rows) for name, rows in _read_xlsx_tabs(xlsx[0]).items()}
    else:
        paths = _csv_tabs(folder, spreadsheet.title)
        if not paths:
            raise InputError(
                f"Tableur « {spreadsheet.title} » : aucun export trouvé dans {folder} "
                f"(attendu « {spreadsheet.title}.xlsx » ou « {spreadsheet.title} - <onglet>.csv »)."
            )
        modified = max(_file_modified_time(path) for path in paths.values())
        tabs = {name: partial(_csv_tab, path) for name, path in paths.items()}
    snapshots = []
    for contract in expected_contracts(spreadsheet):
        tab = next((name for name in tabs if contract_for_tab(name, spreadsheet.kind) is contract), None)
        if tab is None:
            raise missing_tab_error(spreadsheet, contract, list(tabs))
        snapshots.append(tabs[tab](spreadsheet, spreadsheet_id, tab, contract, modified))
    return snapshots


def extract_files(folder: Path, config: SourceConfig) -> list[TabSnapshot]:
    """Read every configured spreadsheet from a folder of exports."""
    if not folder.is_dir():
        raise InputError(f"Dossier de sources introuvable : {folder}")
    snapshots = []
    for spreadsheet in config.spreadsheets:
        snapshots.extend(extract_spreadsheet_files(folder, spreadsheet))
    log.info("%d onglets lus depuis %s", len(snapshots), folder)
    return snapshots
