"""The nightly sync: extract -> land -> dbt build -> quality gate -> atomic publication -> run report.

Every task, and the flow itself, sits behind `flows.errors.error_boundary`: whatever fails, what leaves
a task (and so what Prefect logs and stores) is a French message without cell content.
"""

from __future__ import annotations

import json
import os
import re
import signal
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import duckdb
from prefect import flow, get_run_logger, task
from prefect.cache_policies import NONE

from flows.errors import (
    GateFailed,
    InputError,
    PdnError,
    SyncAlreadyRunning,
    current_run_id,
    error_boundary,
    log_write_failures,
    safe_error,
    storage_error_in_text,
)
from flows.identity import REDACTED
from flows.ops import recovery as recovery_hooks
from flows.ops.closing import (
    REVISION_ASKED,
    REVISION_ERASURE,
    FreezeOutcome,
    check_revisable,
    close_due_years,
    freeze_closed_years,
    record_revisions,
)
from flows.ops.notify import notify_failure
from flows.ops.purge import published_sync_id
from flows.ops.recovery import (
    CANCELLED,
    INTERRUPTED,
    alert_once,
    announce_end,
    announce_start,
    close_interrupted_runs,
)
from flows.ops.repair import check_raw_history, keep_backup, record_checksum
from flows.ops.summary import ERASED_REASON
from flows.outputs.report import report_after_sync
from flows.outputs.write_back import write_back_after_sync
from flows.pipeline.collector import cycle_collection_paused
from flows.pipeline.land import LandedSnapshot, ensure_raw_schema, land_sync
from flows.pipeline.moved_figures import changed_rows, moved_figures
from flows.pipeline.processes import process_identity
from flows.pipeline.publish import (
    assemble_candidate,
    candidate_path,
    discard_candidate,
    file_checksum,
    publication_damage,
    remove_build,
    set_aside_stale_wal,
    swap_in,
    warehouse_lock,
)
from flows.pipeline.run_report import RunReport, screened_rows, write_run_report
from flows.pipeline.transform import dbt_build, forget_parse_ahead, parse_ahead
from flows.pipeline.validate import warm_up, warm_up_in_background
from flows.pseudonym_keys import prepare_key, ring_keys
from flows.screen import (
    SourceFolder,
    configured_known_names,
    folder_label,
    known_names,
    screened_label,
    screened_quotes,
    source_path,
)
from flows.settings import SAMPLE_DIR, Settings, load_settings
from flows.sources.config import SourceConfig, config_file_for, load_source_config
from flows.sources.files import read_folder
from flows.sources.sheets import GoogleRead, extract_google
from flows.sources.snapshot import TabSnapshot, UnreadItem
from flows.storage import ensure_private_dir, private_umask

# What a failed run's report says about it, by kind of error.
# DuckDB's words when a build needs more than its memory limit and cannot spill (dbt quotes them per node).
_OUT_OF_MEMORY = re.compile(r"could not allocate block|Out of Memory Error", re.IGNORECASE)
_STATUS_OF_ERROR = ((SyncAlreadyRunning, "refuse"), (InputError, "erreur_entree"), (GateFailed, "bloque"))


@dataclass(frozen=True)
class SourcePlan:
    """Where this run reads from and what it expects there."""

    kind: str  # 'fichiers' | 'sheets'
    config: SourceConfig
    folder: Path | None


def plan_sources(settings: Settings, source_dir: Path | None) -> SourcePlan:
    """Decide the source: a folder of exports, the configured Google Sheets, or the bundled sample."""
    config = load_source_config(config_file_for(settings.sources_file, source_dir))
    if source_dir is not None:
        return SourcePlan("fichiers", config, source_dir)
    if settings.sources_file is not None:
        return SourcePlan("sheets", config, None)
    return SourcePlan("fichiers", config, SAMPLE_DIR)


@task(name="extraire", cache_policy=NONE)
@error_boundary
def extract_task(plan: SourcePlan, settings: Settings, full: bool) -> GoogleRead:
    """Read every configured tab: new snapshots, reused snapshot ids and Google requests made."""
    if plan.kind == "fichiers":
        folder = read_folder(plan.folder, plan.config)
        return GoogleRead(folder.snapshots, [], 0, 0, folder.unread)
    return extract_google(plan.config, settings, full)


