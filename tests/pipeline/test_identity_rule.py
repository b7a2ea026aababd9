"""Who is the same person (flows/identity.py, dbt/models/intermediate/int_promeneurs_validated.sql), through
`pdn synchroniser --source` on a copy of the bundled sample: addresses pasted from a mail client, an address asked as a
question of the form, and what the rule cannot decide (a shared mailbox, the same name and structure under another
address or swapped without one): counted, and flagged on both rows."""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

import duckdb
import pandas as pd
import pytest

from flows.cli import main
from flows.identity import normalised_email
from flows.sources.contract import PROMENEURS
from tests.conftest import use_warehouse_and_files
from tests.pipeline.test_sync_sample import indicators
from tests.test_bad_input import PROMENEURS_FILE, append_rows, read_export, sample_copy

REPONSES_2020_FILE = "Questionnaire 2020 - Réponses au formulaire 1.csv"
# The sample's first three Promeneurs again, their address as pasted from a mail client.
PASTED = {2: "Léa Bertrand <{}>", 3: "mailto:{}", 4: "{};"}
ASKED_TITLE = "Votre adresse e-mail"
# New Promeneurs of 63 (the pasted rows are of 03), valid and active from 2019 on, in pairs: (case, row, row).
NEW = {"departement": "63", "commune": "Riom", "type_structure": "centre social", "profil": "Référent famille",
       "date_signature_charte": "15/03/2019", "date_sortie": ""}
PAIRS = {
    "autre adresse": (
        {"prenom": "Inès", "nom": "Roussel", "email": "ines.roussel@example.org", "structure": "CS de Riom"},
        {"prenom": "Ines", "nom": "ROUSSEL", "email": "i.roussel@csriom.example.org", "structure": "CS  de  riom",
         "date_signature_charte": "01/09/2019"},
    ),
    "inversés": (
        {"prenom": "Hugo", "nom": "Perrin", "email": "", "structure": "Centre social de Thiers"},
        {"prenom": "Perrin", "nom": "Hugo", "email": "", "structure": "Centre social de Thiers"},
    ),
    "adresse partagée": (
        {"prenom": "Camille", "nom": "Faure", "email": "accueil@cs-issoire.example.org", "structure": "CS d'Issoire"},
        {"prenom": "Julien", "nom": "Masson", "email": "Accueil@CS-Issoire.example.org", "structure": "CS d'Issoire"},
    ),
}


def write_export(path: Path, frame: pd.DataFrame) -> None:
    """Write a frame of cells back as the export it came from (no header row of its own, CRLF ends)."""
    frame.to_csv(path, header=False, index=False, lineterminator="\r\n")


def paste_addresses(path: Path) -> dict[int, int]:
    """Append the rows of PASTED again with their pasted address; return copy's sheet row -> original's."""
    frame = read_export(path)
    email = frame.iloc[0].tolist().index("E-mail")
    copies = frame.iloc[[row - 1 for row in PASTED]].copy()
    copies[email] = [PASTED[row].format(address) for row, address in zip(PASTED, copies[email])]
    write_export(path, pd.concat([frame, copies], ignore_index=True))
    return {len(frame) + 1 + n: row for n, row in enumerate(PASTED)}


def ask_the_address(path: Path) -> tuple[str, list[str]]:
    """The 2020 form collects no address but asks it last, and its first respondent answers again the next day
    (her address typed differently); returns that respondent's address and every address answered."""
    frame = read_export(path)
    collected = frame.iloc[0].tolist().index("Adresse e-mail")
    addresses = frame[collected].copy()
    frame = frame.drop(columns=collected).set_axis(range(frame.shape[1] - 1), axis=1)
    frame[frame.shape[1]] = [ASKED_TITLE, *addresses.iloc[1:]]
    again = frame.iloc[[1]].copy()
    again[0] = "04/12/2020 10:00:00"  # the first answer is of 03/12/2020
    again[frame.shape[1] - 1] = f" {addresses.iloc[1].title()};"
    write_export(path, pd.concat([frame, again], ignore_index=True))
    return addresses.iloc[1], [a for a in addresses.iloc[1:] if a.strip()]


@pytest.fixture(scope="module")
def identity_run(prefect_harness, tmp_path_factory):
    """The sample with every case of this file, synced once by `pdn synchroniser --source`."""
    root = tmp_path_factory.mktemp("regle-identite")
    exports = sample_copy(root)
    copies = paste_addresses(exports / PROMENEURS_FILE)
    rows = [{**NEW, **row} for pair in PAIRS.values() for row in pair]
    numbers = iter(append_rows(exports / PROMENEURS_FILE, PROMENEURS, rows))
    pairs = {case: (next(numbers), next(numbers)) for case in PAIRS}
    resubmitted, answered = ask_the_address(exports / REPONSES_2020_FILE)
    with pytest.MonkeyPatch.context() as patch:
        use_warehouse_and_files(patch, root)
        code = main(["sync", "--source", str(exports)])
    report = json.loads((root / "warehouse" / "runs" / "dernier.json").read_text(encoding="utf-8"))
    assert code == 0 and report["statut"] == "publie", report.get("message")
    report["_pairs"] = pairs
    return root, report, copies, resubmitted, answered


