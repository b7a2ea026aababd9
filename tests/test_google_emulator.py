"""The Google emulator answers like Sheets v4, Drive v3, Forms v1, Docs v1 and the OAuth token endpoint, over
raw HTTP and through the real clients (requests, google-auth, gspread)."""

from __future__ import annotations

import json
import re
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from urllib.parse import quote

import google.auth.credentials
import google.auth.transport.requests
import gspread
import gspread.http_client
import pytest
import requests
from google.auth.exceptions import RefreshError
from google.oauth2.service_account import Credentials

from flows.sources.google import EmulatorSession
from tests.google_emulator import GoogleEmulator, SheetsEmulator, date_cell, date_serial, form_item

# The google_emulator and sheets_emulator fixtures come from tests/conftest.py.

SPREADSHEET_ID = "1AbC-annuaire_promeneurs"
OTHER_ID = "1XyZ-activites"


@pytest.fixture
def emulator(sheets_emulator: SheetsEmulator) -> SheetsEmulator:
    """The running emulator holding two spreadsheets shaped like the network's sources."""
    sheets_emulator.add_spreadsheet(
        SPREADSHEET_ID,
        "Annuaire PdN",
        {
            "Promeneurs": [
                ["nom", "departement", "heures", "actif", "date_entree"],
                ["Alice", "03", 12, True, date_cell(date(2024, 1, 5))],
                ["Bruno", "63", 3.5, False, date(2023, 9, 1), None, ""],  # trailing empties
                [],
                ["Chloé", "", {"value": 7, "formatted": "7 h"}],
                [None, None],
                [],
            ],
            "Tab with spaces": [["a", "b"], [1, 2]],
            "L'été": [["x"]],
        },
        modified_time="2024-03-01T08:30:00.000Z",
    )
    sheets_emulator.add_spreadsheet(OTHER_ID, "Activités", {"Feuille 1": [["id"], [1]]})
    return sheets_emulator


@pytest.fixture
def client(emulator: SheetsEmulator) -> gspread.Client:
    """A gspread client whose real HTTP path is redirected to the emulator."""
    return gspread.Client(auth=google.auth.credentials.AnonymousCredentials(), session=EmulatorSession(emulator.url))


def get(emulator: SheetsEmulator, path: str, **params: object) -> requests.Response:
    """GET a path on the emulator with plain requests."""
    return requests.get(emulator.url + path, params=params, timeout=5)


def values_path(range_text: str, spreadsheet_id: str = SPREADSHEET_ID) -> str:
    """The values.get path for a range, URL-encoded as gspread does."""
    return f"/v4/spreadsheets/{spreadsheet_id}/values/{quote(range_text)}"


# --- lifecycle -----------------------------------------------------------------------------------------


def test_emulator_serves_on_an_ephemeral_loopback_port_and_releases_it_on_stop() -> None:
    with SheetsEmulator() as emulator:
        url = emulator.url
        assert url.startswith("http://127.0.0.1:") and not url.endswith(":0")
        assert get(emulator, "/nowhere").status_code == 404
    with pytest.raises(requests.ConnectionError):
        requests.get(url + "/nowhere", timeout=2)
    with pytest.raises(RuntimeError):
        emulator.url


# --- spreadsheets.get ----------------------------------------------------------------------------------


def test_metadata_lists_tabs_with_grid_properties_like_spreadsheets_get(emulator: SheetsEmulator) -> None:
    body = get(emulator, f"/v4/spreadsheets/{SPREADSHEET_ID}", includeGridData="false").json()

    assert body["spreadsheetId"] == SPREADSHEET_ID
    assert body["properties"]["title"] == "Annuaire PdN"
    assert body["properties"]["locale"] == "fr_FR"
    assert body["properties"]["timeZone"] == "Europe/Paris"
    assert body["spreadsheetUrl"] == f"https://docs.google.com/spreadsheets/d/{SPREADSHEET_ID}/edit"
    sheets = [sheet["properties"] for sheet in body["sheets"]]
    assert [(s["title"], s["index"], s["sheetType"]) for s in sheets] == [
        ("Promeneurs", 0, "GRID"),
        ("Tab with spaces", 1, "GRID"),
        ("L'été", 2, "GRID"),
    ]
    assert sheets[0]["sheetId"] == 0 and sheets[1]["sheetId"] != sheets[2]["sheetId"]
    assert sheets[0]["gridProperties"] == {"rowCount": 1000, "columnCount": 26}


def test_metadata_honours_a_fields_mask(emulator: SheetsEmulator) -> None:
    mask = "sheets(properties(title)),properties.title"
    body = get(emulator, f"/v4/spreadsheets/{SPREADSHEET_ID}", fields=mask).json()

    assert body == {
        "sheets": [
            {"properties": {"title": "Promeneurs"}},
            {"properties": {"title": "Tab with spaces"}},
            {"properties": {"title": "L'été"}},
        ],
        "properties": {"title": "Annuaire PdN"},
    }


# --- values.get ----------------------------------------------------------------------------------------


def test_values_get_omits_trailing_empty_cells_and_rows_but_keeps_inner_gaps(emulator: SheetsEmulator) -> None:
    body = get(emulator, values_path("Promeneurs")).json()

    assert body["range"] == "Promeneurs!A1:Z1000"
    assert body["majorDimension"] == "ROWS"
    assert body["values"] == [
        ["nom", "departement", "heures", "actif", "date_entree"],
        ["Alice", "03", "12", "TRUE", "05/01/2024"],
        ["Bruno", "63", "3,5", "FALSE", "01/09/2023"],
        [],
        ["Chloé", "", "7 h"],
    ]


def test_unformatted_values_are_typed_json_and_dates_follow_date_time_render_option(
    emulator: SheetsEmulator,
) -> None:
    path = values_path("'Promeneurs'!A2:E3")

    serial = get(emulator, path, valueRenderOption="UNFORMATTED_VALUE", dateTimeRenderOption="SERIAL_NUMBER").json()
    formatted_dates = get(
        emulator, path, valueRenderOption="UNFORMATTED_VALUE", dateTimeRenderOption="FORMATTED_STRING"
    ).json()

    assert serial["values"] == [
        ["Alice", "03", 12, True, 45296],
        ["Bruno", "63", 3.5, False, 45170],
    ]
    assert isinstance(serial["values"][0][2], int) and isinstance(serial["values"][0][3], bool)
    assert formatted_dates["values"][0][4] == "05/01/2024"
    assert formatted_dates["values"][0][2] == 12  # only date cells change with dateTimeRenderOption
    assert date_serial(date(2024, 1, 5)) == 45296
    emulator.update_tab(OTHER_ID, "Feuille 1", [[4.0, 2.25]])
    whole_float = get(emulator, values_path("'Feuille 1'", OTHER_ID), valueRenderOption="UNFORMATTED_VALUE").json()
    assert [type(v) for v in whole_float["values"][0]] == [int, float]  # Google writes 4, not 4.0
    assert date_serial(datetime(2024, 1, 5, 12)) == 45296.5


@pytest.mark.parametrize(
    ("range_text", "expected_range", "expected_values"),
    [
        ("'Tab with spaces'!A1:Z", "'Tab with spaces'!A1:Z1000", [["a", "b"], ["1", "2"]]),
        (
            "'Promeneurs'!A:B",
            "Promeneurs!A1:B1000",
            [["nom", "departement"], ["Alice", "03"], ["Bruno", "63"], [], ["Chloé"]],
        ),
        ("Promeneurs!A2:C3", "Promeneurs!A2:C3", [["Alice", "03", "12"], ["Bruno", "63", "3,5"]]),
        ("Promeneurs!C3:A2", "Promeneurs!A2:C3", [["Alice", "03", "12"], ["Bruno", "63", "3,5"]]),
        ("Promeneurs!$B$2", "Promeneurs!B2", [["03"]]),
        ("Promeneurs!2:2", "Promeneurs!A2:Z2", [["Alice", "03", "12", "TRUE", "05/01/2024"]]),
        ("'L''été'!A1:B2", "'L''été'!A1:B2", [["x"]]),
        ("A1:A2", "Promeneurs!A1:A2", [["nom"], ["Alice"]]),
        ("Promeneurs!F1:G10", "Promeneurs!F1:G10", None),
    ],
)
def test_a1_ranges_are_resolved_and_echoed_normalised(
    emulator: SheetsEmulator, range_text: str, expected_range: str, expected_values: list[list[str]] | None
) -> None:
    response = get(emulator, values_path(range_text))

    assert response.status_code == 200, response.text
    assert response.json()["range"] == expected_range
    assert response.json().get("values") == expected_values


@pytest.mark.parametrize(
    ("range_text", "message"),
    [
        ("Absent!A1:B2", "Unable to parse range: Absent!A1:B2"),
        ("Promeneurs!A0:B2", "Unable to parse range: Promeneurs!A0:B2"),
        ("Promeneurs!A1:AB5", "Range ('Promeneurs'!A1:AB5) exceeds grid limits. Max rows: 1000, max columns: 26"),
        ("'Promeneurs'!A1:B1001", "Range ('Promeneurs'!A1:B1001) exceeds grid limits. Max rows: 1000, max columns: 26"),
    ],
)
def test_bad_ranges_are_rejected_with_invalid_argument(emulator: SheetsEmulator, range_text: str, message: str) -> None:
    response = get(emulator, values_path(range_text))

    assert response.status_code == 400
    assert response.json() == {"error": {"code": 400, "message": message, "status": "INVALID_ARGUMENT"}}


