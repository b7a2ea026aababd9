"""Local stand-in for the read side of the Google Sheets v4 and Drive v3 APIs, for tests.

Like Google's own ``*_EMULATOR_HOST`` emulators, it is a real HTTP server on 127.0.0.1: point a client's
``https://sheets.googleapis.com`` and ``https://www.googleapis.com`` at ``SheetsEmulator.url`` (for
gspread, pass ``session=EmulatorSession(emulator.url)``) and it answers the calls gspread 6 makes to
read spreadsheets:

    GET /v4/spreadsheets/{id}?includeGridData=false          spreadsheets.get    kind 'metadata'
    GET /v4/spreadsheets/{id}/values/{range}                 values.get          kind 'values'
    GET /v4/spreadsheets/{id}/values:batchGet?ranges=..      values.batchGet     kind 'batchGet'
    GET /drive/v3/files/{id}?fields=..&supportsAllDrives=..  Drive files.get     kind 'drive'

What it copies from the real services, because pipelines depend on it:
- values: trailing empty cells of each row and trailing empty rows are left out, gaps inside the data
  come back as ""; ``range`` is the normalised A1 range bounded by the grid (``Tab!A1:Z1000``);
  ``valueRenderOption`` (default FORMATTED_VALUE), ``dateTimeRenderOption`` (default SERIAL_NUMBER),
  ``majorDimension`` (ROWS or COLUMNS); unknown tabs and ranges past the grid are 400 INVALID_ARGUMENT.
- formatted values follow the spreadsheet locale, fr_FR: ``3.5`` shows as ``"3,5"`` and dates as
  ``dd/mm/yyyy`` unless a cell carries its own ``formatted`` twin.
- errors use Google's JSON bodies: Sheets ``{"error": {code, message, status}}``, Drive
  ``{"error": {code, message, errors: [{domain, reason, message}]}}``. A spreadsheet not shared with the
  caller is 403 PERMISSION_DENIED on Sheets but 404 ``notFound`` on Drive, as Drive really answers.
- quota: ``quota_per_minute`` Sheets read requests per user over a sliding 60 s window (Drive calls do not
  count, as Drive has its own quota); anonymous callers are one user.

It is read-only: POST/PUT/PATCH/DELETE answer 501 UNIMPLEMENTED.

Cells are given as ``str | int | float | bool | None``, a ``datetime.date``/``datetime`` (stored as a
date serial number, day 0 = 1899-12-30), or a dict ``{"value": v, "formatted": "..", "date": bool}``.
The same cell forms are used by the JSON document format read by ``load_json``::

    {"spreadsheets": [{"id": "..", "title": "..", "modifiedTime": "2020-02-01T10:00:00.000Z",
                       "timeZone": "Europe/Paris", "shared": true,
                       "tabs": {"Tab": [["header", ...], [cell, ...]]}}]}
"""

from __future__ import annotations

import json
import re
import sys
import threading
import time
import zlib
from collections import deque
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

import pytest

SHEETS_API_ROOT = "https://sheets.googleapis.com"
DRIVE_API_ROOT = "https://www.googleapis.com"
SPREADSHEET_MIME_TYPE = "application/vnd.google-apps.spreadsheet"
DEFAULT_MODIFIED_TIME = "2020-02-01T10:00:00.000Z"
DEFAULT_TIME_ZONE = "Europe/Paris"
LOCALE = "fr_FR"

# Google creates new tabs 1000 x 26; a tab holding more data gets a grid as big as its data.
MIN_GRID_ROWS = 1000
MIN_GRID_COLUMNS = 26
QUOTA_WINDOW_SECONDS = 60.0
SHEETS_KINDS = frozenset({"metadata", "values", "batchGet"})

