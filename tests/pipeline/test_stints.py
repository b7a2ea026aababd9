"""Periods, not rows, and the day conventions of the roster figures, through `pdn synchroniser --source`.

The charter date is a Promeneur's first day active, the exit date her last: the end of a year is the stock on
the evening of 31 December, its start the end of the year before; new and exits are the charters and exits
within it. A person may have several periods (left and came back, moved département): each counts, whatever
the order of the rows; overlapping periods are a duplicate that names both rows.
"""

from __future__ import annotations

import json
from pathlib import Path

import duckdb
import pandas as pd
import pytest

from bench.generator import generate, small_spec, write_csv_folder
from flows.cli import main
from flows.sources.contract import ACTIVITES, PROMENEURS
from tests.conftest import use_warehouse_and_files
from tests.test_bad_input import SAMPLE_CONFIG, VALID_ACTIVITE, VALID_PROMENEUR, append_rows, config, sample_copy

ROSTER_FILE = "Suivi - Promeneurs.csv"
ROSTER = ("promeneurs_actifs_debut_annee", "nouveaux_promeneurs", "sorties", "promeneurs_actifs_fin_annee")
YEARS = (2018, 2019, 2020)


def promeneur(email: str, departement: str, charte: str, sortie: str = "") -> dict:
    """A valid roster row of its own person."""
    return {
        **VALID_PROMENEUR,
        "email": email,
        "departement": departement,
        "date_signature_charte": charte,
        "date_sortie": sortie,
    }


def synced(root: Path, exports: Path) -> dict:
    """`pdn synchroniser --source exports` into the warehouse under `root`; the run report."""
    with pytest.MonkeyPatch.context() as patch:
        use_warehouse_and_files(patch, root)
        assert main(["sync", "--source", str(exports)]) == 0
    return json.loads((root / "warehouse" / "runs" / "dernier.json").read_text(encoding="utf-8"))


def published(db: Path, sql: str) -> pd.DataFrame:
    """A query on the published file."""
    with duckdb.connect(str(db), read_only=True) as con:
        return con.execute(sql).df()


def roster_figures(db: Path) -> dict[tuple[int, str, str], float]:
    """(year, département, indicator) → value, for the four roster counts."""
    frame = published(db, "select annee, departement, indicateur, valeur from bilan.indicateurs_annuels")
    frame = frame[frame["indicateur"].isin(ROSTER)]
    return {(int(r.annee), r.departement, r.indicateur): r.valeur for r in frame.itertuples()}


def monthly(db: Path) -> pd.DataFrame:
    """bilan.effectifs_mensuels, by département and month."""
    return published(db, "select * from bilan.effectifs_mensuels order by departement, mois")


def month(db: Path, first_day: str, departement: str) -> pd.Series:
    """One row of bilan.effectifs_mensuels."""
    months = monthly(db)
    return months[(months["mois"] == pd.Timestamp(first_day)) & (months["departement"] == departement)].iloc[0]


def broken_identities(db: Path) -> list[str]:
    """Every roster identity that the published figures break, computed in Python from the published tables."""
    annual = published(db, "select annee, departement, indicateur, valeur from bilan.indicateurs_annuels")
    annual = annual[annual["indicateur"].isin(ROSTER)].pivot(
        index=["departement", "annee"], columns="indicateur", values="valeur"
    )
    months = monthly(db)
    broken = []
    for (departement, annee), row in annual.iterrows():
        if (
            row["promeneurs_actifs_fin_annee"]
            != row["promeneurs_actifs_debut_annee"] + row["nouveaux_promeneurs"] - row["sorties"]
        ):
            broken.append(f"{annee} {departement}: fin ≠ début + nouveaux − sorties")
        if (departement, annee - 1) in annual.index:
            if (
                row["promeneurs_actifs_debut_annee"]
                != annual.loc[(departement, annee - 1), "promeneurs_actifs_fin_annee"]
            ):
                broken.append(f"{annee} {departement}: début ≠ fin {annee - 1}")
        year = months[(months["departement"] == departement) & (months["annee"] == annee)]
        if (len(year), year["nouveaux_promeneurs"].sum(), year["sorties"].sum()) != (
            12,
            row["nouveaux_promeneurs"],
            row["sorties"],
        ):
            broken.append(f"{annee} {departement}: les mois ne font pas l'année")
    for departement, rows in months.groupby("departement"):
        starts, ends = rows["promeneurs_actifs_debut_mois"].to_numpy(), rows["promeneurs_actifs_fin_mois"].to_numpy()
        if (ends != starts + rows["nouveaux_promeneurs"].to_numpy() - rows["sorties"].to_numpy()).any():
            broken.append(f"{departement}: un mois où fin ≠ début + nouveaux − sorties")
        if (starts[1:] != ends[:-1]).any():
            broken.append(f"{departement}: un mois qui ne commence pas où finit le précédent")
    return broken


