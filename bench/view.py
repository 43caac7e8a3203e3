"""`cim view` in headless Chromium: time to the first rendered frame, and frame time with the whole city loaded.

Run: .venv/bin/python -m bench.view [--store cim-data] [--port 8790] [--frames 20]
(the store `make run` builds). Starts `cim view` as a user does (the 3D Tiles cache is exported or reused
first: its time is reported apart), opens the page in Debian's chromium driven by Playwright
(viewer/tests/smoke.mjs; WebGL through SwiftShader, i.e. on the CPU, as on a machine without a GPU), and
reports:

- ``first_frame_ms``: navigation start to the first frame CesiumJS rendered (page's performance clock);
- ``all_tiles_loaded_ms``: navigation start until the tileset reported every visible tile loaded;
- ``frame_ms``: mean time per frame over ``--frames`` frames drawn back to back with every tile loaded;
- the machine's load average before and after, since the CPU renderer shares the machine's cores.

A screenshot of the loaded city goes to bench/out/view.png; figures to bench/out/view.json.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "bench" / "out" / "view.json"
SHOT = ROOT / "bench" / "out" / "view.png"
SMOKE = ROOT / "viewer" / "tests" / "smoke.mjs"


def _start(store: Path, port: int) -> tuple[subprocess.Popen, float, list[str]]:
    cim = Path(sys.executable).with_name("cim")
    started = time.perf_counter()
    proc = subprocess.Popen([str(cim), "view", "--store", str(store), "--port", str(port)], cwd=ROOT,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    lines = []
    for line in proc.stdout:
        lines.append(line.rstrip())
        if "cim view: open " in line:
            return proc, time.perf_counter() - started, lines
    proc.wait()
    sys.exit("bench.view: cim view did not start:\n" + "\n".join(lines))


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--store", type=Path, default=ROOT / "cim-data")
    parser.add_argument("--port", type=int, default=8790)
    parser.add_argument("--frames", type=int, default=20)
    args = parser.parse_args(argv)
    if not (shutil.which("node") and Path("/usr/bin/chromium").exists()):
        sys.exit("bench.view: needs node and /usr/bin/chromium (and make install for viewer/node_modules)")
    load_before = os.getloadavg()
    proc, start_s, lines = _start(args.store, args.port)
    try:
        SHOT.parent.mkdir(parents=True, exist_ok=True)
        done = subprocess.run(["node", str(SMOKE), "viewer", f"http://127.0.0.1:{args.port}/", "--screenshot",
                               str(SHOT), "--frames", str(args.frames), "--timeout", "1800000"],
                              capture_output=True, text=True, timeout=2400)
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=60)
    result = json.loads([line for line in done.stdout.splitlines() if line.startswith("{")][-1])
    if not result.get("ok"):
        sys.exit(f"bench.view: the page failed: {result.get('error')}")
    figures = {
        "store": str(args.store), "renderer": "headless chromium, WebGL via SwiftShader (CPU)",
        "viewport": "1280x800", "server_start_s": round(start_s, 2), "export": next(
            (line for line in lines if line.startswith("tiles:")), None),
        "first_frame_ms": round(result["firstFrameMs"], 1),
        "all_tiles_loaded_ms": result["allTilesLoadedMs"], "tiles_loaded": result["state"]["tilesLoaded"],
        "frame_ms": round(result["frameMs"], 1), "frames_timed": args.frames,
        "console_errors": len(result["consoleErrors"]), "screenshot": str(SHOT),
        "load_average_before": [round(v, 2) for v in load_before],
        "load_average_after": [round(v, 2) for v in os.getloadavg()], "cpu_count": os.cpu_count(),
    }
    OUT.write_text(json.dumps(figures, indent=2) + "\n", encoding="utf-8")
    print(json.dumps(figures, indent=2))
    return figures


if __name__ == "__main__":
    main()
