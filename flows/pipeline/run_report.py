"""The run report: a machine-readable account of one run, written whatever the outcome.

It holds counts, sheet row numbers, reasons, check messages and events, never a cell's content, so it
can be shown, logged and sent in alerts. `warehouse/runs/<run_id>.json`; `dernier.json` is the latest.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path

from flows.storage import write_text_atomically

LATEST_REPORT = "dernier.json"


def new_sync_id() -> str:
    """Sortable, unique id: UTC time plus a random suffix."""
    return datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ") + "-" + uuid.uuid4().hex[:6]


@dataclass
class RunReport:
    """One run, as the summary, the alerts, `pdn status` and the bilan read it (no personal data)."""

    run_id: str = field(default_factory=new_sync_id)
    statut: str = "en_cours"  # publie | bloque | erreur_entree | refuse | echec (flows.vocabulary)
    source: str = ""
    debut: str = field(default_factory=lambda: datetime.now(timezone.utc).isoformat(timespec="seconds"))
    fin: str | None = None
    lignes_lues: list[dict] = field(default_factory=list)
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
    evenements: list[str] = field(default_factory=list)  # French notes: permissions, leftovers cleaned…
    durees_secondes: dict[str, float] = field(default_factory=dict)
    effacement: str | None = None  # the erasure (pdn oubli) this run republished after: its id, never who
    indicateurs_modifies: list[dict] = field(default_factory=list)  # (annee, departement, indicateur, avant, apres)
    fichier_publie: str | None = None
    sha256: str | None = None
    message: str | None = None

    def as_dict(self) -> dict:
        return asdict(self)


def write_run_report(report: RunReport, runs_dir: Path) -> Path:
    """Write the report next to the warehouse (atomically: `pdn status` may read it meanwhile)."""
    report.fin = datetime.now(timezone.utc).isoformat(timespec="seconds")
    payload = json.dumps(report.as_dict(), ensure_ascii=False, indent=2)
    path = write_text_atomically(runs_dir / f"{report.run_id}.json", payload)
    write_text_atomically(runs_dir / LATEST_REPORT, payload)
    return path
