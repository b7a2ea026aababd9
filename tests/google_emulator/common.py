"""Plumbing shared by every emulated Google API: responses, Google's error bodies, the request log, faults,
``fields`` masks and RFC 3339 timestamps."""

from __future__ import annotations

import copy
import re
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any

DEFAULT_MODIFIED_TIME = "2020-02-01T10:00:00.000Z"

STATUS_NAMES = {
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
MESSAGES = {
    400: "Request contains an invalid argument.",
    403: "The caller does not have permission",
    404: "Requested entity was not found.",
    500: "Internal error encountered.",
    503: "The service is currently unavailable.",
}
# The same service names Google writes in its quota errors and ErrorInfo details.
SERVICES = {"sheets": "sheets.googleapis.com", "forms": "forms.googleapis.com", "docs": "docs.googleapis.com"}

_FIELD_NAME_RE = re.compile(r"[A-Za-z0-9_*@]+")
_TIMESTAMP_RE = re.compile(r"(\d{4}-\d{2}-\d{2})T(\d{2}:\d{2}:\d{2})(?:\.(\d{1,9}))?(Z|[+-]\d{2}:\d{2})", re.IGNORECASE)


class Response:
    """What the HTTP handler writes back: status, JSON body, extra headers."""

    def __init__(self, status: int, body: Any, headers: dict[str, str] | None = None) -> None:
        self.status = status
        self.body = body
        self.headers = headers or {}


def google_error(
    status: int,
    message: str | None = None,
    details: list[dict[str, Any]] | None = None,
    *,
    status_name: str | None = None,
) -> Response:
    """Return the error body of Google's current APIs (Sheets, Forms, Docs): ``{"error": {code, message, status}}``."""
    error: dict[str, Any] = {
        "code": status,
        "message": message or MESSAGES.get(status, "Unknown error."),
        "status": status_name or STATUS_NAMES.get(status, "UNKNOWN"),
    }
    if details:
        error["details"] = details
    return Response(status, {"error": error})


def quota_error(service: str, metric: str = "Read requests") -> Response:
    """Return the 429 a per-minute-per-user quota answers, naming the service as Google does."""
    host = SERVICES.get(service, f"{service}.googleapis.com")
    per_minute = metric.replace("requests", "requests per minute per user")
    message = (
        f"Quota exceeded for quota metric '{metric}' and limit '{per_minute}' "
        f"of service '{host}' for consumer 'project_number:0'."
    )
    info = {
        "@type": "type.googleapis.com/google.rpc.ErrorInfo",
        "reason": "RATE_LIMIT_EXCEEDED",
        "domain": "googleapis.com",
        "metadata": {
            "service": host,
            "quota_metric": f"{host}/{metric.lower().replace(' ', '_')}",
            "quota_limit": per_minute.title().replace(" ", ""),
        },
    }
    return google_error(429, message, [info])


@dataclass(frozen=True)
class RecordedRequest:
    """One request the emulator answered."""

    method: str
    path: str
    query: dict[str, list[str]]
    spreadsheet_id: str | None  # the file the request is about: spreadsheet, form or document id
    kind: str | None  # see the package docstring; None for unknown paths
    status: int
    ranges: tuple[str, ...] = ()
    body: Any = None  # the parsed JSON (or form) body of a POST, None for GET

    @property
    def file_id(self) -> str | None:
        """The Drive id of the spreadsheet, form or document the request is about."""
        return self.spreadsheet_id


@dataclass
class Fault:
    """An injected failure: ``status`` for the next ``remaining`` matching requests (None: until cleared)."""

    status: int
    remaining: int | None
    file_id: str | None
    kind: str | None
    retry_after: int | float | None

    def matches(self, file_id: str | None, kind: str | None) -> bool:
        # The token endpoint fails only when asked by name: "Google keeps failing" means its APIs.
        if kind == "token" and self.kind != "token":
            return False
        return (self.file_id is None or self.file_id == file_id) and (self.kind is None or self.kind == kind)


def one(query: dict[str, list[str]], name: str) -> str | None:
    """The last value of a query parameter, as Google reads repeated scalars."""
    values = query.get(name)
    return values[-1] if values else None


# ---------------------------------------------------------------------------------------------------------
# Field masks: the ``fields`` partial-response parameter, and the ``fields`` of update requests
# ---------------------------------------------------------------------------------------------------------


def parse_field_mask(mask: str) -> dict[str, Any]:
    """Parse ``a,b.c,d(e,f)`` (``/`` works as ``.``) into a tree whose leaves are None; raise ValueError."""
    text = mask.replace(" ", "").replace("/", ".")
    tree, end = _parse_field_list(text, 0)
    if end != len(text):
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


def apply_field_mask(tree: dict[str, Any], value: Any) -> Any:
    """Keep only the masked fields of a response (lists are masked element by element)."""
    if "*" in tree:
        return value
    if isinstance(value, list):
        return [apply_field_mask(tree, item) for item in value]
    if not isinstance(value, dict):
        return value
    out = {}
    for name, sub in tree.items():
        if name in value:
            out[name] = value[name] if sub is None else apply_field_mask(sub, value[name])
    return out


def masked(body: dict[str, Any], query: dict[str, list[str]]) -> Response:
    """Answer 200 with ``body`` cut down to the ``fields`` partial-response mask, if any."""
    mask = one(query, "fields")
    if not mask:
        return Response(200, body)
    try:
        tree = parse_field_mask(mask)
    except ValueError:
        return google_error(400, f"Invalid field selection {mask}")
    return Response(200, apply_field_mask(tree, body))


def apply_update(target: dict[str, Any], source: dict[str, Any], tree: dict[str, Any]) -> None:
    """Copy the masked fields of ``source`` onto ``target``; a masked field absent from ``source`` is cleared.

    This is how update requests read their ``fields`` mask: only masked fields change.
    """
    names = set(source) | set(target) if "*" in tree else set(tree)
    for name in names:
        sub = None if "*" in tree else tree[name]
        if sub is None:
            if source.get(name) is not None:
                target[name] = copy.deepcopy(source[name])
            else:
                target.pop(name, None)
            continue
        child = target.get(name)
        child = child if isinstance(child, dict) else {}
        given = source.get(name)
        apply_update(child, given if isinstance(given, dict) else {}, sub)
        if child:
            target[name] = child
        else:
            target.pop(name, None)


def without_defaults(value: Any) -> Any:
    """Drop nulls and proto3 defaults (False) from a JSON value, as Google's JSON encoder leaves them out."""
    if isinstance(value, dict):
        return {k: without_defaults(v) for k, v in value.items() if v is not None and v is not False}
    if isinstance(value, list):
        return [without_defaults(v) for v in value]
    return value


# ---------------------------------------------------------------------------------------------------------
# Timestamps
# ---------------------------------------------------------------------------------------------------------


def parse_timestamp(text: str) -> datetime:
    """Parse an RFC 3339 timestamp (up to nanoseconds, ``Z`` or an offset) into an aware UTC datetime."""
    match = _TIMESTAMP_RE.fullmatch(text.strip())
    if not match:
        raise ValueError(f"not an RFC 3339 timestamp: {text!r}")
    day, clock, fraction, zone = match.groups()
    micros = int((fraction or "0")[:6].ljust(6, "0"))
    offset = timezone.utc if zone.upper() == "Z" else _offset(zone)
    moment = datetime.fromisoformat(f"{day}T{clock}").replace(microsecond=micros, tzinfo=offset)
    return moment.astimezone(timezone.utc)


def _offset(zone: str) -> timezone:
    sign = -1 if zone[0] == "-" else 1
    hours, minutes = int(zone[1:3]), int(zone[4:6])
    return timezone(sign * timedelta(hours=hours, minutes=minutes))


def to_utc(moment: str | datetime) -> datetime:
    """Read a timestamp given to a helper: an aware datetime or an RFC 3339 string."""
    if isinstance(moment, datetime):
        if moment.tzinfo is None:
            raise ValueError("give an aware datetime for a Google timestamp")
        return moment.astimezone(timezone.utc)
    return parse_timestamp(moment)


def format_timestamp(moment: datetime, digits: int = 3) -> str:
    """Write a UTC timestamp with ``digits`` fractional digits and a ``Z``, as Google's APIs do."""
    utc = moment.astimezone(timezone.utc)
    fraction = f"{utc.microsecond:06d}"[:digits]
    return utc.strftime("%Y-%m-%dT%H:%M:%S") + (f".{fraction}" if digits else "") + "Z"


def rfc3339(moment: str | datetime) -> str:
    """Return a Drive timestamp: an aware datetime written with milliseconds, or a checked RFC 3339 string as given."""
    if isinstance(moment, datetime):
        return format_timestamp(to_utc(moment))
    datetime.fromisoformat(moment.replace("Z", "+00:00"))
    return moment
