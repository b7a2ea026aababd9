"""Alerts on failed runs: one French message per channel, no personal data, never a masked exit code."""

from __future__ import annotations

import csv
import email
import email.policy
import json
import logging
import re
import shutil
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from flows.ops.notify import notify_failure, send_test_alert, webhook_payload
from flows.settings import SAMPLE_DIR, load_alert_settings
from flows.sources.contract import normalise_label

IDENTITY_HEADERS = {normalise_label(label) for label in ("Nom", "Prénom", "E-mail", "Adresse e-mail")}

# A gate failure as the flow reports it, on the sample's sheets: counts, row numbers, reasons, messages.
BLOCKED_REPORT = {
    "run_id": "20250330T020000Z-a1b2c3",
    "statut": "bloque",
    "source": "sheets",
    "debut": "2025-03-30T02:00:00+00:00",
    "fin": "2025-03-30T02:01:10+00:00",
    "lignes_lues": [
        {"tableur": "Suivi", "onglet": "Promeneurs", "lignes": 84},
        {"tableur": "Suivi", "onglet": "Activités", "lignes": 112},
    ],
    "requetes_sheets": 4,
    "quarantaine": [
        {"tableur": "Suivi", "onglet": "Promeneurs", "ligne": 37, "motif": "département inconnu"},
        {"tableur": "Suivi", "onglet": "Activités", "ligne": 58, "motif": "date illisible"},
    ],
    "controles_en_echec": [
        {
            "suite": "indicateurs",
            "controle": "expect_column_values_to_be_between",
            "gravite": "critique",
            "message": "promeneurs_actifs_fin_annee (ensemble) a baissé de 60 % "
            "par rapport à la publication précédente",
        }
    ],
    "durees_secondes": {"extraction": 3.2, "dbt": 41.0},
    "fichier_publie": None,
    "sha256": None,
    "message": "Le contrôle qualité a bloqué la publication : l'entrepôt publié n'a pas changé.",
}


def sample_identities() -> set[str]:
    """Every name, first name and e-mail of the bundled sample."""
    found = set()
    for path in SAMPLE_DIR.glob("*.csv"):
        with open(path, encoding="utf-8", newline="") as handle:
            rows = list(csv.reader(handle))
        columns = [i for i, header in enumerate(rows[0]) if normalise_label(header) in IDENTITY_HEADERS]
        found |= {row[i].strip() for row in rows[1:] for i in columns if i < len(row) and row[i].strip()}
    return found


def leaked_identities(text: str) -> list[str]:
    """The sample identities a text mentions, as whole words, ignoring case."""
    return [who for who in sample_identities() if re.search(rf"(?<!\w){re.escape(who)}(?!\w)", text, re.IGNORECASE)]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class WebhookReceiver:
    """A local chat webhook: records each POSTed JSON body and answers with `status`."""

    def __init__(self, status: int = 200) -> None:
        self.bodies: list[dict] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers["Content-Length"])
                receiver.bodies.append(json.loads(self.rfile.read(length).decode("utf-8")))
                self.send_response(status)
                self.end_headers()

            def log_message(self, *args) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/hooks/T000-jeton-secret"
        threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


class SmtpReceiver:
    """A local SMTP server (aiosmtpd) keeping every message it accepts."""

    def __init__(self) -> None:
        from aiosmtpd.controller import Controller

        self.messages: list[email.message.EmailMessage] = []
        self.recipients: list[list[str]] = []
        receiver = self

        class Handler:
            async def handle_DATA(self, server, session, envelope):
                receiver.recipients.append(list(envelope.rcpt_tos))
                receiver.messages.append(email.message_from_bytes(envelope.content, policy=email.policy.default))
                return "250 OK"

        self.port = free_port()
        self.controller = Controller(Handler(), hostname="127.0.0.1", port=self.port)
        self.controller.start()

    def close(self) -> None:
        self.controller.stop()


