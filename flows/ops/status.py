"""`pdn etat`: the last runs and the erasures, in French; a non-zero exit when the warehouse is stale or damaged."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

import duckdb

from flows.pipeline.publish import publication_damage
from flows.settings import Settings
from flows.vocabulary import status_label

STALE_EXIT_CODE = 4
DEFAULT_LIMIT = 10
LATEST_REPORT = "dernier.json"  # a copy of the newest report, not a run of its own
LOCAL_TIME = ZoneInfo("Europe/Paris")



@dataclass(frozen=True)
class RunLine:
    """What `pdn etat` needs from one run report."""

    run_id: str
    statut: str
    debut: datetime
    fin: datetime | None
    source: str
    message: str | None


def parse_utc(value: str | None) -> datetime | None:
    """An ISO timestamp from a report, as an aware UTC datetime (naive ones are taken as UTC)."""
    if not value:
        return None
    parsed = datetime.fromisoformat(value)
    return parsed.replace(tzinfo=timezone.utc) if parsed.tzinfo is None else parsed.astimezone(timezone.utc)


def read_runs(runs_dir: Path) -> tuple[list[RunLine], list[str]]:
    """Every run report, newest first, and the names of the files that could not be read."""
    runs, unreadable = [], []
    for path in sorted(runs_dir.glob("*.json")) if runs_dir.is_dir() else []:
        if path.name == LATEST_REPORT:
            continue
        try:
            report = json.loads(path.read_text(encoding="utf-8"))
            if not report.get("debut"):
                raise ValueError("no start time")
            runs.append(
                RunLine(
                    run_id=str(report["run_id"]),
                    statut=str(report["statut"]),
                    debut=parse_utc(report["debut"]),
                    fin=parse_utc(report.get("fin")),
                    source=str(report.get("source") or ""),
                    message=report.get("message"),
                )
            )
        except (OSError, ValueError, KeyError, TypeError):
            unreadable.append(path.name)
    runs.sort(key=lambda run: (run.debut, run.run_id), reverse=True)
    return runs, unreadable


def last_publication(runs: list[RunLine]) -> datetime | None:
    """When the newest successful run finished publishing."""
    published = [run.fin or run.debut for run in runs if run.statut == "publie"]
    return max(published, default=None)


def _local(moment: datetime) -> str:
    return moment.astimezone(LOCAL_TIME).strftime("%d/%m/%Y %H:%M")


def _age(delta: timedelta) -> str:
    hours = round(delta.total_seconds() / 3600)
    if delta.total_seconds() < 3600:
        return "moins d'une heure"
    if hours < 48:
        return f"{hours} h"
    days, rest = divmod(hours, 24)
    return f"{days} jours et {rest} h"


def format_runs(runs: list[RunLine], limit: int) -> list[str]:
    """One French line per run, newest first."""
    lines = [f"Dernières synchronisations ({min(limit, len(runs))} sur {len(runs)}, heure de Paris) :"]
    for run in runs[:limit]:
        took = f"{(run.fin - run.debut).total_seconds():.0f} s" if run.fin else "—"
        line = f"  {_local(run.debut)}  {status_label(run.statut):<15} {run.run_id}  durée {took}"
        if run.source:
            line += f"  source : {run.source}"
        lines.append(line)
        if run.statut != "publie" and run.message:
            lines.append(f"      {run.message}")
    return lines


def check_freshness(runs: list[RunLine], now: datetime, max_hours: float) -> tuple[int, str]:
    """Exit code and French verdict: 0 when a sync published within `max_hours`, else STALE_EXIT_CODE."""
    published = last_publication(runs)
    if published is None:
        return STALE_EXIT_CODE, "ALERTE : aucune synchronisation n'a jamais publié l'entrepôt."
    age = now - published
    when = f"{_local(published)}, il y a {_age(age)}"
    threshold = f"{max_hours:g} h".replace(".", ",")
    if age > timedelta(hours=max_hours):
        return STALE_EXIT_CODE, (
            f"ALERTE : dernière publication le {when}, au-delà du seuil de {threshold} : "
            "l'entrepôt n'est plus à jour."
        )
    return 0, f"OK : dernière publication le {when} (seuil : {threshold})."


def erasure_lines(raw_db: Path) -> list[str]:
    """The erasure records (pdn oubli), when there are any; the raw history may be locked by a running sync."""
    from flows.ops.erasure import erasure_records, format_erasure_records

    try:
        records = erasure_records(raw_db)
    except duckdb.Error:
        return ["Registre des effacements illisible pour l'instant (une synchronisation écrit l'historique brut)."]
    return format_erasure_records(records) if records else []


def closure_lines(raw_db: Path) -> list[str]:
    """The closed years (pdn cloturer) and their revisions, when there are any."""
    from flows.ops.closing import closures, format_closures

    try:
        records = closures(raw_db)
    except duckdb.Error:
        return ["Années closes illisibles pour l'instant (une synchronisation écrit l'historique brut)."]
    return format_closures(records) if records else []


def status(settings: Settings, limit: int = DEFAULT_LIMIT, now: datetime | None = None) -> tuple[int, str]:
    """The exit code and French text of `pdn etat`."""
    now = now or datetime.now(timezone.utc)
    runs, unreadable = read_runs(settings.runs_dir)
    lines = format_runs(runs, limit) if runs else [f"Aucun rapport d'exécution dans {settings.runs_dir}."]
    if unreadable:
        lines.append(f"Rapports illisibles, ignorés : {', '.join(unreadable)}")
    lines += erasure_lines(settings.raw_db)
    lines += closure_lines(settings.raw_db)
    code, verdict = check_freshness(runs, now, settings.status_max_age_hours)
    damage = publication_damage(settings.published_db, settings.runs_dir)
    if damage:  # fresh or not, a file nobody can read is no warehouse
        code, verdict = STALE_EXIT_CODE, (
            f"ALERTE : l'entrepôt publié ({settings.published_db}) est endommagé : {damage}. Les outils d'analyse "
            "ne peuvent plus le lire ; lancez « pdn synchroniser » : la synchronisation le republie."
        )
    lines.append(verdict)
    return code, "\n".join(lines)
