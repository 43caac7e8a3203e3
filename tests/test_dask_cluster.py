"""The nightly flow and `cim ingest` on a real Dask cluster (a LocalCluster of 2 worker processes on 127.0.0.1).

The flow on the cluster must store what the local `make run` stores (every table, rows compared without run
ids and timestamps), also when a worker process is killed in the middle of a file; a cluster that does not
answer stops the run with one line and exit 2, recorded as failed, never a silent local run.
"""

from __future__ import annotations

import json
import math
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import pytest

from cim.store import Store
from tests.readme_commands import user_env

pytestmark = [pytest.mark.flow, pytest.mark.slow]
ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def local_cluster():
    """(cluster, client); after the tests every worker process it ever started is gone."""
    import psutil
    from distributed import Client, LocalCluster

    cluster = LocalCluster(n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1", scheduler_port=0,
                           dashboard_address=None)
    client = Client(cluster)
    seen: set[int] = set()
    client.seen_pids = seen  # the kill test adds the restarted workers
    seen.update(client.run(os.getpid).values())
    yield cluster, client
    seen.update(client.run(os.getpid).values())
    client.close()
    cluster.close()
    deadline = time.monotonic() + 30
    while any(psutil.pid_exists(p) and psutil.Process(p).status() != psutil.STATUS_ZOMBIE for p in seen):
        assert time.monotonic() < deadline, f"worker processes left behind: {sorted(seen)}"
        time.sleep(0.5)


def _env(repo: Path) -> dict[str, str]:
    env = user_env(repo)
    env.update(PREFECT_HOME=str(repo / ".prefect"), PREFECT_SERVER_ANALYTICS_ENABLED="false",
               PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS="90", PREFECT_LOGGING_EXTRA_LOGGERS="cim")
    return env


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _comparable(value):
    """Run ids and timestamps differ between two runs; floats may differ in the last bits (chunked sums)."""
    if isinstance(value, float):
        return float(f"{value:.9g}") if math.isfinite(value) else repr(value)
    if isinstance(value, str) and value.startswith("[{") and '"run_id"' in value:  # a clash's history
        return json.dumps([{k: v for k, v in e.items() if k not in ("at", "run_id")} for e in json.loads(value)])
    return value


def _pair_in_order(row: dict) -> dict:
    """A clash of two elements found in either order (a symmetric rule: which one is ``a`` follows the order of
    the rows in the store, which follows the order the files were committed in) is the same clash."""
    sides = [k[2:] for k in row if k.startswith("a_") and f"b_{k[2:]}" in row]
    if sides and (row.get("a_model"), row.get("a_global_id")) > (row.get("b_model"), row.get("b_global_id")):
        row = {**row, **{f"a_{s}": row[f"b_{s}"] for s in sides}, **{f"b_{s}": row[f"a_{s}"] for s in sides}}
    return row


def _rows(store: Store, name: str) -> list[str]:
    table = store.read(name)
    keep = [c for c in table.column_names if not (c.endswith(("_at", "run_id")) or c in ("duration_s", "summary"))
            and not str(table.schema.field(c).type).startswith("timestamp")]
    return sorted(repr({c: _comparable(v) for c, v in _pair_in_order(row).items()})
                  for row in table.select(keep).to_pylist())


def _kill_a_busy_worker(client, killed: list, stop: threading.Event, task: str = "ingest") -> None:
    """SIGKILL the worker process that runs a ``task`` task (a file's ingest), a little after the task started."""
    while not stop.is_set():
        busy = [a for a, keys in client.processing().items() if any(str(k).startswith(task) for k in keys)]
        if busy:
            time.sleep(2.0)
            still = [a for a in busy if any(str(k).startswith(task) for k in client.processing().get(a, ()))]
            if still:
                pid = client.run(os.getpid, workers=[still[0]])[still[0]]
                client.seen_pids.add(pid)
                os.kill(pid, signal.SIGKILL)
                killed.append(pid)
                return
        time.sleep(0.3)