_SERIAL_EPOCH = datetime(1899, 12, 30)
_STATUS_NAMES = {
    400: "INVALID_ARGUMENT",
    401: "UNAUTHENTICATED",
    403: "PERMISSION_DENIED",
    404: "NOT_FOUND",
    409: "ABORTED",
    429: "RESOURCE_EXHAUSTED",
    500: "INTERNAL",
    501: "UNIMPLEMENTED",
    503: "UNAVAILABLE",
    504: "DEADLINE_EXCEEDED",
}
_SHEETS_MESSAGES = {
    400: "Request contains an invalid argument.",
    403: "The caller does not have permission",
    404: "Requested entity was not found.",
    429: (
        "Quota exceeded for quota metric 'Read requests' and limit 'Read requests per minute per user' "
        "of service 'sheets.googleapis.com' for consumer 'project_number:0'."
    ),
    500: "Internal error encountered.",
    503: "The service is currently unavailable.",
}
_DRIVE_REASONS = {
    400: ("global", "badRequest"),
    403: ("global", "forbidden"),
    404: ("global", "notFound"),
    429: ("usageLimits", "rateLimitExceeded"),
    500: ("global", "backendError"),
    503: ("global", "backendError"),
}
_VALUE_RENDER_OPTIONS = ("FORMATTED_VALUE", "UNFORMATTED_VALUE", "FORMULA")
_DATE_TIME_RENDER_OPTIONS = ("SERIAL_NUMBER", "FORMATTED_STRING")
_DIMENSIONS = ("ROWS", "COLUMNS", "DIMENSION_UNSPECIFIED")
_A1_RE = re.compile(r"\$?([A-Za-z]*)\$?([0-9]*)(?::\$?([A-Za-z]*)\$?([0-9]*))?")
_PLAIN_SHEET_NAME_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_CELL_LIKE_NAME_RE = re.compile(r"[A-Za-z]{1,3}[0-9]+|[Rr][0-9]*[Cc][0-9]*")
_FIELD_NAME_RE = re.compile(r"[A-Za-z0-9_*@]+")


# ---------------------------------------------------------------------------------------------------------
# Cells and A1 notation
# ---------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Cell:
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


def _to_cell(raw: Any) -> _Cell | None:
    """Normalise one given cell; None and "" are both an empty cell, as in Sheets."""
    if raw is None or raw == "":
        return None
    if isinstance(raw, (date, datetime)):
        return _Cell(date_serial(raw), None, True)
    if isinstance(raw, bool | str):
        return _Cell(raw)
    if isinstance(raw, int | float):
        if raw != raw or raw in (float("inf"), float("-inf")):
            raise ValueError(f"Sheets cannot hold {raw!r}")
        return _Cell(raw)
    if isinstance(raw, Mapping):
        unknown = set(raw) - {"value", "formatted", "date"}
        if "value" not in raw or unknown:
            raise ValueError(f"a cell object needs 'value' and only 'formatted'/'date' besides: {raw!r}")
        inner = _to_cell(raw["value"])
        if inner is None:
            return None
        formatted = raw.get("formatted")
        if formatted is not None and not isinstance(formatted, str):
            raise ValueError(f"'formatted' must be a string: {raw!r}")
        is_date = bool(raw.get("date", False)) or inner.is_date
        if is_date and (isinstance(inner.value, bool) or not isinstance(inner.value, int | float)):
            raise ValueError(f"a date cell holds a serial number: {raw!r}")
        return _Cell(inner.value, formatted, is_date)
    raise TypeError(f"unsupported cell value {raw!r} ({type(raw).__name__})")


def _cell_to_json(cell: _Cell | None) -> Any:
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


def _format_cell(cell: _Cell) -> str:
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


def _render(cell: _Cell | None, value_render: str, date_time_render: str) -> Any:
    """Return a cell as values.get would, under the given render options."""
    if cell is None:
        return ""
    if value_render == "FORMATTED_VALUE":
        return _format_cell(cell)
    if cell.is_date and date_time_render == "FORMATTED_STRING":
        return _format_cell(cell)
    value = cell.value
    if isinstance(value, float) and value.is_integer():
        return int(value)  # Google writes 3, not 3.0
    return value


def _column_index(letters: str) -> int:
    """Return the 0-based index of column letters (A -> 0, AA -> 26)."""
    index = 0
    for letter in letters.upper():
        index = index * 26 + (ord(letter) - ord("A") + 1)
    return index - 1


def _column_letters(index: int) -> str:
    """Return the column letters of a 0-based index."""
    letters = ""
    index += 1
    while index:
        index, remainder = divmod(index - 1, 26)
        letters = chr(ord("A") + remainder) + letters
    return letters


def _quote_sheet_name(title: str, always: bool = False) -> str:
    """Quote a tab title for A1 notation when Sheets would (spaces, punctuation, cell-like names)."""
    if not always and _PLAIN_SHEET_NAME_RE.fullmatch(title) and not _CELL_LIKE_NAME_RE.fullmatch(title):
        return title
    return "'" + title.replace("'", "''") + "'"


class _RangeError(ValueError):
    """A range the API would refuse with 400 INVALID_ARGUMENT; the message is Google's."""


def _split_sheet_name(text: str) -> tuple[str | None, str | None]:
    """Split ``'Tab'!A1:B2`` into (tab name, cell part); raise _RangeError if malformed."""
    if text.startswith("'"):
        name: list[str] = []
        i = 1
        while True:
            if i >= len(text):
                raise _RangeError(f"Unable to parse range: {text}")
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
        raise _RangeError(f"Unable to parse range: {text}")
    if "!" in text:
        name_part, _, cells = text.rpartition("!")
        if not cells:
            raise _RangeError(f"Unable to parse range: {text}")
        return name_part, cells
    return None, text


