"""The Sheets emulator answers like the Google Sheets v4 / Drive v3 read APIs, over raw HTTP and through gspread."""

from __future__ import annotations

import json
from datetime import date, datetime, timezone
from pathlib import Path
from urllib.parse import quote

import google.auth.credentials
import gspread
import gspread.http_client
import pytest
import requests

from flows.sources.google import EmulatorSession
from tests.sheets_emulator import (  # noqa: F401  (sheets_emulator is a fixture)
    SheetsEmulator,
    date_cell,
    date_serial,
    sheets_emulator,
)

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
    return gspread.Client(
        auth=google.auth.credentials.AnonymousCredentials(), session=EmulatorSession(emulator.url)
    )


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

