"""The reference lists a coordinator owns: the optional `Listes` tab extends the bundled lists, an
unknown descriptive value is a flagged cell (never a lost Promeneur), and the lists of each sync stay
in the raw history."""

from __future__ import annotations

import csv
import json
from dataclasses import dataclass

import duckdb
import pytest

from flows.cli import main
from flows.sources.contract import ACTIVITES, PROMENEURS
from tests.conftest import use_warehouse_and_files
from tests.pipeline.test_sync_sample import indicators
from tests.test_bad_input import VALID_ACTIVITE, VALID_PROMENEUR, append_rows, sample_copy

LISTS_FILE = "Suivi - Listes.csv"
# Three 2020 Promeneurs of the 63 network typed as a new user would: a structure type and a profile the
# bundled lists do not know, and a spelling of a bundled profile that is none of its variants.
NEW_PROMENEURS = [
    {"type_structure": "Tiers lieux", "profil": "Référent famille"},
    {"type_structure": "Centre social", "profil": "Conseiller numérique"},
    {"type_structure": "Centre social", "profil": "Coordo jeunesse"},
]
# The coordinator's Listes tab: a new structure type (plural among its variants), a new profile under a
# plural list name, a variant added to a bundled profile (named by one of its bundled spellings), and a
# reserved row of the template (list name only), which is neither a value nor a problem.
LISTES_TAB = [
    ["Liste", "Valeur", "Variantes acceptées"],
    ["Type de structure", "Tiers-lieu", "Tiers lieu ; Tiers lieux ; Tiers-lieux"],
    ["Profils", "Conseiller numérique", "CNFS"],
    ["Profil", "Référent/coordonnateur jeunesse", "Coordo jeunesse"],
    ["Profil", "", ""],
    ["Type d'action", "Permanence numérique", ""],
]
# A 2020 action of the type the tab adds: it counts in bilan.activites, in no indicator.
NEW_ACTION = {**VALID_ACTIVITE, "date": "14/10/2020", "type_action": "Permanence numérique"}
# What the three new Promeneurs count as once the tab is there (the bundled label wins for a bundled value).
NEW_LABELS = {"type_structure": {"Tiers-lieu"}, "profil": {"Conseiller numérique", "Référent/coordonateur jeunesse"}}


@dataclass(frozen=True)
class SyncOutcome:
    code: int
    report: dict
    actifs_2020: dict[str, float]
    types_2020_63: dict[str, set[str]]
    flagged: set[tuple[int, str]]  # (sheet row, column) of the Promeneurs tab


def outcome(root, code: int) -> SyncOutcome:
    report = json.loads((root / "warehouse" / "runs" / "dernier.json").read_text(encoding="utf-8"))
    values = indicators(root / "warehouse" / "pdn.duckdb", 2020)
    with duckdb.connect(str(root / "warehouse" / "pdn.duckdb"), read_only=True) as con:
        rows = con.execute(
            "select categorie, libelle from bilan.types_par_departement "
            "where annee = 2020 and departement = '63' and est_reconnu"
        ).fetchall()
    return SyncOutcome(
        code=code,
        report=report,
        actifs_2020={d: values[("promeneurs_actifs_fin_annee", d)] for d in ("03", "63", "ensemble")},
        types_2020_63={c: {label for category, label in rows if category == c} for c in ("profil", "type_structure")},
        flagged={(c["ligne"], c["colonne"]) for c in report["cellules_signalees"] if c["onglet"] == "Promeneurs"},
    )


@pytest.fixture(scope="module")
def syncs(prefect_harness, tmp_path_factory):
    """The sample plus three new Promeneurs, synced without the Listes tab, with it, then with it deleted."""
    root = tmp_path_factory.mktemp("listes")
    exports = sample_copy(root)
    rows = [{**VALID_PROMENEUR, **typed, "departement": "63", "date_signature_charte": "02/03/2020",
             "email": f"nouveau.{n}@example.org", "nom": f"Nouveau{'x' * (n + 1)}"}  # three people, three names
            for n, typed in enumerate(NEW_PROMENEURS)]
    sheet_rows = append_rows(exports / "Suivi - Promeneurs.csv", PROMENEURS, rows)
    append_rows(exports / "Suivi - Activités.csv", ACTIVITES, [NEW_ACTION])
    outcomes = {}
    with pytest.MonkeyPatch.context() as patch:
        use_warehouse_and_files(patch, root)
        outcomes["sans_onglet"] = outcome(root, main(["sync", "--source", str(exports)]))
        with open(exports / LISTS_FILE, "w", encoding="utf-8", newline="") as handle:
            csv.writer(handle).writerows(LISTES_TAB)
        outcomes["avec_onglet"] = outcome(root, main(["sync", "--source", str(exports)]))
        (exports / LISTS_FILE).unlink()
        outcomes["onglet_retire"] = outcome(root, main(["sync", "--source", str(exports)]))
    return root, sheet_rows, outcomes