@task(name="charger_brut", cache_policy=NONE)
@error_boundary
def land_task(
    settings: Settings, sync_id: str, plan: SourcePlan, snapshots: list[TabSnapshot], reused: list[str],
    unread: Sequence[UnreadItem] = (),
) -> list[LandedSnapshot]:
    """Append the snapshots, and what was not read, to the raw history (owner-only files: personal data)."""
    with private_umask():
        return land_sync(
            settings.raw_db,
            sync_id,
            plan.kind,
            plan.config.departements,
            snapshots,
            reused,
            settings.pseudonym_key(),
            bounds=plan.config.bounds,
            seuil_confidentialite=plan.config.bilan.seuil_confidentialite,
            earlier_keys=ring_keys(settings.private_dir),
            unread=unread,
        )


@task(name="transformer_dbt", cache_policy=NONE)
@error_boundary
def transform_task(settings: Settings, replay_sync_id: str | None, work_db: Path) -> None:
    """dbt build into a fresh file; a failed model or dbt test stops the run before anything is published."""
    remove_build(work_db)
    with private_umask():
        outcome = dbt_build(
            work_db, settings.raw_db, settings.private_dir / "dbt", replay_sync_id, settings.duckdb_memory_limit
        )
    if not outcome.success:
        for failure in outcome.failures:  # dbt could not write its build or its files: the disk, not the data
            storage = storage_error_in_text(failure["message"], settings.private_dir)
            if storage is not None:
                raise storage
        if any(_OUT_OF_MEMORY.search(failure["message"]) for failure in outcome.failures):
            raise GateFailed(
                f"La transformation dbt a manqué de mémoire (limite de DuckDB : {settings.duckdb_memory_limit}, "
                "variable PDN_DUCKDB_MEMORY_LIMIT) : augmentez cette limite, ou libérez de la mémoire sur la machine. "
                "Rien n'a été publié."
            )
        details = "; ".join(f"{f['noeud']} ({f['statut']})" for f in outcome.failures[:10])
        raise GateFailed(f"La transformation dbt a échoué : {details}. Rien n'a été publié.")


@task(name="assembler_candidat", cache_policy=NONE)
@error_boundary
def assemble_task(work_db: Path, candidate_db: Path, metadata: dict) -> list[str]:
    """Copy the publishable marts into a fresh candidate file."""
    return assemble_candidate(work_db, candidate_db, metadata)


@task(name="figer_annees_closes", cache_policy=NONE)
@error_boundary
def freeze_task(raw_db: Path, candidate_db: Path, revisable: set[int] | None) -> FreezeOutcome:
    """Put the closed years' frozen figures back into the candidate, except the years being revised."""
    return freeze_closed_years(raw_db, candidate_db, revisable)


@task(name="controler_qualite", cache_policy=NONE)
@error_boundary
def validate_task(
    candidate_db: Path, previous_db: Path | None, run_id: str, docs_dir: Path, departements: tuple[str, ...]
):
    """Run the Great Expectations gate on the candidate, comparing row counts with the last published file."""
    from flows.pipeline.validate import run_gate

    return run_gate(candidate_db, previous_db, run_id, docs_dir, departements=departements)


@task(name="publier", cache_policy=NONE)
@error_boundary
def publish_task(candidate_db: Path, published_db: Path) -> str:
    """Swap the validated candidate in and read it back; returns its checksum."""
    checksum = file_checksum(candidate_db)
    swap_in(candidate_db, published_db, checksum)
    return checksum


def upgrade_raw_history(settings: Settings) -> None:
    """Apply the raw schema's pending migrations (landing does it too, in its own transaction)."""
    with private_umask(), duckdb.connect(str(settings.raw_db)) as con:
        ensure_raw_schema(con, settings.pseudonym_key())


def network_departements(raw_db: Path, sync_id: str) -> tuple[str, ...]:
    """The network's departments as configured for that sync (replays use the sync's own list)."""
    with duckdb.connect(str(raw_db), read_only=True) as con:
        row = con.execute("select departements from syncs where sync_id = ?", [sync_id]).fetchone()
    if row is None:
        raise InputError(f"Synchronisation « {sync_id} » inconnue dans l'historique brut : rien à rejouer.")
    return tuple(json.loads(row[0]))


