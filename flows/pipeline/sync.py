"""The nightly sync: extract -> land -> dbt build -> quality gate -> atomic publication -> run report."""

from __future__ import annotations

import json
import os
import signal
import time
import uuid
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path

import duckdb
from prefect import flow, get_run_logger, task
from prefect.cache_policies import NONE

from flows.errors import GateFailed, InputError, PdnError
from flows.ops.notify import notify_failure
from flows.outputs.report import report_after_sync
from flows.pipeline.land import LandedSnapshot, land_sync
from flows.pipeline.publish import (
    assemble_candidate,
    candidate_path,
    file_checksum,
    remove_stale_candidates,
    swap_in,
    warehouse_lock,
)
from flows.pipeline.transform import dbt_build
from flows.settings import SAMPLE_DIR, Settings, load_settings
from flows.sources.config import SourceConfig, load_source_config
from flows.sources.files import extract_files
from flows.sources.snapshot import TabSnapshot


@dataclass
class RunReport:
    """Machine-readable account of one run; holds no cell content, so no personal data."""

    run_id: str
    statut: str = "en_cours"  # publie | bloque | erreur_entree | refuse
    source: str = ""
    debut: str = field(default_factory=lambda: datetime.now(timezone.utc).isoformat(timespec="seconds"))
    fin: str | None = None
    lignes_lues: list[dict] = field(default_factory=list)
    requetes_sheets: int = 0
    quarantaine: list[dict] = field(default_factory=list)
    controles_en_echec: list[dict] = field(default_factory=list)
    durees_secondes: dict[str, float] = field(default_factory=dict)
    fichier_publie: str | None = None
    sha256: str | None = None
    message: str | None = None


def new_sync_id() -> str:
    """Sortable, unique id: UTC time plus a random suffix."""
    return datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ") + "-" + uuid.uuid4().hex[:6]


@dataclass(frozen=True)
class SourcePlan:
    """Where this run reads from and what it expects there."""

    kind: str  # 'fichiers' | 'sheets'
    config: SourceConfig
    folder: Path | None


def plan_sources(settings: Settings, source_dir: Path | None) -> SourcePlan:
    """Decide the source: a folder of exports, the configured Google Sheets, or the bundled sample."""
    if source_dir is not None:
        config_file = settings.sources_file or source_dir / "sources.toml"
        if not config_file.exists():
            raise InputError(
                f"Aucun fichier sources.toml dans {source_dir} et PDN_SOURCES n'est pas défini : "
                "impossible de savoir quels tableurs lire (voir sources.example.toml)."
            )
        return SourcePlan("fichiers", load_source_config(config_file), source_dir)
    if settings.sources_file is not None:
        return SourcePlan("sheets", load_source_config(settings.sources_file), None)
    return SourcePlan("fichiers", load_source_config(SAMPLE_DIR / "sources.toml"), SAMPLE_DIR)


@task(name="extraire", cache_policy=NONE)
def extract_task(plan: SourcePlan, settings: Settings, full: bool) -> tuple[list[TabSnapshot], list[str], int]:
    """Read every configured tab; returns snapshots, reused snapshot ids and Sheets requests made."""
    if plan.kind == "fichiers":
        return extract_files(plan.folder, plan.config), [], 0
    from flows.sources.sheets import extract_sheets

    return extract_sheets(plan.config, settings, full)


@task(name="charger_brut", cache_policy=NONE)
def land_task(
    settings: Settings, sync_id: str, plan: SourcePlan, snapshots: list[TabSnapshot], reused: list[str]
) -> list[LandedSnapshot]:
    """Append the snapshots to the raw history."""
    return land_sync(
        settings.raw_db, sync_id, plan.kind, plan.config.departements, snapshots, reused, settings.pseudonym_key()
    )


@task(name="transformer_dbt", cache_policy=NONE)
def transform_task(settings: Settings, replay_sync_id: str | None, work_db: Path) -> None:
    """dbt build; a failed model or dbt test stops the run before anything is published."""
    work_db.unlink(missing_ok=True)
    outcome = dbt_build(work_db, settings.raw_db, settings.private_dir / "dbt", replay_sync_id)
    if not outcome.success:
        details = "; ".join(f"{f['noeud']} ({f['statut']})" for f in outcome.failures[:10])
        raise GateFailed(f"La transformation dbt a échoué : {details}. Rien n'a été publié.")


@task(name="assembler_candidat", cache_policy=NONE)
def assemble_task(work_db: Path, candidate_db: Path, metadata: dict) -> list[str]:
    """Copy the publishable marts into a fresh candidate file."""
    return assemble_candidate(work_db, candidate_db, metadata)


@task(name="controler_qualite", cache_policy=NONE)
def validate_task(
    candidate_db: Path, previous_db: Path | None, run_id: str, docs_dir: Path, departements: tuple[str, ...]
):
    """Run the Great Expectations gate on the candidate, comparing row counts with the last published file."""
    from flows.pipeline.validate import run_gate

    return run_gate(candidate_db, previous_db, run_id, docs_dir, departements=departements)


@task(name="publier", cache_policy=NONE)
def publish_task(candidate_db: Path, published_db: Path) -> str:
    """Swap the validated candidate in; returns its checksum."""
    checksum = file_checksum(candidate_db)
    swap_in(candidate_db, published_db)
    return checksum


def network_departements(raw_db: Path, sync_id: str) -> tuple[str, ...]:
    """The network's departments as configured for that sync (replays use the sync's own list)."""
    with duckdb.connect(str(raw_db), read_only=True) as con:
        row = con.execute("select departements from syncs where sync_id = ?", [sync_id]).fetchone()
    if row is None:
        raise InputError(f"Synchronisation « {sync_id} » inconnue dans l'historique brut : rien à rejouer.")
    return tuple(json.loads(row[0]))


