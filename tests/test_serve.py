"""What operators do: `make serve` against a real Prefect server, a schedule that fires, the Prefect CLI, Ctrl-C.

One `python -m flows.nightly serve` (which starts its own `prefect server` on a free loopback port) is
shared by the tests of this module, in order: a scheduled run fires and completes, a broken file in
the inbox is quarantined and alerted, the Prefect CLI works against the server, and Ctrl-C (SIGINT to
the process group, as a terminal sends it) leaves no process behind. No part of Prefect is mocked.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path

import psutil
import pytest

from cim.store import Store
from tests.conftest import ROOT
from tests.models import add_wall, new_model, write

pytestmark = [pytest.mark.flow, pytest.mark.slow]
WAIT_S = 420  # a loaded 2-core machine: server start-up, the next minute, the run itself


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class _Hook(BaseHTTPRequestHandler):
    received: list[dict] = []

    def do_POST(self):  # noqa: N802 - http.server's name
        type(self).received.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
        self.send_response(200)
        self.end_headers()

    def log_message(self, *args):
        pass


def tiny_inbox(root: Path, webhook: str) -> Path:
    """One small IFC, one GeoJSON, and an IFC with a syntax error full of bytes that are not UTF-8."""
    inbox = root / "inbox"
    inbox.mkdir(parents=True)
    f, ctx = new_model()
    add_wall(f, ctx, name="wall")
    good = write(f, inbox / "block.ifc").read_bytes()
    start = good.index(b"DATA;") + 6
    (inbox / "broken.ifc").write_bytes(good[:start] + b"#99999=IFCWALL(\xff\xfe\xc3(\x80 broken\n" + good[start:])
    (inbox / "roads.geojson").write_text(json.dumps({
        "type": "FeatureCollection", "crs": {"type": "name", "properties": {"name": "urn:ogc:def:crs:EPSG::4549"}},
        "features": [{"type": "Feature", "properties": {"road": "r1"},
                      "geometry": {"type": "LineString", "coordinates": [[464900, 2865800], [464950, 2865800]]}}]}))
    config = root / "cim.toml"
    config.write_text('[city]\nname = "tiny"\ncrs = "EPSG:4549"\ninbox = ["inbox"]\n'
                      '[schedule]\ncron = "* * * * *"\ntimezone = "Asia/Shanghai"\n'
                      f'[alerts]\nwebhook_url = "{webhook}"\n')
    return config


@dataclass
class Served:
    proc: subprocess.Popen
    api: str
    store: Path
    env: dict
    output: Path
    hook: list[dict]


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    root = tmp_path_factory.mktemp("serve")
    _Hook.received = []
    hook = HTTPServer(("127.0.0.1", 0), _Hook)
    threading.Thread(target=hook.serve_forever, daemon=True).start()
    config = tiny_inbox(root, f"http://127.0.0.1:{hook.server_port}/alerts")
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_")}
    env.update(PREFECT_HOME=str(root / "prefect"), PREFECT_SERVER_ANALYTICS_ENABLED="false",
               PREFECT_LOGGING_EXTRA_LOGGERS="cim", PREFECT_RUNNER_POLL_FREQUENCY="2")
    output = root / "serve.out"
    with output.open("wb") as out:
        proc = subprocess.Popen([sys.executable, "-m", "flows.nightly", "serve", "--config", str(config),
                                 "--store", str(root / "store"), "--port", str(port)], cwd=ROOT, env=env,
                                stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    served = Served(proc, f"http://127.0.0.1:{port}/api", root / "store", env, output, _Hook.received)
    try:
        yield served
    finally:
        if proc.poll() is None:  # a failed test: do not leave a server behind
            tree = [proc, *psutil.Process(proc.pid).children(recursive=True)]
            for p in tree:
                with_suppress(p.kill)
            psutil.wait_procs(tree, timeout=10)
        hook.shutdown()
        hook.server_close()


def with_suppress(fn) -> None:
    with contextlib.suppress(psutil.Error):
        fn()


def _api(served: Served, path: str, body: dict) -> list[dict]:
    request = urllib.request.Request(served.api + path, data=json.dumps(body).encode(), method="POST",
                                     headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=10) as resp:
        return json.loads(resp.read())


def _wait_for(what: str, served: Served, check):
    deadline = time.monotonic() + WAIT_S
    while time.monotonic() < deadline:
        assert served.proc.poll() is None, f"serve exited:\n{served.output.read_text()[-3000:]}"
        try:
            found = check()
        except urllib.error.HTTPError:
            raise
        except OSError:  # the server is not up yet
            found = None
        if found:
            return found
        time.sleep(2)
    pytest.fail(f"{what} did not happen within {WAIT_S} s:\n{served.output.read_text()[-3000:]}")


def _completed_scheduled_runs(served: Served) -> list[dict]:
    runs = _api(served, "/flow_runs/filter", {"flow_runs": {"state": {"type": {"any_": ["COMPLETED"]}}}, "limit": 50})
    return [r for r in runs if r["auto_scheduled"] and r["state_type"] == "COMPLETED"]


def test_the_scheduler_creates_a_run_that_completes_and_is_recorded_in_the_store(served):
    (run,) = _wait_for("a completed scheduled flow run", served, lambda: _completed_scheduled_runs(served))[:1]
    rows = Store(served.store, create=False).read("runs").to_pylist()
    assert run["id"] in {r["flow_run_id"] for r in rows}
    assert run["deployment_id"]
    assert "Traceback" not in served.output.read_text()


def test_a_broken_file_is_quarantined_the_run_completes_and_the_alert_names_the_file(served):
    _wait_for("a completed scheduled flow run", served, lambda: _completed_scheduled_runs(served))
    store = Store(served.store, create=False)
    first = min(store.read("runs").to_pylist(), key=lambda r: r["started_at"])
    assert first["status"] == "completed with 1 quarantined"
    assert (first["n_ingested"], first["n_quarantined"]) == (2, 1)
    assert {m["model_id"] for m in store.read("models").to_pylist()} == {"block", "roads"}
    (error,) = [e for e in store.read("ingest_errors").to_pylist() if e["source_path"] == "inbox/broken.ifc"][:1]
    alert = json.loads((served.store / "alerts" / f"{first['run_id']}.json").read_text())
    assert [q["file"] for q in alert["quarantined"]] == [str(served.store.parent / "inbox" / "broken.ifc")]
    assert alert["quarantined"][0]["reason"] == error["message"].splitlines()[0]
    assert alert in served.hook  # posted to the webhook too


def test_the_prefect_cli_works_against_the_served_server(served):
    env = {**served.env, "PREFECT_API_URL": served.api}
    prefect = [sys.executable, "-m", "prefect"]
    deployments = subprocess.run([*prefect, "deployment", "ls"], env=env, capture_output=True, text=True)
    assert deployments.returncode == 0, deployments.stdout + deployments.stderr
    assert "cim-nightly/cim-nightly" in deployments.stdout
    flow_runs = subprocess.run([*prefect, "flow-run", "ls"], env=env, capture_output=True, text=True)
    assert flow_runs.returncode == 0, flow_runs.stdout + flow_runs.stderr
    with urllib.request.urlopen(f"{served.api}/deployments/name/cim-nightly/cim-nightly", timeout=10) as resp:
        (schedule,) = [s["schedule"] for s in json.loads(resp.read())["schedules"]]
    assert (schedule["cron"], schedule["timezone"]) == ("* * * * *", "Asia/Shanghai")  # from the city config
    started = subprocess.run([*prefect, "deployment", "run", "cim-nightly/cim-nightly"], env=env,
                             capture_output=True, text=True)
    assert started.returncode == 0, started.stdout + started.stderr


def test_make_run_prints_where_things_are_no_dicts_and_exits_1_when_a_file_is_quarantined(served, tmp_path):
    config = tiny_inbox(tmp_path, "http://127.0.0.1:9/unused")
    env = {**served.env, "PREFECT_API_URL": served.api, "CIM_CONFIG": str(config), "CIM_STORE": str(tmp_path / "s")}
    done = subprocess.run([sys.executable, "-m", "flows.nightly", "run"], cwd=ROOT, env=env, capture_output=True,
                          text=True)
    out = done.stdout + done.stderr
    assert done.returncode == 1, out
    for line in (f"Prefect UI: {served.api.removesuffix('/api')}", f"store:      {tmp_path / 's'}",
                 f"exports:    {tmp_path / 's' / 'exports'}", f"log:        {tmp_path / 's' / 'logs' / 'nightly.log'}"):
        assert line in out
    assert "completed with 1 quarantined" in out and "quantities: " in out and "clashes: " in out
    assert "{'" not in out and "Traceback" not in out and "temporary server" not in out
    assert "quarantined" in (tmp_path / "s" / "logs" / "nightly.log").read_text()
    assert len(list((tmp_path / "s" / "alerts").glob("*.json"))) == 1


def test_kill_9_of_a_running_flow_leaves_no_worker_process(served, tmp_path):
    config = tiny_inbox(tmp_path, "http://127.0.0.1:9/unused")
    env = {**served.env, "PREFECT_API_URL": served.api, "CIM_CONFIG": str(config), "CIM_STORE": str(tmp_path / "s")}
    run = subprocess.Popen([sys.executable, "-m", "flows.nightly", "run"], cwd=ROOT, env=env,
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    flow = psutil.Process(run.pid)
    workers: list[psutil.Process] = []
    while run.poll() is None and not workers:  # the fork server and the workers it forked
        servers = [p for p in flow.children() if "forkserver" in " ".join(_cmdline(p))]
        workers = [c for s in servers for c in s.children()]
        time.sleep(0.05)
    if not workers:
        pytest.skip("the run ended before its workers could be seen")
    tree = flow.children(recursive=True)
    run.kill()
    run.wait()
    _, alive = psutil.wait_procs(tree, timeout=30)
    assert alive == []


def _cmdline(p: psutil.Process) -> list[str]:
    try:
        return p.cmdline()
    except psutil.Error:
        return []


def test_ctrl_c_stops_server_scheduler_and_runs_and_leaves_no_process(served):
    proc = psutil.Process(served.proc.pid)
    tree = [proc, *proc.children(recursive=True)]
    assert any("prefect" in " ".join(p.cmdline()) and "server" in p.cmdline() for p in tree
               if p.status() != psutil.STATUS_ZOMBIE)
    start = time.monotonic()
    os.killpg(served.proc.pid, signal.SIGINT)  # what Ctrl-C in the terminal sends
    served.proc.wait(timeout=60)
    _, alive = psutil.wait_procs(tree, timeout=5)
    took = time.monotonic() - start
    print(f"serve stopped {len(tree)} processes in {took:.1f} s")
    assert alive == []
    out = served.output.read_text()
    assert "Traceback" not in out and served.proc.returncode == 0
    assert out.rstrip().splitlines()[-1].startswith("stopped in")
