"""`cim view` and the review's view3d.html in a real browser: headless Chromium driven by Playwright
(viewer/tests/smoke.mjs). Skips cleanly without chromium, node or the viewer's npm packages."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from queue import Empty, Queue

import pytest

from cim.view.frontend import cesium_dir, viewer_dir
from cim.view.server import ViewServer
from tests.conftest import ROOT

CHROMIUM = os.environ.get("CIM_CHROMIUM", "/usr/bin/chromium")
SMOKE = ROOT / "viewer" / "tests" / "smoke.mjs"
pytestmark = pytest.mark.skipif(
    not (Path(CHROMIUM).exists() and shutil.which("node") and (cesium_dir() / "Cesium.js").is_file()
         and (viewer_dir() / "node_modules" / "playwright-core").is_dir()),
    reason="needs /usr/bin/chromium, node and viewer/node_modules (make install)")
BROWSER_TIMEOUT_S = 1800  # a software-rendered WebGL page on a busy 2-core machine is slow, never wrong


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def smoke(*args: str, timeout: float = BROWSER_TIMEOUT_S) -> dict:
    """Run viewer/tests/smoke.mjs and return the JSON it printed."""
    done = subprocess.run(["node", str(SMOKE), *args, "--timeout", str(int(timeout * 1000))], capture_output=True,
                          text=True, timeout=timeout + 60)
    lines = [line for line in done.stdout.splitlines() if line.startswith("{")]
    assert lines, f"smoke.mjs printed no result (exit {done.returncode}): {done.stderr[-2000:]}"
    return json.loads(lines[-1])


def start_view(args: list[str], timeout: float = 600) -> tuple[subprocess.Popen, str, list[str]]:
    """`cim view ...` as a real process; returns it once it prints the URL it serves.

    Its output is read by a thread, line by line: a selector on the pipe misses lines that arrived together
    and wait in the reader's buffer (the URL line then went unseen until the timeout)."""
    cim = Path(sys.executable).with_name("cim")
    proc = subprocess.Popen([str(cim), "view", *args], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    queue: Queue[str | None] = Queue()

    def pump() -> None:
        for line in proc.stdout:
            queue.put(line)
        queue.put(None)

    threading.Thread(target=pump, daemon=True).start()
    lines: list[str] = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            line = queue.get(timeout=1.0)
        except Empty:
            continue
        if line is None:
            break
        lines.append(line.rstrip())
        if "cim view: open " in line:
            return proc, line.split("open ", 1)[1].split()[0], lines
    proc.kill()
    proc.wait()
    pytest.fail("cim view did not start:\n" + "\n".join(lines))


def stop_view(proc: subprocess.Popen) -> int:
    proc.send_signal(signal.SIGTERM)
    return proc.wait(timeout=60)


def distinct_colours(png: Path, left: int = 0) -> int:
    from PIL import Image

    with Image.open(png) as img:
        part = img.convert("RGB").crop((left, 0, img.width, img.height))
        return len(part.getcolors(maxcolors=1 << 20) or [])


@pytest.fixture(scope="module")
def city(sample_city):
    """The sample city with its clash check run (so clash points are drawn): (store, config, element to pick)."""
    from cim.clash.run import check_city

    store, config, _ = sample_city
    check_city(store, ground_z=config.ground_elevation_m, base=config.root, full=True)
    rows = [r for r in store.read_current("elements").to_pylist() if r["has_mesh"] and r["model_id"] == "haixia-office"]
    top = max(r["zmax"] for r in rows)
    roof = max((r for r in rows if r["zmax"] > top - 0.01),
               key=lambda r: (r["xmax"] - r["xmin"]) * (r["ymax"] - r["ymin"]))  # the roof slab, seen from above
    return store, config, roof


def test_cim_view_shows_the_city_with_the_review_and_picks_a_known_element(city, violating_review, tmp_path):
    store, config, roof = city
    port = _free_port()
    proc, url, lines = start_view(["--store", str(store.root), "--port", str(port), "--config", str(config.path),
                                   "--review", str(violating_review[1] / "report.json")])
    try:
        shot = tmp_path / "view.png"
        result = smoke("viewer", url, "--screenshot", str(shot), "--pick", "haixia-office", roof["global_id"],
                       "--frames", "3", "--controls", "1")
    finally:
        code = stop_view(proc)
    assert result["ok"], result.get("error")
    assert result["consoleErrors"] == [] and result["pageErrors"] == [] and result["failedRequests"] == []
    assert result["externalRequests"] == []  # nothing downloaded at run time
    assert result["state"]["tilesLoaded"] > 0 and result["state"]["errors"] == []
    assert result["state"]["clashes"] > 0 and result["state"]["review"] == "submission-violating"
    assert "haixia-office" in result["legend"]  # colour modes switched and back to "model" without an error
    assert result["picked"]["global_id"] == roof["global_id"] and roof["global_id"] in result["panel"]
    assert distinct_colours(shot, left=360) > 50  # the 3-D canvas right of the panel is drawn, not blank
    assert code == 0 and proc.poll() is not None  # SIGTERM stops the server cleanly: the process is gone
    ViewServer(port).server_close()  # and the port is free again: `cim view` can listen on it at once
    assert any("tiles:" in line for line in lines)


def test_the_review_s_view3d_html_renders_from_disk_without_a_server(violating_review, tmp_path):
    page = violating_review[1] / "view3d.html"
    if not page.exists():
        pytest.skip("the review wrote no view3d.html (three.js not installed)")
    shot = tmp_path / "view3d.png"
    result = smoke("view3d", page.resolve().as_uri(), "--screenshot", str(shot))
    assert result["ok"], result.get("error")
    assert result["consoleErrors"] == [] and result["pageErrors"] == [] and result["failedRequests"] == []
    assert result["externalRequests"] == []  # nothing downloaded at run time
    assert result["state"]["meshes"] > 100 and result["state"]["failing"] > 0
    assert result["picked"]  # a real click on the building picks one of its elements
    assert distinct_colours(shot, left=400) > 50
