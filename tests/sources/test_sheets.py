"""Google Sheets extraction through gspread's real HTTP path, against the local Sheets emulator."""

import time

import pytest

from flows.errors import InputError
from flows.pipeline.land import land_sync
from flows.settings import load_settings
from flows.sources.config import load_source_config
from flows.sources.google import SheetsUnavailable
from flows.sources.sheets import extract_google
from tests.conftest import QUESTIONNAIRE_2020_KEY, QUESTIONNAIRE_KEY, SUIVI_KEY, sample_tab


def extract(full=False):
    """Snapshots, reused snapshot ids and requests of one read of the configured Google sources."""
    settings = load_settings()
    read = extract_google(load_source_config(settings.sources_file), settings, full)
    return read.snapshots, read.reused, read.requests


def by_tab(snapshots):
    return {snapshot.tab: snapshot for snapshot in snapshots}


def test_sample_is_read_with_one_drive_call_one_metadata_call_and_one_batch_get_per_spreadsheet(sheets_source):
    snapshots, reused, requests = extract()
    assert sorted((s.spreadsheet.title, s.tab) for s in snapshots) == [
        ("Questionnaire 2019", "Réponses au formulaire 1"),
        ("Questionnaire 2020", "Réponses au formulaire 1"),
        ("Suivi", "Activités"),
        ("Suivi", "Promeneurs"),
    ]
    assert reused == []
    assert requests == 3 * 3
    # Only the tab titles say whether a tab was added since (Listes, « Activités 2020 »): one metadata call each.
    for key in (SUIVI_KEY, QUESTIONNAIRE_KEY, QUESTIONNAIRE_2020_KEY):
        for kind in ("drive", "metadata", "batchGet"):
            assert sheets_source.count(kind=kind, spreadsheet_id=key) == 1


LISTES_ROWS = [["Liste", "Valeur", "Variantes acceptées"], ["Type de structure", "Tiers-lieu", "Tiers lieux"]]


def test_the_optional_listes_tab_is_read_with_the_others_once_known(sheets_source):
    settings = load_settings()
    sheets_source.update_tab(SUIVI_KEY, "Listes", LISTES_ROWS)
    snapshots, _, _ = extract()
    listes = by_tab(snapshots)["Listes"]
    assert listes.contract.table_name == "listes"
    assert listes.cells.iloc[0].tolist() == LISTES_ROWS[1]
    land_sync(settings.raw_db, "s1", "sheets", ("03", "63"), snapshots, [], b"k")
    sheets_source.reset_log()
    sheets_source.update_tab(SUIVI_KEY, "Listes", LISTES_ROWS + [["Profil", "Conseiller numérique"]],
                             modified_time="2020-03-01T09:00:00.000Z")
    snapshots, _, _ = extract()
    assert len(by_tab(snapshots)["Listes"].cells) == 2
    assert sheets_source.count(spreadsheet_id=SUIVI_KEY) == 3  # Drive, tab titles, then one batchGet of the three tabs


def test_values_arrive_unformatted_with_serial_dates_and_codes_as_text(sheets_source):
    promeneurs = by_tab(extract()[0])["Promeneurs"]
    column = {name: pos for name, pos in promeneurs.mapping.contract_positions.items()}
    departements = set(promeneurs.cells[column["departement"]])
    dates = promeneurs.cells[column["date_signature_charte"]]
    assert "3" in departements  # a code typed as a number arrives as 3: staging turns it into 03
    assert "03" in departements
    assert dates[dates != ""].str.fullmatch(r"\d+(\.\d+)?").all()  # serial numbers, locale-independent


def test_two_429_then_success_is_retried_and_counted(sheets_source):
    sheets_source.fail_next(429, times=2, spreadsheet_id=SUIVI_KEY)
    snapshots, _, requests = extract()
    assert len(snapshots) == 4
    assert requests == 9 + 2  # a clean read of the sample, and the two refused calls
    assert sheets_source.count(status=429) == 2


def test_server_errors_forever_give_up_within_the_time_limit(sheets_source):
    sheets_source.fail_always(503)
    started = time.monotonic()
    with pytest.raises(SheetsUnavailable, match="ne répond pas correctement"):
        extract()
    assert time.monotonic() - started < 30  # PDN_SHEETS_RETRY_TOTAL=2 in the fixture, against 120 s by default
    assert sheets_source.count(status=503) >= 3