def quarantined_rows(work_db: Path) -> list[dict]:
    """Quarantined rows as (spreadsheet, tab, row, reason): never their content."""
    with duckdb.connect(str(work_db), read_only=True) as con:
        rows = con.execute(
            "select spreadsheet_title, onglet, numero_ligne, motif "
            "from int_lignes_quarantaine order by all"
        ).fetchall()
    return [{"tableur": s, "onglet": o, "ligne": n, "motif": m} for s, o, n, m in rows]


def write_run_report(report: RunReport, runs_dir: Path) -> Path:
    """Write the run report as JSON next to the warehouse; `dernier.json` is the latest."""
    runs_dir.mkdir(parents=True, exist_ok=True)
    report.fin = datetime.now(timezone.utc).isoformat(timespec="seconds")
    payload = json.dumps(asdict(report), ensure_ascii=False, indent=2)
    path = runs_dir / f"{report.run_id}.json"
    path.write_text(payload, encoding="utf-8")
    (runs_dir / "dernier.json").write_text(payload, encoding="utf-8")
    return path


def failpoint(step: str) -> None:
    """Crash-test hook: PDN_FAILPOINT=avant_<step> kills this process (SIGKILL) just before that step."""
    if os.environ.get("PDN_FAILPOINT") == f"avant_{step}":
        os.kill(os.getpid(), signal.SIGKILL)


class _Stopwatch:
    """Times named steps into the run report."""

    def __init__(self, report: RunReport) -> None:
        self.report = report

    def __call__(self, step: str, func, *args):
        failpoint(step)
        started = time.perf_counter()
        try:
            return func(*args)
        finally:
            self.report.durees_secondes[step] = round(time.perf_counter() - started, 3)


def _run(
    settings: Settings,
    report: RunReport,
    source_dir: Path | None,
    full: bool,
    replay: str | None,
    accept_drop: bool,
) -> RunReport:
    logger = get_run_logger()
    timed = _Stopwatch(report)
    sync_id = report.run_id
    if replay:
        report.source = f"rejeu de {replay}"
        sync_id = replay
        if not settings.raw_db.exists():
            raise InputError("Aucun historique brut : rien à rejouer.")
    else:
        plan = plan_sources(settings, source_dir)
        report.source = plan.kind if plan.folder is None else f"{plan.kind} ({plan.folder})"
        snapshots, reused, requests = timed("extraction", extract_task, plan, settings, full)
        report.requetes_sheets = requests
        landed = timed("chargement", land_task, settings, sync_id, plan, snapshots, reused)
        report.lignes_lues = [
            {"tableur": s.spreadsheet_title, "onglet": s.tab, "lignes": s.rows} for s in landed
        ]
        logger.info("%d onglets chargés dans l'historique brut", len(landed))
    departements = network_departements(settings.raw_db, sync_id)
    work_db = settings.private_dir / "build" / "work.duckdb"
    work_db.parent.mkdir(parents=True, exist_ok=True)
    timed("dbt", transform_task, settings, replay, work_db)
    report.quarantaine = quarantined_rows(work_db)
    candidate = candidate_path(settings.published_db, report.run_id)
    metadata = {"run_id": report.run_id, "sync_id": sync_id, "source": report.source, "publie_le": report.debut}
    timed("assemblage", assemble_task, work_db, candidate, metadata)
    # --accept-drop: the coordinator really emptied a tab, so skip the comparison with the last publication once.
    previous = settings.published_db if settings.published_db.exists() and not accept_drop else None
    docs_dir = settings.runs_dir / "data-docs"
    gate = timed("controle", validate_task, candidate, previous, report.run_id, docs_dir, departements)
    report.controles_en_echec = [
        {"suite": f.suite, "controle": f.expectation, "gravite": f.severity, "message": f.message, "details": f.details}
        for f in gate.failures
    ]
    if not gate.passed:
        candidate.unlink(missing_ok=True)
        report.statut = "bloque"
        raise GateFailed("Le contrôle qualité a bloqué la publication : l'entrepôt publié n'a pas changé.")
    report.sha256 = timed("publication", publish_task, candidate, settings.published_db)
    report.fichier_publie = str(settings.published_db)
    report.statut = "publie"
    logger.info("Entrepôt publié : %s", settings.published_db)
    return report


@flow(name="nightly_sync", log_prints=False)
def nightly_sync(
    source_dir: str | None = None, full: bool = False, replay: str | None = None, accept_drop: bool = False
) -> dict:
    """One sync of the Promeneurs du Net warehouse; raises a PdnError (with its exit code) on failure."""
    settings = load_settings()
    report = RunReport(run_id=new_sync_id())
    try:
        with warehouse_lock(settings.lock_file):
            remove_stale_candidates(settings.published_db)
            try:
                _run(settings, report, Path(source_dir) if source_dir else None, full, replay, accept_drop)
            except InputError as err:
                report.statut, report.message = "erreur_entree", str(err)
                raise
            except PdnError as err:
                report.statut, report.message = "bloque", str(err)
                raise
            except Exception as err:
                report.statut, report.message = "echec", f"Erreur inattendue : {type(err).__name__}"
                raise
            finally:
                write_run_report(report, settings.runs_dir)
    except PdnError as err:
        if report.statut == "en_cours":
            report.statut, report.message = "refuse", str(err)
        err.report = asdict(report)  # type: ignore[attr-defined]
        notify_failure(err.report)
        raise
    except Exception:
        notify_failure(asdict(report))
        raise
    report_after_sync(settings)  # latest year's bilan + CAF exports in warehouse/rapports; logs, never raises
    return asdict(report)
