"""Landing: every cell is kept as text with its sheet row, extras and pseudonymous keys; append-only."""

import json

import duckdb
import pandas as pd

from flows.pipeline.land import land_sync
from flows.sources.config import SpreadsheetSource
from flows.sources.contract import PROMENEURS
from flows.sources.snapshot import tab_from_rows

SUIVI = SpreadsheetSource(kind="suivi", title="Suivi", key=None)
HEADER = ["Remarques", *PROMENEURS.columns.values()]


def roster(rows):
    return tab_from_rows([HEADER, *rows], SUIVI, "fichier:Suivi", "Promeneurs", PROMENEURS, "2020-01-01T00:00:00Z")


def test_landing_keeps_every_cell_as_text_with_row_numbers_and_extras(tmp_path):
    raw_db = tmp_path / "raw.duckdb"
    snapshot = roster(
        [
            ["vu au salon", "Durand", "Léa", "Lea@Example.org ", "03", "Gannat", "CS", "Centre social", "Référent famille", "43620", ""],
            [""] * 11,
            ["", "Roux", "Jean", "", "3", "Vichy", "PIJ", "PIJ", "Informateur jeunesse", "4/6/2019", "0,5"],
        ]
    )
    land_sync(raw_db, "s1", "fichiers", ("03", "63"), [snapshot], [], b"k")
    with duckdb.connect(str(raw_db), read_only=True) as con:
        rows = con.execute(
            "select numero_ligne, nom, email, departement, date_signature_charte, colonnes_extra, cle_promeneur "
            "from promeneurs order by numero_ligne"
        ).fetchall()
    assert [r[0] for r in rows] == [2, 3, 4]
    assert rows[0][1:5] == ("Durand", "Lea@Example.org ", "03", "43620")
    assert json.loads(rows[0][5]) == {"Remarques": "vu au salon"}
    assert rows[1][6] is None  # a blank row has no identity
    assert rows[2][3] == "3" and rows[2][4] == "4/6/2019"
    assert rows[0][6] != rows[2][6] and len(rows[0][6]) == 20


def test_pseudonymous_key_depends_on_the_secret_not_only_on_the_email(tmp_path):
    row = ["", "Durand", "Léa", "lea@example.org", "03", "Gannat", "CS", "Centre social", "Référent famille", "43620", ""]
    same_person = ["", "DURAND", "Léa", " LEA@example.org", "03", "Gannat", "CS", "Centre social", "Référent famille", "43620", ""]
    land_sync(tmp_path / "a.duckdb", "s1", "fichiers", ("03",), [roster([row, same_person])], [], b"secret-1")
    land_sync(tmp_path / "b.duckdb", "s1", "fichiers", ("03",), [roster([row])], [], b"secret-2")
    keys_a = duckdb.connect(str(tmp_path / "a.duckdb"), read_only=True).execute("select cle_promeneur from promeneurs").fetchall()
    key_b = duckdb.connect(str(tmp_path / "b.duckdb"), read_only=True).execute("select cle_promeneur from promeneurs").fetchone()
    assert keys_a[0] == keys_a[1]  # same e-mail whatever its case and spaces
    assert keys_a[0] != key_b


def test_each_sync_appends_a_snapshot_and_never_rewrites_the_previous_one(tmp_path):
    raw_db = tmp_path / "raw.duckdb"
    row = ["", "Durand", "Léa", "lea@example.org", "03", "Gannat", "CS", "Centre social", "Référent famille", "43620", ""]
    first = land_sync(raw_db, "s1", "fichiers", ("03",), [roster([row])], [], b"k")
    land_sync(raw_db, "s2", "fichiers", ("03",), [], [first[0].snapshot_id], b"k")
    with duckdb.connect(str(raw_db), read_only=True) as con:
        assert con.execute("select count(*) from promeneurs").fetchone()[0] == 1
        links = con.execute(
            "select sync_snapshots.sync_id, snapshot_id from sync_snapshots join snapshots using (snapshot_id) "
            "where table_name = 'promeneurs' order by sync_id"
        ).fetchall()
        header = con.execute("select header_json from snapshots where table_name = 'promeneurs'").fetchone()[0]
        lists = con.execute(
            "select distinct sync_snapshots.sync_id, snapshots.snapshot_id from sync_snapshots "
            "join snapshots using (snapshot_id) where spreadsheet_id = 'listes-fournies' order by 1"
        ).fetchall()
    assert links == [("s1", first[0].snapshot_id), ("s2", first[0].snapshot_id)]
    # Each sync records the bundled lists in force; unchanged, they are landed once and linked again.
    assert [sync_id for sync_id, _ in lists] == ["s1", "s2"] and len({snapshot for _, snapshot in lists}) == 1
    changed = ["", "Durand", "Léa", "lea@example.org", "63", "Riom", "CS", "Centre social", "Référent famille", "43620", ""]
    land_sync(raw_db, "s3", "fichiers", ("03",), [roster([changed])], [], b"k")
    with duckdb.connect(str(raw_db), read_only=True) as con:
        assert con.execute("select count(*) from promeneurs").fetchone()[0] == 2  # history kept
        assert con.execute("select departement from promeneurs_courant").fetchall() == [("63",)]
    assert json.loads(header) == HEADER


