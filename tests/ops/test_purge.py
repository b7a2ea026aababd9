"""`pdn purger`: old snapshots go, departed Promeneurs lose their personal data, the current build stays intact."""

from __future__ import annotations

import hashlib
import re
from datetime import datetime
from pathlib import Path

import duckdb
import pytest

from flows.errors import InputError, SyncAlreadyRunning
from flows.ops.purge import PERSONAL_COLUMNS, date_cell_sql, format_purge, purge_raw, run_purge
from flows.pipeline.land import ensure_raw_schema
from flows.pipeline.publish import warehouse_lock
from flows.settings import Settings, load_settings

NOW = datetime(2025, 6, 15, 12, 0)  # with 3 years' retention, the limit is 15/06/2022 12:00

# Syncs: (sync_id, started_at, snapshots used); a snapshot is extracted by the first sync that uses it.
SYNCS = [
    ("S1-2021", datetime(2021, 1, 10), ["P1", "A1", "R1"]),
    ("S2-2022", datetime(2022, 1, 10), ["P2", "A1"]),
    ("S3-2023", datetime(2023, 3, 1), ["P4", "A1"]),
    ("S4-2025", datetime(2025, 6, 14), ["P3", "A1", "R3"]),  # the latest: A1 is still its Activités tab
]
TABLES = {"P": "promeneurs", "A": "activites", "R": "reponses"}


def roster(who: str, exit_date: str, remarks: str = "") -> dict:
    """One roster row; names are unique made-up strings so the file can be scanned for them."""
    return {
        "nom": f"Nom{who}zq",
        "prenom": f"Prenom{who}zq",
        "email": f"{who.lower()}.zq@example.org",
        "departement": "63",
        "commune": "Riom",
        "structure": "Centre social de Riom",
        "type_structure": "Centre social",
        "profil": "Référent famille",
        "date_signature_charte": "11/10/2018",
        "date_sortie": exit_date,
        "colonnes_extra": f'{{"Remarques": "suivi par {who}"}}' if remarks else None,
        "cle_promeneur": f"cle-{who.lower()}",
    }


BLANK_ROW = {name: "" for name in roster("x", "")} | {"cle_promeneur": None, "colonnes_extra": None}

ROSTERS = {
    "P1": [roster("Alice", ""), roster("Bruno", "")],
    "P2": [roster("Alice", "43952"), roster("Bruno", "")],
    # Emma's exit date was typed wrong in 2023 and removed since: her latest row decides, she is active.
    "P4": [roster("Alice", "43952"), roster("Bruno", ""), roster("Denis", "30/09/2021"), roster("Emma", "01/01/2020")],
    "P3": [
        roster("Alice", "43952", remarks="oui"),  # serial number: 01/05/2020, left long ago
        roster("Bruno", "15/03/2023"),  # left, but less than 3 years ago
        roster("Chloe", ""),  # active
        roster("Denis", "2021-09-30 10:00:00"),  # ISO date-time: left long ago
        roster("Emma", ""),
        # Fanny came back: her current period first, her old one (left long ago) on a later line.
        roster("Fanny", "") | {"date_signature_charte": "01/09/2022"},
        roster("Fanny", "30/06/2019"),
        BLANK_ROW,
    ],
}


