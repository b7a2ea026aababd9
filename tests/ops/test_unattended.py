"""Unattended operation: every run that does not publish says so once, and the schedule heals after any crash.

Crashes are real: processes killed with SIGKILL or SIGTERM at a step they have reached, a real `prefect server
start` and a real `pdn planifier`, and alerts received by a local webhook. Start-ups are waited for with generous
bounds (the machine may be loaded), never a default time-out.
"""

from __future__ import annotations

import json
import signal
import time
from pathlib import Path

import duckdb
import pytest

from tests.ops.test_notify import WebhookReceiver
from tests.pipeline.test_crash_safety import assert_published_intact, start_sync, wait_for
from tests.pipeline.test_parse_ahead import PARSE_FOLDERS, built_from_parse_ahead, last_invocation
from tests.prefect_service import STARTUP_BOUND, PrefectService, kill_tree


@pytest.fixture
def copy_of_published(published_sample, tmp_path):
    return published_sample.copy_to(tmp_path)


def report_of(root: Path, run_id: str) -> dict:
    return json.loads((root / "warehouse" / "runs" / f"{run_id}.json").read_text(encoding="utf-8"))


def reports(root: Path) -> list[dict]:
    runs = root / "warehouse" / "runs"
    return [json.loads(p.read_text(encoding="utf-8")) for p in sorted(runs.glob("2*.json"))]


def alerts_about(webhook: WebhookReceiver, run_id: str) -> list[str]:
    return [body["text"] for body in webhook.bodies if run_id in body["text"]]


def test_a_sync_killed_mid_run_is_closed_as_interrupted_with_one_alert_by_the_next_sync(copy_of_published, webhook):
    root = copy_of_published
    before = (root / "warehouse" / "pdn.duckdb").read_bytes()
    killed = start_sync(root, PDN_FAILPOINT="avant_dbt", PDN_ALERT_WEBHOOK_URL=webhook.url)
    assert killed.wait(STARTUP_BOUND) == -signal.SIGKILL
    [stuck] = [r for r in reports(root) if r["statut"] == "en_cours"]
    assert webhook.bodies == []  # nothing could speak for it yet

    for _ in range(2):  # the next sync closes it; the one after must not alert again
        follower = start_sync(root, PDN_ALERT_WEBHOOK_URL=webhook.url)
        assert follower.wait(STARTUP_BOUND) == 0, follower.stdout.read().decode()

    closed = report_of(root, stuck["run_id"])
    assert closed["statut"] == "interrompue"
    assert "Rien n'a été publié" in closed["message"]
    [alert] = alerts_about(webhook, stuck["run_id"])
    assert "interrompue" in alert
    assert len(webhook.bodies) == 1
    latest = json.loads((root / "warehouse" / "runs" / "dernier.json").read_text(encoding="utf-8"))
    assert latest["statut"] == "publie"
    assert (root / "warehouse" / "pdn.duckdb").read_bytes() != before or latest["sha256"]


def test_sigterm_during_dbt_cancels_the_run_with_its_report_one_alert_and_a_free_lock(copy_of_published, webhook):
    root = copy_of_published
    before = (root / "warehouse" / "pdn.duckdb").read_bytes()
    work_db = root / "private" / "build" / "work.duckdb"
    work_db.unlink()
    stopped = start_sync(root, PDN_ALERT_WEBHOOK_URL=webhook.url)
    wait_for(work_db.exists, stopped, timeout=STARTUP_BOUND)
    time.sleep(0.3)
    stopped.send_signal(signal.SIGTERM)
    stopped.wait(120)  # bounded: the stop is clean, not a time-out

    out = stopped.stdout.read().decode()
    cancelled_reports = [r for r in reports(root) if r["statut"] == "annulee"]
    assert len(cancelled_reports) == 1, ([r["statut"] for r in reports(root)], stopped.returncode, out[-3000:])
    [cancelled] = cancelled_reports
    assert "annulée" in cancelled["message"]
    assert len(alerts_about(webhook, cancelled["run_id"])) == 1
    assert not list((root / "warehouse" / "runs" / ".en_cours").glob("*"))
    assert_published_intact(root, before)
    follower = start_sync(root, PDN_ALERT_WEBHOOK_URL=webhook.url)  # the lock is free
    assert follower.wait(STARTUP_BOUND) == 0, follower.stdout.read().decode()
    assert len(webhook.bodies) == 1