# What the run report lists from the build, by key: never a cell's content (rows, columns, reasons).
# Rows of people who asked for erasure come first: the coordinator must delete them.
_LISTED = {
    "quarantaine": (
        "select spreadsheet_title as tableur, onglet, numero_ligne as ligne, motif from int_lignes_quarantaine "
        "order by contains(motif, $erased) desc, tableur, onglet, ligne, motif"
    ),
    "cellules_signalees": (
        "select spreadsheet_title as tableur, onglet, numero_ligne as ligne, colonne, motif "
        "from int_cellules_signalees order by all"
    ),
    "questions_non_cataloguees": (
        "select annee, spreadsheet_title as tableur, colonne, motif from qualite.questions_non_cataloguees order by all"
    ),
}
# Rows and cells listed at most: a whole column typed wrong flags every row, and a report of 100,000 cells
# helps nobody while costing seconds to every reader. Their exact count is kept beside (`<key>_total`).
LISTED_MAX = 1000
_COUNTED = ("quarantaine", "cellules_signalees")


def listed_from_build(work_db: Path) -> dict[str, list[dict] | int]:
    """Quarantined rows, cells to correct and uncatalogued questions, for the run report, with their totals."""
    listed: dict[str, list[dict] | int] = {}
    with duckdb.connect(str(work_db), read_only=True) as con:
        for key, sql in _LISTED.items():
            parameters = {"erased": ERASED_REASON} if "$erased" in sql else {}
            cursor = con.execute(f"{sql} limit {LISTED_MAX}", parameters)
            names = [column[0] for column in cursor.description]
            rows = listed[key] = [dict(zip(names, row)) for row in cursor.fetchall()]
            if key in _COUNTED and len(rows) == LISTED_MAX:
                listed[f"{key}_total"] = con.execute(f"select count(*) from ({sql})", parameters).fetchone()[0]
            elif key in _COUNTED:
                listed[f"{key}_total"] = len(rows)
    return listed


def types_without_indicator(work_db: Path) -> list[str]:
    """A French warning per action type of the Listes tab that feeds no indicator (screened values only)."""
    with duckdb.connect(str(work_db), read_only=True) as con:
        values = con.execute(
            "select valeur from bilan.valeurs_listes where liste = 'Type d''action' and indicateur is null "
            "and est_en_vigueur order by valeur"
        ).fetchall()
    return [
        f"Type d'action « {value} » (onglet Listes) : ses actions comptent dans bilan.activites, mais dans aucun "
        "indicateur du bilan (seuls les types fournis avec le projet en alimentent un)."
        for (value,) in values
    ]


def failpoint(step: str) -> None:
    """Crash-test hooks, before a step: PDN_FAILPOINT=avant_<step> kills this process (SIGKILL);
    PDN_FAILPOINT=erreur_<step> raises an unexpected error that quotes the sample roster's bytes, as a
    decoding error of a real file would (to prove the error boundary keeps them out of every log);
    PDN_FAILPOINT=sortie_<step> raises SystemExit, as a library calling sys.exit() would."""
    wanted = os.environ.get("PDN_FAILPOINT")
    if wanted == f"avant_{step}":
        os.kill(os.getpid(), signal.SIGKILL)
    if wanted == f"sortie_{step}":
        raise SystemExit(3)
    if wanted == f"erreur_{step}":
        content = (SAMPLE_DIR / "Suivi - Promeneurs.csv").read_bytes()
        raise UnicodeDecodeError("utf-8", content, 0, 1, "invalid start byte")


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


def _prepare(settings: Settings, report: RunReport) -> None:
    """Under the lock, before anything else: leftovers of killed runs, and the private folder's permissions."""
    event = set_aside_stale_wal(settings.published_db)  # leftover candidates went as the lock was taken
    report.evenements += [event] if event else []
    report.evenements += ensure_private_dir(settings.private_dir)
    check_raw_history(settings)  # a damaged history stops the run here, before anything lands on it
    report.evenements += [
        f"La synchronisation {closed['run_id']} s'était arrêtée sans rapport (processus disparu) : signalée."
        for closed in close_interrupted_runs(settings)
    ]
    for event in report.evenements:
        get_run_logger().warning(event)


