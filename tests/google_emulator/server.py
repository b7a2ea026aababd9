"""The emulator itself: stored files, routing, authorisation, quota, faults, the request log, and the HTTP server."""

from __future__ import annotations

import json
import sys
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator, Mapping, Sequence
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

import pytest

from tests.google_emulator import auth, docs, forms, sheets, sheets_write
from tests.google_emulator.common import (
    DEFAULT_MODIFIED_TIME,
    Fault,
    RecordedRequest,
    Response,
    format_timestamp,
    google_error,
    quota_error,
    rfc3339,
    to_utc,
)
from tests.google_emulator.drive import drive_error, drive_file, drive_scope_error
from tests.google_emulator.sheets import DEFAULT_TIME_ZONE, Spreadsheet, Tab, cell_to_json, sheet_id_for, to_rows

QUOTA_WINDOW_SECONDS = 60.0
# The HTTP method of each kind of call; another method on the same path is 501.
_METHODS = {
    "metadata": "GET",
    "values": "GET",
    "batchGet": "GET",
    "drive": "GET",
    "forms.get": "GET",
    "forms.responses": "GET",
    "docs.get": "GET",
    "batchUpdate": "POST",
    "valuesBatchUpdate": "POST",
    "token": "POST",
}
# Which per-user-per-minute quota a call counts against (Drive has its own, not emulated).
_QUOTAS = {
    **dict.fromkeys(sheets.SHEETS_READ_KINDS, ("sheets", "Read requests")),
    **dict.fromkeys(sheets.SHEETS_WRITE_KINDS, ("sheets", "Write requests")),
    "forms.get": ("forms", "Read requests"),
    "forms.responses": ("forms", "Read requests"),
    "docs.get": ("docs", "Read requests"),
}
_NOT_SUPPORTED = "This operation is not supported for this document"

StoredFile = Spreadsheet | forms.Form | docs.Document