def build_raw(raw_db: Path) -> None:
    """A raw history with old and recent snapshots, landed the way flows/land.py lands them."""
    raw_db.parent.mkdir(parents=True, exist_ok=True)
    with duckdb.connect(str(raw_db)) as con:
        ensure_raw_schema(con)
        landed = set()
        for sync_id, started_at, snapshots in SYNCS:
            con.execute("insert into syncs (sync_id, started_at, source_kind, departements) values (?, ?, 'sheets', '[\"03\", \"63\"]')", [sync_id, started_at])
            for snapshot_id in snapshots:
                con.execute("insert into sync_snapshots values (?, ?)", [sync_id, snapshot_id])
                if snapshot_id in landed:
                    continue
                landed.add(snapshot_id)
                table = TABLES[snapshot_id[0]]
                con.execute(
                    "insert into snapshots (snapshot_id, sync_id, source_kind, table_name, extracted_at) "
                    "values (?, ?, 'sheets', ?, ?)",
                    [snapshot_id, sync_id, table, started_at],
                )
                rows = ROSTERS.get(snapshot_id) or [{"departement": "03", "commune": f"ligne {n}"} for n in range(5)]
                for number, row in enumerate(rows, start=2):
                    if table == "reponses":
                        email = f"repondant{number}-{snapshot_id}.zq@example.org"
                        row = {"email": email, "cle_repondant": f"r{number}"}
                        # a free-text answer, where respondents write anything (their own address too)
                        con.execute(
                            "insert into reponses_cellules (snapshot_id, numero_ligne, colonne, valeur) "
                            "values (?, ?, 'Commentaires', ?)",
                            [snapshot_id, number, f"écrivez-moi : {email}"],
                        )
                    columns = ["snapshot_id", "numero_ligne", *row]
                    con.execute(
                        f"insert into {table} ({', '.join(columns)}) values ({', '.join('?' for _ in columns)})",
                        [snapshot_id, number, *row.values()],
                    )


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def rows(raw_db: Path, sql: str) -> list[tuple]:
    with duckdb.connect(str(raw_db), read_only=True) as con:
        return con.execute(sql).fetchall()


@pytest.fixture
def raw(warehouse: Settings) -> Settings:
    build_raw(warehouse.raw_db)
    return warehouse


@pytest.fixture
def published(warehouse: Settings) -> Path:
    """A published warehouse file: purge must never touch it."""
    warehouse.warehouse_dir.mkdir(parents=True, exist_ok=True)
    with duckdb.connect(str(warehouse.published_db)) as con:
        con.execute("create schema bilan")
        con.execute("create table bilan.indicateurs_annuels as select 2019 as annee, 'sorties' as indicateur")
    return warehouse.published_db


def test_old_snapshots_go_except_those_the_latest_sync_uses(raw, published):
    before = sha256(published)

    summary = run_purge(raw, years=3, now=NOW)

    assert sorted(r[0] for r in rows(raw.raw_db, "select snapshot_id from snapshots")) == ["A1", "P3", "P4", "R3"]
    # S1 and S2 lost snapshots, so they can no longer be replayed; S3 still can.
    assert sorted(r[0] for r in rows(raw.raw_db, "select sync_id from syncs")) == ["S3-2023", "S4-2025"]
    assert sorted(rows(raw.raw_db, "select * from sync_snapshots")) == [
        ("S3-2023", "A1"), ("S3-2023", "P4"), ("S4-2025", "A1"), ("S4-2025", "P3"), ("S4-2025", "R3"),
    ]
    roster_counts = rows(raw.raw_db, "select snapshot_id, count(*) from promeneurs group by all order by 1")
    assert roster_counts == [("P3", len(ROSTERS["P3"])), ("P4", len(ROSTERS["P4"]))]
    assert rows(raw.raw_db, "select snapshot_id, count(*) from activites group by all") == [("A1", 5)]
    assert rows(raw.raw_db, "select snapshot_id, count(*) from reponses group by all") == [("R3", 5)]
    assert summary.instantanes_supprimes == 3
    assert summary.syncs_supprimees == 2
    assert rows(raw.raw_db, "select snapshot_id, count(*) from reponses_cellules group by all") == [("R3", 5)]
    deleted = {table: count for table, count in summary.lignes_supprimees.items() if count}
    assert deleted == {"promeneurs": 4, "reponses": 5, "reponses_cellules": 5}
    assert summary.instantanes_conserves == 1
    assert sha256(published) == before


def test_departed_promeneurs_lose_personal_data_but_keep_their_key(raw):
    def roster_rows() -> dict:
        found = rows(raw.raw_db, "select * exclude (snapshot_id, numero_ligne), snapshot_id, numero_ligne "
                                 "from promeneurs")
        return {(r[-2], r[-1]): r[:-2] for r in found}

    columns = [r[0] for r in rows(raw.raw_db, "select column_name from (describe promeneurs)")][2:]
    before = roster_rows()

    summary = run_purge(raw, years=3, now=NOW)

    after = roster_rows()
    blanked = {key for key in after if after[key][columns.index("nom")] is None}
    departed = {("P4", 2), ("P3", 2), ("P4", 4), ("P3", 5)}  # Alice and Denis, in both remaining snapshots
    assert blanked == departed
    for key in after:
        for index, column in enumerate(columns):
            if key in departed and column in PERSONAL_COLUMNS:
                assert after[key][index] is None
            else:  # every other cell, and every other row, unchanged: keys included, so marts do not move
                assert after[key][index] == before[key][index], (key, column)
    assert summary.promeneurs_anonymises == 2
    assert summary.lignes_anonymisees == 4
    assert summary.lignes_anonymisees_derniere_sync == 2


