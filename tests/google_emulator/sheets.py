"""Sheets v4 read side: stored spreadsheets, cells and A1 notation, ``spreadsheets.get`` (with grid data) and
``values.get`` / ``values.batchGet``."""

from __future__ import annotations

import re
import zlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from tests.google_emulator.common import Response, google_error, masked, one
from tests.google_emulator.drive import SPREADSHEET_MIME_TYPE

DEFAULT_TIME_ZONE = "Europe/Paris"
LOCALE = "fr_FR"
# Google creates new tabs 1000 x 26; a tab holding more data gets a grid as big as its data.
MIN_GRID_ROWS = 1000
MIN_GRID_COLUMNS = 26
SHEETS_READ_KINDS = frozenset({"metadata", "values", "batchGet"})
SHEETS_WRITE_KINDS = frozenset({"batchUpdate", "valuesBatchUpdate"})
# The CellData fields an update request can set besides the value, kept per cell as given.
CELL_EXTRA_FIELDS = ("userEnteredFormat", "dataValidation", "note", "textFormatRuns", "hyperlink")
DATE_FORMAT_TYPES = ("DATE", "DATE_TIME", "TIME")

_SERIAL_EPOCH = datetime(1899, 12, 30)
_VALUE_RENDER_OPTIONS = ("FORMATTED_VALUE", "UNFORMATTED_VALUE", "FORMULA")
_DATE_TIME_RENDER_OPTIONS = ("SERIAL_NUMBER", "FORMATTED_STRING")
_DIMENSIONS = ("ROWS", "COLUMNS", "DIMENSION_UNSPECIFIED")
_A1_RE = re.compile(r"\$?([A-Za-z]*)\$?([0-9]*)(?::\$?([A-Za-z]*)\$?([0-9]*))?")
_PLAIN_SHEET_NAME_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_CELL_LIKE_NAME_RE = re.compile(r"[A-Za-z]{1,3}[0-9]+|[Rr][0-9]*[Cc][0-9]*")


# ---------------------------------------------------------------------------------------------------------
# Cells and A1 notation
# ---------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Cell:
    """One non-empty cell: its typed value, an optional display twin, and whether it is a date serial."""

    value: str | int | float | bool
    formatted: str | None = None
    is_date: bool = False


def date_serial(day: date | datetime) -> int | float:
    """Return the Sheets serial number of a date (whole days) or datetime (fractional days) since 1899-12-30."""
    if isinstance(day, datetime):
        return (day.replace(tzinfo=None) - _SERIAL_EPOCH) / timedelta(days=1)
    return (day - _SERIAL_EPOCH.date()).days


def date_cell(day: date | datetime, formatted: str | None = None) -> dict[str, Any]:
    """Return a date cell (serial number flagged as a date) for ``tabs`` or the JSON document."""
    cell: dict[str, Any] = {"value": date_serial(day), "date": True}
    if formatted is not None:
        cell["formatted"] = formatted
    return cell


def to_cell(raw: Any) -> Cell | None:
    """Normalise one given cell; None and "" are both an empty cell, as in Sheets."""
    if raw is None or raw == "":
        return None
    if isinstance(raw, (date, datetime)):
        return Cell(date_serial(raw), None, True)
    if isinstance(raw, bool | str):
        return Cell(raw)
    if isinstance(raw, int | float):
        if raw != raw or raw in (float("inf"), float("-inf")):
            raise ValueError(f"Sheets cannot hold {raw!r}")
        return Cell(raw)
    if isinstance(raw, Mapping):
        unknown = set(raw) - {"value", "formatted", "date"}
        if "value" not in raw or unknown:
            raise ValueError(f"a cell object needs 'value' and only 'formatted'/'date' besides: {raw!r}")
        inner = to_cell(raw["value"])
        if inner is None:
            return None
        formatted = raw.get("formatted")
        if formatted is not None and not isinstance(formatted, str):
            raise ValueError(f"'formatted' must be a string: {raw!r}")
        is_date = bool(raw.get("date", False)) or inner.is_date
        if is_date and (isinstance(inner.value, bool) or not isinstance(inner.value, int | float)):
            raise ValueError(f"a date cell holds a serial number: {raw!r}")
        return Cell(inner.value, formatted, is_date)
    raise TypeError(f"unsupported cell value {raw!r} ({type(raw).__name__})")