def test_permission_denied_fails_at_once_naming_the_sheet_and_how_to_share_it(sheets_source):
    sheets_source.fail_always(403, spreadsheet_id=QUESTIONNAIRE_KEY)
    with pytest.raises(InputError) as caught:
        extract()
    message = str(caught.value)
    assert "Questionnaire 2019" in message and QUESTIONNAIRE_KEY in message and "Partager" in message
    assert sheets_source.count(status=403) == 1  # no retry


def test_unshared_spreadsheet_is_reported_as_such(sheets_source):
    sheets_source.set_shared(SUIVI_KEY, False)
    with pytest.raises(InputError, match="« Suivi ».*n'est pas partagé"):
        extract()


def test_unchanged_spreadsheet_reuses_its_last_snapshot_without_reading_values(sheets_source):
    settings = load_settings()
    snapshots, _, _ = extract()
    landed = land_sync(settings.raw_db, "s1", "sheets", ("03", "63"), snapshots, [], b"k")
    sheets_source.reset_log()
    sheets_source.set_modified_time(QUESTIONNAIRE_KEY, "2020-03-01T09:00:00.000Z")
    fresh, reused, requests = extract()
    assert [(s.spreadsheet.title, s.tab) for s in fresh] == [("Questionnaire 2019", "Réponses au formulaire 1")]
    assert sorted(reused) == sorted(s.snapshot_id for s in landed if s.spreadsheet_title != "Questionnaire 2019")
    assert sheets_source.count(kind="batchGet", spreadsheet_id=SUIVI_KEY) == 0
    assert requests == 3 + 2  # three Drive calls, then the changed spreadsheet's tab titles and values
    _, reused_full, _ = extract(full=True)
    assert reused_full == []


def test_renamed_tab_is_found_through_the_metadata_call(sheets_source):
    settings = load_settings()
    sheets_source.update_tab(SUIVI_KEY, "Listes", LISTES_ROWS)
    land_sync(settings.raw_db, "s1", "sheets", ("03", "63"), extract()[0], [], b"k")
    sheets_source.add_spreadsheet(
        SUIVI_KEY,
        "Suivi",
        {"promeneurs ": sample_tab("Suivi - Promeneurs.csv"), "ACTIVITES": sample_tab("Suivi - Activités.csv"),
         "Listes": LISTES_ROWS},
        modified_time="2020-03-01T09:00:00.000Z",
    )
    sheets_source.reset_log()
    snapshots, _, requests = extract()
    assert {"promeneurs ", "ACTIVITES", "Listes"} == set(by_tab(snapshots))
    assert sheets_source.count(kind="metadata", spreadsheet_id=SUIVI_KEY) == 1
    assert requests == 3 + 2  # Suivi's drive, metadata and batchGet; the unchanged questionnaires' Drive calls


def activites_2020_rows() -> list[list]:
    """The sample's Activités header and two individual meetings of 2020 in 03."""
    header = sample_tab("Suivi - Activités.csv")[0]
    rows = []
    for day in (3, 10):
        row = [""] * len(header)
        for label, value in (("Date", f"{day:02d}/03/2020"), ("Département", "03"),
                             ("Type d’action", "Rencontre individuelle"), ("Participants", 1)):
            row[header.index(label)] = value
        rows.append(row)
    return [header, *rows]


def test_a_tab_continuing_a_table_is_read_and_an_unrelated_one_reported_within_the_same_requests(sheets_source):
    rows = activites_2020_rows()
    sheets_source.update_tab(SUIVI_KEY, "Activités 2020", rows)
    sheets_source.update_tab(SUIVI_KEY, "Notes", [["Note"], ["à relire"]])
    settings = load_settings()
    read = extract_google(load_source_config(settings.sources_file), settings, False)
    continued = by_tab(read.snapshots)["Activités 2020"]
    assert continued.contract.table_name == "activites"
    assert len(continued.cells) == len(rows) - 1 and continued.first_row_number == 2
    assert [(item.kind, item.spreadsheet, item.name, item.position) for item in read.unread] == [
        ("onglet", "Suivi", "Notes", 4)
    ]
    assert read.requests == 3 * 3
    assert sheets_source.count(kind="batchGet", spreadsheet_id=SUIVI_KEY) == 1


