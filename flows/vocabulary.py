"""Words shared by several modules: the whole-network code and the outcomes of a run, in French."""

from __future__ import annotations

# The département code of the whole network in every mart (sums, or distinct counts, over the départements).
ENSEMBLE = "ensemble"

# Outcome of a run (run report `statut`): short label (pdn etat, alert subjects) and sentence (summaries).
RUN_STATUSES: dict[str, tuple[str, str]] = {
    "publie": ("publiée", "publiée"),
    "bloque": ("bloquée", "bloquée, rien n'a été publié"),
    "erreur_entree": (
        "erreur d'entrée",
        "arrêtée : erreur dans les sources ou la configuration, rien n'a été publié",
    ),
    "refuse": ("refusée", "refusée : une autre synchronisation était en cours, rien n'a été modifié"),
    "echec": ("en échec", "en échec, rien n'a été publié"),
    "en_cours": ("en cours", "en cours"),
    "interrompue": ("interrompue", "interrompue avant la fin (processus arrêté), rien n'a été publié"),
    "annulee": ("annulée", "annulée avant la fin, rien n'a été publié"),
}


def status_label(code: str) -> str:
    """Short French label of a run outcome."""
    return RUN_STATUSES.get(code, (code, code))[0]


def status_sentence(code: str) -> str:
    """French sentence for a run outcome, as the summary states it."""
    return RUN_STATUSES.get(code, (code, code))[1]

# The tab a sync writes back into each spreadsheet when [retour] is on (flows/outputs/write_back.py): never read.
CORRECTIONS_TAB = "À corriger"