def cell_to_json(cell: Cell | None) -> Any:
    """Return the JSON-document form of a stored cell (the plain value whenever that loses nothing)."""
    if cell is None:
        return None
    if cell.formatted is None and not cell.is_date:
        return cell.value
    out: dict[str, Any] = {"value": cell.value}
    if cell.formatted is not None:
        out["formatted"] = cell.formatted
    if cell.is_date:
        out["date"] = True
    return out


def _format_serial(serial: int | float) -> str:
    """Show a date serial the way an fr_FR sheet's automatic date format does."""
    moment = _SERIAL_EPOCH + timedelta(seconds=round(serial * 86400))
    if moment.time() == datetime.min.time():
        return moment.strftime("%d/%m/%Y")
    return moment.strftime("%d/%m/%Y %H:%M:%S")


def format_cell(cell: Cell) -> str:
    """Return the display string of a cell: its twin if given, else an fr_FR automatic format."""
    if cell.formatted is not None:
        return cell.formatted
    value = cell.value
    if cell.is_date:
        return _format_serial(value)  # type: ignore[arg-type]
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, float):
        if value.is_integer():
            return str(int(value))
        return repr(value).replace(".", ",")  # fr_FR decimal comma
    return str(value)


def _plain_number(value: Any) -> Any:
    """Google writes 3, not 3.0."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def _render(cell: Cell | None, value_render: str, date_time_render: str) -> Any:
    """Return a cell as values.get would, under the given render options."""
    if cell is None:
        return ""
    if value_render == "FORMATTED_VALUE":
        return format_cell(cell)
    if cell.is_date and date_time_render == "FORMATTED_STRING":
        return format_cell(cell)
    return _plain_number(cell.value)


def extended_value(cell: Cell) -> dict[str, Any]:
    """The ExtendedValue of a cell: ``{"stringValue"|"numberValue"|"boolValue": v}``."""
    if isinstance(cell.value, bool):
        return {"boolValue": cell.value}
    if isinstance(cell.value, int | float):
        return {"numberValue": _plain_number(cell.value)}
    return {"stringValue": cell.value}


def column_index(letters: str) -> int:
    """Return the 0-based index of column letters (A -> 0, AA -> 26)."""
    index = 0
    for letter in letters.upper():
        index = index * 26 + (ord(letter) - ord("A") + 1)
    return index - 1


def column_letters(index: int) -> str:
    """Return the column letters of a 0-based index."""
    letters = ""
    index += 1
    while index:
        index, remainder = divmod(index - 1, 26)
        letters = chr(ord("A") + remainder) + letters
    return letters


def quote_sheet_name(title: str, always: bool = False) -> str:
    """Quote a tab title for A1 notation when Sheets would (spaces, punctuation, cell-like names)."""
    if not always and _PLAIN_SHEET_NAME_RE.fullmatch(title) and not _CELL_LIKE_NAME_RE.fullmatch(title):
        return title
    return "'" + title.replace("'", "''") + "'"


class RangeError(ValueError):
    """A range the API would refuse with 400 INVALID_ARGUMENT; the message is Google's."""


def _split_sheet_name(text: str) -> tuple[str | None, str | None]:
    """Split ``'Tab'!A1:B2`` into (tab name, cell part); raise RangeError if malformed."""
    if text.startswith("'"):
        name: list[str] = []
        i = 1
        while True:
            if i >= len(text):
                raise RangeError(f"Unable to parse range: {text}")
            if text[i] == "'":
                if text[i + 1 : i + 2] == "'":
                    name.append("'")
                    i += 2
                    continue
                i += 1
                break
            name.append(text[i])
            i += 1
        rest = text[i:]
        if rest == "":
            return "".join(name), None
        if rest.startswith("!") and len(rest) > 1:
            return "".join(name), rest[1:]
        raise RangeError(f"Unable to parse range: {text}")
    if "!" in text:
        name_part, _, cells = text.rpartition("!")
        if not cells:
            raise RangeError(f"Unable to parse range: {text}")
        return name_part, cells
    return None, text


@dataclass(frozen=True)
class GridRange:
    """A resolved rectangle on one tab, inclusive 0-based bounds."""

    tab: str
    first_row: int
    last_row: int
    first_column: int
    last_column: int
    single_cell: bool = False  # given as one cell (``A1``): a write anchored there may extend past it

    def a1(self) -> str:
        """Return the normalised A1 range Sheets echoes back."""
        start = f"{column_letters(self.first_column)}{self.first_row + 1}"
        end = f"{column_letters(self.last_column)}{self.last_row + 1}"
        cells = start if start == end else f"{start}:{end}"
        return f"{quote_sheet_name(self.tab)}!{cells}"