@dataclass(frozen=True)
class _GridRange:
    """A resolved rectangle on one tab, inclusive 0-based bounds."""

    tab: str
    first_row: int
    last_row: int
    first_column: int
    last_column: int

    def a1(self) -> str:
        """Return the normalised A1 range Sheets echoes back."""
        start = f"{_column_letters(self.first_column)}{self.first_row + 1}"
        end = f"{_column_letters(self.last_column)}{self.last_row + 1}"
        cells = start if start == end else f"{start}:{end}"
        return f"{_quote_sheet_name(self.tab)}!{cells}"


# ---------------------------------------------------------------------------------------------------------
# Stored spreadsheets
# ---------------------------------------------------------------------------------------------------------


@dataclass
class _Tab:
    """One tab: title, stable sheetId and its cells row by row."""

    title: str
    sheet_id: int
    rows: list[list[_Cell | None]]

    @property
    def row_count(self) -> int:
        return max(MIN_GRID_ROWS, len(self.rows))

    @property
    def column_count(self) -> int:
        return max([MIN_GRID_COLUMNS, *(len(row) for row in self.rows)])


@dataclass
class _Spreadsheet:
    """One stored spreadsheet with its Drive metadata."""

    spreadsheet_id: str
    title: str
    tabs: list[_Tab]
    modified_time: str
    created_time: str
    time_zone: str
    shared: bool = True

    def tab(self, title: str) -> _Tab | None:
        return next((tab for tab in self.tabs if tab.title == title), None)


def _rfc3339(moment: str | datetime) -> str:
    """Return an RFC 3339 UTC timestamp with milliseconds, as Drive writes them; reject malformed strings."""
    if isinstance(moment, datetime):
        if moment.tzinfo is None:
            raise ValueError("give an aware datetime for a Drive timestamp")
        utc = moment.astimezone(timezone.utc)
        return utc.strftime("%Y-%m-%dT%H:%M:%S.") + f"{utc.microsecond // 1000:03d}Z"
    datetime.fromisoformat(moment.replace("Z", "+00:00"))
    return moment


def _sheet_id_for(spreadsheet_id: str, title: str, index: int) -> int:
    """Return a stable sheetId: 0 for the first tab (as Google does), a deterministic number otherwise."""
    if index == 0:
        return 0
    return zlib.crc32(f"{spreadsheet_id}/{title}".encode()) & 0x7FFFFFFF


def _to_rows(rows: Sequence[Sequence[Any]]) -> list[list[_Cell | None]]:
    """Normalise a tab's rows of raw cells."""
    if isinstance(rows, str) or not all(isinstance(row, Sequence) and not isinstance(row, str) for row in rows):
        raise TypeError("a tab is a list of rows, each a list of cells")
    return [[_to_cell(raw) for raw in row] for row in rows]


# ---------------------------------------------------------------------------------------------------------
# Request log, faults, field masks
# ---------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class RecordedRequest:
    """One request the emulator answered."""

    method: str
    path: str
    query: dict[str, list[str]]
    spreadsheet_id: str | None
    kind: str | None  # 'metadata' | 'values' | 'batchGet' | 'drive', None for unknown paths
    status: int
    ranges: tuple[str, ...] = ()


@dataclass
class _Fault:
    status: int
    remaining: int | None  # None: forever
    spreadsheet_id: str | None
    kind: str | None
    retry_after: int | float | None

    def matches(self, spreadsheet_id: str | None, kind: str | None) -> bool:
        return (self.spreadsheet_id is None or self.spreadsheet_id == spreadsheet_id) and (
            self.kind is None or self.kind == kind
        )


def _parse_field_mask(mask: str) -> dict[str, Any]:
    """Parse a partial-response mask (``a,b.c,d(e,f)``) into a tree; a leaf is None; raise ValueError."""
    tree, end = _parse_field_list(mask.replace(" ", ""), 0)
    if end != len(mask.replace(" ", "")):
        raise ValueError(mask)
    return tree


def _parse_field_list(mask: str, i: int) -> tuple[dict[str, Any], int]:
    tree: dict[str, Any] = {}
    while True:
        i = _parse_field_path(mask, i, tree)
        if i < len(mask) and mask[i] == ",":
            i += 1
            continue
        return tree, i


def _parse_field_path(mask: str, i: int, tree: dict[str, Any]) -> int:
    match = _FIELD_NAME_RE.match(mask, i)
    if not match:
        raise ValueError(mask)
    name, i = match.group(), match.end()
    if i < len(mask) and mask[i] == ".":
        sub: dict[str, Any] = {}
        i = _parse_field_path(mask, i + 1, sub)
        _merge_field_tree(tree, {name: sub})
    elif i < len(mask) and mask[i] == "(":
        sub, i = _parse_field_list(mask, i + 1)
        if i >= len(mask) or mask[i] != ")":
            raise ValueError(mask)
        _merge_field_tree(tree, {name: sub})
        i += 1
    else:
        tree[name] = None
    return i


