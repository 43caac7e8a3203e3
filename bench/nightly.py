"""The nightly run on the sample city: a first full run, then a run with nothing changed.

    python -m bench.nightly

Reports the wall time of each `python -m flows.nightly run` (which includes starting Prefect's temporary
server) and the flow's own duration recorded in `runs`.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from cim.store import Store

ROOT = Path(__file__).resolve().parents[1]
OUT = Path(__file__).resolve().parent / "out"


def timed_run(store: Path) -> float:
    start = time.perf_counter()
    subprocess.run([sys.executable, "-m", "flows.nightly", "run", "--config", str(ROOT / "sample_models" / "cim.toml"),
                    "--store", str(store)], cwd=ROOT, check=False, capture_output=True)
    return time.perf_counter() - start


def main() -> None:
    OUT.mkdir(exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        store = Path(tmp) / "store"
        first = timed_run(store)
        second = timed_run(store)
        runs = sorted(Store(store, create=False).read("runs").to_pylist(), key=lambda r: r["started_at"])
    result = {"first_run_wall_s": round(first, 1), "first_run_flow_s": round(runs[0]["duration_s"], 1),
              "first_run_ingested": runs[0]["n_ingested"], "unchanged_run_wall_s": round(second, 1),
              "unchanged_run_flow_s": round(runs[1]["duration_s"], 2), "unchanged_files": runs[1]["n_unchanged"]}
    print(json.dumps(result))
    (OUT / "nightly.json").write_text(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