# ---------------------------------------------------------------------------------------------------------
# Stored spreadsheets
# ---------------------------------------------------------------------------------------------------------


@dataclass
class Tab:
    """One tab: title, stable sheetId, cells row by row, and what batchUpdate set on it."""

    title: str
    sheet_id: int
    rows: list[list[Cell | None]]
    grid_rows: int = MIN_GRID_ROWS
    grid_columns: int = MIN_GRID_COLUMNS
    frozen_rows: int = 0
    frozen_columns: int = 0
    # CellData fields besides the value (dataValidation, userEnteredFormat, note...), by (row, column).
    extras: dict[tuple[int, int], dict[str, Any]] = field(default_factory=dict)
    protected_ranges: list[dict[str, Any]] = field(default_factory=list)
    other_properties: dict[str, Any] = field(default_factory=dict)  # e.g. tabColorStyle, hidden

    @property
    def row_count(self) -> int:
        return max(self.grid_rows, len(self.rows))

    @property
    def column_count(self) -> int:
        return max([self.grid_columns, *(len(row) for row in self.rows)])

    def cell(self, row: int, column: int) -> Cell | None:
        if row < len(self.rows) and column < len(self.rows[row]):
            return self.rows[row][column]
        return None

    def set_cell(self, row: int, column: int, cell: Cell | None) -> None:
        while len(self.rows) <= row:
            self.rows.append([])
        line = self.rows[row]
        if column >= len(line):
            if cell is None:
                return
            line.extend([None] * (column + 1 - len(line)))
        line[column] = cell

    def last_row_with_values(self) -> int:
        """How many rows hold at least one value (the row appendCells writes after)."""
        count = len(self.rows)
        while count and not any(cell is not None for cell in self.rows[count - 1]):
            count -= 1
        return count

    def properties(self, index: int) -> dict[str, Any]:
        """SheetProperties as spreadsheets.get writes them (zero frozen counts left out, as Google does)."""
        grid: dict[str, Any] = {"rowCount": self.row_count, "columnCount": self.column_count}
        if self.frozen_rows:
            grid["frozenRowCount"] = self.frozen_rows
        if self.frozen_columns:
            grid["frozenColumnCount"] = self.frozen_columns
        extra_grid = self.other_properties.get("gridProperties", {})
        props = {
            "sheetId": self.sheet_id,
            "title": self.title,
            "index": index,
            "sheetType": "GRID",
            "gridProperties": {**extra_grid, **grid},
        }
        props.update({k: v for k, v in self.other_properties.items() if k != "gridProperties"})
        return props


@dataclass
class Spreadsheet:
    """One stored spreadsheet with its Drive metadata."""

    spreadsheet_id: str
    title: str
    tabs: list[Tab]
    modified_time: str
    created_time: str
    time_zone: str
    shared: bool | str = True
    mime_type = SPREADSHEET_MIME_TYPE

    @property
    def file_id(self) -> str:
        return self.spreadsheet_id

    @property
    def drive_name(self) -> str:
        return self.title

    def tab(self, title: str) -> Tab | None:
        return next((tab for tab in self.tabs if tab.title == title), None)

    def tab_by_id(self, sheet_id: int) -> Tab | None:
        return next((tab for tab in self.tabs if tab.sheet_id == sheet_id), None)


def sheet_id_for(spreadsheet_id: str, title: str, index: int) -> int:
    """Return a stable sheetId: 0 for the first tab (as Google does), a deterministic number otherwise."""
    if index == 0:
        return 0
    return zlib.crc32(f"{spreadsheet_id}/{title}".encode()) & 0x7FFFFFFF


def to_rows(rows: Sequence[Sequence[Any]]) -> list[list[Cell | None]]:
    """Normalise a tab's rows of raw cells."""
    if isinstance(rows, str) or not all(isinstance(row, Sequence) and not isinstance(row, str) for row in rows):
        raise TypeError("a tab is a list of rows, each a list of cells")
    return [[to_cell(raw) for raw in row] for row in rows]


# ---------------------------------------------------------------------------------------------------------
# Reads: spreadsheets.get, values.get, values.batchGet
# ---------------------------------------------------------------------------------------------------------