class GoogleEmulator:
    """In-process HTTP server answering Sheets v4, Drive v3 files.get, Forms v1, Docs v1 and the OAuth token
    endpoint from stored data; see the package docstring for what it copies from Google."""

    def __init__(
        self,
        *,
        quota_per_minute: int | None = None,
        write_quota_per_minute: int | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.quota_per_minute = quota_per_minute
        self.write_quota_per_minute = write_quota_per_minute
        self.clock = clock
        self._lock = threading.RLock()
        self._spreadsheets: dict[str, Spreadsheet] = {}
        self._forms: dict[str, forms.Form] = {}
        self._documents: dict[str, docs.Document] = {}
        self._faults: list[Fault] = []
        self._log: list[RecordedRequest] = []
        self._applied: dict[tuple[str, str], list[Any]] = {}
        self._throttled = 0
        self._quota_windows: dict[tuple[str, str, str], deque[float]] = {}
        self._tokens: dict[str, auth.IssuedToken] = {}
        self._issued: list[auth.IssuedToken] = []
        self._revoked_keys: set[str] = set()
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle ----------------------------------------------------------------------------------------

    def start(self) -> GoogleEmulator:
        """Start serving on an ephemeral port of 127.0.0.1 in a daemon thread."""
        if self._server is not None:
            raise RuntimeError("the emulator is already running")
        server = _Server(("127.0.0.1", 0), _Handler)
        server.emulator = self
        thread = threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.02}, name="google-emulator", daemon=True
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

    def __enter__(self) -> GoogleEmulator:
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

    @property
    def token_uri(self) -> str:
        """The token endpoint, for the ``token_uri`` of a service-account key file."""
        return f"{self.url}/token"

    # -- Sheets data --------------------------------------------------------------------------------------

    def add_spreadsheet(
        self,
        spreadsheet_id: str,
        title: str,
        tabs: Mapping[str, Sequence[Sequence[Any]]],
        modified_time: str | datetime = DEFAULT_MODIFIED_TIME,
        time_zone: str = DEFAULT_TIME_ZONE,
        *,
        created_time: str | datetime | None = None,
        shared: bool | str = True,
    ) -> None:
        """Store (or replace) a spreadsheet; ``tabs`` maps tab titles, in order, to rows of cells."""
        if not tabs:
            raise ValueError("a spreadsheet has at least one tab")
        stored_tabs = [
            Tab(tab_title, sheet_id_for(spreadsheet_id, tab_title, index), to_rows(rows))
            for index, (tab_title, rows) in enumerate(tabs.items())
        ]
        modified = rfc3339(modified_time)
        spreadsheet = Spreadsheet(
            spreadsheet_id=spreadsheet_id,
            title=title,
            tabs=stored_tabs,
            modified_time=modified,
            created_time=rfc3339(created_time) if created_time is not None else modified,
            time_zone=time_zone,
            shared=_sharing(shared),
        )
        with self._lock:
            self._claim_id(spreadsheet_id, self._spreadsheets)
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
        new_rows = to_rows(rows)
        with self._lock:
            spreadsheet = self._spreadsheet(spreadsheet_id)
            existing = spreadsheet.tab(tab)
            if existing is not None:
                existing.rows = new_rows
            else:
                index = len(spreadsheet.tabs)
                spreadsheet.tabs.append(Tab(tab, sheet_id_for(spreadsheet_id, tab, index), new_rows))
            if modified_time is not None:
                spreadsheet.modified_time = rfc3339(modified_time)

    def batch_updates(self, spreadsheet_id: str) -> list[dict[str, Any]]:
        """The bodies of the ``spreadsheets.batchUpdate`` calls applied to a spreadsheet, in order (refused
        ones are in ``requests``, with their status)."""
        with self._lock:
            return json.loads(json.dumps(self._applied.get(("batchUpdate", spreadsheet_id), [])))

    def values_batch_updates(self, spreadsheet_id: str) -> list[dict[str, Any]]:
        """The bodies of the ``values.batchUpdate`` calls applied to a spreadsheet, in order."""
        with self._lock:
            return json.loads(json.dumps(self._applied.get(("valuesBatchUpdate", spreadsheet_id), [])))

    def load_json(self, path: str | Path) -> None:
        """Add every spreadsheet of a JSON document file (see the package docstring for its shape)."""
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
        """Every stored spreadsheet's values as a JSON document (the shape ``load_document`` reads); what
        batchUpdate set besides values (validation, formats, protections) is not part of it."""
        with self._lock:
            return {
                "spreadsheets": [
                    {
                        "id": sheet.spreadsheet_id,
                        "title": sheet.title,
                        "modifiedTime": sheet.modified_time,
                        "createdTime": sheet.created_time,
                        "timeZone": sheet.time_zone,
                        "shared": sheet.shared if sheet.shared != "writer" else True,
                        "tabs": {
                            tab.title: [[cell_to_json(cell) for cell in row] for row in tab.rows] for tab in sheet.tabs
                        },
                    }
                    for sheet in self._spreadsheets.values()
                ]
            }

    def to_json(self) -> str:
        """Return ``to_document()`` as JSON text, ready to write to a file for ``load_json``."""
        return json.dumps(self.to_document(), ensure_ascii=False, indent=2)

    # -- Forms and Docs data ------------------------------------------------------------------------------

    def add_form(
        self,
        form_id: str,
        title: str,
        items: Sequence[Any],
        responses: Sequence[Mapping[str, Any]] = (),
        *,
        email_collection: str = "DO_NOT_COLLECT",
        shared: bool | str = True,
        modified_time: str | datetime = DEFAULT_MODIFIED_TIME,
        created_time: str | datetime | None = None,
        description: str | None = None,
        document_title: str | None = None,
    ) -> list[str]:
        """Store (or replace) a form and its responses; return the response ids.

        ``items`` are ``(title, kind[, options])`` tuples, ``form_item(...)`` dicts or raw Forms API Item
        dicts; a response is ``{"answers": {question title or id: value}, "submitted"?, "created"?, "email"?}``
        (see ``add_responses``).
        """
        if email_collection not in forms.EMAIL_COLLECTION_TYPES:
            raise ValueError(f"email_collection is one of {forms.EMAIL_COLLECTION_TYPES}")
        modified = rfc3339(modified_time)
        form = forms.Form(
            form_id=form_id,
            title=title,
            document_title=document_title or title,
            description=description,
            items=forms.build_items(form_id, items),
            email_collection=email_collection,
            shared=_sharing(shared),
            modified_time=modified,
            created_time=rfc3339(created_time) if created_time is not None else modified,
        )
        with self._lock:
            self._claim_id(form_id, self._forms)
            previous = self._forms.get(form_id)
            if previous is not None:
                form.revision = previous.revision + 1
            self._forms[form_id] = form
            return self.add_responses(form_id, responses)

    def add_responses(self, form_id: str, responses: Sequence[Mapping[str, Any]]) -> list[str]:
        """Submit responses to a stored form; return their ids.

        A response is ``{"answers": {...}, "submitted": datetime | RFC 3339 (default: a minute after the
        latest), "created"?: defaults to submitted, "email"?: respondentEmail, "response_id"?}``. Answers are
        keyed by question title or id: a string, a list (checkbox), an int (scale), a date/time, or for a
        grid ``{"Grid title": {"row": "column"}}``. Values outside a choice's options are refused unless it
        has an "other" option, whose answer is the free text.
        """
        with self._lock:
            form = self._form(form_id)
            ids = []
            for given in responses:
                response = forms.new_response(form, given, len(form.responses))
                form.responses.append(response)
                ids.append(response.response_id)
            return ids

    def edit_response(
        self,
        form_id: str,
        response_id: str,
        answers: Mapping[str, Any] | None = None,
        *,
        submitted: str | datetime,
    ) -> None:
        """Edit a response as its respondent would: same responseId and createTime, lastSubmittedTime moved
        to ``submitted``; ``answers`` replace the given questions' answers (None removes one)."""
        with self._lock:
            form = self._form(form_id)
            response = next((r for r in form.responses if r.response_id == response_id), None)
            if response is None:
                raise KeyError(f"form {form_id!r} has no response {response_id!r}")
            moved = to_utc(submitted)
            if moved < response.create_time:
                raise ValueError("a response cannot be submitted again before it was created")
            if answers:
                questions, by_title = form.questions(), form.question_ids()
                for key in [k for k, v in answers.items() if v is None]:
                    response.answers.pop(forms.question_id_for(questions, by_title, key, form_id), None)
                response.answers.update(forms.normalise_answers(form, answers))
            response.last_submitted_time = moved

    def question_ids(self, form_id: str) -> dict[str, str]:
        """A form's question titles (grid rows as "Grid [Row]") -> questionId, to read responses in tests."""
        with self._lock:
            return self._form(form_id).question_ids()

    def add_document(
        self,
        document_id: str,
        title: str,
        paragraphs: Sequence[Any],
        modified_time: str | datetime = DEFAULT_MODIFIED_TIME,
        *,
        created_time: str | datetime | None = None,
        shared: bool | str = True,
    ) -> None:
        """Store (or replace) a Google Doc from compact paragraphs: a string, or ``(style, content[, level])``
        with style TITLE, SUBTITLE, HEADING_1..6, NORMAL_TEXT, BULLET or NUMBERED and content a string or a
        list of strings and ``(text, {"bold": True, "italic": True, "link": url})`` runs."""
        body, lists = docs.build_document(document_id, paragraphs)
        modified = rfc3339(modified_time)
        document = docs.Document(
            document_id=document_id,
            title=title,
            body=body,
            lists=lists,
            modified_time=modified,
            created_time=rfc3339(created_time) if created_time is not None else modified,
            shared=_sharing(shared),
        )
        with self._lock:
            self._claim_id(document_id, self._documents)
            previous = self._documents.get(document_id)
            if previous is not None:
                document.revision = previous.revision + 1
            self._documents[document_id] = document

    # -- any file -----------------------------------------------------------------------------------------

    def set_modified_time(self, file_id: str, modified_time: str | datetime) -> None:
        """Set the Drive modifiedTime reported for a spreadsheet, form or document."""
        with self._lock:
            self._file(file_id).modified_time = rfc3339(modified_time)

    def set_shared(self, file_id: str, shared: bool | str) -> None:
        """Share a file with the caller: True or "writer" (read and write), "reader" (writes are 403), or
        False (not shared: Sheets/Forms/Docs 403, Drive 404)."""
        with self._lock:
            self._file(file_id).shared = _sharing(shared)

    # -- OAuth --------------------------------------------------------------------------------------------

    def service_account_info(self, client_email: str = auth.DEFAULT_CLIENT_EMAIL) -> dict[str, str]:
        """A service-account key (real RSA key) whose ``token_uri`` is this emulator's token endpoint."""
        return auth.service_account_key(self.token_uri, client_email)

    def revoke_key(self, client_email: str) -> None:
        """Make the token endpoint refuse every new grant for this account (``invalid_grant``, as for a
        deleted key); tokens already issued keep working until they expire, as Google's do."""
        with self._lock:
            self._revoked_keys.add(client_email)

    def restore_key(self, client_email: str) -> None:
        """Undo ``revoke_key``."""
        with self._lock:
            self._revoked_keys.discard(client_email)

    def expire_tokens(self) -> None:
        """Expire every issued access token: calls carrying one get 401 and google-auth fetches a new one."""
        with self._lock:
            self._tokens.clear()

    @property
    def issued_tokens(self) -> list[auth.IssuedToken]:
        """Every access token the token endpoint handed out, oldest first."""
        with self._lock:
            return list(self._issued)

    def granted_scopes(self, client_email: str | None = None) -> frozenset[str]:
        """Every scope granted to tokens (of one account, if given): what the code under test asked for."""
        with self._lock:
            return frozenset(
                scope
                for token in self._issued
                if client_email is None or token.client_email == client_email
                for scope in token.scopes
            )

    # -- faults and quota ---------------------------------------------------------------------------------

    def fail_next(
        self,
        status: int,
        times: int = 1,
        spreadsheet_id: str | None = None,
        retry_after: int | float | None = None,
        *,
        kind: str | None = None,
        file_id: str | None = None,
    ) -> None:
        """Answer the next ``times`` matching requests with ``status`` and Google's error body.

        ``spreadsheet_id`` / ``file_id`` (either name) restricts the fault to one file, ``kind`` to one kind
        of call; the token endpoint fails only for ``kind="token"``.
        """
        if times < 1:
            raise ValueError("times must be at least 1")
        with self._lock:
            self._faults.append(Fault(status, times, file_id or spreadsheet_id, kind, retry_after))

    def fail_always(
        self,
        status: int,
        spreadsheet_id: str | None = None,
        *,
        kind: str | None = None,
        retry_after: int | float | None = None,
        file_id: str | None = None,
    ) -> None:
        """Answer every matching request with ``status`` until ``clear_faults()``."""
        with self._lock:
            self._faults.append(Fault(status, None, file_id or spreadsheet_id, kind, retry_after))

    def clear_faults(self) -> None:
        """Drop every injected fault."""
        with self._lock:
            self._faults.clear()

    def reset_quota(self) -> None:
        """Forget the requests counted in the quota windows."""
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
        """How many requests a quota turned away with 429 (injected 429s are not counted)."""
        with self._lock:
            return self._throttled

    def count(
        self,
        kind: str | None = None,
        spreadsheet_id: str | None = None,
        status: int | None = None,
        *,
        file_id: str | None = None,
    ) -> int:
        """Count logged requests, optionally of one kind, file (``spreadsheet_id`` or ``file_id``) and/or status."""
        wanted = file_id or spreadsheet_id
        with self._lock:
            return sum(
                1
                for record in self._log
                if (kind is None or record.kind == kind)
                and (wanted is None or record.spreadsheet_id == wanted)
                and (status is None or record.status == status)
            )

    def reset_log(self) -> None:
        """Forget logged requests and the throttled count (the quota windows and applied bodies are kept)."""
        with self._lock:
            self._log.clear()
            self._throttled = 0

    # -- lookups ------------------------------------------------------------------------------------------

    def _claim_id(self, file_id: str, home: dict[str, Any]) -> None:
        """Drive ids are global: one id cannot be a spreadsheet and a form at once."""
        if not file_id or "/" in file_id or ":" in file_id:
            raise ValueError(f"invalid file id {file_id!r}")
        for store in (self._spreadsheets, self._forms, self._documents):
            if store is not home and file_id in store:
                raise ValueError(f"{file_id!r} is already another kind of file in the emulator")

    def _lookup(self, file_id: str) -> StoredFile | None:
        return self._spreadsheets.get(file_id) or self._forms.get(file_id) or self._documents.get(file_id)

    def _file(self, file_id: str) -> StoredFile:
        found = self._lookup(file_id)
        if found is None:
            raise KeyError(f"no file {file_id!r} in the emulator")
        return found

    def _spreadsheet(self, spreadsheet_id: str) -> Spreadsheet:
        try:
            return self._spreadsheets[spreadsheet_id]
        except KeyError:
            raise KeyError(f"no spreadsheet {spreadsheet_id!r} in the emulator") from None

    def _form(self, form_id: str) -> forms.Form:
        try:
            return self._forms[form_id]
        except KeyError:
            raise KeyError(f"no form {form_id!r} in the emulator") from None

    # -- request handling (called from server threads) ----------------------------------------------------

    def _handle(self, method: str, raw_path: str, headers: Mapping[str, str], raw_body: bytes) -> Response:
        """Answer one request and log it."""
        split = urlsplit(raw_path)
        query = parse_qs(split.query, keep_blank_values=True)
        kind, file_id, range_text = _route(split.path)
        ranges: tuple[str, ...] = ()
        if kind == "values" and range_text is not None:
            ranges = (range_text,)
        elif kind == "batchGet":
            ranges = tuple(query.get("ranges", []))
        body, body_error = _parse_body(kind, headers, raw_body)
        with self._lock:
            try:
                if body_error is not None:
                    response = body_error
                else:
                    response = self._answer(method, kind, file_id, range_text, query, headers, body)
            except Exception as exc:  # an emulator bug: surface it to the test rather than hang
                response = google_error(500, f"Emulator bug: {exc!r}")
            logged = body
            if kind == "token" and isinstance(body, dict) and "assertion" in body:
                logged = {**body, "assertion": "<JWT>"}
            self._log.append(RecordedRequest(method, split.path, query, file_id, kind, response.status, ranges, logged))
            if kind in sheets.SHEETS_WRITE_KINDS and response.status == 200 and file_id is not None:
                self._applied.setdefault((kind, file_id), []).append(body)
        return response

    def _answer(
        self,
        method: str,
        kind: str | None,
        file_id: str | None,
        range_text: str | None,
        query: dict[str, list[str]],
        headers: Mapping[str, str],
        body: Any,
    ) -> Response:
        if kind is None:
            return google_error(404, "Method not found.")
        if method != _METHODS[kind]:
            return google_error(501, f"The emulator does not implement {method} on this path.")
        if kind == "token":
            return self._grant(body)
        assert file_id is not None
        refused, user = self._authorize(kind, headers.get("authorization"))
        if refused is not None:
            return refused
        if kind in _QUOTAS and self._over_quota(kind, user):
            self._throttled += 1
            return quota_error(*_QUOTAS[kind])
        fault = self._take_fault(file_id, kind)
        if fault is not None:
            return fault
        if kind == "drive":
            found = self._lookup(file_id)
            if found is None or not found.shared:  # Drive hides what you cannot read
                return drive_error(404, file_id)
            return drive_file(found, query)
        if kind.startswith("forms."):
            return self._answer_forms(kind, file_id, query)
        if kind == "docs.get":
            return self._answer_docs(file_id, query)
        return self._answer_sheets(kind, file_id, range_text, query, body)

    def _answer_sheets(
        self, kind: str, file_id: str, range_text: str | None, query: dict[str, list[str]], body: Any
    ) -> Response:
        spreadsheet = self._spreadsheets.get(file_id)
        if spreadsheet is None:
            if self._lookup(file_id) is not None:
                return google_error(400, _NOT_SUPPORTED, status_name="FAILED_PRECONDITION")
            return google_error(404)
        if not spreadsheet.shared:
            return google_error(403)
        if kind == "metadata":
            return sheets.metadata(spreadsheet, query)
        if kind in ("values", "batchGet"):
            return sheets.read_values(spreadsheet, kind, range_text, query)
        if spreadsheet.shared != "writer":
            return google_error(403)
        apply = sheets_write.batch_update if kind == "batchUpdate" else sheets_write.values_batch_update
        updated, response = apply(spreadsheet, body)
        if response.status == 200:  # an edit moves the file's Drive modifiedTime, as any edit does
            updated.modified_time = format_timestamp(datetime.now(timezone.utc))
            self._spreadsheets[file_id] = updated
        return response

    def _answer_forms(self, kind: str, file_id: str, query: dict[str, list[str]]) -> Response:
        form = self._forms.get(file_id)
        if form is None:
            return google_error(404)
        if not form.shared:
            return google_error(403)
        if kind == "forms.get":
            return forms.get_form(form, query)
        return forms.list_responses(form, query)

    def _answer_docs(self, file_id: str, query: dict[str, list[str]]) -> Response:
        document = self._documents.get(file_id)
        if document is None:
            if self._lookup(file_id) is not None:
                return google_error(400, _NOT_SUPPORTED, status_name="FAILED_PRECONDITION")
            return google_error(404)
        if not document.shared:
            return google_error(403)
        return docs.get_document(document, query)

    def _take_fault(self, file_id: str | None, kind: str) -> Response | None:
        fault = next((f for f in self._faults if f.matches(file_id, kind)), None)
        if fault is None:
            return None
        if fault.remaining is not None:
            fault.remaining -= 1
            if fault.remaining == 0:
                self._faults.remove(fault)
        if kind == "drive":
            response = drive_error(fault.status, file_id)
        elif kind == "token":
            error = "internal_failure" if fault.status >= 500 else "invalid_request"
            response = auth.oauth_error(fault.status, error, f"Injected fault {fault.status}.")
        else:
            response = google_error(fault.status)
        if fault.retry_after is not None:
            response.headers["Retry-After"] = f"{fault.retry_after:g}"
        return response

    def _authorize(self, kind: str, authorization: str | None) -> tuple[Response | None, str]:
        """Anonymous calls pass (one user); a bearer token must be one this emulator issued, with a scope
        that allows the call. Return (refusal or None, the quota user)."""
        if authorization is None:
            return None, "anonymous"
        scheme, _, value = authorization.partition(" ")
        token = self._tokens.get(value.strip()) if scheme.lower() == "bearer" else None
        if token is None:
            issued = any(t.access_token == value.strip() for t in self._issued)
            reason = "ACCESS_TOKEN_EXPIRED" if issued else "ACCESS_TOKEN_TYPE_UNSUPPORTED"
            if kind == "drive":
                refused = drive_error(401, None, auth.INVALID_CREDENTIALS, "authError")
                refused.headers["WWW-Authenticate"] = 'Bearer realm="https://accounts.google.com/"'
                return refused, ""
            return auth.unauthenticated(reason), ""
        if not token.scopes & auth.REQUIRED_SCOPES[kind]:
            if kind == "drive":
                return drive_scope_error(auth.scope_details(kind), auth.scope_headers(kind)), token.client_email
            return auth.insufficient_scopes(kind), token.client_email
        return None, token.client_email

    def _grant(self, form: Any) -> Response:
        """The token endpoint: a JWT-bearer grant in, an access token out (the signature is not checked)."""
        fault = self._take_fault(None, "token")
        if fault is not None:
            return fault
        if not isinstance(form, dict) or form.get("grant_type") != auth.JWT_GRANT_TYPE:
            grant_type = form.get("grant_type") if isinstance(form, dict) else None
            return auth.oauth_error(400, "unsupported_grant_type", f"Invalid grant_type: {grant_type or ''}")
        try:
            claims = auth.decode_jwt_payload(form.get("assertion") or "")
            auth.check_claims(claims, (auth.GOOGLE_TOKEN_URI, self.token_uri), auth.wall_clock())
        except auth.TokenError as refused:
            return auth.oauth_error(400, refused.error, refused.description)
        if claims["iss"] in self._revoked_keys:
            return auth.oauth_error(400, "invalid_grant", "Invalid JWT Signature.")
        token = auth.IssuedToken(
            access_token=auth.new_access_token(),
            client_email=claims["iss"],
            scopes=frozenset(str(claims["scope"]).split()),
            subject=claims.get("sub"),
            claims=claims,
        )
        self._tokens[token.access_token] = token
        self._issued.append(token)
        body = {"access_token": token.access_token, "expires_in": auth.TOKEN_LIFETIME_SECONDS, "token_type": "Bearer"}
        return Response(200, body)

    def _over_quota(self, kind: str, user: str) -> bool:
        """Count one request against its service's per-user window; True (and not counted) if the window is full."""
        service, metric = _QUOTAS[kind]
        limit = self.write_quota_per_minute if metric == "Write requests" else self.quota_per_minute
        if limit is None:
            return False
        now = self.clock()
        window = self._quota_windows.setdefault((service, metric, user), deque())
        while window and window[0] <= now - QUOTA_WINDOW_SECONDS:
            window.popleft()
        if len(window) >= limit:
            return True
        window.append(now)
        return False


