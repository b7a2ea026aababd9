"""Which published figures a rebuild moved: bilan.indicateurs_annuels before and after, value by value.

Every sync compares its candidate with the published file (an erasure, a deleted row, a corrected date
recompute figures): the coordinator needs the list of (year, department, indicator) that changed, to tell
the CAF when a figure already sent is no longer the same. Closed years compare with their frozen figures.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

import duckdb

INDICATORS_TABLE = "bilan.indicateurs_annuels"


def _attach(con: duckdb.DuckDBPyConnection, path: Path, alias: str, folder: str) -> None:
    """Attach a warehouse file read-only; when someone holds it open read-write (locked), a copy of it."""
    def attach(file: Path) -> None:
        # A bound path (any « ' » in it stays data); the alias is one of this module's constants.
        con.execute(f"attach ? as {alias} (read_only)", [str(file)])

    try:
        attach(path)
    except duckdb.IOException:
        attach(Path(shutil.copy(path, Path(folder) / f"{alias}.duckdb")))


def moved_between(con: duckdb.DuckDBPyConnection, before: str, after: str) -> list[dict]:
    """The comparison itself, between two relations of the connection shaped like bilan.indicateurs_annuels."""
    cursor = con.execute(
        f"""select
            coalesce(a.annee, b.annee) as annee,
            coalesce(a.departement, b.departement) as departement,
            coalesce(a.indicateur, b.indicateur) as indicateur,
            a.valeur as avant,
            b.valeur as apres
        from {before} as a
        full outer join {after} as b
            on b.annee = a.annee and b.departement = a.departement and b.indicateur = a.indicateur
        where a.valeur is distinct from b.valeur
        order by annee, indicateur, departement"""
    )
    names = [column[0] for column in cursor.description]
    return [dict(zip(names, row)) for row in cursor.fetchall()]


def moved_figures(before_db: Path, after_db: Path) -> list[dict]:
    """Every (annee, departement, indicateur) whose value differs, appeared or disappeared, with both values."""
    with tempfile.TemporaryDirectory() as folder, duckdb.connect() as con:
        _attach(con, before_db, "avant", folder)
        _attach(con, after_db, "apres", folder)
        return moved_between(con, f"avant.{INDICATORS_TABLE}", f"apres.{INDICATORS_TABLE}")


# Columns compared to tell a sheet row changed: not where it sits (a deletion shifts every row below), not what
# `pdn purger` blanks (a departed Promeneur's row is the same row without her name).
_NOT_COMPARED = ("snapshot_id", "numero_ligne", "nom", "prenom", "email", "colonnes_extra")
_ROW_TABLES = ("promeneurs", "activites", "reponses")
ROWS_LISTED_MAX = 50  # row numbers listed per tab and direction; the counts stay exact


def _tab_rows(con: duckdb.DuckDBPyConnection, table: str, sync_id: str, alias: str) -> str:
    """A temporary table of one sync's rows of `table`, with their tab and the compared columns."""
    columns = [
        name for (name,) in con.execute(
            "select column_name from duckdb_columns() where table_name = ? and database_name = 'brut' "
            "order by column_index",
            [table],
        ).fetchall()
        if name not in _NOT_COMPARED
    ]
    compared = ", ".join(f"r.{c}" for c in columns)
    con.execute(
        f"""create or replace temp table {alias} as
        select s.spreadsheet_title as tableur, s.tab as onglet, r.numero_ligne as ligne,
            md5(cast(row({compared}) as varchar)) as empreinte
        from brut.{table} r
        join brut.snapshots s using (snapshot_id)
        where r.snapshot_id in (select snapshot_id from brut.sync_snapshots where sync_id = ?)""",
        [sync_id],
    )
    return alias


def changed_rows(raw_db: Path, before_sync: str, after_sync: str) -> list[dict]:
    """The sheet rows behind moved figures: per tab, rows gone since the published sync and rows new or changed.

    Row numbers only (the removed ones as they were in the published sync): never a cell's content."""
    listed = []
    with tempfile.TemporaryDirectory() as folder, duckdb.connect() as con:
        _attach(con, raw_db, "brut", folder)
        for table in _ROW_TABLES:
            before, after = _tab_rows(con, table, before_sync, "avant"), _tab_rows(con, table, after_sync, "apres")
            rows = con.execute(
                f"""with
                gone as (select tableur, onglet, empreinte from {before} except all select tableur, onglet, empreinte from {after}),
                new as (select tableur, onglet, empreinte from {after} except all select tableur, onglet, empreinte from {before}),
                gone_rows as (select distinct b.tableur, b.onglet, b.ligne, 'supprimees' as sens from {before} b
                    join gone g using (tableur, onglet, empreinte)),
                new_rows as (select distinct a.tableur, a.onglet, a.ligne, 'ajoutees' as sens from {after} a
                    join new n using (tableur, onglet, empreinte))
                select tableur, onglet, sens, count(*), list(ligne order by ligne)[1:{ROWS_LISTED_MAX}]
                from (select * from gone_rows union all select * from new_rows)
                group by all order by all"""
            ).fetchall()
            by_tab: dict[tuple[str, str], dict] = {}
            for tableur, onglet, sens, count, lines in rows:
                entry = by_tab.setdefault((tableur, onglet), {"tableur": tableur, "onglet": onglet})
                entry[sens], entry[f"{sens}_total"] = list(lines), count
            listed += by_tab.values()
    return listed