def deltas(changes: dict[tuple[int, str, str], int]) -> dict[tuple[int, str, str], int]:
    """Per-département changes, with 'ensemble' as their sum."""
    total: dict[tuple[int, str, str], int] = dict(changes)
    for (annee, _, indicateur), change in changes.items():
        total[(annee, "ensemble", indicateur)] = total.get((annee, "ensemble", indicateur), 0) + change
    return total


def assert_sample_plus(db: Path, sample_db: Path, changes: dict[tuple[int, str, str], int]) -> None:
    """The roster figures of 2018–2020 are the sample's plus `changes` (and nothing else moved)."""
    before, after, expected_changes = roster_figures(sample_db), roster_figures(db), deltas(changes)
    for key, value in before.items():
        if key[0] in YEARS:
            assert after[key] == value + expected_changes.get(key, 0), key


# ----------------------------------------------------------------------------------------------
# Day conventions: an exit on 31 December, a charter on 1 January, an exit in the middle of a month
# ----------------------------------------------------------------------------------------------

DAY_CONVENTION_ROWS = [
    promeneur("sortie.31.decembre@example.org", "03", "15/10/2018", "31/12/2019"),
    promeneur("charte.1er.janvier@example.org", "63", "01/01/2019"),
    promeneur("sortie.mi.juin@example.org", "63", "15/03/2019", "15/06/2019"),
]


@pytest.fixture(scope="module")
def day_conventions(prefect_harness, tmp_path_factory) -> Path:
    """The sample plus three Promeneurs on the boundaries, synced once; the published file."""
    root = tmp_path_factory.mktemp("jours")
    exports = sample_copy(root)
    append_rows(exports / ROSTER_FILE, PROMENEURS, DAY_CONVENTION_ROWS)
    assert synced(root, exports)["statut"] == "publie"
    return root / "warehouse" / "pdn.duckdb"


def test_an_exit_on_31_december_is_an_exit_of_that_year_and_not_in_its_end(day_conventions, published_sample):
    # Signed in 2018 and gone on 31/12/2019: in the 2019 start, one of its exits, in neither its end nor 2020's start.
    assert_sample_plus(
        day_conventions,
        published_sample.published_db,
        {
            (2018, "03", "nouveaux_promeneurs"): 1,
            (2018, "03", "promeneurs_actifs_fin_annee"): 1,
            (2019, "03", "promeneurs_actifs_debut_annee"): 1,
            (2019, "03", "sorties"): 1,
            # the other two rows, both in 63
            (2019, "63", "nouveaux_promeneurs"): 2,
            (2019, "63", "sorties"): 1,
            (2019, "63", "promeneurs_actifs_fin_annee"): 1,
            (2020, "63", "promeneurs_actifs_debut_annee"): 1,
            (2020, "63", "promeneurs_actifs_fin_annee"): 1,
        },
    )
    december = month(day_conventions, "2019-12-01", "03")
    december_before = month(published_sample.published_db, "2019-12-01", "03")
    assert december["sorties"] == december_before["sorties"] + 1
    assert (
        december["promeneurs_actifs_fin_mois"]
        == roster_figures(day_conventions)[(2019, "03", "promeneurs_actifs_fin_annee")]
    )


def test_a_charter_on_1_january_is_new_that_year_and_not_in_its_start(day_conventions, published_sample):
    before, after = roster_figures(published_sample.published_db), roster_figures(day_conventions)
    for key in [(2018, "63", "promeneurs_actifs_fin_annee"), (2019, "63", "promeneurs_actifs_debut_annee")]:
        assert after[key] == before[key]
    assert after[(2019, "63", "nouveaux_promeneurs")] == before[(2019, "63", "nouveaux_promeneurs")] + 2
    january = month(day_conventions, "2019-01-01", "63")
    january_before = month(published_sample.published_db, "2019-01-01", "63")
    assert january["nouveaux_promeneurs"] == january_before["nouveaux_promeneurs"] + 1
    assert january["promeneurs_actifs_debut_mois"] == january_before["promeneurs_actifs_debut_mois"]