def _extract_and_land(settings: Settings, report: RunReport, source_dir: Path | None, full: bool) -> SourcePlan:
    timed = _Stopwatch(report)
    plan = plan_sources(settings, source_dir)
    # The folder's own name, screened: never the path to it (published, and stored by Prefect).
    folder = None if plan.folder is None else folder_label(plan.folder, known_names(settings.raw_db))
    report.source = plan.kind if folder is None else f"{plan.kind} ({folder})"
    read = timed("extraction", extract_task, plan, settings, full)
    report.requetes_sheets = read.requests - read.forms_requests
    report.requetes_forms = read.forms_requests
    notes = {(s.spreadsheet.title, s.tab): s.reading_note for s in read.snapshots}
    landed = timed("chargement", land_task, settings, report.run_id, plan, read.snapshots, read.reused, read.unread)
    record_checksum(settings)  # the bytes the next start expects
    names = known_names(settings.raw_db)  # every name of the history, this sync's roster included
    if plan.folder is not None:  # named again now that this sync's roster is known too
        report.source = f"{plan.kind} ({folder_label(plan.folder, names)})"
    report.lignes_lues = screened_rows([
        {"tableur": s.spreadsheet_title, "onglet": s.tab, "lignes": s.rows}
        | ({"lecture": notes[(s.spreadsheet_title, s.tab)]} if notes.get((s.spreadsheet_title, s.tab)) else {})
        for s in landed
    ], names)
    report.evenements += [
        f"{screened_label(s.spreadsheet_title, 'tableur masqué', names)} / {screened_label(s.tab, 'onglet masqué', names)}, "
        f"ligne(s) {', '.join(map(str, s.rows_naming_erased))} : un texte libre nomme "
        f"une personne ayant demandé l'effacement de ses données ; enregistré avec « {REDACTED} » à la place, "
        "corrigez-le dans le tableur."
        for s in landed
        if s.rows_naming_erased
    ]
    report.non_lus = [item.as_report(names) for item in read.unread]
    get_run_logger().info("%d onglets chargés dans l'historique brut", len(landed))
    return plan


def _run(
    settings: Settings,
    report: RunReport,
    source_dir: Path | None,
    full: bool,
    replay: str | None,
    accept_drop: bool,
    effacement: str | None = None,
    reviser: tuple[int, ...] = (),
) -> None:
    timed = _Stopwatch(report)
    sync_id = report.run_id
    check_revisable(settings.raw_db, reviser)  # before any work: a wrong year is refused at once
    plan = None
    report.evenements += prepare_key(settings, sample=not (replay or source_dir or settings.sources_file))
    if replay:
        report.source = f"rejeu de {replay}" + (f" après l'effacement {effacement}" if effacement else "")
        sync_id = replay
        if not settings.raw_db.exists():
            raise InputError("Aucun historique brut : rien à rejouer.")
        upgrade_raw_history(settings)  # a history written by an earlier release replays under today's schema
        record_checksum(settings)
    else:
        plan = _extract_and_land(settings, report, source_dir, full)
    departements = network_departements(settings.raw_db, sync_id)
    work_db = settings.build_db
    work_db.parent.mkdir(parents=True, exist_ok=True)
    warm_up_in_background()  # Great Expectations' import overlaps dbt instead of following it
    timed("dbt", transform_task, settings, replay, work_db)
    names = known_names(settings.raw_db)
    for key, listed in listed_from_build(work_db).items():
        setattr(report, key, screened_rows(listed, names) if isinstance(listed, list) else listed)
    report.evenements += types_without_indicator(work_db)
    candidate = candidate_path(settings.published_db, report.run_id)
    metadata = {"run_id": report.run_id, "sync_id": sync_id, "source": report.source, "publie_le": report.debut}
    timed("assemblage", assemble_task, work_db, candidate, metadata)
    if plan is not None:  # [bilan] cloture_automatique: years past their closing day close as last published
        report.evenements += [
            f"Année {c.annee} close automatiquement (date de clôture de sources.toml passée) : ses chiffres publiés "
            "ne bougeront plus sans « pdn synchroniser --reviser »."
            for c in close_due_years(settings, plan.config.bilan.cloture_automatique, date.today())
        ]
    # Closed years keep their frozen figures; an erasure revises them by design, --reviser on request.
    freeze = timed("annees_closes", freeze_task, settings.raw_db, candidate, None if effacement else set(reviser))
    _report_freeze(report, freeze)
    # --accepter-baisse: the coordinator really emptied a tab, so skip the comparison with the last publication once;
    # an erasure removes rows on purpose: its change checks never block it either.
    previous = settings.published_db if settings.published_db.exists() and not (accept_drop or effacement) else None
    damage = publication_damage(settings.published_db, settings.runs_dir)
    if damage:  # a damaged publication is replaced, not compared with: else no sync could ever repair it
        report.evenements.append(f"Publication précédente illisible ({damage}) : comparaison ignorée.")
        previous = None
    docs_dir = settings.runs_dir / "data-docs"
    gate = timed("controle", validate_task, candidate, previous, report.run_id, docs_dir, departements)
    report.controles_en_echec = [
        {"suite": f.suite, "controle": f.expectation, "gravite": f.severity, "message": f.message, "details": f.details}
        for f in gate.failures
    ]
    if not gate.passed:
        candidate.unlink(missing_ok=True)
        raise GateFailed("Le contrôle qualité a bloqué la publication : l'entrepôt publié n'a pas changé.")
    report.effacement = effacement
    if settings.published_db.exists() and not damage:
        _report_moved_figures(settings, report, candidate, sync_id)
    report.sha256 = timed("publication", publish_task, candidate, settings.published_db)
    # Recorded once published: a revision that never reached the published file is no revision.
    record_revisions(
        settings.raw_db, settings.published_db, report.run_id, freeze.revisions,
        REVISION_ERASURE if effacement else REVISION_ASKED,
    )
    report.fichier_publie = str(settings.published_db)
    report.statut = "publie"
    record_checksum(settings)  # the revisions above wrote into the history
    event = keep_backup(settings, report.run_id)
    report.evenements += [event] if event else []
    get_run_logger().info("Entrepôt publié : %s", settings.published_db)


