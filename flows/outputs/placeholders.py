"""The placeholders a bilan document may use: the one list that the renderer, `pdn rapport --marqueurs`, the
README and the coordinator guide all read.

A placeholder is written ``{{ nom }}``. A *block* (``{{ tableau_indicateurs }}``, ``{{ question.reseaux }}``)
stands alone on its line and inserts a computed part of the bilan; a *figure*
(``{{ promeneurs_actifs_fin_annee.63 }}``, ``….precedente``, ``….evolution``) or a *text*
(``{{ annee }}``) goes anywhere in a sentence, so every number of the text comes from the warehouse.
"""

from __future__ import annotations

import argparse
import csv
import re
from collections.abc import Iterable
from dataclasses import dataclass

from flows.settings import REPO_ROOT, SEEDS_DIR
from flows.sources.catalogue import load_catalogue
from flows.vocabulary import ENSEMBLE

PLACEHOLDER = re.compile(r"\{\{\s*([^{}]*?)\s*\}\}")  # {{ nom }}; the name is the group

# Blocks, in the order of the standard layout (the bilan without a document).
BLOCS: dict[str, str] = {
    "synthese": "fiches de synthèse : une par département et une pour le réseau",
    "tableau_indicateurs": "tableau des indicateurs de l'année, de l'année précédente et de l'évolution",
    "graphique_effectifs": "taille du réseau mois par mois : graphique et tableau",
    "actions_par_type": "actions de l'année par type et par département : graphique et tableau",
    "formations": "sessions de formation : dates, intitulés et communes",
    "ateliers": "ateliers : dates, intitulés et communes",
    "evenements": "événements : dates, intitulés et communes",
    "comites": "dates des comités de pilotage et des comités techniques",
    "territoire": "« Où le réseau a agi » : communes des actions par département, avec les actions par type",
    "participation_questionnaire": "répondants et taux de participation au questionnaire",
    "questions": "toutes les questions à choix du questionnaire, dans l'ordre du catalogue",
    "interets": "« Votre intérêt à : » notes moyennes de 1 à 5 et graphique",
}
QUESTION_PREFIX = "question."  # {{ question.<code> }}: one question's chart and table
CHOICE_KINDS = ("choix_unique", "choix_multiple")
TEXTES: dict[str, str] = {
    "annee": "l'année du bilan",
    "annee_precedente": "l'année précédente (« — » si elle n'est pas au bilan)",
    "reseau": "les départements du réseau, en toutes lettres",
    "organisation": "l'organisation qui porte le réseau ([bilan] organisation dans sources.toml)",
}
SUFFIXES: dict[str, str] = {
    "": "valeur de l'année",
    "precedente": "valeur de l'année précédente",
    "evolution": "évolution depuis l'année précédente (en points pour un taux)",
}


@dataclass(frozen=True)
class Figure:
    """An inline figure: one indicator, one group, this year's value, last year's, or the change."""

    indicateur: str
    departement: str
    suffixe: str  # a key of SUFFIXES


@dataclass(frozen=True)
class Placeholders:
    """The valid placeholders for one bilan: its indicators, groups and questions."""

    indicateurs: tuple[str, ...]
    departements: tuple[str, ...]  # département codes, then 'ensemble'
    questions: tuple[str, ...]  # catalogue codes of choice questions

    def resolve(self, name: str) -> str | Figure | None:
        """'bloc', 'texte' or a Figure; None when the name is not a placeholder."""
        if name in BLOCS or (name.startswith(QUESTION_PREFIX) and name[len(QUESTION_PREFIX):] in self.questions):
            return "bloc"
        if name in TEXTES:
            return "texte"
        parts = name.split(".")
        if len(parts) in (2, 3) and parts[0] in self.indicateurs and parts[1] in self.departements:
            suffix = parts[2] if len(parts) == 3 else ""
            if suffix in SUFFIXES:
                return Figure(parts[0], parts[1], suffix)
        return None

    def summary(self) -> str:
        """The valid placeholders, in a few French lines (for an error message or the console)."""
        blocks = [*BLOCS, *(QUESTION_PREFIX + code for code in self.questions)]
        return "\n".join(
            [
                "Blocs (seuls sur leur ligne) : " + ", ".join(blocks) + ".",
                "Textes : " + ", ".join(TEXTES) + ".",
                "Chiffres : INDICATEUR.GROUPE, INDICATEUR.GROUPE.precedente ou INDICATEUR.GROUPE.evolution, "
                f"où GROUPE est {', '.join(self.departements)} et INDICATEUR l'un de : "
                + ", ".join(self.indicateurs) + ".",
            ]
        )


