"""Runs that ended without saying so: each one gets its run report and exactly one alert.

A sync writes its report `en_cours` as soon as it starts, with the identity of its process and of its Prefect
flow run, and leaves a marker in `runs/.en_cours/`. A run that ends, however it ends inside Python, closes its
report and removes the marker. What nothing inside the process can see (kill -9, a reboot, the OOM killer, a
runner that gave up on it) is closed by whoever comes next: Prefect's state hooks when the runner survives,
otherwise the next `pdn synchroniser` or `pdn planifier`, which find a report still `en_cours` whose process is gone.

An alert is claimed before it is sent (an empty file created exclusively in `runs/.alertes/`), so the flow, a
hook and a later start can all try without the coordinator receiving two messages about one run.
"""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path

from flows.ops.notify import notify_failure
from flows.pipeline.processes import is_alive
from flows.pipeline.run_report import LATEST_REPORT, RunReport, new_sync_id
from flows.settings import Settings
from flows.storage import write_text_atomically

RUNNING_DIR = ".en_cours"
ALERTED_DIR = ".alertes"

INTERRUPTED = (
    "La synchronisation s'est arrêtée sans pouvoir le dire (machine redémarrée, processus tué, mémoire "
    "épuisée). Rien n'a été publié : l'entrepôt publié précédent reste en place. Aucune action n'est "
    "nécessaire : la synchronisation suivante repart normalement."
)
CANCELLED = (
    "La synchronisation a été annulée avant la fin (arrêt du service ou annulation depuis l'interface "
    "Prefect). Rien n'a été publié : l'entrepôt publié précédent reste en place. La synchronisation "
    "suivante repart normalement ; pour en lancer une tout de suite : `pdn synchroniser`."
)

logger = logging.getLogger(__name__)


def _marker(runs_dir: Path, run_id: str) -> Path:
    return runs_dir / RUNNING_DIR / run_id


def announce_start(report: RunReport, runs_dir: Path) -> None:
    """Write the run's report `en_cours` and its marker, so that a crash at any later moment is found."""
    marker = _marker(runs_dir, report.run_id)
    marker.parent.mkdir(parents=True, exist_ok=True)
    write_text_atomically(runs_dir / f"{report.run_id}.json", json.dumps(report.as_dict(), ensure_ascii=False))
    marker.touch()


def announce_end(runs_dir: Path, run_id: str) -> None:
    """The run closed its own report: nobody needs to close it for it."""
    _marker(runs_dir, run_id).unlink(missing_ok=True)


def alert_key(report: dict) -> str:
    """One alert per run: a Prefect flow run when there is one (its hooks know nothing else), else the sync."""
    return f"prefect-{report['flow_run_id']}" if report.get("flow_run_id") else str(report.get("run_id"))


def claim_alert(runs_dir: Path, report: dict) -> bool:
    """True for the first caller only, for a given run."""
    folder = runs_dir / ALERTED_DIR
    folder.mkdir(parents=True, exist_ok=True)
    try:
        os.close(os.open(folder / alert_key(report), os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644))
    except FileExistsError:
        return False
    return True


def alert_once(settings: Settings, report: dict) -> list[str]:
    """Send the failure alert of a run unless someone already did; the channels reached."""
    if not claim_alert(settings.runs_dir, report):
        return []
    return notify_failure(report, settings.alerts)


def _write_closed(runs_dir: Path, report: dict) -> None:
    """Write a closed report; it becomes `dernier.json` unless a newer run already wrote that."""
    from datetime import datetime, timezone

    report["fin"] = datetime.now(timezone.utc).isoformat(timespec="seconds")
    payload = json.dumps(report, ensure_ascii=False, indent=2)
    write_text_atomically(runs_dir / f"{report['run_id']}.json", payload)
    try:
        latest = json.loads((runs_dir / LATEST_REPORT).read_text(encoding="utf-8")).get("run_id", "")
    except (OSError, ValueError):
        latest = ""
    if str(latest) <= str(report["run_id"]):
        write_text_atomically(runs_dir / LATEST_REPORT, payload)


def _close(settings: Settings, marker: Path, report: dict, statut: str, message: str) -> dict:
    report |= {"statut": statut, "message": message}
    _write_closed(settings.runs_dir, report)
    marker.unlink(missing_ok=True)
    alert_once(settings, report)
    logger.warning("Synchronisation %s : %s", report["run_id"], message)
    return report