def _report_freeze(report: RunReport, freeze: FreezeOutcome) -> None:
    """What the freeze step kept, revised and found broken, into the run report."""
    report.annees_closes_conservees = freeze.annees_figees
    report.indicateurs_non_appliques = freeze.non_appliques
    report.annees_revisees = sorted(freeze.revisions)
    report.ruptures_debut_fin = freeze.ruptures


def _report_moved_figures(settings: Settings, report: RunReport, candidate: Path, sync_id: str) -> None:
    """Every published figure this publication changes, and the sheet rows behind them (row numbers only)."""
    report.indicateurs_modifies = moved_figures(settings.published_db, candidate)
    published = published_sync_id(settings.published_db)
    wanted = report.indicateurs_modifies or report.indicateurs_non_appliques
    if wanted and published and published != sync_id:  # a replay (erasure) reads the same rows again
        report.lignes_modifiees = changed_rows(settings.raw_db, published, sync_id)


class _StopSignals:
    """Remembers a SIGTERM received during the run, then lets Prefect's own handler act on it (it raises into the
    flow). dbt catches whatever is raised inside a build and reports a failed node: without this, a run stopped
    mid-dbt would be reported as blocked by the transformation instead of cancelled."""

    def __init__(self) -> None:
        self.received = False
        self.previous = None

    def __enter__(self) -> _StopSignals:
        if threading.current_thread() is threading.main_thread():
            self.previous = signal.signal(signal.SIGTERM, self._handle)
        return self

    def _handle(self, signum, frame) -> None:
        self.received = True
        if self.previous == signal.SIG_IGN:
            return
        if callable(self.previous):
            self.previous(signum, frame)
        else:
            raise SystemExit(128 + signum)

    def __exit__(self, *exc) -> None:
        if self.previous is not None:
            signal.signal(signal.SIGTERM, self.previous)


def _failed(report: RunReport, error: BaseException, stop: _StopSignals | None = None) -> PdnError:
    """Record a failure in the report; return the error as it may be shown (no cell content). A failure that
    follows a SIGTERM (dbt turns the signal into a failed node) is the cancellation it is."""
    safe = safe_error(error)
    safe.args = (screened_quotes(str(safe), configured_known_names()),)  # it may quote a title someone typed
    report.statut = next((status for kind, status in _STATUS_OF_ERROR if isinstance(safe, kind)), "echec")
    report.message = str(safe)
    if stop is not None and stop.received:
        report.statut, report.message = "annulee", CANCELLED
        safe.args = (CANCELLED,)
    safe.report = report.as_dict()  # type: ignore[attr-defined]
    return safe


def _start_reporting(report: RunReport, settings: Settings) -> None:
    """Name the run's process and Prefect run in its report, written `en_cours` now: a crash is then found."""
    from prefect.runtime import flow_run

    report.processus = process_identity()
    report.flow_run_id = str(flow_run.id) if flow_run.id else None
    announce_start(report, settings.runs_dir)


