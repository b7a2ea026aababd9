"""Sheets v4 write side: ``spreadsheets.batchUpdate`` (the requests a template formatter sends, applied) and
``values.batchUpdate``. Both are atomic, as Google's are: one invalid request and nothing changes."""

from __future__ import annotations

import copy
import re
import zlib
from collections.abc import Callable
from datetime import datetime
from typing import Any

from tests.google_emulator.common import Response, apply_update, google_error, parse_field_mask, without_defaults
from tests.google_emulator.sheets import (
    CELL_EXTRA_FIELDS,
    DATE_FORMAT_TYPES,
    MIN_GRID_COLUMNS,
    MIN_GRID_ROWS,
    Cell,
    GridRange,
    RangeError,
    Spreadsheet,
    Tab,
    column_letters,
    date_serial,
    grid_value_range,
    metadata,
    quote_sheet_name,
    render_options,
    resolve_range,
    sheet_id_for,
)

# Every request kind of Sheets v4 batchUpdate: a name outside this set is a malformed request (400).
GOOGLE_REQUEST_KINDS = frozenset(
    """updateSpreadsheetProperties updateSheetProperties updateDimensionProperties updateNamedRange repeatCell
    addNamedRange deleteNamedRange addSheet deleteSheet autoFill cutPaste copyPaste mergeCells unmergeCells
    updateBorders updateCells addFilterView appendCells clearBasicFilter deleteDimension deleteEmbeddedObject
    deleteFilterView duplicateFilterView duplicateSheet findReplace insertDimension insertRange moveDimension
    updateEmbeddedObjectPosition pasteData textToColumns updateFilterView deleteRange appendDimension
    addConditionalFormatRule updateConditionalFormatRule deleteConditionalFormatRule sortRange setDataValidation
    setBasicFilter addProtectedRange updateProtectedRange deleteProtectedRange autoResizeDimensions addChart
    updateChartSpec updateBanding addBanding deleteBanding createDeveloperMetadata updateDeveloperMetadata
    deleteDeveloperMetadata randomizeRange addDimensionGroup deleteDimensionGroup updateDimensionGroup
    trimWhitespace deleteDuplicates updateEmbeddedObjectBorder addSlicer updateSlicerSpec addDataSource
    updateDataSource deleteDataSource refreshDataSource cancelDataSourceRefresh addTable updateTable
    deleteTable""".split()
)
# Cosmetic requests with an empty reply that change nothing the emulator serves: accepted and recorded only.
ACCEPTED_NOT_APPLIED = frozenset(
    {
        "autoResizeDimensions",
        "updateDimensionProperties",
        "updateBorders",
        "mergeCells",
        "unmergeCells",
        "addConditionalFormatRule",
        "setBasicFilter",
        "clearBasicFilter",
    }
)
_BATCH_FIELDS = {"requests", "includeSpreadsheetInResponse", "responseRanges", "responseIncludeGridData"}
# ConditionType -> how many ConditionValues it takes (min, max).
_CONDITION_VALUES = {
    **dict.fromkeys(
        "NUMBER_GREATER NUMBER_GREATER_THAN_EQ NUMBER_LESS NUMBER_LESS_THAN_EQ NUMBER_EQ NUMBER_NOT_EQ "
        "TEXT_CONTAINS TEXT_NOT_CONTAINS TEXT_STARTS_WITH TEXT_ENDS_WITH TEXT_EQ TEXT_NOT_EQ DATE_EQ DATE_NOT_EQ "
        "DATE_BEFORE DATE_AFTER DATE_ON_OR_BEFORE DATE_ON_OR_AFTER CUSTOM_FORMULA ONE_OF_RANGE".split(),
        (1, 1),
    ),
    **dict.fromkeys("NUMBER_BETWEEN NUMBER_NOT_BETWEEN DATE_BETWEEN DATE_NOT_BETWEEN".split(), (2, 2)),
    **dict.fromkeys("DATE_IS_VALID BLANK NOT_BLANK TEXT_IS_EMAIL TEXT_IS_URL".split(), (0, 0)),
    "ONE_OF_LIST": (1, 500),
    "BOOLEAN": (0, 2),
}
_NUMBER_RE = re.compile(r"[+-]?(\d{1,3}(?:[  \u202f]\d{3})+|\d+)(?:,(\d+))?")
_FR_DATE_RE = re.compile(r"(\d{1,2})/(\d{1,2})/(\d{4})(?: (\d{1,2}):(\d{2})(?::(\d{2}))?)?")
_ISO_DATE_RE = re.compile(r"(\d{4})-(\d{2})-(\d{2})")