@pytest.fixture
def own_folder():
    """A folder of this test's own: pytest's numbered ones are pruned by other pytest sessions of the same user,
    and this test runs for minutes."""
    folder = Path(tempfile.mkdtemp(prefix="cim-dask-"))
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


def test_the_nightly_flow_on_a_dask_cluster_stores_what_a_local_run_stores_even_when_a_worker_dies(
        sample_flow_repo, local_cluster, own_folder):
    repo, _ = sample_flow_repo
    cluster, client = local_cluster
    store = own_folder / "store"
    killed: list[int] = []
    stop = threading.Event()
    killer = threading.Thread(target=_kill_a_busy_worker, args=(client, killed, stop), daemon=True)
    killer.start()
    try:
        done = subprocess.run([sys.executable, "-m", "flows.nightly", "run", "--store", str(store),
                               "--cluster", cluster.scheduler_address], cwd=repo, env=_env(repo),
                              capture_output=True, text=True, timeout=1800)
    finally:
        stop.set()
        killer.join()
    assert done.returncode == 0, (done.stdout + done.stderr)[-3000:]
    assert f"cluster:    {cluster.scheduler_address}" in done.stderr
    assert killed, "no worker was busy with a file long enough to be killed"
    client.seen_pids.update(client.run(os.getpid).values())

    local, remote = Store(repo / "cim-data", create=False), Store(store, create=False)
    assert sorted(remote.table_names()) == sorted(local.table_names())
    for name in local.table_names():
        assert _rows(remote, name) == _rows(local, name), f"table {name} differs from the local run's"
    (run,) = remote.read("runs").to_pylist()
    assert run["status"] == "completed" and run["n_ingested"] == run["n_inputs"]


def test_an_unreachable_cluster_stops_the_night_with_one_line_and_a_failed_run(tmp_path):
    address = f"tcp://127.0.0.1:{_free_port()}"
    config = tmp_path / "cim.toml"
    config.write_text(f'[city]\ncrs = "EPSG:4549"\n[runtime]\ndask_address = "{address}"\n')
    store = tmp_path / "store"
    done = subprocess.run([sys.executable, "-m", "flows.nightly", "run", "--config", str(config), "--store",
                           str(store)], cwd=ROOT, env=_env(ROOT), capture_output=True, text=True, timeout=300)
    assert done.returncode == 2
    (line,) = done.stderr.strip().splitlines()[-1:]
    assert line.startswith(f"error: {address}: no Dask scheduler answers there") and "dask_address" in line
    assert "Prefect UI" not in done.stderr  # stopped before the flow: no local run instead
    (run,) = Store(store, create=False).read("runs").to_pylist()
    assert run["status"].startswith("failed: ClusterError") and run["n_inputs"] == 0


def test_cim_ingest_with_an_unreachable_cluster_writes_nothing_and_exits_2(tmp_path):
    store = tmp_path / "store"
    done = subprocess.run([str(Path(sys.prefix) / "bin" / "cim"), "ingest", "sample_models/buildings/block_a.ifc",
                           "--crs", "EPSG:4549", "--store", str(store), "--cluster", f"tcp://127.0.0.1:{_free_port()}"],
                          cwd=ROOT, env=_env(ROOT), capture_output=True, text=True, timeout=300)
    assert done.returncode == 2
    assert "no Dask scheduler answers there" in done.stderr and len(done.stderr.strip().splitlines()) == 1
    assert not store.exists()


