"""A real `prefect server start` and real `pdn planifier` processes, for the tests and the chaos run that kill them."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from flows.settings import QUIET_TOOLS_ENV
from tests.conftest import PSEUDONYM_KEY_FOR_TESTS

STARTUP_BOUND = 300  # seconds: a cold Prefect home on a loaded 2-core machine, with room to spare


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _children(pid: int) -> set[int]:
    found = set()
    for entry in Path("/proc").glob("[0-9]*"):
        try:
            ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, ValueError, IndexError):
            continue
        if ppid == pid:
            found |= {int(entry.name)} | _children(int(entry.name))
    return found


def kill_tree(process: subprocess.Popen) -> None:
    """SIGKILL a process and every descendant at once, as a reboot or the OOM killer would."""
    for pid in [process.pid, *_children(process.pid)]:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    process.wait(30)


class PrefectService:
    """`prefect server start` on a free port, with its own home, and `pdn planifier` processes started against it."""

    def __init__(self, home: Path) -> None:
        self.home = home
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}/api"
        self.server: subprocess.Popen | None = None
        self.serve: subprocess.Popen | None = None

    def env(self, **extra: str) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("PDN_", "PREFECT_"))}
        return env | QUIET_TOOLS_ENV | {
            "PREFECT_HOME": str(self.home), "PREFECT_API_URL": self.url, "PREFECT_RUNNER_POLL_FREQUENCY": "1",
            **extra,
        }

    def start_server(self) -> None:
        self.server = subprocess.Popen(
            [str(Path(sys.executable).with_name("prefect")), "server", "start", "--host", "127.0.0.1",
             "--port", str(self.port), "--no-ui"],
            env=self.env(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
        )
        deadline = time.monotonic() + STARTUP_BOUND
        while True:
            assert self.server.poll() is None, "prefect server start exited"
            try:
                with urllib.request.urlopen(f"{self.url}/health", timeout=5) as answer:
                    if answer.status == 200:
                        return
            except OSError:
                pass
            assert time.monotonic() < deadline, "the Prefect server never answered"
            time.sleep(0.5)

    def start_serve(self, root: Path, **extra: str) -> None:
        self.serve = subprocess.Popen(
            [sys.executable, "-m", "flows.cli", "serve"],
            env=self.env(
                PDN_WAREHOUSE_DIR=str(root / "warehouse"), PDN_PRIVATE_DIR=str(root / "private"),
                PDN_PSEUDONYM_KEY=PSEUDONYM_KEY_FOR_TESTS, **extra,
            ),
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
        )

    def client(self):
        from prefect.client.orchestration import SyncPrefectClient

        return SyncPrefectClient(self.url)

    def deployment_id(self):
        deadline = time.monotonic() + STARTUP_BOUND
        while True:
            assert self.serve.poll() is None, "pdn planifier exited"
            with self.client() as client:
                try:
                    return client.read_deployment_by_name("nightly_sync/nocturne").id
                except Exception:  # not registered yet
                    pass
            assert time.monotonic() < deadline, "pdn planifier never registered its deployment"
            time.sleep(1)

    def run_now(self):
        with self.client() as client:
            return client.create_flow_run_from_deployment(self.deployment_id()).id

    def state_of(self, flow_run_id):
        with self.client() as client:
            return client.read_flow_run(flow_run_id).state

    def wait_final(self, flow_run_id, bound: float = STARTUP_BOUND):
        deadline = time.monotonic() + bound
        while not (state := self.state_of(flow_run_id)).is_final():
            assert time.monotonic() < deadline, f"run still {state.type} after {bound} s"
            time.sleep(1)
        return state

    def stop(self) -> None:
        for process in (self.serve, self.server):
            if process is not None and process.poll() is None:
                kill_tree(process)

    @staticmethod
    def leftover_processes(base: Path) -> list[int]:
        """Processes still running whose environment points into `base` (a server, a runner, a flow)."""
        needle = str(base).encode()
        left = []
        for entry in Path("/proc").glob("[0-9]*"):
            try:
                if needle in (entry / "environ").read_bytes():
                    left.append(int(entry.name))
            except OSError:
                continue
        return left
