"""The real flow reading Google Sheets through gspread, against the local Sheets emulator."""

from datetime import datetime

import duckdb
import pytest

from flows.cli import main
from flows.pipeline.sync import nightly_sync
from flows.settings import load_settings
from flows.sources.config import parse_source_config
from flows.sources.google import PacedRetryingHTTPClient
from flows.sources.sheets import extract_google
from tests.conftest import QUESTIONNAIRE_KEY, SHEETS_CONFIG, SUIVI_KEY, sample_tab, serve_sample, use_warehouse
from tests.google_emulator import SheetsEmulator


def table_contents(path) -> dict[str, list[tuple]]:
    """Every published table's rows, sorted, except the run's own metadata."""
    with duckdb.connect(str(path), read_only=True) as con:
        tables = con.execute(
            "select table_schema || '.' || table_name from information_schema.tables "
            "where table_name <> 'synchronisation' order by 1"
        ).fetchall()
        return {name: sorted(con.execute(f"select * from {name}").fetchall(), key=repr) for (name,) in tables}


@pytest.fixture(scope="module")
def sheets_runs(prefect_harness, tmp_path_factory):
    """Two syncs from the emulator serving the sample: the second with nothing changed."""
    root = tmp_path_factory.mktemp("sheets")
    config = root / "sources.toml"
    config.write_text(SHEETS_CONFIG, encoding="utf-8")
    with SheetsEmulator() as emulator, pytest.MonkeyPatch.context() as patch:
        serve_sample(emulator)
        use_warehouse(patch, root)
        patch.setenv("PDN_SOURCES", str(config))
        patch.setenv("PDN_SHEETS_API_URL", emulator.url)
        first = nightly_sync()
        after_first = table_contents(root / "warehouse" / "pdn.duckdb")
        reads_first = emulator.count(kind="batchGet")
        emulator.reset_log()
        second = nightly_sync()
        reads_second = emulator.count(kind="batchGet")
    return root, first, second, after_first, reads_first, reads_second


def test_sheets_source_publishes_the_same_warehouse_as_the_files_source(sheets_runs, published_sample):
    root, first, *_ = sheets_runs
    assert first["statut"] == "publie"
    from_sheets = table_contents(root / "warehouse" / "pdn.duckdb")
    from_files = table_contents(published_sample.published_db)
    assert from_sheets.keys() == from_files.keys()
    for table in from_files:
        if table != "bilan.effectifs_mensuels":  # runs to the sync's month, which may differ by a day
            assert from_sheets[table] == from_files[table], table


def test_run_report_counts_requests_drive_tab_titles_and_one_batch_get_per_changed_spreadsheet(sheets_runs):
    _, first, second, _, reads_first, reads_second = sheets_runs
    # Per changed spreadsheet: Drive, its tab titles (a tab added since, « Activités 2020 », « Réponses au
    # formulaire 2 », is read too) and one batchGet: 3 × 3.
    assert first["requetes_sheets"] == 9 and reads_first == 3
    assert second["requetes_sheets"] == 3 and reads_second == 0  # unchanged: only the Drive metadata calls


def test_resync_with_unchanged_sources_adds_no_duplicate_rows(sheets_runs):
    root, _, second, after_first, *_ = sheets_runs
    assert second["statut"] == "publie"
    assert table_contents(root / "warehouse" / "pdn.duckdb") == after_first
    with duckdb.connect(str(root / "private" / "raw.duckdb"), read_only=True) as con:
        assert con.execute("select count(distinct sync_id) from sync_snapshots").fetchone()[0] == 2
        # The four tabs and the bundled lists: reused, not landed again.
        assert con.execute("select count(*) from snapshots").fetchone()[0] == 4 + 1


def test_form_answers_are_parsed_against_options_and_deduplicated(sheets_runs):
    root, *_ = sheets_runs
    with duckdb.connect(str(root / "private" / "build" / "work.duckdb"), read_only=True) as con:
        publications = con.execute(
            "select count(*) from int_reponses_choix_unpivoted where question = 'publications' "
            "and option = 'Infos de prévention (santé, conduites à risques, etc.)'"
        ).fetchone()[0]
        autres = {r[0] for r in con.execute(
            "select texte_autre from int_reponses_choix_unpivoted where texte_autre is not null"
        ).fetchall()}
        midnight = con.execute(
            "select horodateur from int_reponses_validated "
            "where numero_ligne = 23 and spreadsheet_title = 'Questionnaire 2019'"
        ).fetchone()[0]
    assert publications > 0  # an option containing ", " was recognised whole
    assert "LinkedIn" in autres  # the "Autre" free text, verbatim
    typed = sample_tab("Questionnaire 2019 - Réponses au formulaire 1.csv")[22][0]["formatted"]
    assert typed.startswith("01/01/2020 00:30")
    assert midnight == datetime.strptime(typed, "%d/%m/%Y %H:%M:%S")  # the sheet's own time zone, not UTC


def test_google_failing_forever_exits_2_within_the_time_limit_and_publishes_nothing(
    published_sample, sheets_emulator, tmp_path, monkeypatch
):
    root = published_sample.copy_to(tmp_path / "copy")
    use_warehouse(monkeypatch, root)
    before = (root / "warehouse" / "pdn.duckdb").read_bytes()
    serve_sample(sheets_emulator)
    sheets_emulator.fail_always(500)
    config = tmp_path / "sources.toml"
    config.write_text(SHEETS_CONFIG, encoding="utf-8")
    monkeypatch.setenv("PDN_SOURCES", str(config))
    monkeypatch.setenv("PDN_SHEETS_API_URL", sheets_emulator.url)
    monkeypatch.setenv("PDN_SHEETS_RETRY_BASE", "0.05")
    monkeypatch.setenv("PDN_SHEETS_RETRY_TOTAL", "3")
    assert main(["sync"]) == 2
    assert (root / "warehouse" / "pdn.duckdb").read_bytes() == before
    assert sheets_emulator.count(status=500) >= 2