def test_cim_ingest_on_a_dask_cluster_stores_what_a_local_ingest_stores(local_cluster, sample_city, own_folder):
    cluster, _ = local_cluster
    local, config, _ = sample_city
    store = own_folder / "store"
    files = ["sample_models/buildings/haixia_office.ifc", "sample_models/city.gpkg"]
    done = subprocess.run([str(Path(sys.prefix) / "bin" / "cim"), "ingest", *files, "--config",
                           "sample_models/cim.toml", "--store", str(store), "--cluster", cluster.scheduler_address],
                          cwd=ROOT, env=_env(ROOT), capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, (done.stdout + done.stderr)[-3000:]
    remote = Store(store, create=False)
    models = {m["model_id"] for m in remote.read("models").to_pylist()}
    assert "haixia-office" in models and "parcels" in models
    for name in ("elements", "meshes", "relations"):
        wanted = [r for r in _rows(local, name) if "'haixia-office'" in r]
        assert _rows(remote, name) == wanted, f"table {name} differs from the local ingest's"


def _tile_tasks(dask_scheduler) -> list[str]:
    """The tile tasks in the scheduler's log of task transitions (run on the scheduler)."""
    return sorted({str(t[0]) for t in dask_scheduler.transition_log if str(t[0]).startswith("clash_tile-")})


@pytest.fixture(scope="module")
def untiled_clashes(sample_city):
    """A copy of the sample city checked here in full, untiled: the clashes every cluster run must write."""
    from cim.clash.rules import load_rules
    from cim.clash.run import check_city

    city, config, _ = sample_city
    folder = Path(tempfile.mkdtemp(prefix="cim-dask-clash-"))
    shutil.copytree(city.root, folder / "local")
    local = Store(folder / "local", create=False)
    check_city(local, load_rules(), ground_z=config.ground_elevation_m, base=config.root, full=True, tile_size=0)
    yield _rows(local, "clashes")
    shutil.rmtree(folder, ignore_errors=True)


def test_cim_clash_check_on_a_dask_cluster_checks_each_tile_as_a_task_and_writes_the_local_clashes(
        local_cluster, sample_city, untiled_clashes, own_folder):
    """Tiles of 12 m (dozens of tasks), one worker killed while it checks one: the clashes of the untiled check."""
    cluster, client = local_cluster
    remote = own_folder / "remote"
    shutil.copytree(sample_city[0].root, remote)
    before = set(client.run_on_scheduler(_tile_tasks))
    killed: list[int] = []
    stop = threading.Event()
    killer = threading.Thread(target=_kill_a_busy_worker, args=(client, killed, stop, "clash_tile"), daemon=True)
    killer.start()
    try:
        done = subprocess.run([str(Path(sys.prefix) / "bin" / "cim"), "clash", "check", "--store", str(remote),
                               "--config", "sample_models/cim.toml", "--full", "--tile-size", "12", "--cluster",
                               cluster.scheduler_address], cwd=ROOT, env=_env(ROOT), capture_output=True, text=True,
                              timeout=1200)
    finally:
        stop.set()
        killer.join()
    assert done.returncode == 1, (done.stdout + done.stderr)[-3000:]  # 1: the sample city has open clashes
    client.seen_pids.update(client.run(os.getpid).values())
    line = next(x for x in done.stdout.splitlines() if x.startswith("tiles: "))
    assert line.endswith("(12 m), on the Dask cluster")
    n_tasks = int(line.split()[1])
    tasks = set(client.run_on_scheduler(_tile_tasks)) - before
    assert len(tasks) == n_tasks > 1  # each tile a task of its own on the cluster
    assert killed, "no worker was busy with a tile long enough to be killed"
    assert _rows(Store(remote, create=False), "clashes") == untiled_clashes


def test_a_clash_check_running_in_a_cluster_task_sends_its_tiles_to_the_cluster(
        local_cluster, sample_city, untiled_clashes, own_folder):
    """What the nightly flow's clash-check task does under DaskTaskRunner: check_city inside a worker's task."""
    from cim.clash.rules import load_rules
    from cim.clash.run import check_city

    cluster, client = local_cluster
    city, config, _ = sample_city
    shutil.copytree(city.root, own_folder / "remote")
    remote = Store(own_folder / "remote", create=False)
    before = set(client.run_on_scheduler(_tile_tasks))
    summary = client.submit(check_city, remote, load_rules(), ground_z=config.ground_elevation_m, base=config.root,
                            full=True, tile_size=12.0, pure=False).result(timeout=1200)
    assert summary["tiles_on"] == "cluster" and summary["tile_tasks"] > 1
    assert len(set(client.run_on_scheduler(_tile_tasks)) - before) == summary["tile_tasks"]
    assert _rows(remote, "clashes") == untiled_clashes