def _merge_field_tree(tree: dict[str, Any], other: dict[str, Any]) -> None:
    """Merge two mask trees; a whole field (None) wins over a partial selection of it."""
    for name, sub in other.items():
        if sub is None or tree.get(name, {}) is None:
            tree[name] = None
        else:
            _merge_field_tree(tree.setdefault(name, {}), sub)


def _apply_field_mask(tree: dict[str, Any], value: Any) -> Any:
    """Keep only the masked fields of a response (lists are masked element by element)."""
    if "*" in tree:
        return value
    if isinstance(value, list):
        return [_apply_field_mask(tree, item) for item in value]
    if not isinstance(value, dict):
        return value
    out = {}
    for name, sub in tree.items():
        if name in value:
            out[name] = value[name] if sub is None else _apply_field_mask(sub, value[name])
    return out


# ---------------------------------------------------------------------------------------------------------
# The emulator
# ---------------------------------------------------------------------------------------------------------


class _Response:
    """What the handler writes back: status, JSON body, extra headers."""

    def __init__(self, status: int, body: Any, headers: dict[str, str] | None = None) -> None:
        self.status = status
        self.body = body
        self.headers = headers or {}


class SheetsEmulator:
    """In-process HTTP server answering gspread's Sheets v4 / Drive v3 read calls from stored data."""

    def __init__(
        self,
        *,
        quota_per_minute: int | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.quota_per_minute = quota_per_minute
        self.clock = clock
        self._lock = threading.RLock()
        self._spreadsheets: dict[str, _Spreadsheet] = {}
        self._faults: list[_Fault] = []
        self._log: list[RecordedRequest] = []
        self._throttled = 0
        self._quota_windows: dict[str, deque[float]] = {}
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle ----------------------------------------------------------------------------------------

    def start(self) -> SheetsEmulator:
        """Start serving on an ephemeral port of 127.0.0.1 in a daemon thread."""
        if self._server is not None:
            raise RuntimeError("the emulator is already running")
        server = _Server(("127.0.0.1", 0), _Handler)
        server.emulator = self
        thread = threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.02}, name="sheets-emulator", daemon=True
        )
        thread.start()
        self._server, self._thread = server, thread
        return self

    def stop(self) -> None:
        """Stop serving and release the port; safe to call twice."""
        server, thread = self._server, self._thread
        self._server = self._thread = None
        if server is None:
            return
        server.shutdown()
        server.server_close()
        if thread is not None:
            thread.join(timeout=5)

    def __enter__(self) -> SheetsEmulator:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    @property
    def host(self) -> str:
        """``127.0.0.1:PORT``, the form ``*_EMULATOR_HOST`` variables take."""
        if self._server is None:
            raise RuntimeError("the emulator is not running; call start() first")
        return f"127.0.0.1:{self._server.server_address[1]}"

    @property
    def url(self) -> str:
        """``http://127.0.0.1:PORT``: the root to use instead of the Google API roots."""
        return f"http://{self.host}"

    # -- data ---------------------------------------------------------------------------------------------

    def add_spreadsheet(
        self,
        spreadsheet_id: str,
        title: str,
        tabs: Mapping[str, Sequence[Sequence[Any]]],
        modified_time: str | datetime = DEFAULT_MODIFIED_TIME,
        time_zone: str = DEFAULT_TIME_ZONE,
        *,
        created_time: str | datetime | None = None,
        shared: bool = True,
    ) -> None:
        """Store (or replace) a spreadsheet; ``tabs`` maps tab titles, in order, to rows of cells."""
        if not tabs:
            raise ValueError("a spreadsheet has at least one tab")
        if not spreadsheet_id or "/" in spreadsheet_id:
            raise ValueError(f"invalid spreadsheet id {spreadsheet_id!r}")
        stored_tabs = [
            _Tab(tab_title, _sheet_id_for(spreadsheet_id, tab_title, index), _to_rows(rows))
            for index, (tab_title, rows) in enumerate(tabs.items())
        ]
        modified = _rfc3339(modified_time)
        spreadsheet = _Spreadsheet(
            spreadsheet_id=spreadsheet_id,
            title=title,
            tabs=stored_tabs,
            modified_time=modified,
            created_time=_rfc3339(created_time) if created_time is not None else modified,
            time_zone=time_zone,
            shared=shared,
        )
        with self._lock:
            self._spreadsheets[spreadsheet_id] = spreadsheet

    def update_tab(
        self,
        spreadsheet_id: str,
        tab: str,
        rows: Sequence[Sequence[Any]],
        *,
        modified_time: str | datetime | None = None,
    ) -> None:
        """Replace a tab's cells (adding the tab at the end if new); optionally move modifiedTime too."""
        new_rows = _to_rows(rows)
        with self._lock:
            spreadsheet = self._get(spreadsheet_id)
            existing = spreadsheet.tab(tab)
            if existing is not None:
                existing.rows = new_rows
            else:
                index = len(spreadsheet.tabs)
                spreadsheet.tabs.append(_Tab(tab, _sheet_id_for(spreadsheet_id, tab, index), new_rows))
            if modified_time is not None:
                spreadsheet.modified_time = _rfc3339(modified_time)

    def set_modified_time(self, spreadsheet_id: str, modified_time: str | datetime) -> None:
        """Set the Drive modifiedTime reported for a spreadsheet."""
        with self._lock:
            self._get(spreadsheet_id).modified_time = _rfc3339(modified_time)

    def set_shared(self, spreadsheet_id: str, shared: bool) -> None:
        """Share or unshare a spreadsheet with the caller (unshared: Sheets 403, Drive 404)."""
        with self._lock:
            self._get(spreadsheet_id).shared = shared

    def load_json(self, path: str | Path) -> None:
        """Add every spreadsheet of a JSON document file (see the module docstring for its shape)."""
        self.load_document(json.loads(Path(path).read_text(encoding="utf-8")))

    def load_document(self, document: Mapping[str, Any]) -> None:
        """Add every spreadsheet of an already-parsed JSON document."""
        entries = document.get("spreadsheets")
        if not isinstance(entries, list):
            raise ValueError("the document needs a 'spreadsheets' list")
        for entry in entries:
            missing = {"id", "title", "tabs"} - set(entry)
            if missing:
                raise ValueError(f"spreadsheet entry lacks {sorted(missing)}: {entry.get('id')!r}")
            self.add_spreadsheet(
                entry["id"],
                entry["title"],
                entry["tabs"],
                modified_time=entry.get("modifiedTime", DEFAULT_MODIFIED_TIME),
                time_zone=entry.get("timeZone", DEFAULT_TIME_ZONE),
                created_time=entry.get("createdTime"),
                shared=entry.get("shared", True),
            )

    def to_document(self) -> dict[str, Any]:
        """Return every stored spreadsheet as a JSON document (the shape ``load_document`` reads)."""
        with self._lock:
            return {
                "spreadsheets": [
                    {
                        "id": sheet.spreadsheet_id,
                        "title": sheet.title,
                        "modifiedTime": sheet.modified_time,
                        "createdTime": sheet.created_time,
                        "timeZone": sheet.time_zone,
                        "shared": sheet.shared,
                        "tabs": {
                            tab.title: [[_cell_to_json(cell) for cell in row] for row in tab.rows]
                            for tab in sheet.tabs
                        },
                    }
                    for sheet in self._spreadsheets.values()
                ]
            }

    def to_json(self) -> str:
        """Return ``to_document()`` as JSON text, ready to write to a file for ``load_json``."""
        return json.dumps(self.to_document(), ensure_ascii=False, indent=2)

    # -- faults and quota ---------------------------------------------------------------------------------

    def fail_next(
        self,
        status: int,
        times: int = 1,
        spreadsheet_id: str | None = None,
        retry_after: int | float | None = None,
        *,
        kind: str | None = None,
    ) -> None:
        """Answer the next ``times`` matching requests with ``status`` and Google's error body."""
        if times < 1:
            raise ValueError("times must be at least 1")
        with self._lock:
            self._faults.append(_Fault(status, times, spreadsheet_id, kind, retry_after))

    def fail_always(
        self,
        status: int,
        spreadsheet_id: str | None = None,
        *,
        kind: str | None = None,
        retry_after: int | float | None = None,
    ) -> None:
        """Answer every matching request with ``status`` until ``clear_faults()``."""
        with self._lock:
            self._faults.append(_Fault(status, None, spreadsheet_id, kind, retry_after))

    def clear_faults(self) -> None:
        """Drop every injected fault."""
        with self._lock:
            self._faults.clear()

    def reset_quota(self) -> None:
        """Forget the requests counted in the quota window."""
        with self._lock:
            self._quota_windows.clear()

    # -- observability ------------------------------------------------------------------------------------

    @property
    def requests(self) -> list[RecordedRequest]:
        """A snapshot of every answered request, oldest first."""
        with self._lock:
            return list(self._log)

    @property
    def throttled_count(self) -> int:
        """How many requests the quota turned away with 429 (injected 429s are not counted)."""
        with self._lock:
            return self._throttled

    def count(self, kind: str | None = None, spreadsheet_id: str | None = None, status: int | None = None) -> int:
        """Count logged requests, optionally of one kind, spreadsheet and/or response status."""
        with self._lock:
            return sum(
                1
                for record in self._log
                if (kind is None or record.kind == kind)
                and (spreadsheet_id is None or record.spreadsheet_id == spreadsheet_id)
                and (status is None or record.status == status)
            )

    def reset_log(self) -> None:
        """Forget logged requests and the throttled count (the quota window is kept)."""
        with self._lock:
            self._log.clear()
            self._throttled = 0

    # -- request handling (called from server threads) ----------------------------------------------------

    def _get(self, spreadsheet_id: str) -> _Spreadsheet:
        try:
            return self._spreadsheets[spreadsheet_id]
        except KeyError:
            raise KeyError(f"no spreadsheet {spreadsheet_id!r} in the emulator") from None

    def _handle(self, method: str, raw_path: str, headers: Mapping[str, str]) -> _Response:
        """Answer one request and log it."""
        split = urlsplit(raw_path)
        query = parse_qs(split.query, keep_blank_values=True)
        kind, spreadsheet_id, range_text = _route(split.path)
        ranges: tuple[str, ...] = ()
        if kind == "values" and range_text is not None:
            ranges = (range_text,)
        elif kind == "batchGet":
            ranges = tuple(query.get("ranges", []))
        with self._lock:
            try:
                response = self._answer(method, kind, spreadsheet_id, range_text, query, headers)
            except Exception as exc:  # an emulator bug: surface it to the test rather than hang
                response = _sheets_error(500, f"Emulator bug: {exc!r}")
            self._log.append(
                RecordedRequest(method, split.path, query, spreadsheet_id, kind, response.status, ranges)
            )
        return response

    def _answer(
        self,
        method: str,
        kind: str | None,
        spreadsheet_id: str | None,
        range_text: str | None,
        query: dict[str, list[str]],
        headers: Mapping[str, str],
    ) -> _Response:
        if kind is None or spreadsheet_id is None:
            return _sheets_error(404, "Method not found.")
        if method != "GET":
            return _sheets_error(501, f"The emulator is read-only: {method} is not implemented.")
        if kind in SHEETS_KINDS and self._over_quota(headers.get("Authorization") or "anonymous"):
            self._throttled += 1
            return _sheets_error(429, details=[_rate_limit_info()])
        fault = next((f for f in self._faults if f.matches(spreadsheet_id, kind)), None)
        if fault is not None:
            if fault.remaining is not None:
                fault.remaining -= 1
                if fault.remaining == 0:
                    self._faults.remove(fault)
            response = _drive_error(fault.status, spreadsheet_id) if kind == "drive" else _sheets_error(fault.status)
            if fault.retry_after is not None:
                response.headers["Retry-After"] = f"{fault.retry_after:g}"
            return response
        spreadsheet = self._spreadsheets.get(spreadsheet_id)
        if kind == "drive":
            if spreadsheet is None or not spreadsheet.shared:  # Drive hides what you cannot read
                return _drive_error(404, spreadsheet_id)
            return _drive_file(spreadsheet, query)
        if spreadsheet is None:
            return _sheets_error(404)
        if not spreadsheet.shared:
            return _sheets_error(403)
        try:
            if kind == "metadata":
                return _metadata(spreadsheet, query)
            options = _render_options(query)
            if kind == "values":
                return _Response(200, _value_range(spreadsheet, range_text or "", *options))
            requested = query.get("ranges", [])
            body: dict[str, Any] = {"spreadsheetId": spreadsheet.spreadsheet_id}
            if requested:
                body["valueRanges"] = [_value_range(spreadsheet, text, *options) for text in requested]
            return _Response(200, body)
        except _RangeError as exc:
            return _sheets_error(400, str(exc))

    def _over_quota(self, user: str) -> bool:
        """Count one Sheets request for ``user``; True (and not counted) if the window is full."""
        if self.quota_per_minute is None:
            return False
        now = self.clock()
        window = self._quota_windows.setdefault(user, deque())
        while window and window[0] <= now - QUOTA_WINDOW_SECONDS:
            window.popleft()
        if len(window) >= self.quota_per_minute:
            return True
        window.append(now)
        return False


