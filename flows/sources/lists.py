"""The reference lists a coordinator owns: bundled in dbt/seeds/listes.csv, extended by the optional
`Listes` tab of the Suivi spreadsheet (columns Liste, Valeur, Variantes acceptées).

dbt matches cells against the lists in force (the bundled ones and every value the tab ever held up to
the sync built); Python reads the same file to land the bundled lists with each sync (so replays see
the lists of their time) and to write the template (`pdn modele`).
"""

from __future__ import annotations

import csv
import functools
import hashlib
from dataclasses import dataclass
from pathlib import Path

from flows.settings import SEEDS_DIR

LISTS_FILE = SEEDS_DIR / "listes.csv"
# The lists, as the Listes tab names them (the seed uses the same names), and the field each constrains.
FIELD_LISTS = {"profil": "Profil", "type_structure": "Type de structure", "type_action": "Type d'action", "public": "Public"}
LIST_NAMES = tuple(FIELD_LISTS.values())
DATE_FIELDS = ("date_signature_charte", "date_sortie", "date")
NUMBER_FIELDS = ("participants", "duree_jours")  # bounded by sources.toml [bornes]


@dataclass(frozen=True)
class ListEntry:
    """One value of a list, with the other spellings accepted for it."""

    liste: str
    valeur: str
    variantes: tuple[str, ...] = ()
    indicateur: str | None = None  # an action type's indicator (bundled types only)


@functools.cache
def bundled_lists(path: Path = LISTS_FILE) -> tuple[ListEntry, ...]:
    """The lists shipped with the project, in file order."""
    with open(path, encoding="utf-8", newline="") as handle:
        return tuple(
            ListEntry(
                liste=row["liste"].strip(),
                valeur=row["valeur"].strip(),
                variantes=tuple(v.strip() for v in (row["variantes"] or "").split("|") if v.strip()),
                indicateur=(row["indicateur"] or "").strip() or None,
            )
            for row in csv.DictReader(handle)
        )


def bundled_lists_fingerprint(path: Path = LISTS_FILE) -> str:
    """Identifies a version of the bundled lists: a sync lands them again only when they changed."""
    return "sha256:" + hashlib.sha256(path.read_bytes()).hexdigest()