def test_a_sync_refused_by_the_lock_reports_and_alerts_once(copy_of_published, webhook):
    import fcntl

    root, temp = copy_of_published, copy_of_published / "tmp"
    temp.mkdir()
    state = root / "private" / "dbt" / "target"
    before = {path.name: path.read_bytes() for path in state.iterdir() if path.is_file()}
    with open(root / "warehouse" / ".pdn-sync.lock", "a+") as holder:
        fcntl.flock(holder, fcntl.LOCK_EX | fcntl.LOCK_NB)  # another sync holds the warehouse
        refused = start_sync(root, PDN_ALERT_WEBHOOK_URL=webhook.url, TMPDIR=str(temp))
        assert refused.wait(STARTUP_BOUND) == 3
    [report] = [r for r in reports(root) if r["statut"] == "refuse"]
    assert len(alerts_about(webhook, report["run_id"])) == 1
    assert not list((root / "warehouse" / "runs" / ".en_cours").glob("*"))
    # Its parse ahead ran without the lock: it wrote nothing of the running sync's dbt state, and went.
    assert {path.name: path.read_bytes() for path in state.iterdir() if path.is_file()} == before
    assert not list(temp.glob(PARSE_FOLDERS))


# --- a real `prefect server start` and a real `pdn planifier` --------------------------------------------------

@pytest.fixture
def service(tmp_path):
    service = PrefectService(tmp_path / "prefect-home")
    service.start_server()
    yield service
    service.stop()


def test_pdn_serve_killed_with_its_run_heals_at_restart_and_the_next_run_publishes(
    service, copy_of_published, webhook
):
    root = copy_of_published
    before = (root / "warehouse" / "pdn.duckdb").read_bytes()
    work_db = root / "private" / "build" / "work.duckdb"
    work_db.unlink()
    service.start_serve(root, PDN_ALERT_WEBHOOK_URL=webhook.url)
    doomed = service.run_now()
    deadline = time.monotonic() + STARTUP_BOUND
    while not work_db.exists():  # mid-dbt
        assert time.monotonic() < deadline, f"the run never reached dbt ({service.state_of(doomed).type})"
        time.sleep(0.1)
    kill_tree(service.serve)  # pdn planifier and its flow process, together
    assert service.state_of(doomed).type.value == "RUNNING"  # what Prefect believes
    assert_published_intact(root, before)

    service.start_serve(root, PDN_ALERT_WEBHOOK_URL=webhook.url)
    assert service.wait_final(doomed).type.value == "CRASHED"
    deadline = time.monotonic() + 60  # the state is set first, then the report closed and the alert sent
    while not (closed := [r for r in reports(root) if r.get("flow_run_id") == str(doomed) and r["statut"] != "en_cours"]):
        assert time.monotonic() < deadline, "the stranded run's report was never closed"
        time.sleep(0.5)
    assert closed[0]["statut"] == "interrompue"
    while not alerts_about(webhook, closed[0]["run_id"]):
        assert time.monotonic() < deadline, "no alert about the stranded run"
        time.sleep(0.5)

    healthy = service.run_now()  # no slot left taken, no human
    assert service.wait_final(healthy).type.value == "COMPLETED"
    with duckdb.connect(str(root / "warehouse" / "pdn.duckdb"), read_only=True) as con:
        assert con.execute(
            "select valeur from bilan.indicateurs_annuels where annee = 2019 and departement = 'ensemble' "
            "and indicateur = 'promeneurs_actifs_fin_annee'"
        ).fetchone()[0] == 66
    assert len(webhook.bodies) == 1  # the published run said nothing


def test_a_deployment_run_builds_from_the_manifest_its_flow_parsed_ahead(service, copy_of_published, webhook):
    root, temp = copy_of_published, copy_of_published / "tmp"
    temp.mkdir()
    service.start_serve(root, PDN_ALERT_WEBHOOK_URL=webhook.url, TMPDIR=str(temp))
    run = service.run_now()
    assert service.wait_final(run).type.value == "COMPLETED"
    [report] = [r for r in reports(root) if r.get("flow_run_id") == str(run)]
    assert report["statut"] == "publie"
    assert built_from_parse_ahead(root)  # dbt's artifacts: the build did not parse the project itself
    assert "parse" not in last_invocation(root).lower()
    assert not list(temp.glob(PARSE_FOLDERS))
    assert webhook.bodies == []


def test_the_dead_mans_switch_fires_when_no_run_completes_in_time(service, webhook, warehouse, monkeypatch):
    from datetime import timedelta

    from prefect.settings import PREFECT_API_URL, temporary_settings

    from flows.ops.automations import AUTOMATION_NAME, declare_dead_mans_switch
    from flows.ops.schedule import build_deployment
    from flows.settings import load_settings

    monkeypatch.setenv("PDN_ALERT_WEBHOOK_URL", webhook.url)
    with temporary_settings(updates={PREFECT_API_URL: service.url}):
        deployment_id = build_deployment().apply()
        settings = load_settings()
        declare_dead_mans_switch(settings, deployment_id, within=timedelta(seconds=10))
        declare_dead_mans_switch(settings, deployment_id, within=timedelta(seconds=10))  # replaced, not doubled
        with service.client() as client:
            assert len(client.read_automations_by_name(AUTOMATION_NAME)) == 1

    deadline = time.monotonic() + 120
    while not webhook.bodies:
        assert time.monotonic() < deadline, "the automation never called the webhook"
        time.sleep(1)
    text = webhook.bodies[0]["text"]
    assert "aucune synchronisation n'a publié" in text
    assert "pdn etat" in text