def _route(path: str) -> tuple[str | None, str | None, str | None]:
    """Map a raw URL path to (kind, spreadsheet id, decoded range) — (None, None, None) if unknown."""
    sheets_prefix, drive_prefix = "/v4/spreadsheets/", "/drive/v3/files/"
    if path.startswith(drive_prefix):
        file_id = unquote(path[len(drive_prefix) :])
        if file_id and "/" not in file_id:
            return "drive", file_id, None
        return None, None, None
    if not path.startswith(sheets_prefix):
        return None, None, None
    rest = path[len(sheets_prefix) :]
    raw_id, slash, tail = rest.partition("/")
    spreadsheet_id = unquote(raw_id)
    if not spreadsheet_id or ":" in spreadsheet_id:
        return None, None, None
    if not slash:
        return "metadata", spreadsheet_id, None
    if tail == "values:batchGet":
        return "batchGet", spreadsheet_id, None
    if tail.startswith("values/") and len(tail) > len("values/"):
        # The whole remainder is the range: gspread's quote() leaves '/' in tab names unescaped.
        return "values", spreadsheet_id, unquote(tail[len("values/") :])
    return None, None, None


def _sheets_error(status: int, message: str | None = None, details: list[dict[str, Any]] | None = None) -> _Response:
    """Return a Sheets-style error: ``{"error": {code, message, status}}``."""
    error: dict[str, Any] = {
        "code": status,
        "message": message or _SHEETS_MESSAGES.get(status, "Unknown error."),
        "status": _STATUS_NAMES.get(status, "UNKNOWN"),
    }
    if details:
        error["details"] = details
    return _Response(status, {"error": error})


