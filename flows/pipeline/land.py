"""Landing: append every extracted row, as text, to the private raw history (raw.duckdb)."""

from __future__ import annotations

import hashlib
import hmac
import json
import uuid
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd

from flows.sources.contract import CONTRACTS, normalise_label
from flows.sources.snapshot import TabSnapshot

# Identity columns get a pseudonymous key computed here, so that nothing downstream needs them.
IDENTITY_KEY_COLUMN = {"promeneurs": "cle_promeneur", "reponses": "cle_repondant"}

RAW_DDL = [
    """create table if not exists syncs (
        sync_id varchar primary key, started_at timestamp, source_kind varchar, departements varchar)""",
    """create table if not exists snapshots (
        snapshot_id varchar primary key, sync_id varchar, source_kind varchar, spreadsheet_id varchar,
        spreadsheet_title varchar, tab varchar, table_name varchar, campagne_annee integer,
        campagne_ouverture date, campagne_cloture date, time_zone varchar, modified_time varchar,
        extracted_at timestamp, header_json varchar, row_count integer)""",
    "create table if not exists sync_snapshots (sync_id varchar, snapshot_id varchar)",
    *[
        "create table if not exists {table} (snapshot_id varchar, numero_ligne integer, {columns}, "
        "colonnes_extra varchar{key})".format(
            table=contract.table_name,
            columns=", ".join(f"{name} varchar" for name in contract.columns),
            key=f", {IDENTITY_KEY_COLUMN[contract.table_name]} varchar"
            if contract.table_name in IDENTITY_KEY_COLUMN
            else "",
        )
        for contract in CONTRACTS
    ],
    # Current views: the rows of the latest sync (fresh or reused snapshots), for support and debugging.
    *[
        f"""create or replace view {contract.table_name}_courant as
        select * from {contract.table_name}
        where snapshot_id in (
            select snapshot_id from sync_snapshots
            where sync_id = (select sync_id from syncs order by started_at desc limit 1)
        )"""
        for contract in CONTRACTS
    ],
]


@dataclass(frozen=True)
class LandedSnapshot:
    """What one tab's landing produced (no cell content: this goes to logs and the run report)."""

    snapshot_id: str
    spreadsheet_title: str
    tab: str
    table_name: str
    rows: int


def pseudonymise(values: pd.Series, key: bytes) -> pd.Series:
    """Keyed HMAC of each identity (once per distinct value), so keys cannot be recomputed from a name."""
    unique = values.dropna().unique()
    digests = {
        value: hmac.new(key, value.encode("utf-8"), hashlib.sha256).hexdigest()[:20] for value in unique
    }
    return values.map(digests)


def identity(frame: pd.DataFrame, table_name: str) -> pd.Series:
    """Who a row is about: the e-mail, else (roster only) first and last name; None when blank."""
    email = frame["email"].fillna("").str.strip().str.lower()
    who = email.where(email != "", None)
    if table_name == "promeneurs":
        names = (frame["nom"].fillna("") + " " + frame["prenom"].fillna("")).map(normalise_label)
        who = who.fillna(("nom:" + names).where(names != "", None))
    return who


def extras_as_json(cells: pd.DataFrame, extras: dict[str, int]) -> np.ndarray:
    """The extra columns of each row as one JSON object (header -> text), built in DuckDB, not row by row."""
    columns = cells[list(extras.values())].set_axis([f"c{i}" for i in range(len(extras))], axis=1)
    pairs = ", ".join(
        "'" + header.replace("'", "''") + f"', c{i}" for i, header in enumerate(extras)
    )
    with duckdb.connect() as con:
        con.register("extra_cells", columns)
        return con.execute(f"select cast(json_object({pairs}) as varchar) from extra_cells").df().iloc[:, 0].to_numpy()