def test_major_dimension_columns_transposes_and_trims_per_column(emulator: SheetsEmulator) -> None:
    body = get(emulator, values_path("Promeneurs!A1:C5"), majorDimension="COLUMNS").json()

    assert body["majorDimension"] == "COLUMNS"
    assert body["values"] == [
        ["nom", "Alice", "Bruno", "", "Chloé"],
        ["departement", "03", "63"],
        ["heures", "12", "3,5", "", "7 h"],
    ]


def test_unknown_render_option_is_an_invalid_argument(emulator: SheetsEmulator) -> None:
    response = get(emulator, values_path("Promeneurs"), valueRenderOption="RAW")

    assert response.status_code == 400
    assert response.json()["error"]["status"] == "INVALID_ARGUMENT"


# --- values.batchGet -----------------------------------------------------------------------------------


def test_batch_get_returns_one_value_range_per_requested_range_in_order(emulator: SheetsEmulator) -> None:
    body = get(
        emulator,
        f"/v4/spreadsheets/{SPREADSHEET_ID}/values:batchGet",
        ranges=["'Tab with spaces'!A:B", "Promeneurs!A1:A2"],
        valueRenderOption="UNFORMATTED_VALUE",
    ).json()

    assert body["spreadsheetId"] == SPREADSHEET_ID
    assert [(vr["range"], vr["values"]) for vr in body["valueRanges"]] == [
        ("'Tab with spaces'!A1:B1000", [["a", "b"], [1, 2]]),
        ("Promeneurs!A1:A2", [["nom"], ["Alice"]]),
    ]


# --- Drive files.get -----------------------------------------------------------------------------------


def test_drive_files_get_returns_requested_fields_only(emulator: SheetsEmulator) -> None:
    path = f"/drive/v3/files/{SPREADSHEET_ID}"

    chosen = get(emulator, path, fields="id,name,mimeType,modifiedTime", supportsAllDrives="true").json()
    default = get(emulator, path).json()

    assert chosen == {
        "id": SPREADSHEET_ID,
        "name": "Annuaire PdN",
        "mimeType": "application/vnd.google-apps.spreadsheet",
        "modifiedTime": "2024-03-01T08:30:00.000Z",
    }
    assert "modifiedTime" not in default and default["kind"] == "drive#file"


def test_set_modified_time_and_update_tab_change_what_is_served(emulator: SheetsEmulator) -> None:
    emulator.update_tab(SPREADSHEET_ID, "Promeneurs", [["nom"], ["Zoé"]])
    emulator.update_tab(SPREADSHEET_ID, "Nouvel onglet", [["n"]])
    emulator.set_modified_time(OTHER_ID, datetime(2024, 5, 2, 7, 0, tzinfo=timezone.utc))

    assert get(emulator, values_path("Promeneurs")).json()["values"] == [["nom"], ["Zoé"]]
    titles = [s["properties"]["title"] for s in get(emulator, f"/v4/spreadsheets/{SPREADSHEET_ID}").json()["sheets"]]
    assert titles[-1] == "Nouvel onglet"
    drive = get(emulator, f"/drive/v3/files/{OTHER_ID}", fields="modifiedTime").json()
    assert drive == {"modifiedTime": "2024-05-02T07:00:00.000Z"}


# --- errors, access control, faults --------------------------------------------------------------------


def test_unshared_spreadsheet_is_permission_denied_on_sheets_and_hidden_on_drive(emulator: SheetsEmulator) -> None:
    emulator.set_shared(SPREADSHEET_ID, False)

    sheets = get(emulator, values_path("Promeneurs"))
    drive = get(emulator, f"/drive/v3/files/{SPREADSHEET_ID}", fields="modifiedTime")

    assert sheets.status_code == 403
    assert sheets.json() == {
        "error": {"code": 403, "message": "The caller does not have permission", "status": "PERMISSION_DENIED"}
    }
    assert drive.status_code == 404
    assert drive.json()["error"]["errors"][0]["reason"] == "notFound"


def test_unknown_spreadsheet_and_unknown_path_are_not_found_json(emulator: SheetsEmulator) -> None:
    missing = get(emulator, "/v4/spreadsheets/does-not-exist")
    unknown = get(emulator, "/v5/whatever")

    assert missing.status_code == 404
    assert missing.json() == {
        "error": {"code": 404, "message": "Requested entity was not found.", "status": "NOT_FOUND"}
    }
    assert unknown.status_code == 404 and unknown.json()["error"]["status"] == "NOT_FOUND"


def test_write_methods_are_not_implemented(emulator: SheetsEmulator) -> None:
    response = requests.put(emulator.url + values_path("Promeneurs!A1"), json={"values": [[1]]}, timeout=5)

    assert response.status_code == 501
    assert response.json()["error"]["status"] == "UNIMPLEMENTED"


def test_fail_next_fails_the_given_number_of_matching_requests_then_recovers(emulator: SheetsEmulator) -> None:
    emulator.fail_next(429, times=2, spreadsheet_id=SPREADSHEET_ID, retry_after=7)
    path = values_path("Promeneurs!A1")

    first = get(emulator, path)
    untouched = get(emulator, values_path("'Feuille 1'!A1", OTHER_ID))
    second = get(emulator, path)
    third = get(emulator, path)

    assert first.status_code == 429 and first.headers["Retry-After"] == "7"
    assert first.json()["error"]["status"] == "RESOURCE_EXHAUSTED"
    assert untouched.status_code == 200
    assert second.status_code == 429
    assert third.status_code == 200 and third.json()["values"] == [["nom"]]


@pytest.mark.parametrize(("status", "google_status"), [(500, "INTERNAL"), (503, "UNAVAILABLE")])
def test_fail_always_persists_until_cleared(emulator: SheetsEmulator, status: int, google_status: str) -> None:
    emulator.fail_always(status)

    answers = [get(emulator, values_path("Promeneurs")) for _ in range(3)]
    emulator.clear_faults()

    assert {a.status_code for a in answers} == {status}
    assert answers[0].json()["error"]["status"] == google_status
    assert get(emulator, values_path("Promeneurs")).status_code == 200


def test_injected_drive_faults_use_drive_error_bodies(emulator: SheetsEmulator) -> None:
    emulator.fail_next(429, kind="drive")

    drive = get(emulator, f"/drive/v3/files/{SPREADSHEET_ID}")
    sheets = get(emulator, f"/v4/spreadsheets/{SPREADSHEET_ID}")

    assert drive.status_code == 429
    assert drive.json()["error"]["errors"][0]["domain"] == "usageLimits"
    assert sheets.status_code == 200


# --- quota ---------------------------------------------------------------------------------------------


def test_quota_is_a_sliding_sixty_second_window_over_sheets_calls(emulator: SheetsEmulator) -> None:
    now = [1000.0]
    emulator.clock = lambda: now[0]
    emulator.quota_per_minute = 3
    metadata = f"/v4/spreadsheets/{SPREADSHEET_ID}"

    statuses = [get(emulator, metadata).status_code for _ in range(3)]
    drive_status = get(emulator, f"/drive/v3/files/{SPREADSHEET_ID}").status_code  # Drive has its own quota
    throttled = get(emulator, metadata)
    now[0] += 59.9
    still_throttled = get(emulator, metadata).status_code
    now[0] += 0.2
    recovered = get(emulator, metadata).status_code

    assert statuses == [200, 200, 200] and drive_status == 200
    assert throttled.status_code == 429
    assert throttled.json()["error"]["status"] == "RESOURCE_EXHAUSTED"
    assert still_throttled == 429 and recovered == 200
    assert emulator.throttled_count == 2


# --- observability and data files ----------------------------------------------------------------------


def test_request_log_records_kind_spreadsheet_query_and_status(emulator: SheetsEmulator) -> None:
    get(emulator, f"/v4/spreadsheets/{SPREADSHEET_ID}")
    get(emulator, values_path("Promeneurs!A1"), valueRenderOption="UNFORMATTED_VALUE")
    get(emulator, f"/v4/spreadsheets/{OTHER_ID}/values:batchGet", ranges=["'Feuille 1'", "A1"])
    get(emulator, f"/drive/v3/files/{OTHER_ID}")
    get(emulator, "/v4/spreadsheets/nope")

    assert emulator.count() == 5
    assert emulator.count(kind="metadata") == 2 and emulator.count(kind="metadata", status=404) == 1
    assert emulator.count(spreadsheet_id=OTHER_ID) == 2
    values = emulator.requests[1]
    assert (values.kind, values.spreadsheet_id, values.status) == ("values", SPREADSHEET_ID, 200)
    assert values.query == {"valueRenderOption": ["UNFORMATTED_VALUE"]}
    assert values.ranges == ("Promeneurs!A1",)
    assert emulator.requests[2].ranges == ("'Feuille 1'", "A1")
    emulator.reset_log()
    assert emulator.count() == 0 and emulator.requests == []