def test_the_responses_tab_of_a_relinked_form_is_read_with_the_first(sheets_source):
    rows = sample_tab("Questionnaire 2019 - Réponses au formulaire 1.csv")
    sheets_source.add_spreadsheet(
        QUESTIONNAIRE_KEY, "Questionnaire 2019",
        {"Réponses au formulaire 1": rows[:10], "Réponses au formulaire 2": [rows[0], *rows[10:]]},
    )
    tabs = {s.tab: s for s in extract()[0] if s.spreadsheet.title == "Questionnaire 2019"}
    assert set(tabs) == {"Réponses au formulaire 1", "Réponses au formulaire 2"}
    responses = sum(1 for row in rows[1:] if any(cell not in ("", None) for cell in row))
    assert sum(int((tab.cells != "").any(axis=1).sum()) for tab in tabs.values()) == responses
    assert all(tab.contract.table_name == "reponses" for tab in tabs.values())


def test_a_tab_named_after_a_person_is_reported_by_its_position(sheets_source):
    from flows.screen import KnownNames

    sheets_source.update_tab(SUIVI_KEY, "Léa Bertrand", [["Note"], ["suivi"]])
    settings = load_settings()
    read = extract_google(load_source_config(settings.sources_file), settings, False)
    entry = read.unread[0].as_report(KnownNames.from_pairs([("Léa", "Bertrand")]))
    assert entry == {"type": "onglet", "tableur": "Suivi", "nom": "onglet n°3", "motif": read.unread[0].reason}


def test_header_renamed_within_tolerance_and_moved_is_still_matched(sheets_source):
    rows = sample_tab("Suivi - Activités.csv")
    header = rows[0]
    position = next(i for i, h in enumerate(header) if "action" in h.lower())
    header[position] = "  TYPE D'ACTION "
    rows = [[row[position], *row[:position], *row[position + 1 :]] if row else row for row in rows]
    sheets_source.update_tab(SUIVI_KEY, "Activités", rows)
    activites = by_tab(extract()[0])["Activités"]
    assert activites.mapping.contract_positions["type_action"] == 0


def test_missing_required_column_names_spreadsheet_tab_and_column(sheets_source):
    rows = sample_tab("Suivi - Promeneurs.csv")
    drop = next(i for i, h in enumerate(rows[0]) if "signature" in h.lower())
    sheets_source.update_tab(SUIVI_KEY, "Promeneurs", [[c for i, c in enumerate(r) if i != drop] for r in rows])
    with pytest.raises(InputError) as caught:
        extract()
    assert str(caught.value) == (
        "Tableur « Suivi », onglet « Promeneurs » : colonne(s) obligatoire(s) introuvable(s) : "
        "« Date de signature de la charte »."
    )


# --- The real service account: read-only scopes, key from a file or a Prefect Secret block -----------

def fake_service_account_key() -> dict:
    """A syntactically valid service-account key made on the spot (it opens nothing anywhere)."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = private.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    return {
        "type": "service_account",
        "project_id": "pdn-test",
        "private_key_id": "0" * 40,
        "private_key": pem,
        "client_email": "pdn-sync@pdn-test.iam.gserviceaccount.com",
        "client_id": "1",
        "token_uri": "https://oauth2.googleapis.com/token",
    }


def test_key_file_gives_read_only_service_account_credentials(warehouse, tmp_path, monkeypatch):
    import json

    from flows.sources.google import READONLY_SCOPES, open_client

    key_file = tmp_path / "service-account.json"
    key_file.write_text(json.dumps(fake_service_account_key()), encoding="utf-8")
    monkeypatch.setenv("GOOGLE_APPLICATION_CREDENTIALS", str(key_file))
    auth = open_client(load_settings()).http_client.session.credentials
    assert auth.service_account_email == "pdn-sync@pdn-test.iam.gserviceaccount.com"
    assert set(auth.scopes) == set(READONLY_SCOPES)
    assert all(scope.endswith(".readonly") for scope in auth.scopes)


def test_key_from_a_prefect_secret_block(prefect_harness, warehouse, monkeypatch):
    import json

    from prefect.blocks.system import Secret

    from flows.sources.google import open_client

    Secret(value=json.dumps(fake_service_account_key())).save("pdn-google-test", overwrite=True)
    monkeypatch.setenv("PDN_GOOGLE_SECRET_BLOCK", "pdn-google-test")
    auth = open_client(load_settings()).http_client.session.credentials
    assert auth.service_account_email == "pdn-sync@pdn-test.iam.gserviceaccount.com"
