"""The questionnaire catalogue, as Python reads it: the same file dbt builds from (dbt/seeds/questionnaire.csv).

dbt matches answers to it; Python uses it to check what the configuration says about questions (a
per-campaign title mapping must name catalogue questions) and to generate realistic answers.
"""

from __future__ import annotations

import csv
import functools
from dataclasses import dataclass
from pathlib import Path

from flows.settings import SEEDS_DIR

CATALOGUE_FILE = SEEDS_DIR / "questionnaire.csv"
KINDS = ("choix_unique", "choix_multiple", "echelle", "texte_libre")
SCALE = ("1", "2", "3", "4", "5")


@dataclass(frozen=True)
class Question:
    """One question of the catalogue."""

    code: str
    kind: str  # see KINDS
    order: int
    label: str
    headers: tuple[str, ...]  # every header the question has had in a form, the current one first
    options: tuple[str, ...]  # display order; a scale's are '1'..'5'; free text has none
    option_variants: dict[str, tuple[str, ...]]  # option -> other spellings it has had


def _split(cell: str | None) -> list[str]:
    return [part.strip() for part in (cell or "").split("|") if part.strip()]


@functools.cache
def load_catalogue(path: Path = CATALOGUE_FILE) -> tuple[Question, ...]:
    """The catalogue's questions in their order."""
    with open(path, encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle))
    questions = []
    for row in rows:
        entries = [[spelling.strip() for spelling in entry.split("=")] for entry in _split(row["options"])]
        kind = row["type"].strip()
        options = SCALE if kind == "echelle" else tuple(entry[0] for entry in entries)
        questions.append(
            Question(
                code=row["question"].strip(),
                kind=kind,
                order=int(row["ordre"]),
                label=row["libelle"].strip(),
                headers=tuple(_split(row["intitules"])) or (row["libelle"].strip(),),
                options=options,
                option_variants={entry[0]: tuple(entry[1:]) for entry in entries if len(entry) > 1},
            )
        )
    return tuple(sorted(questions, key=lambda q: q.order))


def question_codes() -> tuple[str, ...]:
    return tuple(question.code for question in load_catalogue())