ALERT_VARIABLES = (
    "PDN_ALERT_WEBHOOK_URL", "PDN_ALERT_WEBHOOK_FORMAT", "PDN_SMTP_HOST", "PDN_SMTP_PORT", "PDN_SMTP_USER",
    "PDN_SMTP_PASSWORD", "PDN_SMTP_STARTTLS", "PDN_ALERT_FROM", "PDN_ALERT_TO",
)


@pytest.fixture(autouse=True)
def no_real_alert_channel(monkeypatch):
    """A developer's own alert settings must never receive test alerts."""
    for name in ALERT_VARIABLES:
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def smtp():
    receiver = SmtpReceiver()
    yield receiver
    receiver.close()


@pytest.fixture
def alert_env(monkeypatch, webhook, smtp):
    """Both channels configured towards the local receivers."""
    monkeypatch.setenv("PDN_ALERT_WEBHOOK_URL", webhook.url)
    monkeypatch.setenv("PDN_SMTP_HOST", "127.0.0.1")
    monkeypatch.setenv("PDN_SMTP_PORT", str(smtp.port))
    monkeypatch.setenv("PDN_SMTP_STARTTLS", "false")
    monkeypatch.setenv("PDN_ALERT_FROM", "entrepot@pdn.example.net")
    monkeypatch.setenv("PDN_ALERT_TO", "coordination@pdn.example.net, astreinte@pdn.example.net")


def assert_one_french_alert(webhook: WebhookReceiver, smtp: SmtpReceiver, run_id: str, reason: str) -> None:
    assert len(webhook.bodies) == 1
    assert len(smtp.messages) == 1
    chat = webhook.bodies[0]["text"]
    mail = smtp.messages[0]
    body = mail.get_content()
    assert smtp.recipients[0] == ["coordination@pdn.example.net", "astreinte@pdn.example.net"]
    for text in (chat, body):
        assert "Alerte de l'entrepôt Promeneurs du Net" in text
        assert run_id in text
        assert reason in text
        assert leaked_identities(text) == []
    assert run_id in mail["Subject"]
    assert leaked_identities(mail["Subject"]) == []


def test_sample_identities_are_found_by_the_scan():
    # The scan must be able to fail: it knows the sample's people and spots them in a text.
    identities = sample_identities()
    assert len(identities) > 150
    assert "lea.bertrand@example.org" in identities
    assert sorted(leaked_identities("Contact : LEA.BERTRAND@example.org")) == ["Bertrand", "lea.bertrand@example.org"]
    assert leaked_identities("Synchronisation bloquée, ligne 37 : département inconnu") == []


def test_blocked_gate_sends_one_french_message_per_channel(alert_env, webhook, smtp):
    channels = notify_failure(BLOCKED_REPORT)

    assert channels == ["webhook", "e-mail"]
    assert_one_french_alert(webhook, smtp, BLOCKED_REPORT["run_id"], "a baissé de 60 %")
    body = smtp.messages[0].get_content()
    assert "synchronisation n'a rien publié" in body
    assert "Suivi / Promeneurs, ligne 37 : département inconnu" in body


def test_published_run_sends_nothing(alert_env, webhook, smtp):
    published = dict(BLOCKED_REPORT, statut="publie", message=None, controles_en_echec=[])

    assert notify_failure(published) == []
    assert webhook.bodies == [] and smtp.messages == []


def test_unreachable_channels_are_logged_without_secrets_and_never_raise(monkeypatch, caplog):
    closed = free_port()
    token_url = f"http://127.0.0.1:{closed}/hooks/T000-jeton-secret"
    monkeypatch.setenv("PDN_ALERT_WEBHOOK_URL", token_url)
    monkeypatch.setenv("PDN_SMTP_HOST", "127.0.0.1")
    monkeypatch.setenv("PDN_SMTP_PORT", str(closed))
    monkeypatch.setenv("PDN_SMTP_USER", "compte-alertes")
    monkeypatch.setenv("PDN_SMTP_PASSWORD", "mot-de-passe-tres-secret")
    monkeypatch.setenv("PDN_ALERT_TO", "coordination@pdn.example.net")

    with caplog.at_level(logging.WARNING, logger="flows.ops.notify"):
        assert notify_failure(BLOCKED_REPORT) == []

    assert caplog.text.count("Alerte non envoyée") == 2
    assert "http://127.0.0.1" in caplog.text
    for secret in ("jeton-secret", "mot-de-passe-tres-secret", "compte-alertes"):
        assert secret not in caplog.text