def test_requests_write_nothing_to_stderr(emulator: SheetsEmulator, capfd: pytest.CaptureFixture[str]) -> None:
    get(emulator, values_path("Promeneurs"))
    get(emulator, "/unknown")

    assert capfd.readouterr().err == ""


def test_json_document_round_trips_and_is_served(tmp_path: Path, emulator: SheetsEmulator) -> None:
    document_path = tmp_path / "sheets.json"
    document_path.write_text(emulator.to_json(), encoding="utf-8")

    with SheetsEmulator() as copy:
        copy.load_json(document_path)
        generated_tab = [["a", {"value": 45296, "date": True}]]
        copy.load_document({"spreadsheets": [{"id": "gen-1", "title": "Généré", "tabs": {"T": generated_tab}}]})

        assert json.loads(copy.to_json())["spreadsheets"][:2] == emulator.to_document()["spreadsheets"]
        assert get(copy, values_path("Promeneurs")).json() == get(emulator, values_path("Promeneurs")).json()
        generated = get(copy, values_path("T", "gen-1"), valueRenderOption="UNFORMATTED_VALUE").json()
        assert generated["values"] == [["a", 45296]]
        assert get(copy, "/drive/v3/files/gen-1", fields="modifiedTime").json() == {
            "modifiedTime": "2020-02-01T10:00:00.000Z"
        }


def test_invalid_cells_are_refused_when_stored(sheets_emulator: SheetsEmulator) -> None:
    with pytest.raises(ValueError):
        sheets_emulator.add_spreadsheet("x", "x", {"T": [[float("nan")]]})
    with pytest.raises(TypeError):
        sheets_emulator.add_spreadsheet("x", "x", {"T": [[object()]]})
    with pytest.raises(ValueError):
        sheets_emulator.add_spreadsheet("x", "x", {"T": [[1]]}, modified_time="yesterday")


# --- through gspread's own HTTP path -------------------------------------------------------------------


def test_gspread_opens_a_spreadsheet_and_reads_a_tab(client: gspread.Client, emulator: SheetsEmulator) -> None:
    spreadsheet = client.open_by_key(SPREADSHEET_ID)
    worksheet = spreadsheet.worksheet("Tab with spaces")

    assert (spreadsheet.title, spreadsheet.locale, spreadsheet.timezone) == ("Annuaire PdN", "fr_FR", "Europe/Paris")
    assert [ws.title for ws in spreadsheet.worksheets()] == ["Promeneurs", "Tab with spaces", "L'été"]
    assert worksheet.get_all_values() == [["a", "b"], ["1", "2"]]
    assert worksheet.get_all_records() == [{"a": 1, "b": 2}]  # gspread numericises formatted strings
    assert emulator.count(kind="metadata") == 3
    assert emulator.count(kind="values") == 2
    values_call = [r for r in emulator.requests if r.kind == "values"][0]
    assert values_call.path == f"/v4/spreadsheets/{SPREADSHEET_ID}/values/%27Tab%20with%20spaces%27"
    assert values_call.ranges == ("'Tab with spaces'",)


def test_gspread_values_batch_get_returns_typed_values_trimmed(
    client: gspread.Client, emulator: SheetsEmulator
) -> None:
    spreadsheet = client.open_by_key(SPREADSHEET_ID)

    response = spreadsheet.values_batch_get(
        ["'Promeneurs'!A1:Z", "'L''été'"],
        params={"valueRenderOption": "UNFORMATTED_VALUE", "dateTimeRenderOption": "SERIAL_NUMBER"},
    )

    promeneurs, ete = response["valueRanges"]
    assert promeneurs["range"] == "Promeneurs!A1:Z1000"
    assert promeneurs["values"] == [
        ["nom", "departement", "heures", "actif", "date_entree"],
        ["Alice", "03", 12, True, 45296],
        ["Bruno", "63", 3.5, False, 45170],
        [],
        ["Chloé", "", 7],
    ]
    assert ete == {"range": "'L''été'!A1:Z1000", "majorDimension": "ROWS", "values": [["x"]]}
    batch_call = emulator.requests[-1]
    assert batch_call.kind == "batchGet"
    assert batch_call.query["ranges"] == ["'Promeneurs'!A1:Z", "'L''été'"]
    assert batch_call.query["valueRenderOption"] == ["UNFORMATTED_VALUE"]


def test_gspread_reads_drive_modified_time(client: gspread.Client, emulator: SheetsEmulator) -> None:
    spreadsheet = client.open_by_key(SPREADSHEET_ID)

    assert spreadsheet.get_lastUpdateTime() == "2024-03-01T08:30:00.000Z"
    assert client.get_file_drive_metadata(OTHER_ID)["name"] == "Activités"
    drive_call = emulator.requests[-1]
    assert drive_call.path == f"/drive/v3/files/{OTHER_ID}"
    assert drive_call.query == {
        "supportsAllDrives": ["True"],
        "includeItemsFromAllDrives": ["True"],
        "fields": ["id,name,createdTime,modifiedTime"],
    }


def test_gspread_raises_api_errors_with_google_codes_for_forbidden_and_missing(
    client: gspread.Client, emulator: SheetsEmulator
) -> None:
    emulator.set_shared(OTHER_ID, False)

    with pytest.raises(PermissionError) as forbidden:
        client.open_by_key(OTHER_ID)
    with pytest.raises(gspread.exceptions.SpreadsheetNotFound):
        client.open_by_key("does-not-exist")
    with pytest.raises(gspread.exceptions.APIError) as missing:
        client.http_client.values_get("does-not-exist", "A1")

    cause = forbidden.value.__cause__
    assert isinstance(cause, gspread.exceptions.APIError)
    assert cause.code == 403 and cause.error["status"] == "PERMISSION_DENIED"
    assert missing.value.code == 404 and missing.value.error["status"] == "NOT_FOUND"