def _drive_error(status: int, file_id: str) -> _Response:
    """Return a Drive v3-style error, with the ``errors`` list gspread's backoff client inspects."""
    domain, reason = _DRIVE_REASONS.get(status, ("global", "unknown"))
    message = f"File not found: {file_id}." if status == 404 else _SHEETS_MESSAGES.get(status, "Unknown error.")
    item: dict[str, Any] = {"message": message, "domain": domain, "reason": reason}
    if status == 404:
        item.update(location="fileId", locationType="parameter")
    return _Response(status, {"error": {"code": status, "message": message, "errors": [item]}})


def _rate_limit_info() -> dict[str, Any]:
    return {
        "@type": "type.googleapis.com/google.rpc.ErrorInfo",
        "reason": "RATE_LIMIT_EXCEEDED",
        "domain": "googleapis.com",
        "metadata": {
            "service": "sheets.googleapis.com",
            "quota_metric": "sheets.googleapis.com/read_requests",
            "quota_limit": "ReadRequestsPerMinutePerUser",
        },
    }


def _one(query: dict[str, list[str]], name: str) -> str | None:
    values = query.get(name)
    return values[-1] if values else None


def _masked(body: dict[str, Any], query: dict[str, list[str]]) -> _Response:
    """Apply the ``fields`` partial-response mask, if any."""
    mask = _one(query, "fields")
    if not mask:
        return _Response(200, body)
    try:
        tree = _parse_field_mask(mask)
    except ValueError:
        return _sheets_error(400, f"Invalid field selection {mask}")
    return _Response(200, _apply_field_mask(tree, body))


