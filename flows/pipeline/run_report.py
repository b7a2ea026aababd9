"""The run report: a machine-readable account of one run, written whatever the outcome.

It holds counts, sheet row numbers, reasons, check messages and events, never a cell's content, and the
metadata it quotes (spreadsheet titles, tabs, headers, the source folder) goes through flows/screen.py first,
so it can be shown, logged and sent in alerts. `warehouse/runs/<run_id>.json`; `dernier.json` is the latest.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path

from flows.screen import KnownNames, screened_label
from flows.storage import write_text_atomically

LATEST_REPORT = "dernier.json"
# Keys of the listed rows that quote metadata someone typed, and how a withheld value is shown (flows/screen.py).
_METADATA_KEYS = {"tableur": "tableur masqué", "onglet": "onglet masqué", "colonne": "colonne masquée"}


def screened_rows(rows: list[dict], names: KnownNames) -> list[dict]:
    """Listed rows (lignes lues, quarantine, cells, questions) with their spreadsheet title, tab and column
    screened: a value naming a person or holding contact details becomes its withheld label."""
    return [
        row | {key: screened_label(row[key], what, names) for key, what in _METADATA_KEYS.items() if isinstance(row.get(key), str)}
        for row in rows
    ]


def new_sync_id() -> str:
    """Sortable, unique id: UTC time plus a random suffix."""
    return datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ") + "-" + uuid.uuid4().hex[:6]


@dataclass
class RunReport:
    """One run, as the summary, the alerts, `pdn etat` and the bilan read it (no personal data)."""

    run_id: str = field(default_factory=new_sync_id)
    statut: str = "en_cours"  # publie | bloque | erreur_entree | refuse | echec (flows.vocabulary)
    source: str = ""
    debut: str = field(default_factory=lambda: datetime.now(timezone.utc).isoformat(timespec="seconds"))
    fin: str | None = None
    lignes_lues: list[dict] = field(default_factory=list)
    # Tabs of declared spreadsheets and files of the source folder that nothing reads (type, tableur, nom, motif).
    non_lus: list[dict] = field(default_factory=list)
    requetes_sheets: int = 0  # Google requests of the Sheets and Drive APIs made by this run
    requetes_forms: int = 0  # and of the Google Forms API
    # Rows counted in nothing (tableur, onglet, ligne, motif) and cells to correct whose row still counts
    # (+ colonne): the first LISTED_MAX of each (flows/pipeline/sync.py), their exact number in *_total.
    quarantaine: list[dict] = field(default_factory=list)
    quarantaine_total: int = 0
    cellules_signalees: list[dict] = field(default_factory=list)
    cellules_signalees_total: int = 0
    questions_non_cataloguees: list[dict] = field(default_factory=list)  # columns matching no catalogue question
    controles_en_echec: list[dict] = field(default_factory=list)
    # [retour]: per spreadsheet, its « À corriger » tab (tableur, lignes, etat ecrit | inchange | echec, message).
    a_corriger: list[dict] = field(default_factory=list)
    evenements: list[str] = field(default_factory=list)  # French notes: permissions, leftovers cleaned…
    durees_secondes: dict[str, float] = field(default_factory=dict)
    effacement: str | None = None  # the erasure (pdn oubli) this run republished after: its id, never who
    indicateurs_modifies: list[dict] = field(default_factory=list)  # (annee, departement, indicateur, avant, apres)
    # Sheet rows behind moved figures, per tab: row numbers gone since the last publication, new or changed.
    lignes_modifiees: list[dict] = field(default_factory=list)
    # Closed years (pdn cloturer): kept as frozen, with the figures that would have moved; revised on request.
    annees_closes_conservees: list[int] = field(default_factory=list)
    indicateurs_non_appliques: list[dict] = field(default_factory=list)
    annees_revisees: list[int] = field(default_factory=list)
    ruptures_debut_fin: list[dict] = field(default_factory=list)  # open N's start ≠ closed N-1's end
    fichier_publie: str | None = None
    sha256: str | None = None
    message: str | None = None
    # Who runs it: « pid:start time » of the process and the Prefect flow run, so that a run that died without
    # a word is recognised and closed by the next start (flows/ops/recovery.py).
    processus: str | None = None
    flow_run_id: str | None = None

    def as_dict(self) -> dict:
        return asdict(self)


def _write_in(report: RunReport, runs_dir: Path) -> Path:
    payload = json.dumps(report.as_dict(), ensure_ascii=False, indent=2)
    path = write_text_atomically(runs_dir / f"{report.run_id}.json", payload)
    write_text_atomically(runs_dir / LATEST_REPORT, payload)
    return path


def write_run_report(report: RunReport, runs_dir: Path, fallback_dir: Path | None = None) -> Path | None:
    """Write the report next to the warehouse (atomically: `pdn etat` may read it meanwhile).

    With `fallback_dir`, a warehouse folder that takes no write (full, read-only) does not lose the report, nor
    hide the run's own failure: it goes to `fallback_dir`, else nowhere, and its message says which."""
    report.fin = datetime.now(timezone.utc).isoformat(timespec="seconds")
    try:
        return _write_in(report, runs_dir)
    except OSError:
        if fallback_dir is None:
            raise
    said = f"{report.message} " if report.message else ""
    failed = f"Le rapport d'exécution n'a pas pu être écrit dans {runs_dir} (disque plein ou lecture seule)"
    report.message = f"{said}{failed} : il est dans {fallback_dir / f'{report.run_id}.json'}."
    try:
        return _write_in(report, fallback_dir)
    except OSError:
        report.message = f"{said}{failed}, ni dans {fallback_dir} : aucun rapport n'a été gardé."
        return None
