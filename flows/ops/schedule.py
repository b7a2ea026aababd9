"""The nightly schedule: the `nocturne` deployment of `nightly_sync`, served by `pdn serve`."""

from __future__ import annotations

import logging

from prefect.client.schemas.objects import ConcurrencyLimitConfig, ConcurrencyLimitStrategy
from prefect.deployments.runner import EntrypointType, RunnerDeployment
from prefect.schedules import Cron

from flows.errors import InputError
from flows.settings import load_settings

DEPLOYMENT_NAME = "nocturne"
TIMEZONE = "Europe/Paris"
# 04:00 Paris time: after the 02:00-03:00 hour that is skipped in March and repeated in October.
DST_GAP_HOUR = 2
# A sync that collides with a running one is cancelled rather than queued: each sync reads the sources'
# current state, so a queued run would only redo the same work, and queued runs would pile up behind a
# stuck one. The next night (or a manual run) catches up; the cancelled run stays visible in the UI.
COLLISION_STRATEGY = ConcurrencyLimitStrategy.CANCEL_NEW
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
    """The `nightly_sync` deployment: Paris cron schedule, at most one run at a time."""
    from flows.pipeline.sync import nightly_sync

    return nightly_sync.to_deployment(
        name,
        schedules=[nightly_schedule(cron)],
        concurrency_limit=ConcurrencyLimitConfig(limit=1, collision_strategy=COLLISION_STRATEGY),
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
            "`prefect config set PREFECT_API_URL=http://127.0.0.1:4200/api`, et relancez `pdn serve`."
        )
    return url


def serve() -> None:
    """Register the deployment and run its scheduled (and manual) flow runs until interrupted."""
    from prefect import serve as prefect_serve

    require_api_server()
    prefect_serve(build_deployment())