SheetsEmulator = GoogleEmulator  # the name the Sheets-only emulator had


def _sharing(shared: bool | str) -> bool | str:
    """Normalise how a file is shared with the caller: False, "reader" or "writer" (True)."""
    if shared is True:
        return "writer"
    if shared in (False, "reader", "writer"):
        return shared
    raise ValueError(f"shared is True, False, 'reader' or 'writer', not {shared!r}")


def _route(path: str) -> tuple[str | None, str | None, str | None]:
    """Map a raw URL path to (kind, file id, decoded range) — (None, None, None) if unknown."""
    if path == "/token":
        return "token", None, None
    for prefix, kinds in (
        ("/drive/v3/files/", {"": "drive"}),
        ("/v1/forms/", {"": "forms.get", "responses": "forms.responses"}),
        ("/v1/documents/", {"": "docs.get"}),
    ):
        if path.startswith(prefix):
            raw_id, _, tail = path[len(prefix) :].partition("/")
            file_id = unquote(raw_id)
            if file_id and tail in kinds and ":" not in file_id:
                return kinds[tail], file_id, None
            return None, None, None
    sheets_prefix = "/v4/spreadsheets/"
    if not path.startswith(sheets_prefix):
        return None, None, None
    raw_id, slash, tail = path[len(sheets_prefix) :].partition("/")
    if not slash and raw_id.endswith(":batchUpdate"):
        spreadsheet_id = unquote(raw_id[: -len(":batchUpdate")])
        return ("batchUpdate", spreadsheet_id, None) if spreadsheet_id else (None, None, None)
    spreadsheet_id = unquote(raw_id)
    if not spreadsheet_id or ":" in spreadsheet_id:
        return None, None, None
    if not slash:
        return "metadata", spreadsheet_id, None
    if tail == "values:batchGet":
        return "batchGet", spreadsheet_id, None
    if tail == "values:batchUpdate":
        return "valuesBatchUpdate", spreadsheet_id, None
    if tail.startswith("values/") and len(tail) > len("values/"):
        # The whole remainder is the range: gspread's quote() leaves '/' in tab names unescaped.
        return "values", spreadsheet_id, unquote(tail[len("values/") :])
    return None, None, None