def roster_reasons(report: dict) -> dict[int, str]:
    """Quarantined roster rows of the run: sheet row -> reason."""
    return {row["ligne"]: row["motif"] for row in report["quarantaine"] if row["onglet"] == "Promeneurs"}


def test_an_address_pasted_with_a_name_mailto_or_a_semicolon_is_the_same_person(identity_run, published_sample):
    root, report, copies, _, _ = identity_run
    reasons = roster_reasons(report)
    assert {copy: reasons.get(copy) for copy in copies} == {
        copy: f"Promeneur en double : même personne que la ligne {original}" for copy, original in copies.items()
    }
    # The roster figures of 03 (the three Promeneurs' département) as in the sample: the actives are not +1 each.
    published = root / "warehouse" / "pdn.duckdb"
    for annee in (2019, 2020):
        before, after = indicators(published_sample.published_db, annee), indicators(published, annee)
        roster_03 = [k for k in before if k[1] == "03" and ("promeneurs" in k[0] or k[0] == "sorties")]
        assert len(roster_03) == 5 and {k: after[k] for k in roster_03} == {k: before[k] for k in roster_03}


def test_a_resubmission_under_an_address_asked_as_a_question_counts_once(identity_run, published_sample):
    root, report, _, _, _ = identity_run
    before = indicators(published_sample.published_db, 2020)
    after = indicators(root / "warehouse" / "pdn.duckdb", 2020)
    for departement in ("03", "63", "ensemble"):
        assert after[("questionnaire_repondants", departement)] == before[("questionnaire_repondants", departement)]
    # Read, not quarantined: the earlier answer is superseded by the later one.
    assert not [row for row in report["quarantaine"] if row["tableur"] == "Questionnaire 2020"]


def test_an_address_asked_as_a_question_is_never_published_nor_a_question(identity_run):
    root, _, _, _, answered = identity_run
    published = root / "warehouse" / "pdn.duckdb"
    with duckdb.connect(str(published), read_only=True) as con:
        listed = [title for (title,) in con.execute(
            "select distinct colonne from qualite.questions_non_cataloguees"
        ).fetchall()]
        columns = con.execute(
            "select table_schema, table_name, column_name from information_schema.columns "
            "where data_type = 'VARCHAR' and table_schema not in ('information_schema', 'pg_catalog')"
        ).fetchall()
        found = [
            (schema, table, column) for schema, table, column in columns
            if con.execute(f'select count(*) from "{schema}"."{table}" where "{column}" like \'%@%\'').fetchone()[0]
        ]
    assert ASKED_TITLE not in listed and listed  # the sample's own uncatalogued question is still listed
    assert found == []
    content = published.read_bytes().lower()
    assert len(answered) > 10 and not [a for a in answered if normalised_email(a).encode() in content]


def test_access_by_address_finds_the_rows_whose_address_was_pasted(identity_run, monkeypatch, capsys):
    root, _, copies, _, _ = identity_run
    original = next(copy for copy, row in copies.items() if row == 3)
    address = read_export(root / "exports" / PROMENEURS_FILE).iloc[2, 2]
    use_warehouse_and_files(monkeypatch, root)
    monkeypatch.setattr(sys, "argv", ["pdn"])
    code = main(["acces", "--email", address])
    extract = re.search(r"Extrait écrit : (\S+)", capsys.readouterr().out)
    assert code == 0 and extract
    text = Path(extract[1]).read_text(encoding="utf-8")
    assert f"ligne {original}" in text and "ligne 3" in text


def identity_cells(report: dict) -> dict[int, tuple[str, str]]:
    """Roster cells flagged by the identity rule: sheet row -> (column, reason)."""
    return {
        cell["ligne"]: (cell["colonne"], cell["motif"]) for cell in report["cellules_signalees"]
        if cell["onglet"] == "Promeneurs" and cell["colonne"] in ("E-mail", "Nom")
    }


def test_every_pair_the_rule_cannot_decide_is_counted_as_two_people(identity_run, published_sample):
    root, report, _, _, _ = identity_run
    paired = {row for pair in report["_pairs"].values() for row in pair}
    assert not paired & set(roster_reasons(report))
    before = indicators(published_sample.published_db, 2019)
    after = indicators(root / "warehouse" / "pdn.duckdb", 2019)
    for indicateur in ("promeneurs_actifs_fin_annee", "nouveaux_promeneurs"):
        assert after[(indicateur, "63")] == before[(indicateur, "63")] + len(paired), indicateur


