"""Processes a killed sync leaves behind (Prefect's temporary API server) are found and stopped, and so are the
helpers of a process group the pipeline starts (headless Chromium).

`pdn synchroniser` marks its environment before Prefect starts anything, so every child process inherits the
mark with the sync's pid and start time. A later sync stops the marked processes whose sync is gone.
Linux only (/proc); elsewhere it does nothing.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from pathlib import Path

MARK = "PDN_SYNC_PROCESS"
PROC = Path("/proc")


def _stat_fields(pid: int | str) -> list[str] | None:
    """The fields of /proc/<pid>/stat after the command's name (state first), None for a process that is gone."""
    try:
        return (PROC / str(pid) / "stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None


def start_time(pid: int) -> str | None:
    """The kernel's start time of a process (field 22 of /proc/<pid>/stat): tells a reused pid apart."""
    fields = _stat_fields(pid)
    return fields[19] if fields else None


def running_in_group(group: int) -> list[int]:
    """Processes of a process group still running (zombies have stopped, and nobody may ever reap them)."""
    running = []
    for entry in PROC.glob("[0-9]*") if PROC.is_dir() else []:
        fields = _stat_fields(entry.name)
        if fields and fields[0] != "Z" and int(fields[2]) == group:
            running.append(int(entry.name))
    return running


def stop_process_group(leader: subprocess.Popen, grace_seconds: float) -> None:
    """Ask every process of the leader's group to end, wait until none runs, kill what is left after the grace."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(leader.pid, signal.SIGTERM)
        os.killpg(leader.pid, signal.SIGCONT)  # a stopped member acts on the request only once continued
    deadline = time.monotonic() + grace_seconds
    while running_in_group(leader.pid) and time.monotonic() < deadline:
        time.sleep(0.1)
    if running_in_group(leader.pid):
        with contextlib.suppress(ProcessLookupError):
            os.killpg(leader.pid, signal.SIGKILL)
    leader.wait()


def process_identity(pid: int | None = None) -> str:
    """« pid:start time » of a process (this one by default): names it even after its pid is reused."""
    pid = os.getpid() if pid is None else pid
    return f"{pid}:{start_time(pid)}"


def is_alive(identity: str) -> bool:
    """Whether the process named by `process_identity` still runs (False for a reused pid)."""
    pid, _, started = identity.partition(":")
    return pid.isdigit() and start_time(int(pid)) == started


def mark_this_process() -> None:
    """Mark this process's environment: the children it starts will carry the mark."""
    os.environ[MARK] = process_identity()


def _marked_processes() -> dict[int, str]:
    """pid -> mark of every process of this user that carries a sync's mark (not this process)."""
    found = {}
    for entry in PROC.glob("[0-9]*") if PROC.is_dir() else []:
        pid = int(entry.name)
        if pid == os.getpid():
            continue
        try:
            environ = (entry / "environ").read_bytes()
        except OSError:
            continue
        for variable in environ.split(b"\0"):
            if variable.startswith(MARK.encode() + b"="):
                found[pid] = variable.split(b"=", 1)[1].decode(errors="replace")
    return found


def stop_orphans(grace_seconds: float = 5.0) -> list[int]:
    """Stop the processes left by syncs that no longer run; return their pids."""
    orphans = [pid for pid, mark in _marked_processes().items() if not is_alive(mark)]
    for pid in orphans:
        try:
            os.kill(pid, signal.SIGTERM)
        except OSError:
            pass
    deadline = time.monotonic() + grace_seconds
    while orphans and time.monotonic() < deadline and any(start_time(pid) for pid in orphans):
        time.sleep(0.1)
    for pid in orphans:
        if start_time(pid):
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass
    return orphans
