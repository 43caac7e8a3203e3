"""A local Prefect server for `make serve`, and stopping it with everything it started.

Ctrl-C in a terminal sends SIGINT to the whole foreground process group at once: the server, the
scheduler and a running flow would all tear down together (tracebacks, a scheduler waiting for a
server that is already gone). So each child runs in its own session, out of reach of the
terminal, and the `serve` process alone decides the order: the scheduler and its flow runs first,
then the server, then SIGKILL for anything still there. It is a child subreaper, so processes
whose parent died are re-parented to it and are found too; its children die with it
(``PR_SET_PDEATHSIG``) if it is itself killed.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

from cim.workers import die_with_parent

_PR_SET_CHILD_SUBREAPER = 36


def become_subreaper() -> None:
    """Orphaned descendants are re-parented to this process instead of init (Linux; else a no-op)."""
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)


def start_child(args: list[str], *, env: dict | None = None, log: Path | None = None) -> subprocess.Popen:
    """A child in its own session (the terminal's Ctrl-C does not reach it) that dies with this process."""
    out = log.open("ab") if log else None
    try:
        return subprocess.Popen(args, env=env, stdout=out, stderr=subprocess.STDOUT if out else None,
                                start_new_session=True, preexec_fn=die_with_parent)
    finally:
        if out:
            out.close()


def descendants(pid: int) -> list[int]:
    """Every live process below ``pid`` (from /proc; zombies are left to reap)."""
    children: dict[int, list[int]] = {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            stat = Path(entry.path, "stat").read_text()
        except OSError:
            continue
        fields = stat.rsplit(")", 1)[1].split()
        if fields[0] != "Z":
            children.setdefault(int(fields[1]), []).append(int(entry.name))
    found, todo = [], [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


def _reap(keep: tuple[int, ...] = ()) -> None:
    """Collect exited children (orphans re-parented here included), except those a Popen waits for."""
    if not keep:
        with contextlib.suppress(ChildProcessError):
            while os.waitpid(-1, os.WNOHANG)[0]:
                pass
        return
    for pid in _zombie_children():
        if pid not in keep:
            with contextlib.suppress(ChildProcessError):
                os.waitpid(pid, os.WNOHANG)


def _zombie_children() -> list[int]:
    me, found = os.getpid(), []
    for entry in os.scandir("/proc"):
        if entry.name.isdigit():
            try:
                fields = Path(entry.path, "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if fields[0] == "Z" and int(fields[1]) == me:
                found.append(int(entry.name))
    return found


def wait_reaping(proc: subprocess.Popen, keep: tuple[int, ...]) -> int:
    """Wait for ``proc`` while collecting the orphans re-parented to this subreaper (no zombies pile up)."""
    while proc.poll() is None:
        _reap(keep)
        time.sleep(1.0)
    return proc.returncode


def _signal(pids: list[int], sig: int) -> None:
    for pid in pids:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(pid, sig)


def stop_processes(pick, sig: int, timeout_s: float, first: dict[int, int] | None = None) -> list[int]:
    """Send ``sig`` to the processes ``pick()`` returns (again to newcomers) until none is left or time is up."""
    signalled: set[int] = set()
    deadline = time.monotonic() + timeout_s
    while True:
        _reap()
        pids = pick()
        if not pids or time.monotonic() > deadline:
            return pids
        for pid in pids:
            if pid not in signalled:
                _signal([pid], (first or {}).get(pid, sig))
        signalled.update(pids)
        time.sleep(0.1)


def stop_all(scheduler: subprocess.Popen | None, server: subprocess.Popen | None) -> None:
    """Scheduler and flow runs first (they report to the server), then the server, then SIGKILL the rest."""
    me = os.getpid()
    server_tree = set()
    if server is not None:
        server_tree = {server.pid, *descendants(server.pid)}

    def not_server() -> list[int]:
        return [p for p in descendants(me) if p not in server_tree]

    if scheduler is not None:  # SIGINT: Prefect's runner stops quietly on it (its SIGTERM path warns)
        stop_processes(not_server, signal.SIGTERM, 4.0, first={scheduler.pid: signal.SIGINT})
    if server is not None:
        stop_processes(lambda: [p for p in descendants(me) if p in server_tree], signal.SIGTERM, 2.5)
    stop_processes(lambda: descendants(me), signal.SIGKILL, 1.5)
    for proc in (scheduler, server):
        if proc is not None:
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(timeout=0.5)
    _reap()


@contextlib.contextmanager
def local_server(port: int = 4200, timeout_s: float = 120.0) -> Iterator[tuple[str, subprocess.Popen | None]]:
    """Start `prefect server start` on loopback unless PREFECT_API_URL already names a server."""
    existing = os.environ.get("PREFECT_API_URL")
    if existing:
        yield existing, None
        return
    url = f"http://127.0.0.1:{port}/api"
    log = server_log()
    log.parent.mkdir(parents=True, exist_ok=True)
    proc = start_child([sys.executable, "-m", "prefect", "server", "start", "--host", "127.0.0.1",
                        "--port", str(port)], log=log)
    try:
        wait_healthy(url, proc, timeout_s, log)
        yield url, proc
    finally:
        if proc.poll() is None:
            stop_all(None, proc)


def server_log() -> Path:
    return Path(os.environ.get("PREFECT_HOME", ".prefect")) / "server.log"


def wait_healthy(url: str, proc: subprocess.Popen, timeout_s: float, log: Path) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"the Prefect server exited with {proc.returncode}; see {log}")
        try:
            with urllib.request.urlopen(f"{url}/health", timeout=2) as resp:
                if resp.status == 200:
                    return
        except OSError:
            time.sleep(0.5)
    raise RuntimeError(f"the Prefect server did not answer at {url} within {timeout_s:.0f} s; see {log}")