def test_reads_are_paced_under_the_quota_so_google_never_answers_429(warehouse, monkeypatch):
    fake_time = [0.0]
    monkeypatch.setattr(PacedRetryingHTTPClient, "clock", staticmethod(lambda: fake_time[0]))
    monkeypatch.setattr(PacedRetryingHTTPClient, "sleep", staticmethod(lambda s: fake_time.__setitem__(0, fake_time[0] + s)))
    monkeypatch.setenv("PDN_SHEETS_QUOTA", "10")
    departments = [f"{n:02d}" for n in range(1, 13)]
    with SheetsEmulator(quota_per_minute=10, clock=lambda: fake_time[0]) as emulator:
        tabs = {"Promeneurs": [["Nom", "Prénom", "E-mail", "Département", "Commune", "Structure", "Type de structure",
                                "Profil", "Date de signature de la charte", "Date de sortie"]],
                "Activités": [["Date", "Département", "Type d'action", "Intitulé", "Commune", "Public", "Participants",
                               "Durée (jours)", "Commentaire"]]}
        for code in departments:
            emulator.add_spreadsheet(f"1Suivi-departement-{code}", f"Suivi {code}", tabs)
        monkeypatch.setenv("PDN_SHEETS_API_URL", emulator.url)
        config = parse_source_config(
            {"departements": departments,
             "suivi": [{"titre": f"Suivi {c}", "cle": f"1Suivi-departement-{c}"} for c in departments]},
            "test",
        )
        read = extract_google(config, load_settings(), full=False)
        snapshots, requests = read.snapshots, read.requests
        # Drive, tab titles (no Listes tab: has it been added?) and one batchGet per spreadsheet.
        assert len(snapshots) == 24 and requests == 3 * 12
        assert emulator.count(status=429) == 0 and emulator.throttled_count == 0
        assert fake_time[0] >= 60  # the client waited for the window instead of being throttled


def test_flow_survives_429s_and_a_renamed_header_and_publishes_the_same_figures(
    published_sample, sheets_source, warehouse
):
    rows = sample_tab("Suivi - Activités.csv")
    rows[0] = [f"  {label.upper()} " for label in rows[0]]  # every header renamed within the tolerances
    sheets_source.update_tab(SUIVI_KEY, "Activités", rows)
    sheets_source.fail_next(429, times=2, spreadsheet_id=SUIVI_KEY)
    report = nightly_sync()
    assert report["statut"] == "publie"
    assert report["requetes_sheets"] == 9 + 2  # a clean read + the two throttled attempts
    assert sheets_source.count(status=429) == 2
    published = table_contents(warehouse.published_db)["bilan.indicateurs_annuels"]
    assert published == table_contents(published_sample.published_db)["bilan.indicateurs_annuels"]


def test_flow_stops_at_once_on_an_unshared_sheet_naming_it(sheets_source, warehouse, capsys):
    sheets_source.fail_always(403, spreadsheet_id=QUESTIONNAIRE_KEY)
    assert main(["sync"]) == 2
    err = capsys.readouterr().err
    assert "Le tableur « Questionnaire 2019 »" in err and "Partager" in err
    assert sheets_source.count(status=403) == 1 and not warehouse.published_db.exists()


def test_flow_stops_on_a_missing_required_column_naming_spreadsheet_tab_and_column(sheets_source, warehouse, capsys):
    rows = sample_tab("Questionnaire 2019 - Réponses au formulaire 1.csv")
    drop = next(i for i, label in enumerate(rows[0]) if label.startswith("Horodateur"))
    sheets_source.update_tab(QUESTIONNAIRE_KEY, "Réponses au formulaire 1", [r[:drop] + r[drop + 1 :] for r in rows])
    assert main(["sync"]) == 2
    err = capsys.readouterr().err
    assert "Tableur « Questionnaire 2019 », onglet « Réponses au formulaire 1 »" in err and "« Horodateur »" in err
    assert not warehouse.published_db.exists()


def key_file(emulator, tmp_path, monkeypatch) -> str:
    """A real service-account key whose tokens come from the emulator, set as GOOGLE_APPLICATION_CREDENTIALS."""
    import json

    info = emulator.service_account_info("pdn-sync@pdn-test.iam.gserviceaccount.com")
    path = tmp_path / "cle-compte-service.json"
    path.write_text(json.dumps(info), encoding="utf-8")
    monkeypatch.setenv("GOOGLE_APPLICATION_CREDENTIALS", str(path))
    return info["client_email"]


def test_a_service_account_reads_with_read_only_scopes_only(sheets_source, warehouse, tmp_path, monkeypatch):
    from flows.sources.config import load_source_config
    from flows.sources.google import SHEETS_SCOPES

    account = key_file(sheets_source, tmp_path, monkeypatch)
    snapshots = extract_google(load_source_config(load_settings().sources_file), load_settings(), full=True).snapshots
    assert len(snapshots) == 4
    assert sheets_source.granted_scopes(account) == set(SHEETS_SCOPES)


def test_a_revoked_key_stops_the_sync_with_a_french_message(sheets_source, warehouse, tmp_path, monkeypatch, capsys):
    account = key_file(sheets_source, tmp_path, monkeypatch)
    sheets_source.revoke_key(account)
    assert main(["sync"]) == 2
    output = capsys.readouterr().err
    assert "Clé refusée par Google" in output and "RefreshError" not in output and "Traceback" not in output
    assert not warehouse.published_db.exists()