def landing_frame(snapshot: TabSnapshot, snapshot_id: str, key: bytes) -> pd.DataFrame:
    """Contract columns (text), extra columns as one JSON object, sheet row numbers and keys."""
    cells = snapshot.cells
    frame = pd.DataFrame(
        {
            "snapshot_id": snapshot_id,
            "numero_ligne": np.arange(len(cells), dtype="int64") + snapshot.first_row_number,
        }
    )
    for name in snapshot.contract.columns:
        position = snapshot.mapping.contract_positions.get(name)
        frame[name] = cells[position].to_numpy() if position is not None else None
    extras = snapshot.mapping.extra_positions
    frame["colonnes_extra"] = extras_as_json(cells, extras) if extras and len(cells) else None
    key_column = IDENTITY_KEY_COLUMN.get(snapshot.contract.table_name)
    if key_column:
        frame[key_column] = pseudonymise(identity(frame, snapshot.contract.table_name), key)
    return frame


def _snapshot_record(snapshot: TabSnapshot, snapshot_id: str, sync_id: str, source_kind: str) -> dict:
    campaign = snapshot.spreadsheet.campaign
    return {
        "snapshot_id": snapshot_id,
        "sync_id": sync_id,
        "source_kind": source_kind,
        "spreadsheet_id": snapshot.spreadsheet_id,
        "spreadsheet_title": snapshot.spreadsheet.title,
        "tab": snapshot.tab,
        "table_name": snapshot.contract.table_name,
        "campagne_annee": campaign.annee if campaign else None,
        "campagne_ouverture": campaign.ouverture if campaign else None,
        "campagne_cloture": campaign.cloture if campaign else None,
        "time_zone": snapshot.time_zone,
        "modified_time": snapshot.modified_time,
        "extracted_at": datetime.now(),
        "header_json": json.dumps(snapshot.header, ensure_ascii=False),
        "row_count": len(snapshot.cells),
    }


def ensure_raw_schema(con: duckdb.DuckDBPyConnection) -> None:
    """Create the raw history tables on first use."""
    for statement in RAW_DDL:
        con.execute(statement)


def append_by_name(con: duckdb.DuckDBPyConnection, table: str, frame: pd.DataFrame) -> None:
    """Append a dataframe to a raw table, matching columns by name."""
    con.register("rows_to_land", frame)
    try:
        con.execute(f"insert into {table} by name select * from rows_to_land")
    finally:
        con.unregister("rows_to_land")


def land_sync(
    raw_db: Path,
    sync_id: str,
    source_kind: str,
    departements: tuple[str, ...],
    snapshots: list[TabSnapshot],
    reused_snapshot_ids: list[str],
    key: bytes,
) -> list[LandedSnapshot]:
    """Append one sync's snapshots to the raw history in a single transaction (all or nothing)."""
    raw_db.parent.mkdir(parents=True, exist_ok=True)
    landed = []
    with duckdb.connect(str(raw_db)) as con:
        ensure_raw_schema(con)
        con.execute("begin transaction")
        con.execute(
            "insert into syncs values (?, ?, ?, ?)",
            [sync_id, datetime.now(), source_kind, json.dumps(list(departements))],
        )
        for snapshot in snapshots:
            snapshot_id = uuid.uuid4().hex
            record = pd.DataFrame([_snapshot_record(snapshot, snapshot_id, sync_id, source_kind)])
            append_by_name(con, "snapshots", record)
            frame = landing_frame(snapshot, snapshot_id, key)
            append_by_name(con, snapshot.contract.table_name, frame)
            con.execute("insert into sync_snapshots values (?, ?)", [sync_id, snapshot_id])
            landed.append(
                LandedSnapshot(snapshot_id, snapshot.spreadsheet.title, snapshot.tab, snapshot.contract.table_name, len(frame))
            )
        for snapshot_id in reused_snapshot_ids:
            con.execute("insert into sync_snapshots values (?, ?)", [sync_id, snapshot_id])
        con.execute("commit")
    return landed