def _stopped(report: RunReport, settings: Settings, error: BaseException) -> None:
    """A run stopped by a signal (SIGTERM from the runner or the system, Ctrl-C) or SystemExit: said and alerted."""
    report.statut, report.message = ("interrompue", INTERRUPTED) if isinstance(error, SystemExit) else ("annulee", CANCELLED)
    write_run_report(report, settings.runs_dir)
    announce_end(settings.runs_dir, report.run_id)
    alert_once(settings, report.as_dict())


@flow(
    name="nightly_sync",
    log_prints=False,
    on_crashed=[recovery_hooks.on_crashed],
    on_cancellation=[recovery_hooks.on_cancellation],
)
def nightly_sync(
    source_dir: str | SourceFolder | None = None,
    full: bool = False,
    replay: str | None = None,
    accept_drop: bool = False,
    effacement: str | None = None,
    reviser: list[int] | None = None,
) -> dict:
    """One sync of the Promeneurs du Net warehouse; raises a PdnError (with its exit code) on failure.

    A run report is written whatever the outcome, refusals included; failures send an alert. `effacement`
    (an erasure id, never who) marks the republication that follows `pdn oubli`, which holds the lock already.
    `reviser`: closed years whose new figures are published (`pdn synchroniser --reviser ANNEE`) instead of kept frozen.
    """
    with cycle_collection_paused():
        return _one_sync(source_dir, full, replay, accept_drop, effacement, reviser)


def _one_sync(
    source_dir: str | SourceFolder | None,
    full: bool,
    replay: str | None,
    accept_drop: bool,
    effacement: str | None,
    reviser: list[int] | None,
) -> dict:
    report = RunReport()
    token = current_run_id.set(report.run_id)
    settings = None
    stop = _StopSignals().__enter__()
    try:
        settings = load_settings()
        # dbt parses (then Great Expectations imports) while the run extracts and lands: deployment runs too.
        parse_ahead(replay, then=warm_up, settings=settings)
        _start_reporting(report, settings)
        try:
            with warehouse_lock(settings.lock_file, reentrant=True):
                try:
                    _prepare(settings, report)
                    source = source_path(source_dir)
                    _run(settings, report, source, full, replay, accept_drop, effacement, tuple(reviser or ()))
                except Exception as error:  # noqa: BLE001 (the flow's error boundary)
                    raise _failed(report, error, stop) from None
                finally:
                    discard_candidate(candidate_path(settings.published_db, report.run_id))  # published: gone already
                    write_back_after_sync(settings, report, source_path(source_dir), replay)  # never raises
                    report.evenements += log_write_failures()
                    ensure_private_dir(settings.private_dir)  # what dbt and DuckDB created stays owner-only
                    write_run_report(report, settings.runs_dir, fallback_dir=settings.private_dir / "runs")
        except SyncAlreadyRunning as error:  # refused: nothing changed, but the refusal is reported too
            safe = _failed(report, error)
            write_run_report(report, settings.runs_dir)
            raise safe from None
    except Exception as error:  # noqa: BLE001
        safe = error if hasattr(error, "report") else _failed(report, error)
        if settings is not None and not hasattr(error, "report"):  # failed before the lock: a full disk, say
            write_run_report(report, settings.runs_dir, fallback_dir=settings.private_dir / "runs")
        safe.report = report.as_dict()  # as written: its message may say where the report went
        if settings is None:
            notify_failure(report.as_dict())
        else:
            try:
                announce_end(settings.runs_dir, report.run_id)
                alert_once(settings, report.as_dict())
            except OSError:  # a read-only or full warehouse takes no claim: the alert goes unclaimed
                notify_failure(report.as_dict())
        raise safe from None
    except BaseException as error:  # SIGTERM (Prefect's TerminationSignal), Ctrl-C, SystemExit: still reported
        if settings is not None:
            _stopped(report, settings, error)
        raise
    finally:
        current_run_id.reset(token)
        stop.__exit__()
        forget_parse_ahead()  # a run stopped before its build leaves no parse behind
    announce_end(settings.runs_dir, report.run_id)
    report_after_sync(settings, source_path(source_dir))  # bilans + exports; logs, never raises
    return report.as_dict()
