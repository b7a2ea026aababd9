"""`pdn recle` (`pdn recle`): move the raw history to a new pseudonym key, under the warehouse lock.

Every key computed from data still held (roster rows, questionnaire answers, name + structure keys) is
recomputed under the new key; a row whose personal data is gone (a departed Promeneur after `pdn purger`)
follows the row of the same person that still has it. Erased people's keys and mention fingerprints cannot be
recomputed: their names are gone, on purpose. Their erasures keep the fingerprint of the key they were made
with, and that key joins the ring (private/cles/), with which landing still recognises them.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pandas as pd

from flows.errors import InputError
from flows.pipeline.land import (
    FULL_NAME_KEY_COLUMN,
    IDENTITY_KEY_COLUMN,
    NAME_KEY_COLUMN,
    ensure_raw_schema,
    pseudonymous_keys,
)
from flows.pipeline.publish import warehouse_lock
from flows.pseudonym_keys import history_fingerprint, keep_in_ring, key_fingerprint
from flows.settings import Settings
from flows.storage import private_umask

OLD_KEY_VARIABLE = "PDN_ANCIEN_PSEUDONYM_KEY"
# Per table: the columns the identity rule reads (rows holding none of them have had their data removed).
IDENTITY_COLUMNS = {"promeneurs": ("email", "nom", "prenom", "structure"), "reponses": ("email",)}
KEY_COLUMNS = {
    "promeneurs": (IDENTITY_KEY_COLUMN["promeneurs"], NAME_KEY_COLUMN, FULL_NAME_KEY_COLUMN),
    "reponses": (IDENTITY_KEY_COLUMN["reponses"],),
}


@dataclass(frozen=True)
class RekeySummary:
    """What `pdn recle` did: counts and fingerprints only."""

    ancienne_empreinte: str
    nouvelle_empreinte: str
    lignes: dict[str, int]  # rows whose keys were recomputed, by table
    effacements: int  # erasures still recognised through the ring
    trousseau: Path


def old_key(key_file: Path | None) -> bytes:
    """The key the history was written with: --ancienne-cle-fichier, else PDN_ANCIEN_PSEUDONYM_KEY."""
    if key_file is not None:
        try:
            key = key_file.read_text(encoding="utf-8").strip().encode()
        except OSError as err:
            raise InputError(f"Ancienne clé illisible : {key_file} ({err.strerror}).") from None
    else:
        key = os.environ.get(OLD_KEY_VARIABLE, "").encode()
    if not key:
        raise InputError(
            f"Donnez l'ancienne clé de pseudonymisation : --ancienne-cle-fichier FICHIER (par exemple l'ancien "
            f"pseudonym.key) ou la variable {OLD_KEY_VARIABLE}. La nouvelle clé est celle en usage "
            "(PDN_PSEUDONYM_KEY ou pseudonym.key du dossier privé)."
        )
    return key


def _rekey_table(con: duckdb.DuckDBPyConnection, table: str, new_key: bytes) -> int:
    """Recompute a table's keys under `new_key`; rows without personal data follow their person's. Row count."""
    identity, key_columns = IDENTITY_COLUMNS[table], KEY_COLUMNS[table]
    rows = con.execute(f"select rowid, {', '.join([*identity, *key_columns])} from {table}").df()
    if rows.empty:
        return 0
    held = rows[list(identity)].notna().any(axis=1)
    fresh = pseudonymous_keys(rows[held], table, new_key)
    for column in key_columns:
        pairs = pd.DataFrame({"old": rows.loc[held, column], "new": fresh[column]}).dropna()
        followed = dict(zip(pairs["old"], pairs["new"]))
        rows[column] = rows[column].map(lambda value, f=followed: f.get(value, value))
        rows.loc[held, column] = fresh[column]
    con.register("nouvelles_cles", rows[["rowid", *key_columns]])
    assignments = ", ".join(f"{column} = n.{column}" for column in key_columns)
    con.execute(f"update {table} set {assignments} from nouvelles_cles as n where {table}.rowid = n.rowid")
    con.unregister("nouvelles_cles")
    return int(held.sum())


def rekey_history(raw_db: Path, private_dir: Path, old: bytes, new: bytes) -> RekeySummary:
    """Check the old key against the history, keep it in the ring, then recompute every key in one transaction."""
    old_print, new_print = key_fingerprint(old), key_fingerprint(new)
    if old_print == new_print:
        raise InputError("L'ancienne clé et la clé en usage sont identiques : rien à changer.")
    with duckdb.connect(str(raw_db)) as con:
        ensure_raw_schema(con, old)  # an earlier release's history: migrated under its own key
        recorded = history_fingerprint(con)
        if recorded != old_print:
            raise InputError(
                f"L'ancienne clé donnée (empreinte {old_print}) n'est pas celle de l'historique (empreinte "
                f"{recorded or 'inconnue'}) : rien n'a été modifié. Donnez la clé avec laquelle l'historique a "
                "été écrit."
            )
        ring = keep_in_ring(private_dir, old)  # before the commit: an erasure must never lose its key
        con.execute("begin transaction")
        con.execute("update effacements set empreinte_cle = ? where empreinte_cle is null", [old_print])
        counts = {table: _rekey_table(con, table, new) for table in IDENTITY_COLUMNS}
        con.execute("update syncs set empreinte_cle = ?", [new_print])
        erasures = con.execute("select count(*) from effacements where empreinte_cle <> ?", [new_print]).fetchone()[0]
        con.execute("commit")
        con.execute("checkpoint")
    return RekeySummary(old_print, new_print, counts, erasures, ring.parent)


def run_rekey(settings: Settings, old_key_file: Path | None = None) -> RekeySummary:
    """`pdn recle`: the configured history moved to the key in use, under the warehouse lock."""
    old, new = old_key(old_key_file), settings.pseudonym_key()
    if not settings.raw_db.exists():
        raise InputError(f"Aucun historique brut ({settings.raw_db}) : aucune clé à changer.")
    with warehouse_lock(settings.lock_file), private_umask():
        return rekey_history(settings.raw_db, settings.private_dir, old, new)


def format_rekey(summary: RekeySummary) -> str:
    """A French account of the rekey: fingerprints and counts, never a key."""
    rows = ", ".join(f"{table} : {count}" for table, count in summary.lignes.items())
    return "\n".join([
        f"Historique passé à la nouvelle clé (empreinte {summary.ancienne_empreinte} → {summary.nouvelle_empreinte}).",
        f"  Lignes dont les clés ont été recalculées : {rows}.",
        f"  Effacements reconnus grâce à l'ancienne clé, gardée dans le trousseau {summary.trousseau} : "
        f"{summary.effacements}.",
        "  Sauvegardez la nouvelle clé et ce trousseau avec l'historique (sans eux, les effacements ne protègent "
        "plus), puis lancez « pdn synchroniser » : l'entrepôt publié prendra les nouvelles clés.",
    ])