def test_a_shared_mailbox_with_two_names_is_flagged_on_both_rows(identity_run):
    _, report, _, _, _ = identity_run
    first, second = report["_pairs"]["adresse partagée"]
    reason = (f"Adresse partagée par deux personnes : lignes {first} et {second} (noms différents : comptées comme "
              "deux personnes ; corriger le nom si c'est la même)")
    cells = identity_cells(report)
    assert cells[first] == cells[second] == ("E-mail", reason)


def test_the_same_name_and_structure_under_another_address_is_flagged_naming_the_other_row(identity_run):
    _, report, _, _, _ = identity_run
    first, second = report["_pairs"]["autre adresse"]
    reason = ("Même nom et même structure que la ligne {} avec une autre adresse : la même personne ? (comptée "
              "deux fois d'ici là ; si oui, garder une seule adresse)")
    cells = identity_cells(report)
    assert (cells[first], cells[second]) == (("E-mail", reason.format(second)), ("E-mail", reason.format(first)))


def test_swapped_first_and_last_names_without_address_are_flagged_naming_the_other_row(identity_run):
    _, report, _, _, _ = identity_run
    first, second = report["_pairs"]["inversés"]
    reason = ("Même nom et même structure que la ligne {}, prénom et nom inversés : la même personne ? (comptée "
              "deux fois d'ici là ; si oui, supprimer une des lignes ou ajouter l'adresse)")
    cells = identity_cells(report)
    assert (cells[first], cells[second]) == (("Nom", reason.format(second)), ("Nom", reason.format(first)))
    # No other roster row of the sample is flagged by the rule.
    assert set(cells) == {row for pair in report["_pairs"].values() for row in pair}


def access(root: Path, monkeypatch, capsys, *args: str) -> tuple[int, str, str]:
    """`pdn acces ARGS` on the run's warehouse: exit code, what it printed, the extract (empty when refused)."""
    use_warehouse_and_files(monkeypatch, root)
    monkeypatch.setattr(sys, "argv", ["pdn"])
    code = main(["acces", *args])
    printed = capsys.readouterr()
    extract = re.search(r"Extrait écrit : (\S+)", printed.out)
    return code, printed.out + printed.err, Path(extract[1]).read_text(encoding="utf-8") if extract else ""


def test_access_by_a_shared_address_is_refused_and_by_name_quotes_only_that_persons_rows(
    identity_run, monkeypatch, capsys
):
    root, report, _, _, _ = identity_run
    first, second = report["_pairs"]["adresse partagée"]
    shared = PAIRS["adresse partagée"][0]["email"]

    code, printed, extract = access(root, monkeypatch, capsys, "--email", shared.upper())
    assert (code, extract) == (2, "") and "Cette adresse est partagée par 2 personnes" in printed
    assert "Faure" not in printed and "Masson" not in printed

    code, _, extract = access(root, monkeypatch, capsys, "--nom", "Masson Julien")
    assert code == 0
    assert "1. Votre fiche dans la liste des Promeneurs : 1 ligne(s)" in extract
    assert f"ligne {second})" in extract and f"ligne {first})" not in extract
    assert "Julien" in extract and "Camille" not in extract and "Faure" not in extract


def test_a_history_of_schema_7_is_rekeyed_by_the_rule_and_gets_full_name_keys(warehouse, tmp_path):
    from flows.identity import pseudonym
    from flows.pipeline.land import ensure_raw_schema, land_sync
    from flows.sources.config import load_source_config
    from flows.sources.files import extract_files

    exports = sample_copy(tmp_path)
    copies = paste_addresses(exports / PROMENEURS_FILE)
    config = load_source_config(exports / "sources.toml")
    key = warehouse.pseudonym_key()
    land_sync(warehouse.raw_db, "s", "fichiers", config.departements, extract_files(exports, config), [], key)
    with duckdb.connect(str(warehouse.raw_db)) as con:
        # As release 7 landed it: the pasted text was the address, no full name key.
        con.execute("update promeneurs set cle_promeneur = hmac_ancien from (select rowid as r, ? || email as "
                    "hmac_ancien from promeneurs) where rowid = r and numero_ligne in (select unnest(?))",
                    ["ancienne:", list(copies)])
        con.execute("alter table promeneurs drop column cle_nom")
        con.execute("delete from schema_version where version >= 8")  # as release 7 left it
        ensure_raw_schema(con, key)
        keys = dict(con.execute("select numero_ligne, cle_promeneur from promeneurs").fetchall())
        unnamed = "select count(*) from promeneurs where trim(nom) <> '' and cle_nom is null"
        named = con.execute(unnamed).fetchone()[0]
        version = con.execute("select count(*) from schema_version where version = 8").fetchone()[0]
    assert version == 1 and named == 0  # migration 8 applied again, once
    assert {copy: keys[copy] for copy in copies} == {copy: keys[row] for copy, row in copies.items()}
    assert keys[2] == pseudonym("email:lea.bertrand@example.org", key)