def test_erased_values_no_longer_exist_anywhere_in_the_file(raw):
    raw.raw_db.chmod(0o600)
    erased = (b"NomAlicezq", b"PrenomDeniszq", b"alice.zq@example.org", b"suivi par Alice", b"repondant2-R1.zq")
    content = raw.raw_db.read_bytes()
    assert all(value in content for value in erased)  # else this test would prove nothing

    run_purge(raw, years=3, now=NOW)

    content = raw.raw_db.read_bytes()
    assert [value for value in erased if value in content] == []
    assert raw.raw_db.stat().st_mode & 0o777 == 0o600  # the rewritten file stays private
    assert b"NomBrunozq" in content and b"NomChloezq" in content and b"repondant2-R3.zq" in content


def test_summary_is_french_and_counts_only(raw):
    text = format_purge(run_purge(raw, years=3, now=NOW))

    assert "conservation 3 ans, limite le 15/06/2022" in text
    assert "Instantanés supprimés : 3 (lignes promeneurs : 4, reponses : 5, reponses_cellules : 5)" in text
    assert "Promeneurs sortis avant la limite dont les données personnelles ont été effacées : 2 (4 lignes)" in text
    assert "2 de ces lignes figurent encore dans les tableurs actuels" in text
    assert "zq" not in text  # no name, no e-mail


def test_a_promeneur_who_came_back_keeps_her_data_whatever_the_order_of_her_periods(raw):
    purge_raw(raw.raw_db, load_settings().retention_years, now=NOW)
    names = rows(raw.raw_db, "select nom from promeneurs where cle_promeneur = 'cle-fanny'")
    assert names and all(name == "NomFannyzq" for (name,) in names)


def test_second_purge_finds_nothing_left(raw):
    run_purge(raw, years=3, now=NOW)
    before = sha256(raw.raw_db)

    again = run_purge(raw, years=3, now=NOW)

    assert (again.instantanes_supprimes, again.syncs_supprimees, again.lignes_anonymisees) == (0, 0, 0)
    assert sha256(raw.raw_db) == before


def test_simulation_counts_without_changing_anything(raw):
    before = sha256(raw.raw_db)

    summary = purge_raw(raw.raw_db, 3, now=NOW, dry_run=True)

    assert (summary.instantanes_supprimes, summary.lignes_anonymisees) == (3, 4)
    assert "seraient effacées" in format_purge(summary)
    assert sha256(raw.raw_db) == before


def test_longer_retention_keeps_more(raw):
    summary = run_purge(raw, years=5, now=NOW)  # limit 15/06/2020: every snapshot is recent enough

    assert summary.instantanes_supprimes == 0
    assert summary.promeneurs_anonymises == 1  # Alice (left 01/05/2020); Denis left 30/09/2021


def test_retention_comes_from_the_environment(raw, monkeypatch):
    monkeypatch.setenv("PDN_RETENTION_YEARS", "10")
    assert run_purge(load_settings(), now=NOW).instantanes_supprimes == 0
    monkeypatch.setenv("PDN_RETENTION_YEARS", "trois")
    with pytest.raises(InputError, match="PDN_RETENTION_YEARS"):
        run_purge(load_settings(), now=NOW)


def test_purge_is_refused_while_a_sync_holds_the_lock(raw):
    before = sha256(raw.raw_db)
    with warehouse_lock(raw.lock_file):
        with pytest.raises(SyncAlreadyRunning) as refused:
            run_purge(raw, years=3, now=NOW)
    assert refused.value.exit_code == 3
    assert sha256(raw.raw_db) == before