def test_monthly_new_and_exits_add_up_to_the_year_with_an_exit_in_mid_month(day_conventions, published_sample):
    months = monthly(day_conventions)
    june = month(day_conventions, "2019-06-01", "63")
    june_before = month(published_sample.published_db, "2019-06-01", "63")
    assert june["sorties"] == june_before["sorties"] + 1
    figures = roster_figures(day_conventions)
    for departement in ("03", "63", "ensemble"):
        year = months[(months["annee"] == 2019) & (months["departement"] == departement)]
        assert year["sorties"].sum() == figures[(2019, departement, "sorties")] > 0
        assert year["nouveaux_promeneurs"].sum() == figures[(2019, departement, "nouveaux_promeneurs")]


def test_every_roster_identity_holds_on_the_sample_and_on_the_boundaries(day_conventions, published_sample):
    assert broken_identities(published_sample.published_db) == []
    assert broken_identities(day_conventions) == []


# ----------------------------------------------------------------------------------------------
# Periods, not rows: a return, a move between départements, overlapping periods, in both row orders
# ----------------------------------------------------------------------------------------------

RETURN = [
    promeneur("revenue@example.org", "03", "05/03/2018", "30/11/2018"),
    promeneur("revenue@example.org", "03", "04/02/2019"),
]
MOVE = [
    promeneur("mutee@example.org", "03", "12/11/2018", "30/06/2019"),
    promeneur("mutee@example.org", "63", "01/07/2019"),
]
OVERLAP = [
    promeneur("chevauchement@example.org", "63", "10/01/2018"),
    promeneur("chevauchement@example.org", "63", "20/05/2019"),
]
# A second Suivi spreadsheet holding a copy of the sample's first Promeneur (sheet row 2) and one action.
SECOND_SUIVI = "Suivi 2020"
FIRST_PROMENEUR = {
    "nom": "Bertrand",
    "prenom": "Léa",
    "email": "lea.bertrand@example.org",
    "departement": "03",
    "structure": "Service jeunesse de Gannat",
    "commune": "Gannat",
    "type_structure": "ALSH/services jeunesse",
    "profil": "Animateur enfance/jeunesse",
    "date_signature_charte": "11/10/2018",
    "date_sortie": "",
}


def stints_sync(root: Path, reverse: bool) -> tuple[Path, dict, dict[str, int]]:
    """The sample plus each person's rows (in sheet order, or reversed) and a second Suivi; published file, run
    report, and the sheet row of each added row (by name)."""
    exports = sample_copy(root)
    named = {
        "retour_1": RETURN[0],
        "retour_2": RETURN[1],
        "mutation_03": MOVE[0],
        "mutation_63": MOVE[1],
        "chevauchement_gardee": OVERLAP[0],
        "chevauchement_suivante": OVERLAP[1],
    }
    names = list(reversed(named)) if reverse else list(named)
    lines = dict(zip(names, append_rows(exports / ROSTER_FILE, PROMENEURS, [named[n] for n in names])))
    for tab, contract, row in (
        ("Promeneurs", PROMENEURS, FIRST_PROMENEUR),
        ("Activités", ACTIVITES, {**VALID_ACTIVITE, "date": "12/05/2020"}),
    ):
        (exports / f"{SECOND_SUIVI} - {tab}.csv").write_bytes(
            (exports / f"Suivi - {tab}.csv").read_bytes().split(b"\r\n")[0] + b"\r\n"
        )
        lines[f"{SECOND_SUIVI} {tab}"] = append_rows(exports / f"{SECOND_SUIVI} - {tab}.csv", contract, [row])[0]
    config(
        exports,
        SAMPLE_CONFIG.replace(
            '[[suivi]]\ntitre = "Suivi"\n', f'[[suivi]]\ntitre = "Suivi"\n\n[[suivi]]\ntitre = "{SECOND_SUIVI}"\n'
        ),
    )
    report = synced(root, exports)
    return root / "warehouse" / "pdn.duckdb", report, lines


@pytest.fixture(scope="module")
def stints(prefect_harness, tmp_path_factory) -> dict[str, tuple[Path, dict, dict[str, int]]]:
    """The same rows synced in sheet order and in reverse order."""
    return {order: stints_sync(tmp_path_factory.mktemp(order), order == "inverse") for order in ("ordre", "inverse")}