def _metadata(spreadsheet: _Spreadsheet, query: dict[str, list[str]]) -> _Response:
    """spreadsheets.get without grid data."""
    if (_one(query, "includeGridData") or "false").lower() == "true":
        return _sheets_error(501, "The emulator does not serve includeGridData=true.")
    body = {
        "spreadsheetId": spreadsheet.spreadsheet_id,
        "properties": {
            "title": spreadsheet.title,
            "locale": LOCALE,
            "autoRecalc": "ON_CHANGE",
            "timeZone": spreadsheet.time_zone,
        },
        "sheets": [
            {
                "properties": {
                    "sheetId": tab.sheet_id,
                    "title": tab.title,
                    "index": index,
                    "sheetType": "GRID",
                    "gridProperties": {"rowCount": tab.row_count, "columnCount": tab.column_count},
                }
            }
            for index, tab in enumerate(spreadsheet.tabs)
        ],
        "spreadsheetUrl": f"https://docs.google.com/spreadsheets/d/{spreadsheet.spreadsheet_id}/edit",
    }
    return _masked(body, query)


def _drive_file(spreadsheet: _Spreadsheet, query: dict[str, list[str]]) -> _Response:
    """Drive files.get: without ``fields`` Drive v3 returns only kind, id, name and mimeType."""
    full = {
        "kind": "drive#file",
        "id": spreadsheet.spreadsheet_id,
        "name": spreadsheet.title,
        "mimeType": SPREADSHEET_MIME_TYPE,
        "createdTime": spreadsheet.created_time,
        "modifiedTime": spreadsheet.modified_time,
    }
    if not _one(query, "fields"):
        return _Response(200, {key: full[key] for key in ("kind", "id", "name", "mimeType")})
    return _masked(full, query)


