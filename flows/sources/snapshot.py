"""A tab as read from any source: its header row and the rows below, every cell as text."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

import numpy as np
import pandas as pd

from flows.errors import InputError
from flows.screen import KnownNames, reason, withheld_label
from flows.sources.config import SpreadsheetSource
from flows.sources.contract import (
    CONTRACTS,
    HeaderMapping,
    MissingColumns,
    TableContract,
    contract_for_tab,
    contract_holding,
    map_header,
    normalise_label,
)
from flows.vocabulary import CORRECTIONS_TAB

SHEETS_EPOCH = datetime(1899, 12, 30)
# How far below the first filled row a header row is looked for, to say where it is.
HEADER_SEARCH_ROWS = 20


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
    reading_note: str | None = None  # how an export was decoded, when not plain UTF-8 with commas
    # Google Forms only: the question id behind each question column, and per-row fields of the API
    # (reponse_id, cree_le) that a response sheet does not have.
    question_ids: dict[str, str] | None = None
    row_fields: dict[str, list] | None = None
    sheet_gid: int | None = None  # Google Sheets only: the tab's sheetId, for links to a cell (#gid=…&range=…)


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
    reading_note: str | None = None,
) -> TabSnapshot:
    """A tab given as rows of text (the API trims trailing empty cells, so rows are ragged)."""
    width = max(map(len, rows), default=0)
    # Built column by column (a frame from a list of rows goes through pandas cell by cell), each column of
    # text becoming pandas' string type at once; whether a row is blank is read from its cells joined.
    padded = (row if len(row) == width else [*row, *[""] * (width - len(row))] for row in rows)
    columns = dict(enumerate(map(_shared_values, zip(*padded)))) if rows and width else {}
    frame = pd.DataFrame(columns, index=range(len(rows)), columns=range(width))
    filled = pd.Series(["".join(row).strip() != "" for row in rows], index=frame.index, dtype=bool)
    return tab_from_frame(
        frame, spreadsheet, spreadsheet_id, tab, contract, modified_time, time_zone, reading_note, filled=filled
    )


def _shared_values(column: tuple[str, ...]) -> list[str]:
    """The column's cells, equal texts sharing one string: a reader makes a new string per cell, and most columns
    repeat a few values (public, type, département, date), so a tab held until landing takes ~60 % less memory."""
    seen: dict[str, str] = {}
    return list(map(seen.setdefault, column, column))


def _filled_rows(frame: pd.DataFrame) -> pd.Series:
    """Rows with a cell holding more than whitespace (a row's cells joined are blank only when each one is)."""
    joined = np.full(len(frame), "", dtype=object)
    for position in range(frame.shape[1]):
        joined = joined + frame.iloc[:, position].to_numpy(dtype=object)
    return pd.Series([text.strip() != "" for text in joined], index=frame.index, dtype=bool)


def _header_row(frame: pd.DataFrame, filled: pd.Series, contract: TableContract, where: str) -> tuple[int, HeaderMapping]:
    """The header is the first non-blank row; when it is not (a title above it), say where it really is."""
    first = int(filled.to_numpy().argmax())
    try:
        return first, map_header(frame.iloc[first].tolist(), contract, where)
    except MissingColumns as missing:
        for index in range(first + 1, min(len(frame), first + 1 + HEADER_SEARCH_ROWS)):
            try:
                map_header(frame.iloc[index].tolist(), contract, where)
            except InputError:
                continue
            cells = int((frame.iloc[first].str.strip() != "").sum())
            raise InputError(
                f"{where} : l'en-tête n'est pas en ligne {first + 1}. Cette ligne contient {cells} cellule(s) "
                f"remplie(s) (un titre ?), et les colonnes attendues sont en ligne {index + 1}. Supprimez les "
                f"lignes au-dessus de l'en-tête, pour que les colonnes soient nommées en ligne 1."
            ) from None
        raise missing from None


def tab_from_frame(
    frame: pd.DataFrame,
    spreadsheet: SpreadsheetSource,
    spreadsheet_id: str,
    tab: str,
    contract: TableContract,
    modified_time: str | None,
    time_zone: str = "Europe/Paris",
    reading_note: str | None = None,
    filled: pd.Series | None = None,
) -> TabSnapshot:
    """Split a tab (every cell as text, positional columns) into its header row and the rows below.

    `filled`: which rows hold more than whitespace, when the caller already knows."""
    where = f"Tableur « {spreadsheet.title} », onglet « {tab} »"
    frame = frame.fillna("").astype(str)
    filled = _filled_rows(frame) if filled is None else filled
    if not filled.any():
        # An optional tab left empty holds nothing, like an absent one; so does a continuation made in advance
        # (« Activités 2021 » created blank in December).
        if contract.tab_optional or contract_for_tab(tab, contract.spreadsheet_kind) is not contract:
            return TabSnapshot(spreadsheet, spreadsheet_id, tab, contract, [], HeaderMapping({}, {}),
                               frame.iloc[0:0], 2, modified_time, time_zone, reading_note)
        raise InputError(f"{where} : l'onglet est vide (aucune ligne d'en-tête).")
    header_index, mapping = _header_row(frame, filled, contract, where)
    return TabSnapshot(
        spreadsheet=spreadsheet,
        spreadsheet_id=spreadsheet_id,
        tab=tab,
        contract=contract,
        header=frame.iloc[header_index].tolist(),
        mapping=mapping,
        cells=frame.iloc[header_index + 1 :].reset_index(drop=True),
        first_row_number=header_index + 2,
        modified_time=modified_time,
        time_zone=time_zone,
        reading_note=reading_note,
    )


def expected_contracts(spreadsheet: SpreadsheetSource) -> list[TableContract]:
    """The tabs a spreadsheet of this kind has (TableContract.tab_optional ones may be absent)."""
    return [c for c in CONTRACTS if c.spreadsheet_kind == spreadsheet.kind]


def missing_tab_error(spreadsheet: SpreadsheetSource, contract: TableContract, found: list[str]) -> InputError:
    """French error for a required tab that is not there."""
    # A tab no contract reads is named by its position only: its title is whatever someone typed (a person's
    # name, often), and « onglet 3 » finds it as well in the spreadsheet.
    present = ", ".join(
        f"« {name} »" if contract_holding(name, spreadsheet.kind) is not None else f"onglet n°{position}"
        for position, name in enumerate(found, start=1)
    ) or "aucun"
    return InputError(
        f"Tableur « {spreadsheet.title} » : onglet « {contract.tab_titles[0]} » introuvable "
        f"(onglets présents : {present})."
    )


@dataclass(frozen=True)
class UnreadItem:
    """A tab of a declared spreadsheet, or a file of the source folder, that no contract reads: reported « non lu »."""

    kind: str  # 'onglet' | 'fichier'
    name: str  # the tab's title or the file's name, as found
    reason: str  # French: why it is not read, and what would make it read
    spreadsheet: str | None = None  # the spreadsheet a tab belongs to
    position: int | None = None  # a tab's place among the spreadsheet's tabs (1 = first)

    def as_report(self, names: KnownNames) -> dict:
        """The run report's entry: a name the screen withholds is shown by its position (a tab) or masked."""
        if reason(self.name, names) is None:
            shown_name = self.name
        elif self.kind == "onglet" and self.position is not None:
            shown_name = f"onglet n°{self.position}"
        else:
            shown_name = withheld_label(f"{self.kind} masqué", self.name)
        return {"type": self.kind, "tableur": self.spreadsheet, "nom": shown_name, "motif": self.reason}


def _expected_titles(spreadsheet: SpreadsheetSource) -> str:
    """« Promeneurs », « Activités »… : the tab titles a spreadsheet of this kind is read from."""
    return ", ".join(f"« {c.tab_titles[0]} »" for c in expected_contracts(spreadsheet))


def plan_tabs(spreadsheet: SpreadsheetSource, titles: list[str]) -> tuple[list[tuple[TableContract, str]], list[UnreadItem]]:
    """Which tabs to read, for which contract (continuations too, in contract then tab order), and which are not read.

    A required tab found nowhere, or two tabs whose titles differ only by case, accents or spacing, are refused."""
    holding = {title: contract_holding(title, spreadsheet.kind) for title in titles}
    unread = [
        UnreadItem(
            "onglet", title,
            f"son nom n'est ni celui d'un onglet attendu ({_expected_titles(spreadsheet)}), ni ce nom suivi d'un "
            "numéro ou d'une année (« Activités 2020 », « Réponses au formulaire 2 ») : renommez-le ainsi s'il doit "
            "être lu",
            spreadsheet.title, position,
        )
        for position, title in enumerate(titles, start=1)
        if holding[title] is None and title != CORRECTIONS_TAB  # the sync's own write-back ([retour])
    ]
    planned = []
    for contract in expected_contracts(spreadsheet):
        matching = [title for title in titles if holding[title] is contract]
        if not matching and not contract.tab_optional:
            raise missing_tab_error(spreadsheet, contract, titles)
        keys = [normalise_label(title) for title in matching]
        twins = [title for title, key in zip(matching, keys) if keys.count(key) > 1]
        if twins:
            names = ", ".join(f"« {name} »" for name in twins)
            raise InputError(f"Tableur « {spreadsheet.title} » : plusieurs onglets correspondent ({names}) : gardez-en un.")
        planned += [(contract, title) for title in matching]
    return planned, unread