def quarantined(report: dict) -> dict[tuple[str, str, int], str]:
    """(spreadsheet, tab, sheet row) → reason, from a run report."""
    return {(row["tableur"], row["onglet"], row["ligne"]): row["motif"] for row in report["quarantaine"]}


def test_a_return_and_a_move_count_each_period_and_overlapping_periods_count_once(stints, published_sample):
    db, report, lines = stints["ordre"]
    assert report["statut"] == "publie"
    assert_sample_plus(
        db,
        published_sample.published_db,
        {
            # return: in 03 from 05/03/2018 to 30/11/2018, then from 04/02/2019
            (2018, "03", "nouveaux_promeneurs"): 1 + 1,
            (2018, "03", "sorties"): 1,
            (2019, "03", "nouveaux_promeneurs"): 1,
            (2019, "03", "promeneurs_actifs_fin_annee"): 1,
            (2020, "03", "promeneurs_actifs_debut_annee"): 1,
            (2020, "03", "promeneurs_actifs_fin_annee"): 1,
            # move: in 03 from 12/11/2018 to 30/06/2019 (counted above in 2018's new), in 63 from 01/07/2019
            (2018, "03", "promeneurs_actifs_fin_annee"): 1,
            (2019, "03", "promeneurs_actifs_debut_annee"): 1,
            (2019, "03", "sorties"): 1,
            (2019, "63", "nouveaux_promeneurs"): 1,
            # overlap: only the period from 10/01/2018 counts (63)
            (2018, "63", "nouveaux_promeneurs"): 1,
            (2018, "63", "promeneurs_actifs_fin_annee"): 1,
            (2019, "63", "promeneurs_actifs_debut_annee"): 1,
            (2019, "63", "promeneurs_actifs_fin_annee"): 1 + 1,
            (2020, "63", "promeneurs_actifs_debut_annee"): 1 + 1,
            (2020, "63", "promeneurs_actifs_fin_annee"): 1 + 1,
        },
    )
    assert broken_identities(db) == []
    rows = quarantined(report)
    for name in ("retour_1", "retour_2", "mutation_03", "mutation_63", "chevauchement_gardee"):
        assert ("Suivi", "Promeneurs", lines[name]) not in rows, name


def test_overlapping_periods_are_quarantined_naming_both_rows(stints):
    for order, (_, report, lines) in stints.items():
        kept, later = sorted([lines["chevauchement_gardee"], lines["chevauchement_suivante"]])
        reason = quarantined(report)[("Suivi", "Promeneurs", lines["chevauchement_suivante"])]
        assert reason.startswith(
            f"Promeneur en double : même personne que la ligne {lines['chevauchement_gardee']}, "
            f"périodes qui se chevauchent : lignes {kept} et {later} ("
        ), (order, reason)


def test_a_duplicate_in_another_spreadsheet_names_that_spreadsheet(stints):
    _, report, lines = stints["ordre"]
    # Same person, same period: the copy in « Suivi 2020 » names the first Promeneur's row of « Suivi ».
    assert quarantined(report)[(SECOND_SUIVI, "Promeneurs", lines[f"{SECOND_SUIVI} Promeneurs"])] == (
        "Promeneur en double : même personne que Suivi, Promeneurs, ligne 2"
    )
    assert ("Suivi", "Promeneurs", 2) not in quarantined(report)


def test_published_figures_do_not_depend_on_the_order_of_the_rows(stints):
    (db, report, lines), (db_reversed, report_reversed, lines_reversed) = stints["ordre"], stints["inverse"]
    assert lines != lines_reversed  # the rows really moved
    for sql in (
        "select * from bilan.indicateurs_annuels order by all",
        "select * from bilan.effectifs_mensuels order by all",
        "select * from bilan.types_par_departement order by all",
    ):
        pd.testing.assert_frame_equal(published(db, sql), published(db_reversed, sql))
    assert len(report["quarantaine"]) == len(report_reversed["quarantaine"])


# ----------------------------------------------------------------------------------------------
# The benchmark's generated network
# ----------------------------------------------------------------------------------------------


def test_every_roster_identity_holds_on_a_generated_network(prefect_harness, tmp_path):
    folder = write_csv_folder(generate(small_spec()), tmp_path / "exports")
    synced(tmp_path, folder)
    assert broken_identities(tmp_path / "warehouse" / "pdn.duckdb") == []
