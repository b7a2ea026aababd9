"""The dead man's switch: a Prefect Automation that calls the alert webhook when no sync has published lately.

The run hooks and the next start speak for runs that fail or die; nothing in the project runs when the machine
is off, `pdn planifier` has died or the schedule is paused. The Prefect server sees that absence: a proactive
trigger expects a Completed `nightly_sync` run of the deployment within PDN_STATUS_MAX_AGE_HOURS (26 h) and,
when none comes, posts the French message to the same webhook as the alerts. `pdn planifier` declares it at every
start (replacing its earlier version: one automation, never two). If the Prefect server itself is down, only
`pdn etat` in the system's cron can notice (README, "Operations").
"""

from __future__ import annotations

import json
import logging
from datetime import timedelta
from uuid import UUID

from flows.ops.notify import webhook_payload
from flows.settings import Settings

AUTOMATION_NAME = "pdn-aucune-publication"
WEBHOOK_BLOCK_NAME = "pdn-alerte-webhook"

logger = logging.getLogger(__name__)


def silence_text(hours: float) -> str:
    """What the switch says: no personal data, what to check, in order."""
    return (
        f"Alerte de l'entrepôt Promeneurs du Net : aucune synchronisation n'a publié depuis {hours:g} h. "
        "Vérifiez que la machine est allumée et que `pdn planifier` tourne (service), puis lancez `pdn etat` "
        "pour voir les dernières exécutions ; `pdn synchroniser` publie à la main en attendant."
    )


def _webhook_block_id(settings: Settings) -> UUID:
    """The Prefect Webhook block holding the alert URL (stored by the server, never logged)."""
    from prefect.blocks.webhook import Webhook

    block = Webhook(
        method="POST",
        url=settings.alerts.webhook_url,
        headers={"Content-Type": "application/json; charset=utf-8"},
        allow_private_urls=True,  # the operator chose this address; a chat server on the LAN is common
    )
    return block.save(WEBHOOK_BLOCK_NAME, overwrite=True)


def dead_mans_switch(deployment_id: UUID, within: timedelta, block_id: UUID, text: str, webhook_format: str):
    """The automation: a proactive trigger on the deployment's Completed flow runs, a webhook call as action."""
    from prefect.events.actions import CallWebhook
    from prefect.events.schemas.automations import AutomationCore, EventTrigger, Posture

    return AutomationCore(
        name=AUTOMATION_NAME,
        description="Alerte si aucune synchronisation nocturne n'a publié dans le délai (déclarée par pdn planifier).",
        trigger=EventTrigger(
            posture=Posture.Proactive,
            expect={"prefect.flow-run.Completed"},
            match_related={"prefect.resource.id": f"prefect.deployment.{deployment_id}"},
            threshold=1,
            within=within,
        ),
        actions=[
            CallWebhook(
                block_document_id=block_id,
                payload=json.dumps(webhook_payload(text, webhook_format), ensure_ascii=False),
            )
        ],
    )


def declare_dead_mans_switch(settings: Settings, deployment_id: UUID, within: timedelta | None = None) -> UUID | None:
    """Create (or replace) the automation; None, with a French warning, when no webhook is configured."""
    from prefect import get_client

    if not settings.alerts.webhook_url:
        logger.warning(
            "Pas d'alerte d'absence de synchronisation : PDN_ALERT_WEBHOOK_URL n'est pas configurée "
            "(le serveur Prefect ne peut prévenir personne si la planification s'arrête)."
        )
        return None
    within = within or timedelta(hours=settings.status_max_age_hours)
    automation = dead_mans_switch(
        deployment_id,
        within,
        _webhook_block_id(settings),
        silence_text(within.total_seconds() / 3600),
        settings.alerts.webhook_format,
    )
    with get_client(sync_client=True) as client:
        for earlier in client.read_automations_by_name(AUTOMATION_NAME):
            client.delete_automation(earlier.id)
        return client.create_automation(automation)