def _open_reports(runs_dir: Path):
    """(marker, report) of every run whose report is still `en_cours`; markers of closed runs are dropped."""
    for marker in sorted((runs_dir / RUNNING_DIR).glob("*")) if (runs_dir / RUNNING_DIR).is_dir() else []:
        try:
            report = json.loads((runs_dir / f"{marker.name}.json").read_text(encoding="utf-8"))
        except (OSError, ValueError):
            report = {"run_id": marker.name, "statut": "en_cours", "debut": None}
        if report.get("statut") != "en_cours":
            marker.unlink(missing_ok=True)
            continue
        yield marker, report


def close_interrupted_runs(settings: Settings) -> list[dict]:
    """Reports left `en_cours` by processes that no longer exist: closed as `interrompue`, alerted once."""
    return [
        _close(settings, marker, report, "interrompue", INTERRUPTED)
        for marker, report in _open_reports(settings.runs_dir)
        if not is_alive(str(report.get("processus") or ""))
    ]


def close_flow_run(settings: Settings, flow_run_id: str, statut: str, message: str) -> dict | None:
    """What Prefect says ended a flow run (a hook, or `pdn planifier` finding it stranded): its report closed, or
    written when the run ended before it could start one (cancelled while pending); alerted once.
    None when the run had already reported for itself."""
    for marker, report in _open_reports(settings.runs_dir):
        if report.get("flow_run_id") == flow_run_id:
            return _close(settings, marker, report, statut, message)
    if (settings.runs_dir / ALERTED_DIR / f"prefect-{flow_run_id}").exists() or _reported(settings, flow_run_id):
        return None
    report = RunReport(run_id=new_sync_id(), statut=statut, message=message, source="planification Prefect")
    report.flow_run_id = flow_run_id
    closed = report.as_dict()
    settings.runs_dir.mkdir(parents=True, exist_ok=True)
    _write_closed(settings.runs_dir, closed)
    alert_once(settings, closed)
    return closed


def _reported(settings: Settings, flow_run_id: str) -> bool:
    """Whether the newest reports already account for that flow run (it ended inside Python and said so)."""
    for path in sorted(settings.runs_dir.glob("*.json"), reverse=True)[:50] if settings.runs_dir.is_dir() else []:
        try:
            if json.loads(path.read_text(encoding="utf-8")).get("flow_run_id") == flow_run_id:
                return True
        except (OSError, ValueError):
            continue
    return False


def _hook(statut: str, message: str):
    def hook(flow, flow_run, state) -> None:
        """Prefect state hook: close this flow run's report (never raises: a hook must not mask the state)."""
        from flows.settings import load_settings

        try:
            close_flow_run(load_settings(), str(flow_run.id), statut, message)
        except Exception as error:  # noqa: BLE001
            logger.warning("Rapport d'exécution non clos après l'arrêt (%s).", type(error).__name__)

    hook.__name__ = f"clore_rapport_{statut}"
    return hook


# Prefect runs these when a flow run crashes or is cancelled (in the flow's process, or in the runner when the
# process was killed): the run's report is closed and one alert sent.
on_crashed = _hook("interrompue", INTERRUPTED)
on_cancellation = _hook("annulee", CANCELLED)


STRANDED_STATES = ("RUNNING", "PENDING", "CANCELLING")


def crash_stranded_runs(settings: Settings, deployment_id) -> list[str]:
    """At `pdn planifier` start: runs of the deployment that Prefect still thinks alive belong to a runner that is
    gone (this one has just started, and the processes of the previous one were stopped): marked Crashed through
    the API, their reports closed, one alert each. Returns their flow run ids."""
    from prefect import get_client
    from prefect.client.schemas.filters import (
        DeploymentFilter,
        DeploymentFilterId,
        FlowRunFilter,
        FlowRunFilterState,
        FlowRunFilterStateType,
    )
    from prefect.client.schemas.objects import StateType
    from prefect.states import Crashed

    with get_client(sync_client=True) as client:
        stranded = client.read_flow_runs(
            deployment_filter=DeploymentFilter(id=DeploymentFilterId(any_=[deployment_id])),
            flow_run_filter=FlowRunFilter(
                state=FlowRunFilterState(type=FlowRunFilterStateType(any_=[StateType[s] for s in STRANDED_STATES]))
            ),
        )
        for run in stranded:
            client.set_flow_run_state(run.id, Crashed(message="Processus disparu (constaté au démarrage de pdn planifier)."), force=True)
    for run in stranded:
        close_flow_run(settings, str(run.id), "interrompue", INTERRUPTED)
    return [str(run.id) for run in stranded]