def test_exit_dates_are_read_with_the_dbt_rule():
    parse = date_cell_sql("v")
    with duckdb.connect() as con:
        def read(text: str):
            return con.execute(f"select {parse} from (select ?::varchar as v)", [text]).fetchone()[0]

        same_day = ("43952", "43952.75", "01/05/2020", "1/5/2020", "2020-05-01", "01/05/2020 10:32:15")
        assert {str(read(text)) for text in same_day} == {"2020-05-01"}
        assert read("31/02/2020") is None and read("bientôt") is None and read("") is None


def test_sample_landed_by_the_flow_loses_exactly_its_six_departed_promeneurs(warehouse):
    from flows.pipeline.land import land_sync
    from flows.settings import SAMPLE_DIR
    from flows.sources.config import load_source_config
    from flows.sources.files import extract_files

    config = load_source_config(SAMPLE_DIR / "sources.toml")
    land_sync(warehouse.raw_db, "sync-echantillon", "fichiers", config.departements,
              extract_files(SAMPLE_DIR, config), [], warehouse.pseudonym_key())
    keys_before = rows(warehouse.raw_db, "select numero_ligne, cle_promeneur from promeneurs order by 1")

    # The sample's six exit dates (2018-2020, as serial numbers and d/m/Y) are all older than 15/06/2022.
    summary = run_purge(warehouse, years=3, now=NOW)

    assert (summary.promeneurs_anonymises, summary.lignes_anonymisees, summary.instantanes_supprimes) == (6, 6, 0)
    blanked = "select trim(date_sortie) <> '', count(*) from promeneurs where email is null group by all"
    assert rows(warehouse.raw_db, blanked) == [(True, 6)]  # exactly the six rows with an exit date
    assert rows(warehouse.raw_db, "select numero_ligne, cle_promeneur from promeneurs order by 1") == keys_before


def test_snapshots_of_the_published_build_are_kept_even_when_the_latest_sync_was_blocked(raw):
    # The latest sync (S4) was blocked by the gate: the published file still comes from S2, built in 2022.
    raw.warehouse_dir.mkdir(parents=True, exist_ok=True)
    with duckdb.connect(str(raw.published_db)) as con:
        con.execute("create schema qualite")
        con.execute("create table qualite.synchronisation as select 'S2-2022' as sync_id")
    before = sha256(raw.published_db)

    summary = run_purge(raw, years=3, now=NOW)

    assert sorted(r[0] for r in rows(raw.raw_db, "select sync_id from syncs")) == ["S2-2022", "S3-2023", "S4-2025"]
    assert sorted(r[0] for r in rows(raw.raw_db, "select snapshot_id from snapshots")) == ["A1", "P2", "P3", "P4", "R3"]
    assert (summary.instantanes_supprimes, summary.instantanes_conserves) == (2, 2)
    assert sha256(raw.published_db) == before


# --- Every personal value of a departed Promeneur, in every table (declared lists of flows/pipeline/land.py) ---------


def test_every_text_column_of_the_raw_schema_is_declared_personal_free_text_or_technical(tmp_path):
    from flows.pipeline.land import FREE_TEXT_COLUMNS, PERSONAL_COLUMNS_BY_TABLE, TECHNICAL_COLUMNS

    with duckdb.connect(str(tmp_path / "raw.duckdb")) as con:
        ensure_raw_schema(con, b"k")
        text_columns = con.execute(
            "select table_name, column_name from duckdb_columns() where not internal "
            "and table_name in (select table_name from duckdb_tables()) "
            "and (data_type = 'VARCHAR' or data_type like 'VARCHAR[%]') order by all"
        ).fetchall()
    declared = {
        (table, column)
        for lists in (PERSONAL_COLUMNS_BY_TABLE, FREE_TEXT_COLUMNS, TECHNICAL_COLUMNS)
        for table, columns in lists.items()
        for column in columns
    }
    assert len(text_columns) > 60  # the schema was read: promeneurs, activites, reponses, snapshots…
    assert [column for column in text_columns if column not in declared] == []


def test_purge_blanks_the_personal_columns_of_every_table_that_has_some():
    from flows.ops.purge import DEPARTED_ROWS
    from flows.pipeline.land import PERSONAL_COLUMNS_BY_TABLE

    assert set(DEPARTED_ROWS) == set(PERSONAL_COLUMNS_BY_TABLE)


