"""The nightly schedule, as the Prefect server stores and applies it."""

from __future__ import annotations

import logging
import subprocess
import sys
import uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import yaml

from flows.errors import InputError
from flows.ops.schedule import (
    TIMEZONE,
    build_deployment,
    hits_dst_gap,
    nightly_schedule,
    sync_cron,
)
from flows.settings import DEFAULT_CRON, QUIET_TOOLS_ENV, REPO_ROOT

PARIS = ZoneInfo("Europe/Paris")
UTC = timezone.utc


@pytest.fixture
def deployment_id(prefect_harness):
    """The nocturne deployment registered on the test server under a unique name, removed afterwards."""
    from prefect import get_client

    deployment_id = build_deployment(name=f"nocturne-test-{uuid.uuid4().hex[:8]}").apply()
    yield deployment_id
    with get_client(sync_client=True) as client:
        client.delete_deployment(deployment_id)


def scheduled_starts(deployment_id, start: datetime, end: datetime) -> list[datetime]:
    """Ask the server to schedule the deployment's runs in [start, end), then read their start times back."""
    from prefect import get_client
    from prefect.client.schemas.filters import (
        DeploymentFilter,
        DeploymentFilterId,
        FlowRunFilter,
        FlowRunFilterExpectedStartTime,
    )
    from prefect.client.schemas.sorting import FlowRunSort

    with get_client(sync_client=True) as client:
        response = client.request(
            "POST",
            "/deployments/{id}/schedule",
            path_params={"id": deployment_id},
            json={
                "start_time": start.isoformat(),
                "end_time": end.isoformat(),
                # The server stops once both minimums are met: ask for the whole window.
                "min_time": (end - start).total_seconds(),
                "min_runs": 0,
                "max_runs": 100,
            },
        )
        response.raise_for_status()
        runs = client.read_flow_runs(
            deployment_filter=DeploymentFilter(id=DeploymentFilterId(any_=[deployment_id])),
            flow_run_filter=FlowRunFilter(
                expected_start_time=FlowRunFilterExpectedStartTime(after_=start, before_=end)
            ),
            sort=FlowRunSort.EXPECTED_START_TIME_ASC,
        )
    return [run.expected_start_time.astimezone(UTC) for run in runs]


def test_nocturne_deployment_is_stored_with_paris_cron_and_no_slot_a_crash_could_strand(deployment_id):
    from prefect import get_client

    with get_client(sync_client=True) as client:
        deployment = client.read_deployment(deployment_id)
    [schedule] = deployment.schedules
    assert schedule.active
    assert schedule.schedule.cron == "0 4 * * *"
    assert schedule.schedule.timezone == "Europe/Paris"
    # One sync at a time is the warehouse lock's job (tests/ops/test_unattended.py): no Prefect slot to strand.
    assert deployment.global_concurrency_limit is None
    assert deployment.entrypoint == "flows.pipeline.sync.nightly_sync"


@pytest.mark.parametrize(
    ("start", "summer_from"),
    [
        # Summer time starts on Sunday 30 March 2025: 04:00 Paris is 03:00 UTC before, 02:00 UTC after.
        (datetime(2025, 3, 27, tzinfo=UTC), datetime(2025, 3, 30, tzinfo=UTC)),
        # Summer time ends on Sunday 26 October 2025: 04:00 Paris is 02:00 UTC before, 03:00 UTC after.
        (datetime(2025, 10, 23, tzinfo=UTC), None),
    ],
    ids=["mars-2025", "octobre-2025"],
)
def test_server_schedules_one_run_a_night_at_four_paris_time_across_dst(deployment_id, start, summer_from):
    starts = scheduled_starts(deployment_id, start, start + timedelta(days=7))

    days = [start + timedelta(days=n) for n in range(7)]
    if summer_from is not None:
        expected_utc_hours = [3 if day < summer_from else 2 for day in days]
    else:
        expected_utc_hours = [2 if day < datetime(2025, 10, 26, tzinfo=UTC) else 3 for day in days]
    assert starts == [day.replace(hour=hour) for day, hour in zip(days, expected_utc_hours)]
    assert {(moment.astimezone(PARIS).hour, moment.astimezone(PARIS).minute) for moment in starts} == {(4, 0)}