def _render_options(query: dict[str, list[str]]) -> tuple[str, str, str]:
    """Read and validate valueRenderOption, dateTimeRenderOption and majorDimension."""
    value_render = _one(query, "valueRenderOption") or "FORMATTED_VALUE"
    date_time_render = _one(query, "dateTimeRenderOption") or "SERIAL_NUMBER"
    dimension = _one(query, "majorDimension") or "ROWS"
    for name, given, allowed in (
        ("value_render_option", value_render, _VALUE_RENDER_OPTIONS),
        ("date_time_render_option", date_time_render, _DATE_TIME_RENDER_OPTIONS),
        ("major_dimension", dimension, _DIMENSIONS),
    ):
        if given not in allowed:
            raise _RangeError(f'Invalid value at \'{name}\', "{given}"')
    return value_render, date_time_render, "COLUMNS" if dimension == "COLUMNS" else "ROWS"


def _resolve_range(spreadsheet: _Spreadsheet, text: str) -> _GridRange:
    """Resolve an A1 range (``Tab``, ``'Tab'!A:J``, ``A1:B2`` on the first tab...) against the grid."""
    name, cells = _split_sheet_name(text)
    if name is None and cells is not None and spreadsheet.tab(cells) is not None:
        name, cells = cells, None  # a bare word naming a tab means the whole tab
    tab = spreadsheet.tabs[0] if name is None else spreadsheet.tab(name)
    if tab is None:
        raise _RangeError(f"Unable to parse range: {text}")
    rows, columns = tab.row_count, tab.column_count
    if cells is None:
        return _GridRange(tab.title, 0, rows - 1, 0, columns - 1)
    match = _A1_RE.fullmatch(cells)
    if not match:
        raise _RangeError(f"Unable to parse range: {text}")
    start_col, start_row, end_col, end_row = match.groups()
    if end_col is None:  # a single cell: both parts needed
        if not (start_col and start_row):
            raise _RangeError(f"Unable to parse range: {text}")
        end_col, end_row = start_col, start_row
    if not (start_col or start_row) or not (end_col or end_row) or 0 in (int(start_row or 1), int(end_row or 1)):
        raise _RangeError(f"Unable to parse range: {text}")
    first_col = _column_index(start_col) if start_col else 0
    last_col = _column_index(end_col) if end_col else columns - 1
    first_row = int(start_row) - 1 if start_row else 0
    last_row = int(end_row) - 1 if end_row else rows - 1
    first_col, last_col = sorted((first_col, last_col))
    first_row, last_row = sorted((first_row, last_row))
    if last_row >= rows or last_col >= columns:
        raise _RangeError(
            f"Range ({_quote_sheet_name(tab.title, always=True)}!{cells}) exceeds grid limits. "
            f"Max rows: {rows}, max columns: {columns}"
        )
    return _GridRange(tab.title, first_row, last_row, first_col, last_col)


def _trim(lines: list[list[_Cell | None]]) -> list[list[_Cell | None]]:
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


def _value_range(
    spreadsheet: _Spreadsheet, text: str, value_render: str, date_time_render: str, dimension: str
) -> dict[str, Any]:
    """Build one ValueRange: the normalised range and the rendered, trimmed values inside it."""
    grid = _resolve_range(spreadsheet, text)
    tab = spreadsheet.tab(grid.tab)
    assert tab is not None
    width = grid.last_column - grid.first_column + 1
    block: list[list[_Cell | None]] = []
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


# ---------------------------------------------------------------------------------------------------------
# HTTP plumbing
# ---------------------------------------------------------------------------------------------------------


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    emulator: SheetsEmulator

    def handle_error(self, request: Any, client_address: Any) -> None:
        """Stay quiet when a client hangs up mid-response; that is the client's business."""
        if not isinstance(sys.exc_info()[1], ConnectionError | TimeoutError):
            super().handle_error(request, client_address)


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    timeout = 10  # a stalled client must not pin a server thread forever

    def _serve(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        if length:
            self.rfile.read(length)
        response = self.server.emulator._handle(self.command, self.path, dict(self.headers.items()))
        payload = json.dumps(response.body, ensure_ascii=False).encode("utf-8")
        self.send_response(response.status)
        self.send_header("Content-Type", "application/json; charset=UTF-8")
        self.send_header("Content-Length", str(len(payload)))
        for name, value in response.headers.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(payload)

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _serve

    def log_message(self, format: str, *args: Any) -> None:
        """Silence the per-request stderr line; the emulator keeps its own log."""


@pytest.fixture
def sheets_emulator() -> Iterator[SheetsEmulator]:
    """A running, empty SheetsEmulator, stopped after the test."""
    with SheetsEmulator() as emulator:
        yield emulator