def departed_sample_promeneurs() -> list[dict]:
    """The sample's Promeneurs with an exit date (all before 2021), as in the roster export."""
    import pandas as pd

    from flows.settings import SAMPLE_DIR

    roster = pd.read_csv(SAMPLE_DIR / "Suivi - Promeneurs.csv", dtype=str, keep_default_na=False)
    roster.columns = [column.strip() for column in roster.columns]
    return roster[roster["Date de sortie"] != ""].to_dict("records")


def test_nothing_of_a_departed_promeneur_remains_anywhere_in_the_raw_history(warehouse, tmp_path):
    import csv
    import shutil

    from flows.pipeline.land import land_sync
    from flows.settings import SAMPLE_DIR
    from flows.sources.config import load_source_config
    from flows.sources.files import extract_files

    departed = departed_sample_promeneurs()
    first, second = departed[0], departed[1]
    exports = Path(shutil.copytree(SAMPLE_DIR, tmp_path / "exports"))
    activities = exports / "Suivi - Activités.csv"
    with open(activities, encoding="utf-8", newline="") as handle:
        lines = list(csv.reader(handle))
    # Another row's free text names two of them, as coordinators write: full name, civility and surname, address.
    lines[1][-1] = f"Animée par {first['Prènom']} {first['NOM']} et Mme {second['NOM']} ({second['E-mail']})"
    with open(activities, "w", encoding="utf-8", newline="") as handle:
        csv.writer(handle, lineterminator="\r\n").writerows(lines)
    config = load_source_config(exports / "sources.toml")
    land_sync(warehouse.raw_db, "sync-echantillon", "fichiers", config.departements, extract_files(exports, config), [],
              warehouse.pseudonym_key())
    # Address, surname (a whole word: « andre » is in « alexandre »), remarks, and the full name written above.
    values = [v for p in departed for v in (p["E-mail"], p["NOM"], p["Remarques"]) if v]
    needles = [re.compile(rb"(?<![a-z0-9])" + re.escape(v.lower().encode()) + rb"(?![a-z0-9])") for v in values]
    needles.append(re.compile(re.escape(f"{first['Prènom']} {first['NOM']}".lower().encode())))
    answers = "select count(*) from reponses where lower(email) in (select unnest(?))"
    emails = [person["E-mail"].lower() for person in departed]
    # Read through DuckDB (its compression may hide a value from a byte scan), and byte by byte (free blocks).
    in_tables, in_bytes = held_text(warehouse.raw_db), warehouse.raw_db.read_bytes().lower()
    assert [n.pattern for n in needles if not n.search(in_tables)] == []
    answered = rows_count(warehouse.raw_db, answers, emails)  # their questionnaire answers, with their address
    assert [n for n in needles if n.search(in_bytes)] and answered > 0

    summary = run_purge(warehouse, years=3, now=NOW)

    in_tables, in_bytes = held_text(warehouse.raw_db), warehouse.raw_db.read_bytes().lower()
    assert [n.pattern for n in needles if n.search(in_tables) or n.search(in_bytes)] == []
    assert rows_count(warehouse.raw_db, answers, emails) == 0
    assert (summary.reponses_anonymisees, summary.mentions_masquees) == (answered, 1)
    assert "Animée par [effacé] et [effacé] ([effacé])" in {
        row[0] for row in rows(warehouse.raw_db, "select commentaire from activites where commentaire is not null")
    }
    text = format_purge(summary)
    assert f"Leurs réponses au questionnaire (adresse e-mail effacée) : {answered} ; textes libres qui les nomment" in text


def held_text(raw_db: Path) -> bytes:
    """Every text cell of every table of the history, lower case, one per line (as DuckDB reads them back)."""
    with duckdb.connect(str(raw_db), read_only=True) as con:
        columns = con.execute(
            "select table_name, column_name from duckdb_columns() where not internal "
            "and table_name in (select table_name from duckdb_tables()) and data_type like 'VARCHAR%'"
        ).fetchall()
        cells = [
            value
            for table, column in columns
            for (value,) in con.execute(f'select lower(cast("{column}" as varchar)) from {table} where "{column}" is not null').fetchall()
        ]
    return "\n".join(cells).encode()


def rows_count(raw_db: Path, sql: str, values: list) -> int:
    with duckdb.connect(str(raw_db), read_only=True) as con:
        return con.execute(sql, [values]).fetchone()[0]