def test_gspread_sees_two_429s_then_success(
    emulator: SheetsEmulator, client: gspread.Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    worksheet = client.open_by_key(SPREADSHEET_ID).sheet1
    emulator.fail_next(429, times=2, spreadsheet_id=SPREADSHEET_ID)

    with pytest.raises(gspread.exceptions.APIError) as first:
        worksheet.acell("A1")
    with pytest.raises(gspread.exceptions.APIError):
        worksheet.acell("A1")
    assert worksheet.acell("A1").value == "nom"
    assert first.value.code == 429 and first.value.error["status"] == "RESOURCE_EXHAUSTED"

    # gspread's own backoff client retries the same two 429s transparently (sleep skipped to stay fast).
    monkeypatch.setattr(gspread.http_client.time, "sleep", lambda seconds: None)
    backoff = gspread.Client(
        auth=google.auth.credentials.AnonymousCredentials(),
        session=EmulatorSession(emulator.url),
        http_client=gspread.http_client.BackOffHTTPClient,
    )
    emulator.fail_next(429, times=2, spreadsheet_id=SPREADSHEET_ID)
    emulator.reset_log()
    assert backoff.open_by_key(SPREADSHEET_ID).title == "Annuaire PdN"
    assert [r.status for r in emulator.requests] == [429, 429, 200]


def test_gspread_hits_the_quota_and_is_counted(emulator: SheetsEmulator, client: gspread.Client) -> None:
    emulator.clock = lambda: 0.0
    emulator.quota_per_minute = 2
    spreadsheet = client.open_by_key(SPREADSHEET_ID)
    spreadsheet.values_get("Promeneurs!A1")

    with pytest.raises(gspread.exceptions.APIError) as throttled:
        spreadsheet.values_get("Promeneurs!A1")

    assert throttled.value.code == 429
    assert emulator.throttled_count == 1
    assert emulator.count(status=429) == 1 and emulator.count(status=200) == 2


# =========================================================================================================
# Google Forms API v1
# =========================================================================================================

FORM_ID = "1FAIpQLSe-questionnaire-2024"
FORMS_ROOT = "https://forms.googleapis.com/v1/forms"
QUESTIONNAIRE_ITEMS = [
    ("Nom de la structure", "text"),
    form_item("Département", "radio", ["03", "63"], required=True),
    form_item("Publics accompagnés", "checkbox", ["Jeunes", "Parents", "Professionnels"], other=True),
    ("Réseau social principal", "dropdown", ["Instagram", "Snapchat", "TikTok"]),
    form_item("Satisfaction", "scale", (1, 5), low_label="Pas du tout", high_label="Tout à fait"),
    ("Date de la dernière permanence", "date"),
    ("Commentaire", "paragraph"),
    form_item("Fréquence des échanges", "grid", ["Jamais", "Parfois", "Souvent"], rows=["Jeunes", "Parents"]),
    ("Fin", "section"),
]


def at(hour: int, minute: int = 0, day: int = 2) -> datetime:
    """A submission time in May 2024, UTC."""
    return datetime(2024, 5, day, hour, minute, tzinfo=timezone.utc)


def answer_values(response: dict, question_id: str) -> list[str]:
    return [a["value"] for a in response["answers"][question_id]["textAnswers"]["answers"]]


@pytest.fixture
def session(google_emulator: GoogleEmulator) -> EmulatorSession:
    """google-auth's AuthorizedSession (anonymous) sending the real Google URLs to the emulator."""
    return EmulatorSession(google_emulator.url)


@pytest.fixture
def questionnaire(google_emulator: GoogleEmulator) -> GoogleEmulator:
    """A form collecting verified emails, with three responses submitted an hour apart."""
    google_emulator.add_form(
        FORM_ID,
        "Questionnaire annuel 2024",
        QUESTIONNAIRE_ITEMS,
        [
            {
                "answers": {
                    "Nom de la structure": "Centre social Moulins",
                    "Département": "03",
                    "Publics accompagnés": ["Jeunes", "Parents"],
                    "Satisfaction": 4,
                    "Date de la dernière permanence": date(2024, 4, 30),
                    "Fréquence des échanges": {"Jeunes": "Souvent", "Parents": "Jamais"},
                },
                "submitted": at(9),
                "email": "cs.moulins@example.org",
            },
            {
                "answers": {"Département": "63", "Publics accompagnés": ["Jeunes", "Éducateurs de rue"]},
                "submitted": at(10),
                "email": "mjc.riom@example.org",
            },
            {"answers": {"Département": "63", "Réseau social principal": "TikTok"}, "submitted": at(11)},
        ],
        email_collection="VERIFIED",
        modified_time="2024-04-01T08:00:00.000Z",
    )
    return google_emulator


def test_forms_get_returns_the_form_resource_built_from_compact_items(
    questionnaire: GoogleEmulator, session: EmulatorSession
) -> None:
    form = session.get(f"{FORMS_ROOT}/{FORM_ID}").json()

    assert form["formId"] == FORM_ID
    assert form["info"] == {"title": "Questionnaire annuel 2024", "documentTitle": "Questionnaire annuel 2024"}
    assert form["settings"] == {"emailCollectionType": "VERIFIED"}
    assert isinstance(form["revisionId"], str)
    items = form["items"]
    assert [item["title"] for item in items] == [
        title for title, *_ in (i if isinstance(i, tuple) else (i["title"],) for i in QUESTIONNAIRE_ITEMS)
    ]
    assert all(re.fullmatch(r"[0-9a-f]{8}", item["itemId"]) for item in items)
    questions = [item["questionItem"]["question"] for item in items if "questionItem" in item]
    assert all(re.fullmatch(r"[0-9a-f]{8}", q["questionId"]) for q in questions)
    text, radio, checkbox, dropdown, scale, day, paragraph = questions
    assert text == {"questionId": text["questionId"], "textQuestion": {}}  # required: false is left out
    assert radio["required"] is True
    assert radio["choiceQuestion"] == {"type": "RADIO", "options": [{"value": "03"}, {"value": "63"}]}
    assert checkbox["choiceQuestion"]["type"] == "CHECKBOX"
    assert checkbox["choiceQuestion"]["options"][-1] == {"isOther": True}
    assert dropdown["choiceQuestion"]["type"] == "DROP_DOWN"
    assert scale["scaleQuestion"] == {"low": 1, "high": 5, "lowLabel": "Pas du tout", "highLabel": "Tout à fait"}
    assert day["dateQuestion"] == {"includeYear": True}
    assert paragraph["textQuestion"] == {"paragraph": True}
    grid = items[7]["questionGroupItem"]
    assert [q["rowQuestion"]["title"] for q in grid["questions"]] == ["Jeunes", "Parents"]
    assert grid["grid"]["columns"] == {
        "type": "RADIO",
        "options": [{"value": "Jamais"}, {"value": "Parfois"}, {"value": "Souvent"}],
    }
    assert items[8] == {"itemId": items[8]["itemId"], "title": "Fin", "pageBreakItem": {}}
    ids = questionnaire.question_ids(FORM_ID)
    assert ids["Département"] == radio["questionId"]
    assert ids["Fréquence des échanges [Parents]"] == grid["questions"][1]["questionId"]
    again = session.get(f"{FORMS_ROOT}/{FORM_ID}", params={"fields": "items(itemId)"}).json()
    assert again == {"items": [{"itemId": item["itemId"]} for item in items]}  # stable ids, fields mask


def test_responses_carry_text_answers_like_google(questionnaire: GoogleEmulator, session: EmulatorSession) -> None:
    body = session.get(f"{FORMS_ROOT}/{FORM_ID}/responses").json()
    ids = questionnaire.question_ids(FORM_ID)

    assert set(body) == {"responses"}  # everything fits one page: no nextPageToken
    first, second, third = body["responses"]
    assert first["createTime"] == "2024-05-02T09:00:00.000Z"
    assert first["lastSubmittedTime"] == "2024-05-02T09:00:00.000000Z"
    assert first["respondentEmail"] == "cs.moulins@example.org" and "respondentEmail" not in third
    assert "formId" not in first  # list responses leave the form id out
    assert answer_values(first, ids["Publics accompagnés"]) == ["Jeunes", "Parents"]
    assert answer_values(first, ids["Satisfaction"]) == ["4"]
    assert answer_values(first, ids["Date de la dernière permanence"]) == ["2024-04-30"]
    assert answer_values(first, ids["Fréquence des échanges [Jeunes]"]) == ["Souvent"]
    assert answer_values(second, ids["Publics accompagnés"]) == ["Jeunes", "Éducateurs de rue"]  # "other" text
    assert first["answers"][ids["Département"]] == {
        "questionId": ids["Département"],
        "textAnswers": {"answers": [{"value": "03"}]},
    }
    assert ids["Commentaire"] not in first["answers"]  # unanswered questions are absent
    assert len({r["responseId"] for r in body["responses"]}) == 3


def test_responses_list_pages_with_next_page_token_until_exhausted(
    google_emulator: GoogleEmulator, session: EmulatorSession
) -> None:
    google_emulator.add_form(FORM_ID, "Q", [("Nom", "text")])
    submitted = [at(8, minute) for minute in (50, 10, 40, 0, 30, 20, 5)]  # createTime order is not entry order
    google_emulator.add_responses(
        FORM_ID, [{"answers": {"Nom": f"n{i}"}, "submitted": t} for i, t in enumerate(submitted)]
    )

    pages, token = [], None
    while True:
        params = {"pageSize": 3, **({"pageToken": token} if token else {})}
        body = session.get(f"{FORMS_ROOT}/{FORM_ID}/responses", params=params).json()
        pages.append(body["responses"])
        token = body.get("nextPageToken")
        if token is None:
            break

    assert [len(page) for page in pages] == [3, 3, 1]
    created = [r["createTime"] for page in pages for r in page]
    assert created == sorted(created) and len(set(created)) == 7
    assert google_emulator.count(kind="forms.responses") == 3
    assert session.get(f"{FORMS_ROOT}/{FORM_ID}/responses", params={"pageSize": 0}).json().keys() == {"responses"}
    tampered = session.get(f"{FORMS_ROOT}/{FORM_ID}/responses", params={"pageToken": "not-a-token"})
    assert tampered.status_code == 400 and tampered.json()["error"]["status"] == "INVALID_ARGUMENT"


def test_default_and_largest_page_is_5000_responses(google_emulator: GoogleEmulator, session: EmulatorSession) -> None:
    google_emulator.add_form(FORM_ID, "Q", [("Nom", "text")])
    start = at(0, day=1)
    google_emulator.add_responses(
        FORM_ID, [{"answers": {}, "submitted": start + timedelta(seconds=i)} for i in range(5001)]
    )

    default = session.get(f"{FORMS_ROOT}/{FORM_ID}/responses").json()
    capped = session.get(f"{FORMS_ROOT}/{FORM_ID}/responses", params={"pageSize": 9000}).json()
    rest = session.get(f"{FORMS_ROOT}/{FORM_ID}/responses", params={"pageToken": default["nextPageToken"]}).json()

    assert len(default["responses"]) == len(capped["responses"]) == 5000
    assert len(rest["responses"]) == 1 and "nextPageToken" not in rest


def test_timestamp_filter_selects_on_last_submitted_time_and_an_edit_moves_it(
    questionnaire: GoogleEmulator, session: EmulatorSession
) -> None:
    url = f"{FORMS_ROOT}/{FORM_ID}/responses"
    listed = session.get(url).json()["responses"]
    first_id = listed[0]["responseId"]

    after_ten = session.get(url, params={"filter": "timestamp > 2024-05-02T10:00:00Z"}).json()
    from_ten = session.get(url, params={"filter": "timestamp >= 2024-05-02T10:00:00.000000000Z"}).json()
    nothing = session.get(url, params={"filter": "timestamp > 2030-01-01T00:00:00Z"})
    questionnaire.edit_response(FORM_ID, first_id, {"Satisfaction": 2, "Commentaire": "Corrigé"}, submitted=at(12))
    after_edit = session.get(url, params={"filter": "timestamp > 2024-05-02T11:30:00Z"}).json()

    assert [r["createTime"][11:16] for r in after_ten["responses"]] == ["11:00"]
    assert [r["createTime"][11:16] for r in from_ten["responses"]] == ["10:00", "11:00"]
    assert nothing.status_code == 200 and nothing.json() == {}  # an empty result is an empty object
    (edited,) = after_edit["responses"]
    assert edited["responseId"] == first_id and edited["createTime"] == listed[0]["createTime"]
    assert edited["lastSubmittedTime"] == "2024-05-02T12:00:00.000000Z"
    ids = questionnaire.question_ids(FORM_ID)
    assert answer_values(edited, ids["Satisfaction"]) == ["2"]
    assert answer_values(edited, ids["Commentaire"]) == ["Corrigé"]
    assert answer_values(edited, ids["Département"]) == ["03"]  # answers not edited are kept
    assert [r["responseId"] for r in session.get(url).json()["responses"]][0] == first_id  # still first by createTime


@pytest.mark.parametrize(
    "filter_text",
    [
        "createTime > 2024-05-02T10:00:00Z",
        "timestamp < 2024-05-02T10:00:00Z",
        "timestamp > 2024-05-02",
        "timestamp > 2024-05-02T10:00:00+02:00",
        "timestamp > 2024-05-02T10:00:00Z AND timestamp < 2024-06-01T00:00:00Z",
    ],
)
def test_filters_forms_does_not_support_are_invalid_argument(
    questionnaire: GoogleEmulator, session: EmulatorSession, filter_text: str
) -> None:
    response = session.get(f"{FORMS_ROOT}/{FORM_ID}/responses", params={"filter": filter_text})

    assert response.status_code == 400
    assert response.json() == {
        "error": {"code": 400, "message": "Request contains an invalid argument.", "status": "INVALID_ARGUMENT"}
    }


def test_a_page_token_only_continues_its_own_filter(google_emulator: GoogleEmulator, session: EmulatorSession) -> None:
    google_emulator.add_form(FORM_ID, "Q", [("Nom", "text")])
    google_emulator.add_responses(FORM_ID, [{"answers": {"Nom": str(i)}} for i in range(3)])
    url = f"{FORMS_ROOT}/{FORM_ID}/responses"
    token = session.get(url, params={"pageSize": 1}).json()["nextPageToken"]

    other_filter = session.get(url, params={"pageToken": token, "filter": "timestamp > 2019-01-01T00:00:00Z"})

    assert other_filter.status_code == 400


def test_forms_errors_and_faults_answer_like_google(questionnaire: GoogleEmulator, session: EmulatorSession) -> None:
    missing = session.get(f"{FORMS_ROOT}/absent")
    questionnaire.fail_next(503, kind="forms.responses", file_id=FORM_ID)
    unavailable = session.get(f"{FORMS_ROOT}/{FORM_ID}/responses")
    form_still_served = session.get(f"{FORMS_ROOT}/{FORM_ID}")
    questionnaire.set_shared(FORM_ID, False)
    forbidden = session.get(f"{FORMS_ROOT}/{FORM_ID}/responses")
    hidden_on_drive = session.get(f"https://www.googleapis.com/drive/v3/files/{FORM_ID}", params={"fields": "id"})

    assert missing.status_code == 404
    assert missing.json() == {
        "error": {"code": 404, "message": "Requested entity was not found.", "status": "NOT_FOUND"}
    }
    assert unavailable.status_code == 503 and unavailable.json()["error"]["status"] == "UNAVAILABLE"
    assert form_still_served.status_code == 200
    assert forbidden.status_code == 403
    assert forbidden.json() == {
        "error": {"code": 403, "message": "The caller does not have permission", "status": "PERMISSION_DENIED"}
    }
    assert hidden_on_drive.status_code == 404
    assert questionnaire.count(kind="forms.get") == 2
    assert questionnaire.count(kind="forms.responses", file_id=FORM_ID) == 2
    assert questionnaire.count(kind="forms.responses", status=503) == 1


def test_forms_reads_count_against_their_own_quota(questionnaire: GoogleEmulator, session: EmulatorSession) -> None:
    questionnaire.clock = lambda: 0.0
    questionnaire.quota_per_minute = 2
    questionnaire.add_spreadsheet("sheet", "S", {"T": [["a"]]})

    forms_statuses = [session.get(f"{FORMS_ROOT}/{FORM_ID}").status_code for _ in range(3)]
    sheets_status = session.get("https://sheets.googleapis.com/v4/spreadsheets/sheet").status_code
    throttled = session.get(f"{FORMS_ROOT}/{FORM_ID}/responses")

    assert forms_statuses == [200, 200, 429] and sheets_status == 200
    assert "forms.googleapis.com" in throttled.json()["error"]["message"]
    assert questionnaire.throttled_count == 2


def test_drive_files_get_answers_for_forms_and_documents(
    questionnaire: GoogleEmulator, session: EmulatorSession
) -> None:
    questionnaire.add_document("1DocBilan", "Bilan 2024", ["Texte"], modified_time="2024-06-01T07:00:00.000Z")
    fields = {"fields": "id,name,mimeType,modifiedTime", "supportsAllDrives": "true"}

    form = session.get(f"https://www.googleapis.com/drive/v3/files/{FORM_ID}", params=fields).json()
    doc = session.get("https://www.googleapis.com/drive/v3/files/1DocBilan", params=fields).json()

    assert form == {
        "id": FORM_ID,
        "name": "Questionnaire annuel 2024",
        "mimeType": "application/vnd.google-apps.form",
        "modifiedTime": "2024-04-01T08:00:00.000Z",
    }
    assert (
        doc["mimeType"] == "application/vnd.google-apps.document" and doc["modifiedTime"] == "2024-06-01T07:00:00.000Z"
    )


def test_the_builder_refuses_responses_forms_could_not_have_recorded(google_emulator: GoogleEmulator) -> None:
    google_emulator.add_form(FORM_ID, "Q", QUESTIONNAIRE_ITEMS)

    with pytest.raises(ValueError, match="not an option"):
        google_emulator.add_responses(FORM_ID, [{"answers": {"Département": "15"}}])  # no "other" option
    with pytest.raises(ValueError, match="one choice"):
        google_emulator.add_responses(FORM_ID, [{"answers": {"Département": ["03", "63"]}}])
    with pytest.raises(ValueError, match="outside the scale"):
        google_emulator.add_responses(FORM_ID, [{"answers": {"Satisfaction": 6}}])
    with pytest.raises(KeyError, match="no question"):
        google_emulator.add_responses(FORM_ID, [{"answers": {"Âge": "17"}}])
    with pytest.raises(ValueError, match="does not collect emails"):
        google_emulator.add_responses(FORM_ID, [{"answers": {}, "email": "x@example.org"}])
    with pytest.raises(ValueError, match="unknown item kind"):
        form_item("Q", "slider")


# =========================================================================================================
# Google Docs API v1
# =========================================================================================================

DOC_ID = "1DocModeleBilan2024"
BILAN_PARAGRAPHS = [
    ("TITLE", "Bilan annuel 2024"),
    ("HEADING_1", "Introduction"),
    ("NORMAL_TEXT", "Le réseau compte {{ promeneurs_actifs_fin_annee.ensemble }} Promeneurs 🙂."),
    ("BULLET", "un point"),
    ("BULLET", "un sous-point", 1),
    ("BULLET", "un autre point"),
    ("NUMBERED", "premier"),
    ("NORMAL_TEXT", [("gras ", {"bold": True}), ("normal, ", {}), ("et un lien", {"link": "https://pdn.example.org"})]),
    "Fin.",
]


def test_documents_get_returns_google_structure(google_emulator: GoogleEmulator, session: EmulatorSession) -> None:
    google_emulator.add_document(DOC_ID, "Modèle de bilan", BILAN_PARAGRAPHS)

    document = session.get(f"https://docs.googleapis.com/v1/documents/{DOC_ID}").json()

    assert (document["documentId"], document["title"]) == (DOC_ID, "Modèle de bilan")
    assert isinstance(document["revisionId"], str) and document["suggestionsViewMode"] == "SUGGESTIONS_INLINE"
    section, *content = document["body"]["content"]
    assert section["endIndex"] == 1 and "startIndex" not in section and "sectionBreak" in section
    paragraphs = [element["paragraph"] for element in content]
    styles = [p["paragraphStyle"]["namedStyleType"] for p in paragraphs]
    assert styles == ["TITLE", "HEADING_1"] + ["NORMAL_TEXT"] * 7
    assert "headingId" in paragraphs[1]["paragraphStyle"] and "headingId" not in paragraphs[2]["paragraphStyle"]
    # indices are contiguous UTF-16 offsets: the emoji counts for two of the paragraph's 74 characters
    assert [(e["startIndex"], e["endIndex"]) for e in content][:3] == [(1, 19), (19, 32), (32, 32 + 74 + 1)]
    assert all(a["endIndex"] == b["startIndex"] for a, b in zip(content, content[1:]))
    texts = ["".join(run["textRun"]["content"] for run in p["elements"]) for p in paragraphs]
    assert texts[2] == "Le réseau compte {{ promeneurs_actifs_fin_annee.ensemble }} Promeneurs 🙂.\n"
    assert all(p["elements"][-1]["textRun"]["content"].endswith("\n") for p in paragraphs)
    bullets = [p.get("bullet") for p in paragraphs]
    assert bullets[3]["listId"] == bullets[4]["listId"] == bullets[5]["listId"] != bullets[6]["listId"]
    assert "nestingLevel" not in bullets[3] and bullets[4]["nestingLevel"] == 1
    assert bullets[2] is None and bullets[7] is None
    lists = document["lists"]
    assert lists[bullets[3]["listId"]]["listProperties"]["nestingLevels"][0]["glyphSymbol"] == "●"
    assert lists[bullets[6]["listId"]]["listProperties"]["nestingLevels"][0]["glyphType"] == "DECIMAL"
    runs = [run["textRun"] for run in paragraphs[7]["elements"]]
    assert runs == [
        {"content": "gras ", "textStyle": {"bold": True}},
        {"content": "normal, ", "textStyle": {}},
        {"content": "et un lien", "textStyle": {"link": {"url": "https://pdn.example.org"}}},
        {"content": "\n", "textStyle": {}},  # the link does not run over the paragraph end
    ]
    assert google_emulator.count(kind="docs.get", file_id=DOC_ID) == 1


def test_documents_tabs_content_and_errors(google_emulator: GoogleEmulator, session: EmulatorSession) -> None:
    google_emulator.add_document(DOC_ID, "Modèle", ["Texte"])
    google_emulator.add_spreadsheet("1Sheet", "Feuille", {"T": [["a"]]})
    root = "https://docs.googleapis.com/v1/documents"

    tabs = session.get(f"{root}/{DOC_ID}", params={"includeTabsContent": "true"}).json()
    missing = session.get(f"{root}/absent")
    not_a_document = session.get(f"{root}/1Sheet")
    not_a_spreadsheet = session.get(f"https://sheets.googleapis.com/v4/spreadsheets/{DOC_ID}")
    google_emulator.set_shared(DOC_ID, False)
    forbidden = session.get(f"{root}/{DOC_ID}")

    assert "body" not in tabs and tabs["tabs"][0]["documentTab"]["body"]["content"][1]["endIndex"] == 7
    assert missing.status_code == 404 and missing.json()["error"]["status"] == "NOT_FOUND"
    assert not_a_document.status_code == not_a_spreadsheet.status_code == 400
    assert not_a_spreadsheet.json()["error"] == {
        "code": 400,
        "message": "This operation is not supported for this document",
        "status": "FAILED_PRECONDITION",
    }
    assert forbidden.status_code == 403 and forbidden.json()["error"]["status"] == "PERMISSION_DENIED"
    with pytest.raises(ValueError):
        google_emulator.add_document("bad", "x", [("NORMAL_TEXT", "deux\nlignes")])


# =========================================================================================================
# Sheets spreadsheets.batchUpdate and values.batchUpdate
# =========================================================================================================


def string_cells(*texts: str) -> dict:
    """One RowData of string cells."""
    return {"values": [{"userEnteredValue": {"stringValue": text}} for text in texts]}


def template_requests() -> list[dict]:
    """What formatting a coordinator's spreadsheet asks: a lists tab, frozen headers, validation, a protection."""
    return [
        {"addSheet": {"properties": {"title": "Listes", "gridProperties": {"rowCount": 200, "columnCount": 5}}}},
        {
            "updateCells": {
                "start": {"sheetId": 0, "rowIndex": 0, "columnIndex": 5},
                "rows": [string_cells("structure", "date_permanence")],
                "fields": "userEnteredValue",
            }
        },
        {
            "updateSheetProperties": {
                "properties": {"sheetId": 0, "gridProperties": {"frozenRowCount": 1, "rowCount": 5}},
                "fields": "gridProperties.frozenRowCount",  # the mask keeps rowCount as it is
            }
        },
        {
            "setDataValidation": {
                "range": {
                    "sheetId": 0,
                    "startRowIndex": 1,
                    "endRowIndex": 200,
                    "startColumnIndex": 1,
                    "endColumnIndex": 2,
                },
                "rule": {
                    "condition": {"type": "ONE_OF_RANGE", "values": [{"userEnteredValue": "=Listes!$B$2:$B$200"}]},
                    "strict": True,
                    "showCustomUi": True,
                    "inputMessage": "Choisissez un département de la liste",
                },
            }
        },
        {
            "setDataValidation": {
                "range": {
                    "sheetId": 0,
                    "startRowIndex": 1,
                    "endRowIndex": 200,
                    "startColumnIndex": 6,
                    "endColumnIndex": 7,
                },
                "rule": {"condition": {"type": "DATE_IS_VALID"}, "strict": False},
            }
        },
        {
            "addProtectedRange": {
                "protectedRange": {
                    "range": {"sheetId": 0, "startRowIndex": 0, "endRowIndex": 1},
                    "description": "En-têtes",
                    "warningOnly": True,
                    "editors": None,  # gspread sends nulls for what it leaves unset
                }
            }
        },
        {"autoResizeDimensions": {"dimensions": {"sheetId": 0, "dimension": "COLUMNS"}}},
    ]


def test_batch_update_applies_a_template_then_reads_back_through_values_and_grid_data(
    client: gspread.Client, emulator: GoogleEmulator
) -> None:
    spreadsheet = client.open_by_key(SPREADSHEET_ID)
    body = {"requests": template_requests()}

    answer = spreadsheet.batch_update(body)
    lists_id = answer["replies"][0]["addSheet"]["properties"]["sheetId"]
    filled = spreadsheet.batch_update(
        {
            "requests": [
                {
                    "appendCells": {
                        "sheetId": lists_id,
                        "rows": [
                            string_cells("code", "departement"),
                            string_cells("03", "Allier"),
                            string_cells("63", "Puy-de-Dôme"),
                        ],
                        "fields": "userEnteredValue",
                    }
                }
            ]
        }
    )

    replies = answer["replies"]
    assert answer["spreadsheetId"] == SPREADSHEET_ID and len(replies) == 7
    assert replies[0]["addSheet"]["properties"] == {
        "sheetId": lists_id,
        "title": "Listes",
        "index": 3,
        "sheetType": "GRID",
        "gridProperties": {"rowCount": 200, "columnCount": 5},
    }
    protected = replies[5]["addProtectedRange"]["protectedRange"]
    assert isinstance(protected["protectedRangeId"], int) and protected["warningOnly"] is True
    assert [replies[i] for i in (1, 2, 3, 4, 6)] == [{}] * 5
    assert filled["replies"] == [{}]
    assert emulator.batch_updates(SPREADSHEET_ID) == [body, filled_body(lists_id)]
    # the values read path sees the applied cells
    read = spreadsheet.values_batch_get(["Listes", "'Promeneurs'!F1:G1"])["valueRanges"]
    assert read[0]["values"] == [["code", "departement"], ["03", "Allier"], ["63", "Puy-de-Dôme"]]
    assert read[0]["range"] == "Listes!A1:E200"
    assert read[1]["values"] == [["structure", "date_permanence"]]
    # spreadsheets.get exposes properties, protections, and with grid data the validation rules
    meta = spreadsheet.fetch_sheet_metadata(
        params={
            "includeGridData": "true",
            "ranges": ["'Promeneurs'!A1:G2"],
            "fields": "sheets(properties(title,gridProperties),protectedRanges,data(rowData(values(userEnteredValue,formattedValue,dataValidation))))",
        }
    )
    (sheet,) = meta["sheets"]
    assert sheet["properties"] == {
        "title": "Promeneurs",
        "gridProperties": {"rowCount": 1000, "columnCount": 26, "frozenRowCount": 1},
    }
    assert sheet["protectedRanges"] == [
        {
            "protectedRangeId": protected["protectedRangeId"],
            "range": {"sheetId": 0, "startRowIndex": 0, "endRowIndex": 1},
            "description": "En-têtes",
            "warningOnly": True,
            "requestingUserCanEdit": True,
        }
    ]
    header, alice = sheet["data"][0]["rowData"]
    assert header["values"][5] == {"userEnteredValue": {"stringValue": "structure"}, "formattedValue": "structure"}
    assert "dataValidation" not in header["values"][1]
    assert alice["values"][1]["dataValidation"] == {
        "condition": {"type": "ONE_OF_RANGE", "values": [{"userEnteredValue": "=Listes!$B$2:$B$200"}]},
        "strict": True,
        "showCustomUi": True,
        "inputMessage": "Choisissez un département de la liste",
    }
    assert alice["values"][1]["userEnteredValue"] == {"stringValue": "03"}
    assert alice["values"][6] == {"dataValidation": {"condition": {"type": "DATE_IS_VALID"}}}  # strict: false left out
    assert alice["values"][2] == {"userEnteredValue": {"numberValue": 12}, "formattedValue": "12"}
    assert spreadsheet.get_lastUpdateTime() > "2024-03-01T08:30:00.000Z"  # an edit moves Drive's modifiedTime
    assert emulator.count(kind="batchUpdate", spreadsheet_id=SPREADSHEET_ID, status=200) == 2


def filled_body(lists_id: int) -> dict:
    rows = [string_cells("code", "departement"), string_cells("03", "Allier"), string_cells("63", "Puy-de-Dôme")]
    return {"requests": [{"appendCells": {"sheetId": lists_id, "rows": rows, "fields": "userEnteredValue"}}]}


def test_gspread_helpers_freeze_add_worksheets_and_protect_through_batch_update(
    client: gspread.Client, emulator: GoogleEmulator
) -> None:
    spreadsheet = client.open_by_key(SPREADSHEET_ID)
    worksheet = spreadsheet.sheet1

    worksheet.freeze(rows=1, cols=2)
    added = spreadsheet.add_worksheet("Contrôles", rows=50, cols=4)
    protection = worksheet.add_protected_range("A1:E1", editor_users_emails=["coordination@example.org"])
    spreadsheet.batch_update(
        {
            "requests": [
                {
                    "deleteProtectedRange": {
                        "protectedRangeId": protection["replies"][0]["addProtectedRange"]["protectedRange"][
                            "protectedRangeId"
                        ]
                    }
                }
            ]
        }
    )
    reopened = client.open_by_key(SPREADSHEET_ID)

    assert (reopened.sheet1.frozen_row_count, reopened.sheet1.frozen_col_count) == (1, 2)
    assert added.title == "Contrôles" and (added.row_count, added.col_count) == (50, 4)
    assert reopened.worksheet("Contrôles").id == added.id
    assert "protectedRanges" not in reopened.fetch_sheet_metadata()["sheets"][0]


@pytest.mark.parametrize(
    ("requests_", "status", "message"),
    [
        (
            [{"addChartz": {}}],
            400,
            "Invalid JSON payload received. Unknown name \"addChartz\" at 'requests[1]': Cannot find field.",
        ),
        (
            [{"addSheet": {"properties": {"title": "Promeneurs"}}}],
            400,
            'Invalid requests[1].addSheet: A sheet with the name "Promeneurs" already exists. Please enter another name.',
        ),
        (
            [
                {
                    "setDataValidation": {
                        "range": {"sheetId": 0},
                        "rule": {"condition": {"type": "NUMBER_BETWEEN", "values": [{"userEnteredValue": "1"}]}},
                    }
                }
            ],
            400,
            "Invalid requests[1].setDataValidation: ConditionType 'NUMBER_BETWEEN' requires between 2 and 2 ConditionValue, but 1 were supplied.",
        ),
        (
            [
                {
                    "setDataValidation": {
                        "range": {"sheetId": 0},
                        "rule": {
                            "condition": {"type": "ONE_OF_RANGE", "values": [{"userEnteredValue": "=Absent!A:A"}]}
                        },
                    }
                }
            ],
            400,
            "Invalid requests[1].setDataValidation: Invalid range in ONE_OF_RANGE rule: =Absent!A:A",
        ),
        (
            [{"updateCells": {"start": {"sheetId": 999}, "rows": [], "fields": "userEnteredValue"}}],
            400,
            "Invalid requests[1].updateCells: No grid with id: 999",
        ),
        (
            [{"deleteProtectedRange": {"protectedRangeId": 42}}],
            400,
            "Invalid requests[1].deleteProtectedRange: No protected range with ID: 42",
        ),
        ([{"addChart": {"chart": {}}}], 501, "The emulator does not implement requests[1].addChart."),
        ([], 400, "Must specify at least one request."),
    ],
)
def test_refused_batch_updates_change_nothing(
    emulator: GoogleEmulator, requests_: list, status: int, message: str
) -> None:
    url = f"{emulator.url}/v4/spreadsheets/{SPREADSHEET_ID}:batchUpdate"
    before = emulator.to_document()
    body = (
        {"requests": [{"addSheet": {"properties": {"title": "Nouvelle"}}}, *requests_]}
        if requests_
        else {"requests": []}
    )

    response = requests.post(url, json=body, timeout=5)

    assert response.status_code == status
    assert response.json()["error"]["message"] == message
    assert emulator.to_document() == before  # the valid addSheet before the bad request was not applied either
    assert emulator.batch_updates(SPREADSHEET_ID) == []
    assert emulator.requests[-1].body == body and emulator.requests[-1].status == status


def test_update_cells_over_a_range_clears_what_rows_leave_out_and_repeat_cell_formats(
    client: gspread.Client, emulator: GoogleEmulator
) -> None:
    spreadsheet = client.open_by_key(OTHER_ID)
    header = {"userEnteredFormat": {"textFormat": {"bold": True}}}

    spreadsheet.batch_update(
        {
            "requests": [
                {
                    "updateCells": {
                        "range": {
                            "sheetId": 0,
                            "startRowIndex": 0,
                            "endRowIndex": 3,
                            "startColumnIndex": 0,
                            "endColumnIndex": 2,
                        },
                        "rows": [string_cells("id", "nom"), {"values": [{"userEnteredValue": {"numberValue": 7}}]}],
                        "fields": "userEnteredValue",
                    }
                },
                {
                    "repeatCell": {
                        "range": {"sheetId": 0, "endRowIndex": 1},
                        "cell": header,
                        "fields": "userEnteredFormat.textFormat.bold",
                    }
                },
                {"updateSheetProperties": {"properties": {"sheetId": 0, "title": "Activités 2024"}, "fields": "title"}},
            ]
        }
    )

    worksheet = client.open_by_key(OTHER_ID).sheet1
    assert worksheet.title == "Activités 2024"
    assert spreadsheet.values_get("'Activités 2024'")["values"] == [["id", "nom"], ["7"]]
    grid = spreadsheet.fetch_sheet_metadata(
        params={
            "includeGridData": "true",
            "ranges": ["'Activités 2024'!A1:A1"],
            "fields": "sheets/data/rowData/values/userEnteredFormat",
        }
    )
    assert grid["sheets"][0]["data"][0]["rowData"] == [{"values": [header]}]


def test_values_batch_update_writes_raw_and_user_entered_values(
    client: gspread.Client, emulator: GoogleEmulator
) -> None:
    spreadsheet = client.open_by_key(OTHER_ID)

    raw = spreadsheet.values_batch_update(
        {"valueInputOption": "RAW", "data": [{"range": "'Feuille 1'!A1", "values": [["03", "3,5"], [None, True]]}]}
    )
    typed = spreadsheet.values_batch_update(
        {
            "valueInputOption": "USER_ENTERED",
            "data": [
                {"range": "'Feuille 1'!C1:F1", "values": [["03", "3,5", "05/01/2024", "'007"]]},
                {"range": "'Feuille 1'!A3", "majorDimension": "COLUMNS", "values": [["VRAI", ""]]},
            ],
            "includeValuesInResponse": True,
        }
    )
    values = spreadsheet.values_get("'Feuille 1'", params={"valueRenderOption": "UNFORMATTED_VALUE"})["values"]

    assert raw["totalUpdatedCells"] == 3 and raw["responses"][0]["updatedRange"] == "'Feuille 1'!A1:B2"
    assert typed["totalUpdatedSheets"] == 1 and typed["responses"][0]["updatedCells"] == 4
    assert typed["responses"][0]["updatedData"]["values"] == [["3", "3,5", "05/01/2024", "007"]]
    assert values == [["03", "3,5", 3, 3.5, 45296, "007"], [1, True], [True]]  # None kept A2, "" cleared A4
    assert len(emulator.values_batch_updates(OTHER_ID)) == 2
    missing_option = requests.post(
        f"{emulator.url}/v4/spreadsheets/{OTHER_ID}/values:batchUpdate", json={"data": []}, timeout=5
    )
    too_wide = requests.post(
        f"{emulator.url}/v4/spreadsheets/{OTHER_ID}/values:batchUpdate",
        json={"valueInputOption": "RAW", "data": [{"range": "'Feuille 1'!A1:B1", "values": [[1, 2, 3]]}]},
        timeout=5,
    )
    assert missing_option.status_code == 400
    assert missing_option.json()["error"]["message"] == "'valueInputOption' is required but not specified"
    assert too_wide.json()["error"]["message"] == (
        "Requested writing within range ['Feuille 1'!A1:B1], but tried writing to column [C]"
    )


def test_a_spreadsheet_shared_read_only_refuses_writes(emulator: GoogleEmulator) -> None:
    emulator.set_shared(SPREADSHEET_ID, "reader")
    url = f"{emulator.url}/v4/spreadsheets/{SPREADSHEET_ID}"

    read = requests.get(url, timeout=5)
    write = requests.post(url + ":batchUpdate", json={"requests": template_requests()}, timeout=5)

    assert read.status_code == 200
    assert write.status_code == 403 and write.json()["error"]["status"] == "PERMISSION_DENIED"


# =========================================================================================================
# OAuth: service-account tokens and scopes
# =========================================================================================================

SCOPE = "https://www.googleapis.com/auth/"
SHEETS_READ_SCOPES = (SCOPE + "spreadsheets.readonly", SCOPE + "drive.metadata.readonly")
SERVICE_ACCOUNT = "pdn-sync@pdn-test.iam.gserviceaccount.com"


def service_account(emulator: GoogleEmulator, *scopes: str, tmp_path: Path | None = None) -> Credentials:
    """Real google-auth service-account credentials whose key (a fresh RSA key) sends them to the emulator."""
    info = emulator.service_account_info(SERVICE_ACCOUNT)
    if tmp_path is None:
        return Credentials.from_service_account_info(info, scopes=list(scopes))
    key_file = tmp_path / "service-account.json"
    key_file.write_text(json.dumps(info), encoding="utf-8")
    return Credentials.from_service_account_file(str(key_file), scopes=list(scopes))


def test_a_service_account_key_file_gets_a_token_and_reads_through_gspread(
    emulator: GoogleEmulator, tmp_path: Path
) -> None:
    credentials = service_account(emulator, *SHEETS_READ_SCOPES, tmp_path=tmp_path)
    client = gspread.Client(auth=credentials, session=EmulatorSession(emulator.url, credentials))

    rows = client.open_by_key(SPREADSHEET_ID).worksheet("Tab with spaces").get_all_values()
    modified = client.get_file_drive_metadata(OTHER_ID)["modifiedTime"]

    assert rows == [["a", "b"], ["1", "2"]] and modified == "2020-02-01T10:00:00.000Z"
    assert emulator.granted_scopes() == frozenset(SHEETS_READ_SCOPES)  # least privilege, as asked
    (token,) = emulator.issued_tokens
    assert token.client_email == SERVICE_ACCOUNT and credentials.token == token.access_token
    assert token.claims["aud"] == "https://oauth2.googleapis.com/token"
    grant = [r for r in emulator.requests if r.kind == "token"]
    assert len(grant) == 1 and grant[0].status == 200
    assert grant[0].body == {"grant_type": "urn:ietf:params:oauth:grant-type:jwt-bearer", "assertion": "<JWT>"}
    assert {r.status for r in emulator.requests} == {200}


def test_a_revoked_key_makes_google_auth_raise_refresh_error(emulator: GoogleEmulator) -> None:
    emulator.revoke_key(SERVICE_ACCOUNT)
    credentials = service_account(emulator, *SHEETS_READ_SCOPES)

    with pytest.raises(RefreshError, match="invalid_grant") as refused:
        EmulatorSession(emulator.url, credentials).get(
            f"https://sheets.googleapis.com/v4/spreadsheets/{SPREADSHEET_ID}"
        )

    assert "Invalid JWT Signature." in str(refused.value)
    assert emulator.count(kind="token", status=400) == 1 and emulator.count(kind="metadata") == 0
    assert emulator.issued_tokens == []
    emulator.restore_key(SERVICE_ACCOUNT)
    credentials.refresh(google.auth.transport.requests.Request())
    assert credentials.valid


@pytest.mark.parametrize(
    ("url", "method", "allowed", "refused"),
    [
        (f"/v4/spreadsheets/{SPREADSHEET_ID}/values/A1", "GET", "spreadsheets.readonly", "drive.metadata.readonly"),
        (f"/v4/spreadsheets/{SPREADSHEET_ID}:batchUpdate", "POST", "spreadsheets", "spreadsheets.readonly"),
        (f"/v4/spreadsheets/{SPREADSHEET_ID}/values:batchUpdate", "POST", "spreadsheets", "spreadsheets.readonly"),
        (f"/drive/v3/files/{SPREADSHEET_ID}", "GET", "drive.metadata.readonly", "spreadsheets.readonly"),
        (f"/v1/forms/{FORM_ID}", "GET", "forms.body.readonly", "forms.responses.readonly"),
        (f"/v1/forms/{FORM_ID}/responses", "GET", "forms.responses.readonly", "forms.body.readonly"),
        (f"/v1/documents/{DOC_ID}", "GET", "documents.readonly", "drive.metadata.readonly"),
    ],
)
def test_each_method_demands_its_scopes_like_google(
    emulator: GoogleEmulator, url: str, method: str, allowed: str, refused: str
) -> None:
    emulator.add_form(FORM_ID, "Q", [("Nom", "text")])
    emulator.add_document(DOC_ID, "Modèle", ["Texte"])
    body = {"valueInputOption": "RAW", "data": []} if "values:" in url else {"requests": [{"autoResizeDimensions": {}}]}
    payload = {"json": body} if method == "POST" else {}

    granted = EmulatorSession(emulator.url, service_account(emulator, SCOPE + allowed))
    lacking = EmulatorSession(emulator.url, service_account(emulator, SCOPE + refused))
    ok = granted.request(method, emulator.url + url, **payload)
    denied = lacking.request(method, emulator.url + url, **payload)

    assert ok.status_code == 200, ok.text
    assert denied.status_code == 403
    error = denied.json()["error"]
    assert (error["code"], error["message"], error["status"]) == (
        403,
        "Request had insufficient authentication scopes.",
        "PERMISSION_DENIED",
    )
    assert error["details"][0]["reason"] == "ACCESS_TOKEN_SCOPE_INSUFFICIENT"
    assert 'error="insufficient_scope"' in denied.headers["WWW-Authenticate"]
    if url.startswith("/drive/"):
        assert error["errors"][0]["reason"] == "insufficientPermissions"  # Drive keeps its errors list
    assert emulator.granted_scopes() == frozenset({SCOPE + allowed, SCOPE + refused})


def test_unknown_and_expired_tokens_are_unauthenticated_and_google_auth_refreshes(emulator: GoogleEmulator) -> None:
    url = f"{emulator.url}/v4/spreadsheets/{SPREADSHEET_ID}"
    made_up = requests.get(url, headers={"Authorization": "Bearer ya29.not-from-here"}, timeout=5)
    session = EmulatorSession(emulator.url, service_account(emulator, *SHEETS_READ_SCOPES))
    first = session.get(url)

    emulator.expire_tokens()
    after_expiry = session.get(url)  # AuthorizedSession gets a 401, refreshes, and retries once

    assert made_up.status_code == 401 and made_up.json()["error"]["status"] == "UNAUTHENTICATED"
    assert first.status_code == after_expiry.status_code == 200
    assert emulator.count(kind="token") == 2 and emulator.count(kind="metadata", status=401) == 2
    assert len({t.access_token for t in emulator.issued_tokens}) == 2


def test_the_token_endpoint_refuses_malformed_grants_and_fails_only_when_asked(emulator: GoogleEmulator) -> None:
    emulator.fail_always(503)  # every API call fails, the token endpoint does not

    password = requests.post(emulator.token_uri, data={"grant_type": "password"}, timeout=5)
    garbage = requests.post(
        emulator.token_uri,
        data={"grant_type": "urn:ietf:params:oauth:grant-type:jwt-bearer", "assertion": "x.y"},
        timeout=5,
    )
    emulator.fail_next(500, kind="token")
    injected = requests.post(emulator.token_uri, data={"grant_type": "password"}, timeout=5)

    assert password.status_code == 400 and password.json()["error"] == "unsupported_grant_type"
    assert garbage.status_code == 400 and garbage.json()["error"] == "invalid_grant"
    assert injected.status_code == 500 and injected.json()["error"] == "internal_failure"
    assert requests.get(f"{emulator.url}/v4/spreadsheets/{SPREADSHEET_ID}", timeout=5).status_code == 503


def test_user_entered_codes_stay_text_in_cells_formatted_as_text(
    client: gspread.Client, emulator: GoogleEmulator
) -> None:
    spreadsheet = client.open_by_key(SPREADSHEET_ID)
    as_text = {"userEnteredFormat": {"numberFormat": {"type": "TEXT"}}}
    spreadsheet.batch_update(
        {
            "requests": [
                {
                    "repeatCell": {
                        "range": {"sheetId": 0, "startColumnIndex": 1, "endColumnIndex": 2},
                        "cell": as_text,
                        "fields": "userEnteredFormat.numberFormat",
                    }
                }
            ]
        }
    )

    spreadsheet.values_batch_update(
        {"valueInputOption": "USER_ENTERED", "data": [{"range": "Promeneurs!A7:B7", "values": [["03", "03"]]}]}
    )
    grid = spreadsheet.fetch_sheet_metadata(
        params={"includeGridData": "true", "ranges": ["Promeneurs!A2:E2", "Promeneurs!A7:B7"]}
    )

    alice, typed = grid["sheets"][0]["data"]
    assert typed["startRow"] == 6
    assert [cell["userEnteredValue"] for cell in typed["rowData"][0]["values"]] == [
        {"numberValue": 3},
        {"stringValue": "03"},
    ]
    assert alice["rowData"][0]["values"][4]["userEnteredFormat"]["numberFormat"]["type"] == "DATE"
    assert alice["rowData"][0]["values"][4]["effectiveValue"] == {"numberValue": 45296}
    assert alice["rowData"][0]["values"][4]["formattedValue"] == "05/01/2024"
    assert len(typed["rowMetadata"]) == 1 and len(typed["columnMetadata"]) == 2