def test_a_failing_webhook_does_not_stop_the_email(alert_env, smtp, monkeypatch, caplog):
    refusing = WebhookReceiver(status=500)
    monkeypatch.setenv("PDN_ALERT_WEBHOOK_URL", refusing.url)
    try:
        with caplog.at_level(logging.WARNING, logger="flows.ops.notify"):
            assert notify_failure(BLOCKED_REPORT) == ["e-mail"]
    finally:
        refusing.close()
    assert len(refusing.bodies) == 1
    assert len(smtp.messages) == 1
    assert "HTTP Error 500" in caplog.text


def test_no_channel_configured_sends_nothing():
    assert load_alert_settings().webhook_url is None and not load_alert_settings().email_enabled
    assert notify_failure(BLOCKED_REPORT) == []


def test_test_alert_reaches_both_channels(alert_env, webhook, smtp):
    assert send_test_alert() == ["webhook", "e-mail"]
    assert "Message d'essai" in webhook.bodies[0]["text"]
    assert "Message d'essai" in smtp.messages[0]["Subject"]


def test_teams_webhooks_get_an_adaptive_card(monkeypatch):
    monkeypatch.setenv("PDN_ALERT_WEBHOOK_FORMAT", "teams")
    payload = webhook_payload("Alerte", load_alert_settings().webhook_format)
    [attachment] = payload["attachments"]
    assert attachment["contentType"] == "application/vnd.microsoft.card.adaptive"
    assert attachment["content"]["body"][0]["text"] == "Alerte"


# --- Wiring: nightly_sync alerts by itself, and an alert never changes `pdn synchroniser`'s exit code -------------

def broken_sample(tmp_path: Path) -> Path:
    """The sample with the roster's charter-date column renamed: an input error, exit code 2."""
    broken = tmp_path / "exports"
    shutil.copytree(SAMPLE_DIR, broken)
    roster = broken / "Suivi - Promeneurs.csv"
    roster.write_text(
        roster.read_text(encoding="utf-8").replace("Date de signature de la Charte", "Signée le", 1), encoding="utf-8"
    )
    return broken


def test_failed_sync_alerts_once_per_channel_and_keeps_its_exit_code(
    prefect_harness, warehouse, alert_env, webhook, smtp, tmp_path
):
    from flows.cli import main

    assert main(["sync", "--source", str(broken_sample(tmp_path))]) == 2

    latest = json.loads((warehouse.runs_dir / "dernier.json").read_text(encoding="utf-8"))
    assert_one_french_alert(webhook, smtp, latest["run_id"], "Date de signature de la charte")


def test_unreachable_alert_channels_do_not_mask_the_sync_exit_code(
    prefect_harness, warehouse, monkeypatch, tmp_path, caplog
):
    from flows.cli import main

    closed = free_port()
    monkeypatch.setenv("PDN_ALERT_WEBHOOK_URL", f"http://127.0.0.1:{closed}/hooks/T000-jeton-secret")
    monkeypatch.setenv("PDN_SMTP_HOST", "127.0.0.1")
    monkeypatch.setenv("PDN_SMTP_PORT", str(closed))
    monkeypatch.setenv("PDN_ALERT_TO", "coordination@pdn.example.net")

    with caplog.at_level(logging.WARNING, logger="flows.ops.notify"):
        assert main(["sync", "--source", str(broken_sample(tmp_path))]) == 2

    assert "Alerte non envoyée par webhook" in caplog.text
    assert "Alerte non envoyée par e-mail" in caplog.text
    assert "jeton-secret" not in caplog.text
