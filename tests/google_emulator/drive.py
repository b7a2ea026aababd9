"""Drive v3 ``files.get``: the metadata of every stored file (spreadsheets, forms, documents), with Drive's error bodies."""

from __future__ import annotations

from typing import Any, Protocol

from tests.google_emulator.common import MESSAGES, STATUS_NAMES, Response, masked, one

SPREADSHEET_MIME_TYPE = "application/vnd.google-apps.spreadsheet"
FORM_MIME_TYPE = "application/vnd.google-apps.form"
DOCUMENT_MIME_TYPE = "application/vnd.google-apps.document"

_DRIVE_REASONS = {
    400: ("global", "badRequest"),
    401: ("global", "authError"),
    403: ("global", "forbidden"),
    404: ("global", "notFound"),
    429: ("usageLimits", "rateLimitExceeded"),
    500: ("global", "backendError"),
    503: ("global", "backendError"),
}


class DriveFile(Protocol):
    """What Drive knows of any stored file."""

    file_id: str
    drive_name: str
    mime_type: str
    created_time: str
    modified_time: str
    shared: bool | str


def drive_file(file: DriveFile, query: dict[str, list[str]]) -> Response:
    """Drive files.get: without ``fields`` Drive v3 returns only kind, id, name and mimeType."""
    full = {
        "kind": "drive#file",
        "id": file.file_id,
        "name": file.drive_name,
        "mimeType": file.mime_type,
        "createdTime": file.created_time,
        "modifiedTime": file.modified_time,
    }
    if not one(query, "fields"):
        return Response(200, {key: full[key] for key in ("kind", "id", "name", "mimeType")})
    return masked(full, query)


def drive_error(status: int, file_id: str | None, message: str | None = None, reason: str | None = None) -> Response:
    """Return a Drive v3-style error, with the ``errors`` list gspread's backoff client inspects."""
    domain, default_reason = _DRIVE_REASONS.get(status, ("global", "unknown"))
    if message is None:
        message = f"File not found: {file_id}." if status == 404 else MESSAGES.get(status, "Unknown error.")
    item: dict[str, Any] = {"message": message, "domain": domain, "reason": reason or default_reason}
    if status == 404:
        item.update(location="fileId", locationType="parameter")
    return Response(status, {"error": {"code": status, "message": message, "errors": [item]}})


def drive_scope_error(details: list[dict[str, Any]], headers: dict[str, str]) -> Response:
    """Drive's 403 for a token lacking every scope that allows the call."""
    message = "Request had insufficient authentication scopes."
    item = {"message": "Insufficient Permission", "domain": "global", "reason": "insufficientPermissions"}
    body = {
        "error": {"code": 403, "message": message, "errors": [item], "status": STATUS_NAMES[403], "details": details}
    }
    return Response(403, body, headers)
