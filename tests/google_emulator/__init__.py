"""Local stand-in for the Google APIs the project calls (Sheets v4, Drive v3 files.get, Forms v1, Docs v1, the
OAuth 2.0 token endpoint), for tests.

Like Google's own ``*_EMULATOR_HOST`` emulators, it is a real HTTP server on 127.0.0.1: point a client's
``https://sheets.googleapis.com``, ``https://www.googleapis.com``, ``https://forms.googleapis.com`` and
``https://docs.googleapis.com`` at ``GoogleEmulator.url`` (``flows.sources.google.EmulatorSession`` does it;
for gspread pass ``session=EmulatorSession(emulator.url)``), and a service-account key's ``token_uri`` at
``GoogleEmulator.token_uri`` (``emulator.service_account_info()`` writes such a key). Endpoints, with the
``kind`` each is logged under (``emulator.count(kind=...)``, ``fail_next(..., kind=...)``):

    GET  /v4/spreadsheets/{id}?includeGridData=&ranges=&fields=   spreadsheets.get        'metadata'
    GET  /v4/spreadsheets/{id}/values/{range}                      values.get              'values'
    GET  /v4/spreadsheets/{id}/values:batchGet?ranges=..           values.batchGet         'batchGet'
    POST /v4/spreadsheets/{id}:batchUpdate                         spreadsheets.batchUpdate 'batchUpdate'
    POST /v4/spreadsheets/{id}/values:batchUpdate                  values.batchUpdate      'valuesBatchUpdate'
    GET  /drive/v3/files/{id}?fields=..&supportsAllDrives=..       Drive files.get         'drive'
    GET  /v1/forms/{id}                                            forms.get               'forms.get'
    GET  /v1/forms/{id}/responses?pageSize=&pageToken=&filter=     forms.responses.list    'forms.responses'
    GET  /v1/documents/{id}?includeTabsContent=                    documents.get           'docs.get'
    POST /token  (grant_type=urn:ietf:params:oauth:grant-type:jwt-bearer&assertion=JWT)    'token'

What it copies from the real services, because pipelines depend on it:
- values: trailing empty cells of each row and trailing empty rows are left out, gaps inside the data
  come back as ""; ``range`` is the normalised A1 range bounded by the grid (``Tab!A1:Z1000``);
  ``valueRenderOption`` (default FORMATTED_VALUE), ``dateTimeRenderOption`` (default SERIAL_NUMBER),
  ``majorDimension`` (ROWS or COLUMNS); unknown tabs and ranges past the grid are 400 INVALID_ARGUMENT.
- formatted values follow the spreadsheet locale, fr_FR: ``3.5`` shows as ``"3,5"`` and dates as
  ``dd/mm/yyyy`` unless a cell carries its own ``formatted`` twin.
- spreadsheets.get: ``ranges`` keeps only the sheets they touch; ``includeGridData=true`` adds each sheet's
  ``data`` (``rowData[].values[]`` of CellData: userEnteredValue, effectiveValue, formattedValue and what
  batchUpdate set: dataValidation, userEnteredFormat, note), trimmed like values; ``sheets[].protectedRanges``
  and ``gridProperties.frozenRowCount/frozenColumnCount`` (zero counts left out); the ``fields`` mask
  (``a.b``, ``a/b`` and ``a(b,c)`` forms) on every GET.
- batchUpdate is atomic (one bad request: 400 and nothing applied) and answers one reply per request (``{}``
  when the kind has none). Applied: addSheet, deleteSheet, updateSheetProperties (title, index,
  gridProperties, through ``fields``), updateSpreadsheetProperties (title, timeZone), updateCells (``start``
  or ``range``), appendCells (grows the grid), repeatCell, setDataValidation (rule stored per cell; the
  number of condition values is checked per ConditionType and an ONE_OF_RANGE reference must resolve),
  addProtectedRange (reply carries the protectedRangeId), deleteProtectedRange. Accepted and only
  recorded (cosmetic, empty reply): autoResizeDimensions, updateDimensionProperties, updateBorders,
  merge/unmergeCells, addConditionalFormatRule, set/clearBasicFilter. Other real kinds are 501; unknown
  names are Google's 400 ``Unknown name ... Cannot find field``. Formulas are not evaluated: 501.
- values.batchUpdate: ``valueInputOption`` required; RAW keeps strings, USER_ENTERED parses as an fr_FR user
  types ("3,5" -> 3.5, "03" -> 3 unless the cell is formatted as TEXT, "05/01/2024" -> a date, "VRAI" ->
  true, a leading ' keeps text); null leaves a cell alone, "" clears it. A successful write moves the
  spreadsheet's Drive modifiedTime to now.
- Forms: the Form resource (``formId``, ``info``, ``settings.emailCollectionType``, ``revisionId``,
  ``items[]`` with 8-hex ``itemId``/``questionId``, questionItem / questionGroupItem grids); responses ordered
  by createTime, ``pageSize`` default and maximum 5000, an opaque ``nextPageToken`` bound to the form and
  filter, ``filter`` only ``timestamp > T`` / ``timestamp >= T`` (T in RFC 3339 Zulu form) on
  lastSubmittedTime, anything else 400; an empty page is ``{}``; answers are ``textAnswers`` strings
  (checkbox: several; "other": the free text; scale: "4"; date: "2024-05-02"); an edited response keeps its
  responseId and createTime and moves lastSubmittedTime; respondentEmail only when the form collects emails.
- Docs: ``body.content`` opens with a sectionBreak (endIndex 1); paragraphs carry UTF-16 start/end indices,
  ``paragraphStyle.namedStyleType`` (+ headingId on headings), ``bullet{listId, nestingLevel}`` (a zero
  level left out) with ``lists{listId: {listProperties: {nestingLevels: [glyphSymbol | glyphType]}}}``;
  neighbouring runs of one style are merged and each paragraph's last run ends with "\\n".
- errors use Google's JSON bodies: Sheets/Forms/Docs ``{"error": {code, message, status}}``, Drive
  ``{"error": {code, message, errors: [{domain, reason, message}]}}``. A file not shared with the caller is
  403 PERMISSION_DENIED on Sheets/Forms/Docs but 404 ``notFound`` on Drive, as Drive really answers; shared
  "reader", writes are 403. Unknown files are 404 NOT_FOUND; a form or document opened as a spreadsheet is
  400 FAILED_PRECONDITION.
- OAuth: the token endpoint reads the JWT google-auth's service-account credentials send WITHOUT checking
  its signature, checks aud/iat/exp/scope like Google, and answers ``{access_token, expires_in: 3600,
  token_type: Bearer}``; ``revoke_key(email)`` makes it answer 400 ``invalid_grant`` "Invalid JWT
  Signature." (google-auth raises RefreshError). Anonymous calls (no Authorization header) are allowed; a
  bearer token must be one the endpoint issued (else 401 UNAUTHENTICATED) and hold a scope the method
  lists (else 403 "Request had insufficient authentication scopes.", ErrorInfo reason
  ACCESS_TOKEN_SCOPE_INSUFFICIENT): Sheets reads spreadsheets(.readonly), writes spreadsheets, Drive
  drive.metadata.readonly or broader, forms.get forms.body(.readonly), responses forms.responses.readonly,
  Docs documents(.readonly); the drive scopes allow what Google's method pages list.
- quota: ``quota_per_minute`` read requests per user and per service (Sheets, Forms and Docs each have their
  own window; Drive calls and the token endpoint do not count), ``write_quota_per_minute`` Sheets writes;
  a sliding 60 s window on ``clock``; anonymous callers are one user, a service account is its client_email.
- faults: ``fail_next``/``fail_always`` answer with a status and the API's error body; a fault without
  ``kind`` hits every API call but not the token endpoint, which fails only for ``kind="token"``.

Spreadsheet cells are given as ``str | int | float | bool | None``, a ``datetime.date``/``datetime`` (stored as
a date serial number, day 0 = 1899-12-30), or a dict ``{"value": v, "formatted": "..", "date": bool}``. The
same cell forms are used by the JSON document format read by ``load_json`` (spreadsheets only)::

    {"spreadsheets": [{"id": "..", "title": "..", "modifiedTime": "2020-02-01T10:00:00.000Z",
                       "timeZone": "Europe/Paris", "shared": true,
                       "tabs": {"Tab": [["header", ...], [cell, ...]]}}]}
"""

from tests.google_emulator.auth import DEFAULT_CLIENT_EMAIL, IssuedToken, service_account_key
from tests.google_emulator.common import RecordedRequest
from tests.google_emulator.docs import NAMED_STYLES
from tests.google_emulator.drive import DOCUMENT_MIME_TYPE, FORM_MIME_TYPE, SPREADSHEET_MIME_TYPE
from tests.google_emulator.forms import ITEM_KINDS, form_item
from tests.google_emulator.server import GoogleEmulator, SheetsEmulator, google_emulator, sheets_emulator
from tests.google_emulator.sheets import LOCALE, date_cell, date_serial

__all__ = [
    "DEFAULT_CLIENT_EMAIL",
    "DOCUMENT_MIME_TYPE",
    "FORM_MIME_TYPE",
    "ITEM_KINDS",
    "LOCALE",
    "NAMED_STYLES",
    "SPREADSHEET_MIME_TYPE",
    "GoogleEmulator",
    "IssuedToken",
    "RecordedRequest",
    "SheetsEmulator",
    "date_cell",
    "date_serial",
    "form_item",
    "google_emulator",
    "service_account_key",
    "sheets_emulator",
]
