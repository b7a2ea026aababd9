"""Alerts: a French summary of a failed run, sent to a chat webhook and/or by e-mail.

The message is built from the run report only, which holds counts, sheet row numbers, reasons and check
messages: never a cell's content; the metadata it quotes (titles, tabs, headers) is screened (flows/screen.py),
so no personal data leaves the machine. Sending an alert never raises:
a channel that fails is logged (without its secrets) and the run keeps its own outcome and exit code.
"""

from __future__ import annotations

import json
import logging
import smtplib
import ssl
import urllib.request
from email.message import EmailMessage
from urllib.parse import urlsplit

from flows.ops.summary import format_summary
from flows.screen import configured_known_names, screened_quotes
from flows.settings import AlertSettings, load_alert_settings
from flows.vocabulary import status_label

# Outcomes worth waking someone up for; "publie" (even with warnings) is not one of them.
ALERT_STATUSES = frozenset({"bloque", "erreur_entree", "echec", "refuse", "interrompue", "annulee"})
TIMEOUT_SECONDS = 15.0

logger = logging.getLogger(__name__)


def alert_subject(report: dict) -> str:
    """One line naming the run and its outcome."""
    outcome = status_label(report.get("statut", "inconnue"))
    return f"[Promeneurs du Net] Synchronisation {report.get('run_id', '?')} : {outcome}"


def alert_text(report: dict) -> str:
    """The French alert: what happened, then the run summary, then where to look next; every « quoted » value
    goes through the screen once more (flows/screen.py): an alert leaves the machine."""
    return screened_quotes(_alert_lines(report), configured_known_names())


def _alert_lines(report: dict) -> str:
    """The alert's text as the report says it."""
    return "\n".join(
        [
            "Alerte de l'entrepôt Promeneurs du Net : la synchronisation n'a rien publié, "
            "l'entrepôt publié précédent reste en place.",
            "",
            format_summary(report),
            "",
            f"Détails : rapport d'exécution runs/{report.get('run_id', '?')}.json à côté de l'entrepôt, "
            "historique des exécutions dans l'interface Prefect, état récent avec `pdn etat`.",
        ]
    )


def webhook_payload(text: str, webhook_format: str = "texte") -> dict:
    """`{"text": ...}` for Slack and Mattermost; an Adaptive Card for a Teams "Workflows" webhook."""
    if webhook_format == "teams":
        card = {
            "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
            "type": "AdaptiveCard",
            "version": "1.4",
            "body": [{"type": "TextBlock", "text": text, "wrap": True}],
        }
        return {
            "type": "message",
            "attachments": [{"contentType": "application/vnd.microsoft.card.adaptive", "content": card}],
        }
    return {"text": text}


def send_webhook(settings: AlertSettings, text: str) -> None:
    """POST the alert as JSON; any non-2xx answer raises."""
    body = json.dumps(webhook_payload(text, settings.webhook_format), ensure_ascii=False).encode("utf-8")
    request = urllib.request.Request(
        settings.webhook_url,
        data=body,
        method="POST",
        headers={"Content-Type": "application/json; charset=utf-8"},
    )
    with urllib.request.urlopen(request, timeout=TIMEOUT_SECONDS) as response:
        if not 200 <= response.status < 300:
            raise RuntimeError(f"réponse HTTP {response.status}")


def send_email(settings: AlertSettings, subject: str, text: str) -> None:
    """Send the alert over SMTP: STARTTLS unless disabled, implicit TLS on port 465, login if a user is set."""
    message = EmailMessage()
    message["Subject"] = subject
    message["From"] = settings.sender
    message["To"] = ", ".join(settings.recipients)
    message.set_content(text)
    context = ssl.create_default_context()
    if settings.smtp_port == 465:
        client = smtplib.SMTP_SSL(settings.smtp_host, settings.smtp_port, timeout=TIMEOUT_SECONDS, context=context)
    else:
        client = smtplib.SMTP(settings.smtp_host, settings.smtp_port, timeout=TIMEOUT_SECONDS)
    with client:
        if settings.smtp_starttls and settings.smtp_port != 465:
            client.starttls(context=context)
        if settings.smtp_user:
            client.login(settings.smtp_user, settings.smtp_password or "")
        client.send_message(message)


def _where(settings: AlertSettings, channel: str) -> str:
    """A channel's destination for logs: host only, since webhook paths carry tokens."""
    if channel == "webhook":
        parts = urlsplit(settings.webhook_url or "")
        return f"{parts.scheme}://{parts.hostname}" if parts.hostname else "adresse invalide"
    return f"{settings.smtp_host}:{settings.smtp_port}"


def _scrubbed(error: BaseException, settings: AlertSettings) -> str:
    """The error's type and text with every configured secret masked."""
    text = str(error)
    for secret in settings.secrets():
        text = text.replace(secret, "***")
    return f"{type(error).__name__}: {text}" if text else type(error).__name__


def _warn(message: str, *args: object) -> None:
    """Log a warning on the console, and in the Prefect UI when inside a flow run."""
    # Both: `pdn synchroniser` quiets Prefect's own loggers, and the UI only shows the run logger.
    logger.warning(message, *args)
    try:
        from prefect.logging import get_run_logger

        get_run_logger().warning(message, *args)
    except Exception:  # not inside a flow run
        pass


def _deliver(settings: AlertSettings, subject: str, text: str) -> list[str]:
    """Try every configured channel; return those that accepted the message."""
    channels = []
    if settings.webhook_url:
        channels.append(("webhook", lambda: send_webhook(settings, text)))
    if settings.email_enabled:
        channels.append(("e-mail", lambda: send_email(settings, subject, text)))
    delivered = []
    for name, send in channels:
        try:
            send()
        except Exception as err:  # an alert must never change the run's outcome
            _warn("Alerte non envoyée par %s (%s) : %s", name, _where(settings, name), _scrubbed(err, settings))
        else:
            delivered.append(name)
    return delivered


def notify_failure(report: dict, settings: AlertSettings | None = None) -> list[str]:
    """Alert on a failed, blocked or refused run; return the channels notified (never raises)."""
    try:
        if report.get("statut") not in ALERT_STATUSES:
            return []
        settings = settings or load_alert_settings()
        return _deliver(settings, alert_subject(report), alert_text(report))
    except Exception as err:  # a malformed report or setting must not mask the run's exit code either
        _warn("Alerte non envoyée : %s", type(err).__name__)
        return []


def send_test_alert(settings: AlertSettings | None = None) -> list[str]:
    """Send a test message on every configured channel, to check the configuration."""
    settings = settings or load_alert_settings()
    text = (
        "Message d'essai de l'entrepôt Promeneurs du Net : si vous le lisez, les alertes en cas d'échec "
        "de la synchronisation nocturne vous parviendront."
    )
    return _deliver(settings, "[Promeneurs du Net] Message d'essai des alertes", text)