def test_sync_cron_comes_from_the_environment(monkeypatch):
    monkeypatch.setenv("PDN_SYNC_CRON", "30 5 * * 1-5")
    assert sync_cron() == "30 5 * * 1-5"
    assert nightly_schedule().cron == "30 5 * * 1-5"
    assert nightly_schedule().timezone == TIMEZONE
    monkeypatch.delenv("PDN_SYNC_CRON")
    assert sync_cron() == DEFAULT_CRON


def test_an_invalid_cron_is_refused_in_french(monkeypatch):
    monkeypatch.setenv("PDN_SYNC_CRON", "tous les jours")
    with pytest.raises(InputError, match="PDN_SYNC_CRON n'est pas une expression cron valide"):
        build_deployment()


def test_a_cron_inside_the_dst_gap_is_flagged(caplog):
    assert not hits_dst_gap("0 4 * * *")
    assert not hits_dst_gap("0 */6 * * *")
    assert hits_dst_gap("30 2 * * *")
    assert hits_dst_gap("0 1-3 * * *")
    with caplog.at_level(logging.WARNING, logger="flows.ops.schedule"):
        nightly_schedule("15 2 * * *")
    assert "entre 2 h et 3 h" in caplog.text


def test_prefect_yaml_deploys_the_same_schedule_to_a_work_pool(prefect_harness, tmp_path):
    """`prefect deploy` on the committed prefect.yaml, against the test server."""
    from prefect import get_client
    from prefect.settings import PREFECT_API_URL

    config = yaml.safe_load((REPO_ROOT / "prefect.yaml").read_text(encoding="utf-8"))
    [spec] = config["deployments"]
    pool = spec["work_pool"]["name"]
    with get_client(sync_client=True) as client:
        from prefect.client.schemas.actions import WorkPoolCreate

        try:
            client.create_work_pool(WorkPoolCreate(name=pool, type="process"))
        except Exception:  # already there from an earlier run of this session
            pass
    prefect = Path(sys.executable).with_name("prefect")
    result = subprocess.run(
        [str(prefect), "--no-prompt", "deploy", "--all"],
        cwd=REPO_ROOT,
        env={
            "PATH": str(prefect.parent) + ":/usr/bin:/bin",
            "HOME": str(tmp_path),
            "PREFECT_HOME": str(tmp_path / ".prefect"),
            "PREFECT_API_URL": PREFECT_API_URL.value(),
            **QUIET_TOOLS_ENV,
        },
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr

    with get_client(sync_client=True) as client:
        deployment = client.read_deployment_by_name(f"nightly_sync/{spec['name']}")
        client.delete_deployment(deployment.id)
    [schedule] = deployment.schedules
    assert (schedule.schedule.cron, schedule.schedule.timezone) == (DEFAULT_CRON, TIMEZONE)
    assert deployment.global_concurrency_limit is None
    assert deployment.work_pool_name == pool
    assert deployment.entrypoint == "flows/pipeline/sync.py:nightly_sync"
    # Without a pull section, the worker runs the flow from the repository it was deployed from.
    assert deployment.pull_steps == [
        {"prefect.deployments.steps.set_working_directory": {"directory": str(REPO_ROOT)}}
    ]


def test_serve_serves_the_nocturne_deployment(prefect_harness, warehouse, monkeypatch):
    import prefect

    from flows.ops.schedule import serve
    from flows.pipeline.processes import MARK

    monkeypatch.setenv(MARK, "")  # serve marks its process: undone when the test ends

    served = []
    monkeypatch.setattr(prefect, "serve", lambda *deployments: served.extend(deployments))
    serve()
    [deployment] = served
    assert deployment.name == "nocturne"
    assert deployment.schedules[0].schedule.cron == DEFAULT_CRON


def test_serve_without_a_prefect_server_explains_what_to_start():
    from prefect.settings import PREFECT_API_URL, temporary_settings

    from flows.ops.schedule import serve

    with temporary_settings(restore_defaults={PREFECT_API_URL}):
        with pytest.raises(InputError, match="prefect server start"):
            serve()