class BatchError(Exception):
    """A refused request: Google's status and message; nothing of the batch is applied."""

    def __init__(self, message: str, status: int = 400, details: list[dict[str, Any]] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.details = details


def batch_update(spreadsheet: Spreadsheet, body: Any) -> tuple[Spreadsheet, Response]:
    """Apply a batchUpdate body to a copy of ``spreadsheet``; return the copy and the answer (unchanged on error)."""
    try:
        updated = copy.deepcopy(spreadsheet)
        replies = _apply_requests(updated, body)
    except BatchError as error:
        return spreadsheet, google_error(error.status, error.message, error.details)
    answer: dict[str, Any] = {"spreadsheetId": spreadsheet.spreadsheet_id, "replies": replies}
    if body.get("includeSpreadsheetInResponse"):
        query = {"ranges": list(body.get("responseRanges") or [])}
        if body.get("responseIncludeGridData"):
            query["includeGridData"] = ["true"]
        answer["updatedSpreadsheet"] = metadata(updated, query).body
    return updated, Response(200, answer)


def _apply_requests(spreadsheet: Spreadsheet, body: Any) -> list[dict[str, Any]]:
    if not isinstance(body, dict):
        raise BatchError("Invalid JSON payload received. Expected an object.")
    for name in body:
        if name not in _BATCH_FIELDS:
            raise _unknown_field(name, "")
    requests = body.get("requests")
    if not isinstance(requests, list) or not requests:
        raise BatchError("Must specify at least one request.")
    replies = []
    for index, request in enumerate(requests):
        where = f"requests[{index}]"
        if not isinstance(request, dict) or not request:
            raise BatchError(f"Invalid {where}: No request set.")
        kinds = list(request)
        for kind in kinds:
            if kind not in GOOGLE_REQUEST_KINDS:
                raise _unknown_field(kind, where)
        if len(kinds) > 1:
            raise BatchError(
                f"Invalid value at '{where}' (oneof), oneof field 'kind' is already set. Cannot set '{kinds[1]}'"
            )
        kind = kinds[0]
        payload = request[kind] or {}
        where = f"{where}.{kind}"
        if kind in ACCEPTED_NOT_APPLIED:
            replies.append({})
            continue
        handler = _HANDLERS.get(kind)
        if handler is None:
            raise BatchError(f"The emulator does not implement {where}.", status=501)
        replies.append(handler(spreadsheet, payload, where))
    return replies


def _unknown_field(name: str, where: str) -> BatchError:
    at = f" at '{where}'" if where else ""
    message = f'Invalid JSON payload received. Unknown name "{name}"{at}: Cannot find field.'
    details = [
        {
            "@type": "type.googleapis.com/google.rpc.BadRequest",
            "fieldViolations": [{"field": where or name, "description": message}],
        }
    ]
    return BatchError(message, details=details)


# ---------------------------------------------------------------------------------------------------------
# Grid ranges and cells
# ---------------------------------------------------------------------------------------------------------


def _tab(spreadsheet: Spreadsheet, sheet_id: Any, where: str) -> Tab:
    tab = spreadsheet.tab_by_id(sheet_id if sheet_id is not None else 0)
    if tab is None:
        raise BatchError(f"Invalid {where}: No grid with id: {sheet_id}")
    return tab


def _grid(spreadsheet: Spreadsheet, grid: Any, where: str) -> tuple[Tab, int, int, int, int]:
    """Resolve a GridRange: (tab, first row, end row, first column, end column), ends exclusive, unbounded = grid."""
    if not isinstance(grid, dict):
        raise BatchError(f"Invalid {where}: a GridRange is required.")
    tab = _tab(spreadsheet, grid.get("sheetId"), where)
    start_row = grid.get("startRowIndex") or 0
    end_row = grid.get("endRowIndex", tab.row_count)
    start_col = grid.get("startColumnIndex") or 0
    end_col = grid.get("endColumnIndex", tab.column_count)
    if min(start_row, start_col) < 0 or start_row > end_row or start_col > end_col:
        raise BatchError(f"Invalid {where}: Invalid range: {grid}")
    if end_row > tab.row_count or end_col > tab.column_count:
        raise BatchError(
            f"Invalid {where}: Range ({quote_sheet_name(tab.title, always=True)}!"
            f"{column_letters(start_col)}{start_row + 1}:{column_letters(max(end_col - 1, 0))}{end_row}) "
            f"exceeds grid limits. Max rows: {tab.row_count}, max columns: {tab.column_count}"
        )
    return tab, start_row, end_row, start_col, end_col


def _mask(payload: dict[str, Any], where: str) -> dict[str, Any]:
    fields = payload.get("fields")
    if not fields:
        raise BatchError(f"Invalid {where}: At least one field must be specified in 'fields'.")
    try:
        return parse_field_mask(fields)
    except ValueError:
        raise BatchError(f"Invalid {where}: Invalid field mask: {fields}") from None


def _cell_from_value(value: Any, where: str) -> Cell | None:
    """Read a CellData ``userEnteredValue`` (ExtendedValue)."""
    if value is None:
        return None
    if not isinstance(value, dict) or len(value) != 1:
        raise BatchError(f"Invalid {where}: userEnteredValue must set exactly one of its kinds.")
    ((kind, given),) = value.items()
    if kind == "stringValue" and isinstance(given, str):
        return Cell(given) if given != "" else None
    if kind == "numberValue" and isinstance(given, int | float) and not isinstance(given, bool):
        return Cell(given)
    if kind == "boolValue" and isinstance(given, bool):
        return Cell(given)
    if kind == "formulaValue":
        raise BatchError(f"The emulator does not evaluate formulas ({where}).", status=501)
    raise BatchError(f"Invalid {where}: invalid userEnteredValue {value!r}.")


def _write_cell(tab: Tab, row: int, column: int, data: Any, tree: dict[str, Any], where: str) -> None:
    """Write one CellData through a ``fields`` mask: masked fields absent from ``data`` are cleared."""
    if not isinstance(data, dict):
        raise BatchError(f"Invalid {where}: a CellData object is expected.")
    if row >= tab.row_count or column >= tab.column_count:
        raise BatchError(
            f"Invalid {where}: GridCoordinate ({row}, {column}) is outside the grid "
            f"({tab.row_count} rows, {tab.column_count} columns) of sheet {tab.sheet_id}."
        )
    names = ("userEnteredValue", *CELL_EXTRA_FIELDS) if "*" in tree else tuple(tree)
    extra = dict(tab.extras.get((row, column), {}))
    for name in names:
        if name not in ("userEnteredValue", *CELL_EXTRA_FIELDS):
            if name in ("effectiveValue", "formattedValue", "effectiveFormat"):
                continue  # output-only: Google ignores them in a write
            raise BatchError(f"Invalid {where}: Invalid field mask: unknown CellData field '{name}'.")
        if name == "userEnteredValue":
            tab.set_cell(row, column, _cell_from_value(data.get(name), where))
            continue
        sub = None if "*" in tree else tree[name]
        apply_update(extra, without_defaults(data), {name: sub})
    if extra:
        tab.extras[(row, column)] = extra
    else:
        tab.extras.pop((row, column), None)
    cell = tab.cell(row, column)
    number_format = extra.get("userEnteredFormat", {}).get("numberFormat", {}).get("type")
    if cell is not None and number_format and not isinstance(cell.value, bool | str):
        # A number shows as a date when its cell is formatted as one.
        tab.set_cell(row, column, Cell(cell.value, cell.formatted, number_format in DATE_FORMAT_TYPES))


def _rows_of(payload: dict[str, Any], where: str) -> list[list[Any]]:
    rows = payload.get("rows") or []
    if not isinstance(rows, list):
        raise BatchError(f"Invalid {where}: rows must be a list of RowData.")
    return [list((row or {}).get("values") or []) for row in rows]


# ---------------------------------------------------------------------------------------------------------
# The applied requests
# ---------------------------------------------------------------------------------------------------------


def _add_sheet(spreadsheet: Spreadsheet, payload: dict[str, Any], where: str) -> dict[str, Any]:
    props = payload.get("properties") or {}
    title = props.get("title") or _free_title(spreadsheet)
    if spreadsheet.tab(title) is not None:
        raise BatchError(f'Invalid {where}: A sheet with the name "{title}" already exists. Please enter another name.')
    sheet_id = props.get("sheetId")
    if sheet_id is not None and spreadsheet.tab_by_id(sheet_id) is not None:
        raise BatchError(f"Invalid {where}: Sheet with id {sheet_id} already exists.")
    if sheet_id is None:
        sheet_id = sheet_id_for(spreadsheet.spreadsheet_id, title, max(1, len(spreadsheet.tabs)))
        while spreadsheet.tab_by_id(sheet_id) is not None:
            sheet_id = (sheet_id + 1) & 0x7FFFFFFF
    grid = props.get("gridProperties") or {}
    tab = Tab(
        title,
        sheet_id,
        [],
        grid_rows=grid.get("rowCount", MIN_GRID_ROWS),
        grid_columns=grid.get("columnCount", MIN_GRID_COLUMNS),
        frozen_rows=grid.get("frozenRowCount", 0),
        frozen_columns=grid.get("frozenColumnCount", 0),
    )
    _store_other_properties(tab, props)
    index = props.get("index", len(spreadsheet.tabs))
    spreadsheet.tabs.insert(min(max(index, 0), len(spreadsheet.tabs)), tab)
    return {"addSheet": {"properties": tab.properties(spreadsheet.tabs.index(tab))}}


def _free_title(spreadsheet: Spreadsheet) -> str:
    """The name Sheets gives a new tab in an fr_FR spreadsheet."""
    number = len(spreadsheet.tabs) + 1
    while spreadsheet.tab(f"Feuille {number}") is not None:
        number += 1
    return f"Feuille {number}"


def _store_other_properties(tab: Tab, props: dict[str, Any]) -> None:
    """Keep properties the emulator does not act on (tabColorStyle, hidden...) so spreadsheets.get echoes them."""
    handled = {"sheetId", "title", "index", "sheetType"}
    for name, value in without_defaults(props).items():
        if name == "gridProperties":
            rest = {k: v for k, v in value.items() if k not in _GRID_FIELDS}
            if rest:
                tab.other_properties["gridProperties"] = rest
            else:
                tab.other_properties.pop("gridProperties", None)
        elif name not in handled:
            tab.other_properties[name] = value


_GRID_FIELDS = {"rowCount", "columnCount", "frozenRowCount", "frozenColumnCount"}


def _delete_sheet(spreadsheet: Spreadsheet, payload: dict[str, Any], where: str) -> dict[str, Any]:
    tab = _tab(spreadsheet, payload.get("sheetId"), where)
    if len(spreadsheet.tabs) == 1:
        raise BatchError(f"Invalid {where}: You can't remove all the sheets in a document.")
    spreadsheet.tabs.remove(tab)
    return {}


def _update_sheet_properties(spreadsheet: Spreadsheet, payload: dict[str, Any], where: str) -> dict[str, Any]:
    given = payload.get("properties") or {}
    tab = _tab(spreadsheet, given.get("sheetId"), where)
    tree = _mask(payload, where)
    current = tab.properties(spreadsheet.tabs.index(tab))
    apply_update(current, given, tree)
    title = current.get("title") or tab.title
    if title != tab.title and spreadsheet.tab(title) is not None:
        raise BatchError(f'Invalid {where}: A sheet with the name "{title}" already exists. Please enter another name.')
    tab.title = title
    grid = current.get("gridProperties") or {}
    rows, columns = grid.get("rowCount", tab.row_count), grid.get("columnCount", tab.column_count)
    if rows < 1 or columns < 1:
        raise BatchError(f"Invalid {where}: a sheet keeps at least one row and one column.")
    tab.rows = [row[:columns] for row in tab.rows[:rows]]
    tab.extras = {key: value for key, value in tab.extras.items() if key[0] < rows and key[1] < columns}
    tab.grid_rows, tab.grid_columns = rows, columns
    tab.frozen_rows = grid.get("frozenRowCount", 0)
    tab.frozen_columns = grid.get("frozenColumnCount", 0)
    if max(tab.frozen_rows, 0) >= rows or max(tab.frozen_columns, 0) >= columns:
        raise BatchError(f"Invalid {where}: You can't freeze all visible rows or columns on the sheet.")
    tab.other_properties = {}
    _store_other_properties(tab, current)
    if "index" in current and current["index"] != spreadsheet.tabs.index(tab):
        spreadsheet.tabs.remove(tab)
        spreadsheet.tabs.insert(min(max(current["index"], 0), len(spreadsheet.tabs)), tab)
    return {}


def _update_spreadsheet_properties(spreadsheet: Spreadsheet, payload: dict[str, Any], where: str) -> dict[str, Any]:
    tree = _mask(payload, where)
    current = {"title": spreadsheet.title, "timeZone": spreadsheet.time_zone}
    apply_update(current, payload.get("properties") or {}, {k: v for k, v in tree.items() if k in current})
    spreadsheet.title = current.get("title") or spreadsheet.title
    spreadsheet.time_zone = current.get("timeZone") or spreadsheet.time_zone
    return {}


def _update_cells(spreadsheet: Spreadsheet, payload: dict[str, Any], where: str) -> dict[str, Any]:
    tree = _mask(payload, where)
    rows = _rows_of(payload, where)
    if "start" in payload and "range" in payload:
        raise BatchError(f"Invalid value at '{where}' (oneof), oneof field 'area' is already set. Cannot set 'range'")
    if "start" in payload:
        start = payload["start"] or {}
        tab = _tab(spreadsheet, start.get("sheetId"), where)
        first_row, first_col = start.get("rowIndex") or 0, start.get("columnIndex") or 0
        for i, values in enumerate(rows):
            for j, data in enumerate(values):
                _write_cell(tab, first_row + i, first_col + j, data, tree, where)
        return {}
    if "range" not in payload:
        raise BatchError(f"Invalid {where}: Either 'start' or 'range' must be set.")
    tab, r0, r1, c0, c1 = _grid(spreadsheet, payload["range"], where)
    for row in range(r0, r1):
        values = rows[row - r0] if row - r0 < len(rows) else []
        for column in range(c0, c1):
            data = values[column - c0] if column - c0 < len(values) else {}
            _write_cell(tab, row, column, data, tree, where)
    return {}


def _append_cells(spreadsheet: Spreadsheet, payload: dict[str, Any], where: str) -> dict[str, Any]:
    tree = _mask(payload, where)
    tab = _tab(spreadsheet, payload.get("sheetId"), where)
    rows = _rows_of(payload, where)
    first = tab.last_row_with_values()
    tab.grid_rows = max(tab.grid_rows, first + len(rows))  # appendCells inserts rows when the grid is full
    tab.grid_columns = max([tab.grid_columns, *(len(values) for values in rows)])
    for i, values in enumerate(rows):
        for j, data in enumerate(values):
            _write_cell(tab, first + i, j, data, tree, where)
    return {}


def _repeat_cell(spreadsheet: Spreadsheet, payload: dict[str, Any], where: str) -> dict[str, Any]:
    tree = _mask(payload, where)
    tab, r0, r1, c0, c1 = _grid(spreadsheet, payload.get("range"), where)
    cell = payload.get("cell") or {}
    for row in range(r0, r1):
        for column in range(c0, c1):
            _write_cell(tab, row, column, cell, tree, where)
    return {}


def _set_data_validation(spreadsheet: Spreadsheet, payload: dict[str, Any], where: str) -> dict[str, Any]:
    tab, r0, r1, c0, c1 = _grid(spreadsheet, payload.get("range"), where)
    rule = payload.get("rule")
    if rule is not None:
        rule = without_defaults(rule)
        _check_rule(spreadsheet, rule, where)
    for row in range(r0, r1):
        for column in range(c0, c1):
            extra = dict(tab.extras.get((row, column), {}))
            if rule is None:
                extra.pop("dataValidation", None)
            else:
                extra["dataValidation"] = copy.deepcopy(rule)
            if extra:
                tab.extras[(row, column)] = extra
            else:
                tab.extras.pop((row, column), None)
    return {}


def _check_rule(spreadsheet: Spreadsheet, rule: dict[str, Any], where: str) -> None:
    condition = rule.get("condition") or {}
    kind = condition.get("type")
    if kind not in _CONDITION_VALUES:
        raise BatchError(
            f"Invalid value at '{where}.rule.condition.type' (type.googleapis.com/ConditionType), \"{kind}\""
        )
    values = condition.get("values") or []
    low, high = _CONDITION_VALUES[kind]
    if not low <= len(values) <= high:
        wanted = "exactly one" if (low, high) == (1, 1) else f"between {low} and {high}"
        raise BatchError(
            f"Invalid {where}: ConditionType '{kind}' requires {wanted} ConditionValue, "
            f"but {len(values)} were supplied."
        )
    if kind == "ONE_OF_RANGE":
        reference = (values[0] or {}).get("userEnteredValue", "")
        if not reference.startswith("="):
            raise BatchError(f"Invalid {where}: Invalid range in ONE_OF_RANGE rule: {reference}")
        try:
            resolve_range(spreadsheet, reference[1:])
        except RangeError:
            raise BatchError(f"Invalid {where}: Invalid range in ONE_OF_RANGE rule: {reference}") from None


def _add_protected_range(spreadsheet: Spreadsheet, payload: dict[str, Any], where: str) -> dict[str, Any]:
    given = without_defaults(payload.get("protectedRange") or {})
    tab = _grid(spreadsheet, given.get("range"), where)[0]
    if given.get("warningOnly") and given.get("editors"):
        raise BatchError(f"Invalid {where}: A warning-only protected range cannot have editors.")
    existing = {pr["protectedRangeId"] for t in spreadsheet.tabs for pr in t.protected_ranges}
    range_id = given.get("protectedRangeId")
    if range_id in existing:
        raise BatchError(f"Invalid {where}: A protected range with ID {range_id} already exists.")
    if range_id is None:
        range_id = zlib.crc32(f"{spreadsheet.spreadsheet_id}/{len(existing)}/{given}".encode()) & 0x7FFFFFFF
        while range_id in existing:
            range_id += 1
    stored = {"protectedRangeId": range_id, **given, "requestingUserCanEdit": True}
    stored["range"] = {"sheetId": tab.sheet_id, **given["range"]}
    tab.protected_ranges.append(stored)
    return {"addProtectedRange": {"protectedRange": copy.deepcopy(stored)}}


def _delete_protected_range(spreadsheet: Spreadsheet, payload: dict[str, Any], where: str) -> dict[str, Any]:
    range_id = payload.get("protectedRangeId")
    for tab in spreadsheet.tabs:
        for stored in tab.protected_ranges:
            if stored["protectedRangeId"] == range_id:
                tab.protected_ranges.remove(stored)
                return {}
    raise BatchError(f"Invalid {where}: No protected range with ID: {range_id}")


_HANDLERS: dict[str, Callable[[Spreadsheet, dict[str, Any], str], dict[str, Any]]] = {
    "addSheet": _add_sheet,
    "deleteSheet": _delete_sheet,
    "updateSheetProperties": _update_sheet_properties,
    "updateSpreadsheetProperties": _update_spreadsheet_properties,
    "updateCells": _update_cells,
    "appendCells": _append_cells,
    "repeatCell": _repeat_cell,
    "setDataValidation": _set_data_validation,
    "addProtectedRange": _add_protected_range,
    "deleteProtectedRange": _delete_protected_range,
}
APPLIED_REQUEST_KINDS = frozenset(_HANDLERS)


# ---------------------------------------------------------------------------------------------------------
# values.batchUpdate
# ---------------------------------------------------------------------------------------------------------


def values_batch_update(spreadsheet: Spreadsheet, body: Any) -> tuple[Spreadsheet, Response]:
    """Write ValueRanges (RAW or USER_ENTERED, fr_FR parsing); atomic like batchUpdate."""
    try:
        updated = copy.deepcopy(spreadsheet)
        answer = _write_value_ranges(updated, body)
    except BatchError as error:
        return spreadsheet, google_error(error.status, error.message, error.details)
    except RangeError as error:
        return spreadsheet, google_error(400, str(error))
    return updated, Response(200, answer)


def _write_value_ranges(spreadsheet: Spreadsheet, body: Any) -> dict[str, Any]:
    if not isinstance(body, dict):
        raise BatchError("Invalid JSON payload received. Expected an object.")
    option = body.get("valueInputOption")
    if option in (None, "", "INPUT_VALUE_OPTION_UNSPECIFIED"):
        raise BatchError("'valueInputOption' is required but not specified")
    if option not in ("RAW", "USER_ENTERED"):
        raise BatchError(f"Invalid value at 'value_input_option' (type.googleapis.com/ValueInputOption), \"{option}\"")
    responses, tabs = [], set()
    totals = {"totalUpdatedRows": 0, "totalUpdatedColumns": 0, "totalUpdatedCells": 0}
    for data in body.get("data") or []:
        grid = resolve_range(spreadsheet, data.get("range", ""))
        values = data.get("values") or []
        if data.get("majorDimension") == "COLUMNS":
            width = max((len(column) for column in values), default=0)
            values = [[column[i] if i < len(column) else None for column in values] for i in range(width)]
        written = _write_values(spreadsheet, grid, values, option)
        response: dict[str, Any] = {"spreadsheetId": spreadsheet.spreadsheet_id}
        if written is not None:
            rows, columns, cells, box = written
            response.update(updatedRange=box.a1(), updatedRows=rows, updatedColumns=columns, updatedCells=cells)
            totals["totalUpdatedRows"] += rows
            totals["totalUpdatedColumns"] += columns
            totals["totalUpdatedCells"] += cells
            tabs.add(grid.tab)
            if body.get("includeValuesInResponse"):
                options = render_options(
                    {
                        "valueRenderOption": [body.get("responseValueRenderOption") or "FORMATTED_VALUE"],
                        "dateTimeRenderOption": [body.get("responseDateTimeRenderOption") or "SERIAL_NUMBER"],
                    }
                )
                response["updatedData"] = grid_value_range(spreadsheet, box, *options)
        responses.append(response)
    answer: dict[str, Any] = {"spreadsheetId": spreadsheet.spreadsheet_id, **totals, "totalUpdatedSheets": len(tabs)}
    if responses:
        answer["responses"] = responses
    return answer


def _write_values(
    spreadsheet: Spreadsheet, grid: GridRange, values: list[list[Any]], option: str
) -> tuple[int, int, int, GridRange] | None:
    """Write one block at the range's top-left corner; None (skip) leaves a cell as it is, "" clears it."""
    tab = spreadsheet.tab(grid.tab)
    assert tab is not None
    bottom = tab.row_count - 1 if grid.single_cell else grid.last_row
    right = tab.column_count - 1 if grid.single_cell else grid.last_column
    touched_rows, touched_cols, cells = set(), set(), 0
    for i, line in enumerate(values):
        row = grid.first_row + i
        if row > bottom:
            raise BatchError(f"Requested writing within range [{grid.a1()}], but tried writing to row [{row + 1}]")
        for j, raw in enumerate(line):
            column = grid.first_column + j
            if column > right:
                raise BatchError(
                    f"Requested writing within range [{grid.a1()}], but tried writing to column "
                    f"[{column_letters(column)}]"
                )
            if raw is None:
                continue
            number_format = tab.extras.get((row, column), {}).get("userEnteredFormat", {}).get("numberFormat", {})
            tab.set_cell(row, column, _entered(raw, option, as_text=number_format.get("type") == "TEXT"))
            touched_rows.add(row)
            touched_cols.add(column)
            cells += 1
    if not cells:
        return None
    box = GridRange(grid.tab, min(touched_rows), max(touched_rows), min(touched_cols), max(touched_cols))
    return len(touched_rows), len(touched_cols), cells, box


def _entered(raw: Any, option: str, as_text: bool = False) -> Cell | None:
    """What Sheets stores for a value written RAW or USER_ENTERED (parsed as an fr_FR user would type it,
    so "03" becomes 3 unless the cell is formatted as plain text)."""
    if isinstance(raw, bool) or (isinstance(raw, int | float) and not isinstance(raw, bool)):
        return Cell(raw)
    if not isinstance(raw, str):
        raise BatchError(f"Invalid values: {raw!r} is not a string, number or boolean.")
    if raw == "":
        return None
    if option == "RAW" or as_text:
        return Cell(raw)
    if raw.startswith("'"):
        return Cell(raw[1:]) if raw[1:] else None
    if raw.startswith("="):
        raise BatchError("The emulator does not evaluate formulas (a USER_ENTERED value starts with '=').", status=501)
    upper = raw.strip().upper()
    if upper in ("TRUE", "VRAI", "FALSE", "FAUX"):
        return Cell(upper in ("TRUE", "VRAI"))
    text = raw.strip()
    number = _NUMBER_RE.fullmatch(text)
    if number:
        digits = re.sub(r"[  \u202f]", "", text).replace(",", ".")
        value = float(digits)
        return Cell(int(value) if number.group(2) is None else value)
    day = _FR_DATE_RE.fullmatch(text)
    if day:
        d, m, y, hh, mm, ss = day.groups()
        try:
            moment = datetime(int(y), int(m), int(d), int(hh or 0), int(mm or 0), int(ss or 0))
        except ValueError:
            return Cell(raw)
        return Cell(date_serial(moment if hh else moment.date()), None, True)
    iso = _ISO_DATE_RE.fullmatch(text)
    if iso:
        try:
            return Cell(date_serial(datetime(*map(int, iso.groups())).date()), None, True)
        except ValueError:
            return Cell(raw)
    return Cell(raw)
