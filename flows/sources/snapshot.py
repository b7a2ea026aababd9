"""A tab as read from any source: its header row and the rows below, every cell as text."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

import pandas as pd

from flows.errors import InputError
from flows.sources.config import SpreadsheetSource
from flows.sources.contract import CONTRACTS, HeaderMapping, TableContract, map_header

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