def metadata(spreadsheet: Spreadsheet, query: dict[str, list[str]]) -> Response:
    """spreadsheets.get: properties and sheets; with ``ranges`` only the sheets they touch; with
    ``includeGridData=true`` each sheet's ``data`` (one GridData per range, or the whole grid)."""
    include_grid = (one(query, "includeGridData") or "false").lower() == "true"
    try:
        grids = [resolve_range(spreadsheet, text) for text in query.get("ranges", [])]
    except RangeError as exc:
        return google_error(400, str(exc))
    sheets = []
    for index, tab in enumerate(spreadsheet.tabs):
        tab_grids = [grid for grid in grids if grid.tab == tab.title]
        if grids and not tab_grids:
            continue
        sheet: dict[str, Any] = {"properties": tab.properties(index)}
        if include_grid:
            if not tab_grids:
                tab_grids = [GridRange(tab.title, 0, tab.row_count - 1, 0, tab.column_count - 1)]
            sheet["data"] = [grid_data(tab, grid) for grid in tab_grids]
        if tab.protected_ranges:
            sheet["protectedRanges"] = [dict(pr) for pr in tab.protected_ranges]
        sheets.append(sheet)
    body = {
        "spreadsheetId": spreadsheet.spreadsheet_id,
        "properties": {
            "title": spreadsheet.title,
            "locale": LOCALE,
            "autoRecalc": "ON_CHANGE",
            "timeZone": spreadsheet.time_zone,
        },
        "sheets": sheets,
        "spreadsheetUrl": f"https://docs.google.com/spreadsheets/d/{spreadsheet.spreadsheet_id}/edit",
    }
    return masked(body, query)


def cell_data(tab: Tab, row: int, column: int) -> dict[str, Any]:
    """The CellData of one cell: entered, effective and formatted value, then what batchUpdate set on it."""
    out: dict[str, Any] = {}
    cell = tab.cell(row, column)
    extra = tab.extras.get((row, column), {})
    if cell is not None:
        value = extended_value(cell)
        out.update(userEnteredValue=value, effectiveValue=dict(value), formattedValue=format_cell(cell))
    for name in CELL_EXTRA_FIELDS:
        if name in extra:
            out[name] = extra[name]
    if cell is not None and cell.is_date and "numberFormat" not in out.get("userEnteredFormat", {}):
        date_format = {"numberFormat": {"type": "DATE", "pattern": "dd/MM/yyyy"}}
        out["userEnteredFormat"] = {**date_format, **out.get("userEnteredFormat", {})}
    return out


def grid_data(tab: Tab, grid: GridRange) -> dict[str, Any]:
    """One GridData: rowData trimmed like values (trailing empty cells and rows left out), plus row/column sizes."""
    used_rows = max([tab.last_row_with_values(), *(r + 1 for r, _ in tab.extras)])
    rows: list[dict[str, Any]] = []
    for row in range(grid.first_row, min(grid.last_row + 1, used_rows)):
        values = [cell_data(tab, row, column) for column in range(grid.first_column, grid.last_column + 1)]
        while values and not values[-1]:
            values.pop()
        rows.append({"values": values} if values else {})
    while rows and not rows[-1]:
        rows.pop()
    out: dict[str, Any] = {}
    if grid.first_row:
        out["startRow"] = grid.first_row
    if grid.first_column:
        out["startColumn"] = grid.first_column
    if rows:
        out["rowData"] = rows
    out["rowMetadata"] = [{"pixelSize": 21} for _ in range(grid.last_row - grid.first_row + 1)]
    out["columnMetadata"] = [{"pixelSize": 100} for _ in range(grid.last_column - grid.first_column + 1)]
    return out


def render_options(query: dict[str, list[str]], prefix: str = "") -> tuple[str, str, str]:
    """Read and validate valueRenderOption, dateTimeRenderOption and majorDimension."""
    value_render = _option(query, prefix, "valueRenderOption") or "FORMATTED_VALUE"
    date_time_render = _option(query, prefix, "dateTimeRenderOption") or "SERIAL_NUMBER"
    dimension = one(query, "majorDimension") or "ROWS"
    for name, given, allowed in (
        ("value_render_option", value_render, _VALUE_RENDER_OPTIONS),
        ("date_time_render_option", date_time_render, _DATE_TIME_RENDER_OPTIONS),
        ("major_dimension", dimension, _DIMENSIONS),
    ):
        if given not in allowed:
            raise RangeError(f"Invalid value at '{name}', \"{given}\"")
    return value_render, date_time_render, "COLUMNS" if dimension == "COLUMNS" else "ROWS"