def bundled_placeholders(departements: Iterable[str] = ("03", "63")) -> Placeholders:
    """The placeholders of the bundled indicator definitions and questionnaire catalogue."""
    with open(SEEDS_DIR / "indicateurs.csv", encoding="utf-8", newline="") as handle:
        indicators = tuple(row["indicateur"] for row in csv.DictReader(handle))
    questions = tuple(q.code for q in load_catalogue() if q.kind in CHOICE_KINDS)
    return Placeholders(indicators, (*departements, ENSEMBLE), questions)


# ----------------------------------------------------------------------------------------------
# The reference written into the README and the coordinator guide (generated, never typed)
# ----------------------------------------------------------------------------------------------

REFERENCE_START = "<!-- marqueurs : début (généré par python -m flows.outputs.placeholders --ecrire) -->"
REFERENCE_END = "<!-- marqueurs : fin -->"
DOCUMENTS_WITH_REFERENCE = (REPO_ROOT / "README.md", REPO_ROOT / "docs" / "guide-coordinateur.md")


def _indicator_labels() -> list[tuple[str, str]]:
    with open(SEEDS_DIR / "indicateurs.csv", encoding="utf-8", newline="") as handle:
        return [(row["indicateur"], row["libelle"]) for row in csv.DictReader(handle)]


def reference_markdown() -> str:
    """The placeholder list as Markdown tables (French: it is the coordinator's list)."""
    lines = ["| Bloc (seul sur sa ligne) | Ce qu'il insère |", "|---|---|"]
    lines += [f"| `{{{{ {name} }}}}` | {text} |" for name, text in BLOCS.items()]
    lines += [
        f"| `{{{{ {QUESTION_PREFIX}{q.code} }}}}` | question « {q.label} » : graphique et tableau |"
        for q in load_catalogue()
        if q.kind in CHOICE_KINDS
    ]
    lines += ["", "| Texte | Ce qu'il insère |", "|---|---|"]
    lines += [f"| `{{{{ {name} }}}}` | {text} |" for name, text in TEXTES.items()]
    lines += [
        "",
        "Chiffres : `{{ INDICATEUR.GROUPE }}` où GROUPE est le code d'un département du réseau (`03`, `63`…) "
        f"ou `{ENSEMBLE}` ; suffixes : "
        + " ; ".join(f"`.{suffix}` : {text}" for suffix, text in SUFFIXES.items() if suffix)
        + ". Exemple : `{{ promeneurs_actifs_fin_annee.63 }}`.",
        "",
        "| Indicateur | Libellé |",
        "|---|---|",
    ]
    lines += [f"| `{code}` | {label} |" for code, label in _indicator_labels()]
    return "\n".join(lines)


def with_reference(text: str) -> str:
    """`text` with the part between the two markers replaced by the current reference."""
    start, end = text.index(REFERENCE_START), text.index(REFERENCE_END)
    return text[: start + len(REFERENCE_START)] + "\n" + reference_markdown() + "\n" + text[end:]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Liste des marqueurs du bilan (README et guide).")
    parser.add_argument("--ecrire", action="store_true", help="réécrire la liste dans le README et le guide")
    args = parser.parse_args(argv)
    if not args.ecrire:
        print(reference_markdown())
        return 0
    for path in DOCUMENTS_WITH_REFERENCE:
        path.write_text(with_reference(path.read_text(encoding="utf-8")), encoding="utf-8")
        print(f"Liste des marqueurs réécrite dans {path.relative_to(REPO_ROOT)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
