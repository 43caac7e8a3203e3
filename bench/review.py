"""How long `cim review` takes on the sample submissions, against bare tessellation of the same model.

Bare tessellation = raw ifcopenshell.geom.iterator over the file, one process, the same settings the ingest
bench uses. The review is timed twice: the whole `cim review` command in a fresh process (what a planner
waits for) and review_model() in-process with its per-step timings.

    python -m bench.review
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import time
from pathlib import Path

from bench.ingest import raw_iterator_seconds

ROOT = Path(__file__).resolve().parents[1]
SAMPLES = ROOT / "sample_models"
OUT = Path(__file__).with_name("out")


def city_store(work: Path) -> Path:
    """The sample city's layers and tunnel (what a review reads), ingested once."""
    from cim.config import load_config
    from cim.ingest.run import ingest_file
    from cim.store import Store

    store_dir = work / "city"
    if not (store_dir / "models").exists():
        shutil.rmtree(store_dir, ignore_errors=True)
        config = load_config(SAMPLES / "cim.toml")
        store = Store(store_dir, config.crs)
        for rel in ("city.gpkg", "tunnel/utility_tunnel.ifc"):
            ingest_file(store, config, SAMPLES / rel, workers=2)
    return store_dir


def main() -> None:
    from cim.config import load_config
    from cim.review.run import review_model
    from cim.store import Store

    work = OUT / "review"
    work.mkdir(parents=True, exist_ok=True)
    store_dir = city_store(work)
    config = load_config(SAMPLES / "cim.toml")
    rows = []
    for name in ("compliant", "violating"):
        model = SAMPLES / "submissions" / f"{name}.ifc"
        raw = min(raw_iterator_seconds(model) for _ in range(2))
        start = time.perf_counter()
        proc = subprocess.run([str(Path(sys.executable).with_name("cim")), "review", str(model), "--store",
                               str(store_dir), "--config", str(SAMPLES / "cim.toml"), "--out",
                               str(work / name)], capture_output=True, text=True)
        command_s = time.perf_counter() - start
        review, _ = review_model(model, Store(store_dir, create=False), config)
        rows.append({"model": name, "exit_code": proc.returncode, "verdict": review.verdict,
                     "raw_tessellation_s": round(raw, 2), "command_wall_s": round(command_s, 2),
                     "review_in_process_s": review.timings["total"], "steps_s": review.timings,
                     "ratio_command_over_tessellation": round(command_s / raw, 1)})
        print(json.dumps(rows[-1]), flush=True)
    (OUT / "review.json").write_text(json.dumps(rows, indent=1))


if __name__ == "__main__":
    main()
