"""Which published figures a rebuild moved: bilan.indicateurs_annuels before and after, value by value.

An erasure recomputes every figure without the person: the coordinator needs the list of (year,
department, indicator) that changed, to tell the CAF when a figure already sent is no longer the same.
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
        con.execute(f"attach '{str(file).replace(chr(39), chr(39) * 2)}' as {alias} (read_only)")

    try:
        attach(path)
    except duckdb.IOException:
        attach(Path(shutil.copy(path, Path(folder) / f"{alias}.duckdb")))


def moved_figures(before_db: Path, after_db: Path) -> list[dict]:
    """Every (annee, departement, indicateur) whose value differs, appeared or disappeared, with both values."""
    with tempfile.TemporaryDirectory() as folder, duckdb.connect() as con:
        _attach(con, before_db, "avant", folder)
        _attach(con, after_db, "apres", folder)
        cursor = con.execute(
            f"""select
                coalesce(a.annee, b.annee) as annee,
                coalesce(a.departement, b.departement) as departement,
                coalesce(a.indicateur, b.indicateur) as indicateur,
                a.valeur as avant,
                b.valeur as apres
            from avant.{INDICATORS_TABLE} as a
            full outer join apres.{INDICATORS_TABLE} as b
                on b.annee = a.annee and b.departement = a.departement and b.indicateur = a.indicateur
            where a.valeur is distinct from b.valeur
            order by annee, indicateur, departement"""
        )
        names = [column[0] for column in cursor.description]
        return [dict(zip(names, row)) for row in cursor.fetchall()]