def _option(query: dict[str, list[str]], prefix: str, name: str) -> str | None:
    if not prefix:
        return one(query, name)
    return one(query, prefix + name[0].upper() + name[1:])


def resolve_range(spreadsheet: Spreadsheet, text: str) -> GridRange:
    """Resolve an A1 range (``Tab``, ``'Tab'!A:J``, ``A1:B2`` on the first tab...) against the grid."""
    name, cells = _split_sheet_name(text)
    if name is None and cells is not None and spreadsheet.tab(cells) is not None:
        name, cells = cells, None  # a bare word naming a tab means the whole tab
    tab = spreadsheet.tabs[0] if name is None else spreadsheet.tab(name)
    if tab is None:
        raise RangeError(f"Unable to parse range: {text}")
    rows, columns = tab.row_count, tab.column_count
    if cells is None:
        return GridRange(tab.title, 0, rows - 1, 0, columns - 1)
    match = _A1_RE.fullmatch(cells)
    if not match:
        raise RangeError(f"Unable to parse range: {text}")
    start_col, start_row, end_col, end_row = match.groups()
    single = end_col is None
    if single:  # a single cell: both parts needed
        if not (start_col and start_row):
            raise RangeError(f"Unable to parse range: {text}")
        end_col, end_row = start_col, start_row
    if not (start_col or start_row) or not (end_col or end_row) or 0 in (int(start_row or 1), int(end_row or 1)):
        raise RangeError(f"Unable to parse range: {text}")
    first_col = column_index(start_col) if start_col else 0
    last_col = column_index(end_col) if end_col else columns - 1
    first_row = int(start_row) - 1 if start_row else 0
    last_row = int(end_row) - 1 if end_row else rows - 1
    first_col, last_col = sorted((first_col, last_col))
    first_row, last_row = sorted((first_row, last_row))
    if last_row >= rows or last_col >= columns:
        raise RangeError(
            f"Range ({quote_sheet_name(tab.title, always=True)}!{cells}) exceeds grid limits. "
            f"Max rows: {rows}, max columns: {columns}"
        )
    return GridRange(tab.title, first_row, last_row, first_col, last_col, single)


def _trim(lines: list[list[Cell | None]]) -> list[list[Cell | None]]:
    """Drop trailing empty cells of each line, then trailing empty lines, as the API does."""
    trimmed = []
    for line in lines:
        end = len(line)
        while end and line[end - 1] is None:
            end -= 1
        trimmed.append(line[:end])
    while trimmed and not trimmed[-1]:
        trimmed.pop()
    return trimmed


def value_range(
    spreadsheet: Spreadsheet, text: str, value_render: str, date_time_render: str, dimension: str
) -> dict[str, Any]:
    """Build one ValueRange: the normalised range and the rendered, trimmed values inside it."""
    return grid_value_range(spreadsheet, resolve_range(spreadsheet, text), value_render, date_time_render, dimension)


def grid_value_range(
    spreadsheet: Spreadsheet, grid: GridRange, value_render: str, date_time_render: str, dimension: str
) -> dict[str, Any]:
    """The ValueRange of an already resolved rectangle."""
    tab = spreadsheet.tab(grid.tab)
    assert tab is not None
    width = grid.last_column - grid.first_column + 1
    block: list[list[Cell | None]] = []
    for row_index in range(grid.first_row, min(grid.last_row + 1, len(tab.rows))):
        row = tab.rows[row_index][grid.first_column : grid.last_column + 1]
        block.append(row + [None] * (width - len(row)))
    if dimension == "COLUMNS":
        block = [list(column) for column in zip(*block)] if block else []
    body: dict[str, Any] = {"range": grid.a1(), "majorDimension": dimension}
    values = [[_render(cell, value_render, date_time_render) for cell in line] for line in _trim(block)]
    if values:
        body["values"] = values
    return body


def read_values(spreadsheet: Spreadsheet, kind: str, range_text: str | None, query: dict[str, list[str]]) -> Response:
    """values.get and values.batchGet."""
    try:
        options = render_options(query)
        if kind == "values":
            return Response(200, value_range(spreadsheet, range_text or "", *options))
        requested = query.get("ranges", [])
        body: dict[str, Any] = {"spreadsheetId": spreadsheet.spreadsheet_id}
        if requested:
            body["valueRanges"] = [value_range(spreadsheet, text, *options) for text in requested]
        return Response(200, body)
    except RangeError as exc:
        return google_error(400, str(exc))