def _parse_body(kind: str | None, headers: Mapping[str, str], raw: bytes) -> tuple[Any, Response | None]:
    """The JSON body of a write, the form body of a token grant; a malformed one is Google's 400."""
    if not raw:
        return None, None
    text = raw.decode("utf-8", errors="replace")
    if kind == "token":
        if "json" in (headers.get("content-type") or ""):
            try:
                return json.loads(text), None
            except ValueError:
                return None, auth.oauth_error(400, "invalid_request", "Malformed JSON body.")
        return {name: values[-1] for name, values in parse_qs(text, keep_blank_values=True).items()}, None
    try:
        return json.loads(text), None
    except ValueError as exc:
        return None, google_error(400, f"Invalid JSON payload received. {exc}")


# ---------------------------------------------------------------------------------------------------------
# HTTP plumbing
# ---------------------------------------------------------------------------------------------------------


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    emulator: GoogleEmulator

    def handle_error(self, request: Any, client_address: Any) -> None:
        """Stay quiet when a client hangs up mid-response; that is the client's business."""
        if not isinstance(sys.exc_info()[1], ConnectionError | TimeoutError):
            super().handle_error(request, client_address)


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    timeout = 10  # a stalled client must not pin a server thread forever

    def _serve(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        raw_body = self.rfile.read(length) if length else b""
        headers = {name.lower(): value for name, value in self.headers.items()}
        response = self.server.emulator._handle(self.command, self.path, headers, raw_body)
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
def google_emulator() -> Iterator[GoogleEmulator]:
    """A running, empty GoogleEmulator, stopped after the test."""
    with GoogleEmulator() as emulator:
        yield emulator


@pytest.fixture
def sheets_emulator(google_emulator: GoogleEmulator) -> GoogleEmulator:
    """The same running emulator under the name the Sheets-only fixture had."""
    return google_emulator
