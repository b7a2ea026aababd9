"""Extraction: read each configured spreadsheet's tabs as text, exactly as they are."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from functools import partial
from datetime import date, datetime, timezone
from pathlib import Path

import pandas as pd

from flows.contract import (
    CONTRACTS,
    HeaderMapping,
    TableContract,
    contract_for_tab,
    map_header,
    normalise_label,
)
from flows.errors import InputError
from flows.sources import SourceConfig, SpreadsheetSource

log = logging.getLogger(__name__)

SHEETS_EPOCH = datetime(1899, 12, 30)


@dataclass
class TabSnapshot:
    """One tab as read: its header row and every following sheet row, all cells as text."""

    spreadsheet: SpreadsheetSource
    spreadsheet_id: str
    tab: str
    contract: TableContract
    header: list[str]
    mapping: HeaderMapping
    cells: pd.DataFrame  # positional columns 0..n-1, one row per sheet row after the header
    first_row_number: int  # sheet row number of cells' first row
    modified_time: str | None
    time_zone: str


def cell_text(value: object) -> str:
    """Text of a typed cell as the Sheets API returns unformatted values (dates as serial numbers)."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, datetime):
        return cell_text((value - SHEETS_EPOCH).total_seconds() / 86400)
    if isinstance(value, date):
        return str((value - SHEETS_EPOCH.date()).days)
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() else repr(value)
    return str(value)


def tab_from_rows(
    rows: list[list[str]],
    spreadsheet: SpreadsheetSource,
    spreadsheet_id: str,
    tab: str,
    contract: TableContract,
    modified_time: str | None,
    time_zone: str = "Europe/Paris",
) -> TabSnapshot:
    """A tab given as rows of text (the API trims trailing empty cells, so rows are ragged)."""
    width = max((len(row) for row in rows), default=0)
    frame = pd.DataFrame([row + [""] * (width - len(row)) for row in rows], columns=range(width), dtype=object)
    return tab_from_frame(frame, spreadsheet, spreadsheet_id, tab, contract, modified_time, time_zone)


def tab_from_frame(
    frame: pd.DataFrame,
    spreadsheet: SpreadsheetSource,
    spreadsheet_id: str,
    tab: str,
    contract: TableContract,
    modified_time: str | None,
    time_zone: str = "Europe/Paris",
) -> TabSnapshot:
    """Split a tab (every cell as text, positional columns) into its header row and the rows below."""
    where = f"Tableur « {spreadsheet.title} », onglet « {tab} »"
    frame = frame.fillna("").astype(str)
    filled = frame.apply(lambda column: column.str.strip() != "").any(axis=1)
    if not filled.any():
        raise InputError(f"{where} : l'onglet est vide (aucune ligne d'en-tête).")
    header_index = int(filled.to_numpy().argmax())
    header = frame.iloc[header_index].tolist()
    mapping = map_header(header, contract, where)
    cells = frame.iloc[header_index + 1 :].reset_index(drop=True)
    return TabSnapshot(
        spreadsheet=spreadsheet,
        spreadsheet_id=spreadsheet_id,
        tab=tab,
        contract=contract,
        header=header,
        mapping=mapping,
        cells=cells,
        first_row_number=header_index + 2,
        modified_time=modified_time,
        time_zone=time_zone,
    )


def expected_contracts(spreadsheet: SpreadsheetSource) -> list[TableContract]:
    """The tabs a spreadsheet of this kind must have."""
    return [c for c in CONTRACTS if c.spreadsheet_kind == spreadsheet.kind]


def missing_tab_error(spreadsheet: SpreadsheetSource, contract: TableContract, found: list[str]) -> InputError:
    """French error for a required tab that is not there."""
    present = ", ".join(f"« {name} »" for name in found) or "aucun"
    return InputError(
        f"Tableur « {spreadsheet.title} » : onglet « {contract.tab_titles[0]} » introuvable "
        f"(onglets présents : {present})."
    )


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
