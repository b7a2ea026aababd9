"""End to end: the real Prefect flow on the bundled sample publishes the 2019 bilan's figures."""

import json
import shutil

import duckdb
import pytest

from flows.errors import GateFailed, InputError
from flows.pipeline.sync import nightly_sync
from flows.settings import SAMPLE_DIR, load_settings
from tests.conftest import use_warehouse

# The acceptance table of the backbone issue (2019 report), per department and for the network.
EXPECTED_2019 = {
    "promeneurs_actifs_debut_annee": (12, 31, 43),
    "promeneurs_actifs_fin_annee": (23, 43, 66),
    "nouveaux_promeneurs": (12, 14, 26),
    "sorties": (1, 2, 3),
    "types_profils": (9, 7, 10),
    "types_structures": (8, 7, 13),
    "presentations_individuelles": (10, 13, 23),
    "presentations_collectives": (5, 8, 13),
    "ateliers": (5, 4, 9),
    "reunions_echange_pratiques": (1, 2, 3),
    "reunions_accueil": (1, 1, 2),
    "reunions_lancement": (1, 0, 1),
    "sessions_formation": (2, 2, 4),
    "jours_formation": (1.5, 1.5, 3),
    "accompagnements_individuels": (3, 3, 6),
    "evenements": (2, 0, 2),
    "comites_pilotage": (0, 0, 1),
    "comites_techniques": (0, 0, 2),
    "questionnaire_repondants": (11, 20, 31),
}


def indicators(published, annee=2019):
    with duckdb.connect(str(published), read_only=True) as con:
        rows = con.execute(
            "select indicateur, departement, valeur from bilan.indicateurs_annuels where annee = ?", [annee]
        ).fetchall()
    return {(indicateur, departement): valeur for indicateur, departement, valeur in rows}


def test_sample_sync_publishes_the_2019_bilan_figures(published_sample):
    assert published_sample.report["statut"] == "publie"
    values = indicators(published_sample.published_db)
    for indicateur, expected in EXPECTED_2019.items():
        got = tuple(values[(indicateur, departement)] for departement in ("03", "63", "ensemble"))
        assert got == pytest.approx(expected), indicateur
    assert round(values[("questionnaire_taux_participation", "ensemble")], 2) == 0.41
    assert values[("questionnaire_taux_participation", "03")] == pytest.approx(11 / 27)
    assert values[("questionnaire_taux_participation", "63")] == pytest.approx(20 / 48)


def test_every_indicator_is_present_for_every_department(published_sample):
    with duckdb.connect(str(published_sample.published_db), read_only=True) as con:
        per_department = con.execute(
            "select departement, count(distinct indicateur) from bilan.indicateurs_annuels "
            "where annee = 2019 group by all order by all"
        ).fetchall()
        defined = con.execute("select count(*) from bilan.definitions_indicateurs").fetchone()[0]
    assert [d for d, _ in per_department] == ["03", "63", "ensemble"]
    assert {n for _, n in per_department} == {defined}


def test_run_report_lists_quarantined_rows_without_their_content(published_sample):
    report = published_sample.report
    assert [(row["onglet"], row["ligne"]) for row in report["quarantaine"]] == [
        ("Réponses au formulaire 1", 22),
        ("Activités", 47),
        ("Activités", 53),
        ("Promeneurs", 31),
    ]  # the sample's deliberate bad rows (flows/sample/README.md)
    for row in report["quarantaine"]:
        assert set(row) == {"tableur", "onglet", "ligne", "motif"}
    saved = published_sample.root / "warehouse" / "runs" / f"{report['run_id']}.json"
    assert json.loads(saved.read_text(encoding="utf-8"))["quarantaine"] == report["quarantaine"]


def test_failed_gate_keeps_last_published_warehouse_byte_identical(published_sample, tmp_path, monkeypatch):
    root = published_sample.copy_to(tmp_path / "copy")
    use_warehouse(monkeypatch, root)
    published = root / "warehouse" / "pdn.duckdb"
    before = published.read_bytes()
    broken = tmp_path / "exports"
    shutil.copytree(SAMPLE_DIR, broken)
    activites = broken / "Suivi - Activités.csv"
    activites.write_text(activites.read_text(encoding="utf-8").splitlines()[0] + "\r\n", encoding="utf-8")
    with pytest.raises(GateFailed) as caught:
        nightly_sync(source_dir=str(broken))
    assert caught.value.report["statut"] == "bloque"
    assert published.read_bytes() == before
    assert not list(published.parent.glob(".pdn-candidate-*"))


def test_a_build_over_its_memory_limit_stops_in_french_and_publishes_nothing(published_sample, tmp_path, monkeypatch):
    root = published_sample.copy_to(tmp_path / "copy")
    use_warehouse(monkeypatch, root)
    monkeypatch.setenv("PDN_DUCKDB_MEMORY_LIMIT", "1 Mo")  # below one DuckDB block: the limit reaches dbt's build
    published = root / "warehouse" / "pdn.duckdb"
    before = published.read_bytes()
    with pytest.raises(GateFailed) as caught:
        nightly_sync()
    assert "a manqué de mémoire" in str(caught.value) and "PDN_DUCKDB_MEMORY_LIMIT" in str(caught.value)
    assert caught.value.report["statut"] == "bloque"
    assert published.read_bytes() == before


def test_what_a_killed_build_spilled_is_removed_by_the_next_sync(published_sample, tmp_path, monkeypatch):
    root = published_sample.copy_to(tmp_path / "copy")
    use_warehouse(monkeypatch, root)
    spilled = root / "private" / "build" / "work.duckdb.tmp"  # where DuckDB spills past PDN_DUCKDB_MEMORY_LIMIT
    spilled.mkdir()
    (spilled / "duckdb_temp_storage_DEFAULT-0.tmp").write_bytes(b"Durand Lea lea@example.org" * 100)
    report = nightly_sync()
    assert report["statut"] == "publie"
    assert not spilled.exists()


@pytest.mark.parametrize(("written", "read"), [("2GB", "2gb"), ("500 Mo", "500mb"), ("1,5 Go", "1.5gb"), ("25%", "25%")])
def test_the_memory_limit_is_read_as_duckdb_writes_it(written, read, monkeypatch):
    monkeypatch.setenv("PDN_DUCKDB_MEMORY_LIMIT", written)
    assert load_settings().duckdb_memory_limit == read


@pytest.mark.parametrize("written", ["beaucoup", "512", "1 G B"])
def test_a_memory_limit_that_is_no_size_is_refused_naming_the_variable(written, monkeypatch):
    monkeypatch.setenv("PDN_DUCKDB_MEMORY_LIMIT", written)
    with pytest.raises(InputError, match=f"PDN_DUCKDB_MEMORY_LIMIT doit être une taille de mémoire.*« {written} »"):
        load_settings()


def test_the_run_report_lists_a_bounded_number_of_rows_and_counts_them_all(published_sample, monkeypatch):
    from flows.pipeline import sync

    everything = published_sample.report["quarantaine"]
    assert published_sample.report["quarantaine_total"] == len(everything) == 4  # flows/sample/README.md
    monkeypatch.setattr(sync, "LISTED_MAX", 2)
    listed = sync.listed_from_build(published_sample.root / "private" / "build" / "work.duckdb")
    assert listed["quarantaine"] == everything[:2]
    assert listed["quarantaine_total"] == len(everything)
    assert listed["cellules_signalees_total"] == len(published_sample.report["cellules_signalees"])