def test_without_the_tab_unknown_values_are_flagged_and_every_promeneur_counts(syncs, published_sample):
    _, sheet_rows, outcomes = syncs
    run = outcomes["sans_onglet"]
    assert run.code == 0 and run.report["statut"] == "publie"
    quarantined = {row["ligne"] for row in run.report["quarantaine"] if row["onglet"] == "Promeneurs"}
    assert not quarantined & set(sheet_rows)
    columns = {"type_structure": "Type de structure", "profil": "Profil"}
    expected = {(row, columns[field]) for row, typed in zip(sheet_rows, NEW_PROMENEURS) for field, value in typed.items()
                if value not in ("Référent famille", "Centre social")}
    assert expected <= run.flagged
    assert not {(row, column) for row, column in run.flagged if row in sheet_rows} - expected
    before = indicators(published_sample.published_db, 2020)
    assert run.actifs_2020["63"] == before[("promeneurs_actifs_fin_annee", "63")] + len(NEW_PROMENEURS)
    assert run.actifs_2020["ensemble"] == before[("promeneurs_actifs_fin_annee", "ensemble")] + len(NEW_PROMENEURS)
    assert "Tiers-lieu" not in run.types_2020_63["type_structure"]


def test_the_tab_adds_a_structure_type_a_profile_and_a_variant_that_then_count(syncs, published_sample):
    root, sheet_rows, outcomes = syncs
    run = outcomes["avec_onglet"]
    assert run.code == 0 and run.report["statut"] == "publie"
    assert not {(row, column) for row, column in run.flagged if row in sheet_rows}
    assert not [c for c in run.report["cellules_signalees"] if c["onglet"] == "Listes"]
    before = outcomes["sans_onglet"].types_2020_63
    for category, labels in NEW_LABELS.items():
        assert run.types_2020_63[category] == before[category] | labels
    values = indicators(root / "warehouse" / "pdn.duckdb", 2020)
    assert values[("types_structures", "63")] == len(run.types_2020_63["type_structure"])
    assert values[("types_profils", "63")] == len(run.types_2020_63["profil"])
    assert run.actifs_2020 == outcomes["sans_onglet"].actifs_2020


def test_an_action_type_added_in_the_tab_is_listed_and_feeds_no_indicator(syncs):
    root, _, outcomes = syncs
    without = [r for r in outcomes["sans_onglet"].report["quarantaine"] if r["onglet"] == "Activités"]
    assert any("Type d'action" in r["motif"] for r in without), "before the tab, an unknown type is unusable"
    with duckdb.connect(str(root / "warehouse" / "pdn.duckdb"), read_only=True) as con:
        listed = con.execute(
            "select count(*), count(indicateur) from bilan.activites where type_action = 'Permanence numérique'"
        ).fetchone()
    assert outcomes["avec_onglet"].code == 0 and listed == (1, 0)


def test_a_value_removed_from_the_tab_still_recognises_the_rows_that_used_it(syncs):
    _, sheet_rows, outcomes = syncs
    run = outcomes["onglet_retire"]
    assert run.code == 0
    assert run.types_2020_63 == outcomes["avec_onglet"].types_2020_63
    assert not {(row, column) for row, column in run.flagged if row in sheet_rows}


def test_the_lists_of_each_sync_are_in_the_raw_history(syncs):
    root, _, outcomes = syncs
    with duckdb.connect(str(root / "private" / "raw.duckdb"), read_only=True) as con:
        per_sync = dict(con.execute(
            """select sync_snapshots.sync_id, count(*) filter (where snapshots.spreadsheet_id <> 'listes-fournies')
            from sync_snapshots join snapshots using (snapshot_id)
            where snapshots.table_name = 'listes' group by all"""
        ).fetchall())
        bundled = con.execute(
            "select count(distinct snapshot_id) from snapshots where spreadsheet_id = 'listes-fournies'"
        ).fetchone()[0]
        tab_rows = con.execute(
            "select liste, valeur from listes join snapshots using (snapshot_id) "
            "where snapshots.spreadsheet_id <> 'listes-fournies' order by numero_ligne"
        ).fetchall()
    sync_ids = [outcomes[step].report["run_id"] for step in ("sans_onglet", "avec_onglet", "onglet_retire")]
    assert [per_sync.get(sync_id) for sync_id in sync_ids] == [0, 1, 0]  # every sync records the bundled lists
    assert bundled == 1  # landed once, reused while unchanged
    assert tab_rows == [(row[0], row[1]) for row in LISTES_TAB[1:]]