def test_extra_columns_become_one_json_object_per_row_whatever_their_headers():
    from flows.pipeline.land import extras_as_json

    cells = pd.DataFrame([["a", "l'équipe, \"ici\"", "x"], ["b", "", "y"]])
    rows = extras_as_json(cells, {"Note d'équipe": 1, "colonne C": 2})
    assert [json.loads(row) for row in rows] == [
        {"Note d'équipe": "l'équipe, \"ici\"", "colonne C": "x"},
        {"Note d'équipe": "", "colonne C": "y"},
    ]


def _person(n):
    return ["", f"Nom{n}", f"Prénom{n}", f"p{n}@example.org", "03", "Gannat", "CS", "Centre social", "Animateur", "43620", ""]


def _rosters(sizes):
    """Rosters of distinct spreadsheets holding `sizes` people, numbered across them."""
    people = iter(range(sum(sizes)))
    return [
        tab_from_rows(
            [HEADER, *(_person(next(people)) for _ in range(size))],
            SpreadsheetSource(kind="suivi", title=f"Suivi {index}", key=None), f"fichier:Suivi {index}", "Promeneurs",
            PROMENEURS, "2020-01-01T00:00:00Z",
        )
        for index, size in enumerate(sizes)
    ]


def test_rows_appended_by_batches_land_once_each_with_their_snapshot(tmp_path, monkeypatch):
    monkeypatch.setattr("flows.pipeline.land.APPEND_BATCH_ROWS", 2)  # every snapshot crosses a batch boundary
    sizes = [3, 1, 4, 2]
    landed = land_sync(tmp_path / "raw.duckdb", "s1", "fichiers", ("03",), _rosters(sizes), [], b"k")
    with duckdb.connect(str(tmp_path / "raw.duckdb"), read_only=True) as con:
        rows = con.execute("select snapshot_id, numero_ligne, nom from promeneurs").fetchall()
        snapshots = dict(con.execute("select snapshot_id, count(*) from snapshots group by all").fetchall())
    by_snapshot = {item.snapshot_id: sorted((line, name) for sid, line, name in rows if sid == item.snapshot_id)
                   for item in landed}
    first = 0
    for item, size in zip(landed, sizes):
        assert by_snapshot[item.snapshot_id] == [(line, f"Nom{first + line - 2}") for line in range(2, size + 2)]
        first += size
    assert len(rows) == sum(sizes) and [snapshots.get(item.snapshot_id) for item in landed] == [1] * len(sizes)


def test_a_landing_that_fails_after_a_batch_was_appended_leaves_the_history_as_it_was(tmp_path, monkeypatch):
    raw_db = tmp_path / "raw.duckdb"
    land_sync(raw_db, "s1", "fichiers", ("03",), _rosters([2]), [], b"k")
    monkeypatch.setattr("flows.pipeline.land.APPEND_BATCH_ROWS", 2)
    from flows.pipeline import land

    frames = []

    def fail_on_the_third(snapshot, *args):  # the first two snapshots' rows are already appended by then
        if len(frames) == 2:
            raise RuntimeError("coupure")
        frames.append(real(snapshot, *args))
        return frames[-1]

    real = land.landing_frame
    monkeypatch.setattr(land, "landing_frame", fail_on_the_third)
    try:
        land_sync(raw_db, "s2", "fichiers", ("03",), _rosters([3, 2, 1]), [], b"k")
    except RuntimeError:
        pass
    with duckdb.connect(str(raw_db), read_only=True) as con:
        assert con.execute("select count(*) from promeneurs").fetchone()[0] == 2
        assert con.execute("select list(sync_id) from syncs").fetchone()[0] == ["s1"]
    assert len(frames) == 2
