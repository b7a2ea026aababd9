"""The nightly schedule: the `nocturne` deployment of `nightly_sync`, served by `pdn planifier`."""

from __future__ import annotations

import logging
import sys

from prefect.deployments.runner import EntrypointType, RunnerDeployment
from prefect.schedules import Cron

from flows.errors import InputError
from flows.settings import load_settings

DEPLOYMENT_NAME = "nocturne"
TIMEZONE = "Europe/Paris"
# 04:00 Paris time: after the 02:00-03:00 hour that is skipped in March and repeated in October.
DST_GAP_HOUR = 2
# One sync at a time is the warehouse lock's guarantee (an flock the kernel releases when its process dies, so
# no crash can strand it), not a Prefect concurrency slot: a slot taken by a run whose process was killed stays
# taken until the server notices, and forever if the server restarted too. A run that collides is refused by
# the lock at once, with its run report and one alert.
TAGS = ["pdn"]

logger = logging.getLogger(__name__)


def sync_cron() -> str:
    """The cron expression of the nightly sync: PDN_SYNC_CRON, else 04:00 every day."""
    return load_settings().sync_cron


def cron_hours(cron: str) -> set[int]:
    """The hours a 5-field cron expression fires at (empty when the hour field is not numeric)."""
    fields = cron.split()
    if len(fields) != 5:
        return set()
    hours: set[int] = set()
    for part in fields[1].split(","):
        base, slash, step = part.partition("/")
        low, _, high = ("0-23" if base == "*" else base).partition("-")
        if not (low.isdigit() and (high or "0").isdigit() and (step or "1").isdigit()):
            return set()
        last = int(high) if high else (23 if slash else int(low))
        hours.update(range(int(low), last + 1, int(step or 1)))
    return hours


def hits_dst_gap(cron: str) -> bool:
    """True when the cron fires at 02:xx, an hour that DST skips (March) or repeats (October) in Paris."""
    return DST_GAP_HOUR in cron_hours(cron)


def nightly_schedule(cron: str | None = None):
    """The cron schedule in Paris time, or a French InputError when the expression is invalid."""
    cron = cron or sync_cron()
    try:
        schedule = Cron(cron, timezone=TIMEZONE)
    except ValueError as err:
        raise InputError(
            f"PDN_SYNC_CRON n'est pas une expression cron valide : « {cron} » "
            "(attendu : 5 champs, par exemple « 0 4 * * * » pour 4 h chaque nuit)."
        ) from err
    if hits_dst_gap(cron):
        logger.warning(
            "La planification « %s » tombe entre 2 h et 3 h (heure de Paris) : ce créneau saute en mars "
            "et se répète en octobre, une synchronisation peut être omise ou doublée ces nuits-là.",
            cron,
        )
    return schedule


def build_deployment(name: str = DEPLOYMENT_NAME, cron: str | None = None) -> RunnerDeployment:
    """The `nightly_sync` deployment: Paris cron schedule (one run at a time is the warehouse lock's job)."""
    from flows.pipeline.sync import nightly_sync

    return nightly_sync.to_deployment(
        name,
        schedules=[nightly_schedule(cron)],
        description="Synchronisation nocturne de l'entrepôt Promeneurs du Net (heure de Paris).",
        tags=TAGS,
        # The installed package is importable from any working directory; a file path would not be.
        entrypoint_type=EntrypointType.MODULE_PATH,
    )


def require_api_server() -> str:
    """The Prefect API URL; schedules need a running server (an ephemeral one has no scheduler)."""
    from prefect.settings import get_current_settings

    url = get_current_settings().api.url
    if not url:
        raise InputError(
            "Aucun serveur Prefect n'est configuré : la planification a besoin d'un serveur qui tourne en "
            "permanence. Lancez `prefect server start`, puis "
            "`prefect config set PREFECT_API_URL=http://127.0.0.1:4200/api`, et relancez `pdn planifier`."
        )
    return url


def recover_before_serving(deployment_id) -> list[str]:
    """What the previous `pdn planifier` left when it died: its flow processes stopped and their dbt parse folders
    removed, the runs Prefect still thinks alive marked Crashed, every report left `en_cours` closed, one alert
    per run. French lines said."""
    from flows.ops.recovery import close_interrupted_runs, crash_stranded_runs
    from flows.pipeline.processes import mark_this_process, stop_orphans
    from flows.pipeline.transform import remove_orphan_parse_folders

    stopped = stop_orphans()
    mark_this_process()  # the flow processes this runner starts carry its mark, for the next start
    remove_orphan_parse_folders()  # dbt parses of flow processes killed mid-parse
    settings = load_settings()
    crashed = crash_stranded_runs(settings, deployment_id)
    closed = close_interrupted_runs(settings)
    lines = []
    if stopped:
        lines.append(f"Processus laissés par le service précédent arrêtés : {len(stopped)}.")
    if crashed or closed:
        lines.append(
            f"Exécutions interrompues par un arrêt du service constatées et signalées : {len(crashed) + len(closed)}."
        )
    return lines


def serve() -> None:
    """Register the deployment, heal what a crash left, declare the dead man's switch, then run the scheduled
    (and manual) flow runs until interrupted."""
    from prefect import serve as prefect_serve

    from flows.ops.automations import declare_dead_mans_switch

    require_api_server()
    deployment = build_deployment()
    deployment_id = deployment.apply()
    for line in recover_before_serving(deployment_id):
        print(line, file=sys.stderr)
    declare_dead_mans_switch(load_settings(), deployment_id)
    prefect_serve(deployment)
