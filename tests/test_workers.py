"""Worker processes die with their parent, and not before: no orphans after kill -9 or SIGTERM."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import psutil
import pytest

from cim.store import Store
from cim.workers import process_pool
from tests.conftest import ROOT, SAMPLES

CIM = str(Path(sys.executable).with_name("cim"))


def _wait_for_children(proc: subprocess.Popen, n: int, timeout_s: float = 300.0) -> list[psutil.Process]:
    """The process tree under ``proc`` once it has at least ``n`` descendants (its workers)."""
    parent = psutil.Process(proc.pid)
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        assert proc.poll() is None, f"the process ended before starting {n} workers"
        children = parent.children(recursive=True)
        if len(children) >= n:
            return children
        time.sleep(0.05)
    raise AssertionError(f"no {n} worker processes within {timeout_s} s")


def _survivors(children: list[psutil.Process], timeout_s: float = 10.0) -> list[int]:
    _, alive = psutil.wait_procs(children, timeout=timeout_s)
    for proc in alive:  # do not leave them to the next test
        proc.kill()
    return [p.pid for p in alive]


def _ingest_tunnel(store: Path) -> subprocess.Popen:
    """`cim ingest` of the sample tunnel (1,761 products: several seconds of meshing) with 2 workers."""
    return subprocess.Popen([CIM, "ingest", "--config", str(SAMPLES / "cim.toml"), "--store", str(store),
                             "--workers", "2", "--no-checks", str(SAMPLES / "tunnel" / "utility_tunnel.ifc")],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT)


def _slow(seconds: float) -> int:
    time.sleep(seconds)
    return os.getpid()


def test_workers_started_from_a_thread_that_ends_keep_working():
    # PR_SET_PDEATHSIG fires when the *thread* that forked a worker exits: a Prefect task thread
    # that submits first must not take the pool's workers with it when it ends.
    with process_pool(2) as pool:
        starter = threading.Thread(target=lambda: pool.submit(os.getpid).result())
        starter.start()
        starter.join()
        pids = pool.worker_pids()
        assert len(pids) == 2
        _, alive = psutil.wait_procs([psutil.Process(p) for p in pids], timeout=1.0)  # give a kill time to land
        assert sorted(p.pid for p in alive) == sorted(pids)
        assert len({pool.submit(_slow, 0.01).result() for _ in range(8)} - set(pids)) == 0


def test_a_pool_left_by_an_exception_kills_its_workers_instead_of_waiting_for_them():
    with pytest.raises(RuntimeError), process_pool(2) as pool:
        futures = [pool.submit(_slow, 30) for _ in range(4)]
        pids = pool.worker_pids()
        raise RuntimeError("a file failed")
    assert not any(psutil.pid_exists(p) and psutil.Process(p).status() != psutil.STATUS_ZOMBIE for p in pids)
    assert all(f.cancelled() or f.done() for f in futures)


_POOL_SCRIPT = textwrap.dedent("""
    import sys, threading, time
    from cim.workers import process_pool

    pool = process_pool(2, start_method=sys.argv[1])
    def start():  # the first submit comes from a short-lived thread, as in a Prefect task
        pool.submit(time.sleep, 0).result()
    t = threading.Thread(target=start); t.start(); t.join()
    futures = [pool.submit(time.sleep, 600) for _ in range(2)]
    print("ready", flush=True)
    futures[0].result()
""")


@pytest.mark.parametrize(("start_method", "sig"), [("fork", signal.SIGKILL), ("fork", signal.SIGTERM),
                                                    ("spawn", signal.SIGKILL)])
def test_workers_of_a_killed_process_die_with_it(start_method, sig):
    proc = subprocess.Popen([sys.executable, "-c", _POOL_SCRIPT, start_method], stdout=subprocess.PIPE, text=True,
                            cwd=ROOT)
    assert proc.stdout.readline().strip() == "ready"
    children = _wait_for_children(proc, 2)
    proc.send_signal(sig)
    proc.wait(timeout=30)
    assert _survivors(children) == []


@pytest.mark.slow
def test_kill_9_of_cim_ingest_leaves_no_worker_process(tmp_path):
    proc = _ingest_tunnel(tmp_path / "store")
    children = _wait_for_children(proc, 2)
    proc.kill()
    proc.wait(timeout=30)
    assert _survivors(children) == []


@pytest.mark.slow
def test_sigterm_stops_cim_ingest_promptly_with_workers_gone_and_nothing_half_written(tmp_path):
    store = tmp_path / "store"
    proc = _ingest_tunnel(store)
    children = _wait_for_children(proc, 2)
    proc.terminate()
    out, err = proc.communicate(timeout=30)
    assert proc.returncode == 128 + signal.SIGTERM
    assert _survivors(children) == []
    assert "Traceback" not in err
    assert "stopped (SIGTERM): not finished: utility_tunnel.ifc" in " ".join(err.split())
    assert "local z:" not in out + err  # the geometry kernel's chatter stays off the console
    st = Store(store, "EPSG:4549")
    assert not (store / "_cim" / "journal.json").exists()
    assert all(st.read(t).num_rows == 0 for t in ("models", "elements", "meshes") if st.has_table(t))
