"""Peak memory of the city clash check, untiled against by tiles: the coordinator, and one tile's task alone.

    python -m bench.clash_tiled make /tmp/tcity --models 6 --elements 6000   # generate and ingest a city
    python -m bench.clash_tiled measure /tmp/tcity --tile-size 60            # figures as JSON (bench/out)

``make`` writes ``--models`` buildings of bench.clash_models (planted clashes) side by side, 150 m apart (their
map conversions moved), and ingests them. ``measure`` runs each case in a fresh process and reads its peak
resident memory (``ru_maxrss``): the untiled check; the tiled check's coordinator (tiles in 2 worker processes,
whose memory is theirs); the task of the tile that reads the most elements, alone; and a process that only
imports the clash modules (the floor every case pays).
"""

from __future__ import annotations

import argparse
import json
import pickle
import resource
import shutil
import subprocess
import sys
import time
from pathlib import Path

OUT = Path(__file__).resolve().parent / "out"
SPACING_M = 150.0


def make(folder: Path, models: int, elements: int) -> None:
    import ifcopenshell

    from bench.clash_models import generate
    from cim.config import default_config
    from cim.ingest.run import ingest_file
    from cim.store import Store

    folder.mkdir(parents=True, exist_ok=True)
    store = Store(folder / "store", "EPSG:4549")
    for n in range(models):
        path = folder / f"building_{n}.ifc"
        generate(path, elements, seed=n)
        f = ifcopenshell.open(str(path))
        (conversion,) = f.by_type("IfcMapConversion")
        conversion.Eastings += (n % 3) * SPACING_M
        conversion.Northings += (n // 3) * SPACING_M
        f.write(str(path))
        started = time.perf_counter()
        outcome = ingest_file(store, default_config("EPSG:4549", "plan"), path, workers=2)
        print(f"{path.name}: {outcome.action} in {time.perf_counter() - started:.0f} s", flush=True)


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def _case(case: str, store_dir: str, size: float, job_file: str | None) -> dict:
    """One case in this (fresh) process."""
    from cim.clash.rules import load_rules
    from cim.clash.run import check_city
    from cim.clash.tiled import clash_tile
    from cim.store import Store

    if case == "imports":
        return {"peak_mb": _peak_mb()}
    if case == "tile":
        job = pickle.loads(Path(job_file).read_bytes())
        started = time.perf_counter()
        result = clash_tile(job)
        return {"peak_mb": _peak_mb(), "elements_read": result.elements, "clashes": len(result.rows),
                "seconds": round(time.perf_counter() - started, 1)}
    store = Store(store_dir, create=False)
    summary = check_city(store, load_rules(), full=True, tile_size=0 if case == "untiled" else size,
                         workers=1 if case == "untiled" else 2)
    return {"peak_mb": _peak_mb(), **{k: summary[k] for k in ("elements", "found", "tested", "seconds", "tiles",
                                                             "tile_tasks", "most_elements_in_a_task")}}


def _largest_job(store_dir: str, size: float, job_file: Path) -> int:
    """Pickle the job of the tile that the most element boxes reach; return how many reach it."""
    import numpy as np

    from cim.clash.engine import local_origin
    from cim.clash.region import city_index
    from cim.clash.rules import load_rules
    from cim.clash.tiled import plan_jobs
    from cim.clash.zone_build import build_zones
    from cim.store import Store

    store = Store(store_dir, create=False)
    rules = load_rules()
    index = city_index(store)
    origin = local_origin(index.bounds)
    _, jobs = plan_jobs(store, index, build_zones(rules, store, origin, None), origin, rules, size, None)
    counts = [int(j.tile.reaches(index.bounds, j.margin).sum()) for j in jobs]
    best = int(np.argmax(counts))
    job_file.write_bytes(pickle.dumps(jobs[best]))
    return counts[best]


def _fresh(case: str, store_dir: Path, size: float, job_file: Path | None = None) -> dict:
    args = [sys.executable, "-m", "bench.clash_tiled", "_case", case, str(store_dir), str(size), str(job_file or "")]
    done = subprocess.run(args, capture_output=True, text=True, check=True, cwd=Path(__file__).resolve().parents[1])
    return json.loads(done.stdout.strip().splitlines()[-1])


def measure(folder: Path, size: float) -> dict:
    figures = {"tile_size_m": size, "command": f"python -m bench.clash_tiled measure {folder} --tile-size {size:g}"}
    figures["imports"] = _fresh("imports", folder / "store", size)
    job_file = folder / "largest_tile.pickle"
    figures["largest_tile_boxes"] = _largest_job(str(folder / "store"), size, job_file)
    figures["one_tile_task"] = _fresh("tile", folder / "store", size, job_file)
    for case in ("untiled", "tiled"):  # each on its own copy: a check writes the clashes table
        copy = folder / f"store-{case}"
        shutil.rmtree(copy, ignore_errors=True)
        shutil.copytree(folder / "store", copy)
        figures[case] = _fresh(case, copy, size)
        shutil.rmtree(copy, ignore_errors=True)
    OUT.mkdir(exist_ok=True)
    (OUT / "clash_tiled.json").write_text(json.dumps(figures, indent=1))
    return figures


def main(argv: list[str] | None = None) -> None:
    argv = sys.argv[1:] if argv is None else argv
    if argv and argv[0] == "_case":
        print(json.dumps(_case(argv[1], argv[2], float(argv[3]), argv[4] or None)))
        return
    parser = argparse.ArgumentParser(prog="python -m bench.clash_tiled", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="cmd", required=True)
    m = sub.add_parser("make")
    m.add_argument("folder", type=Path)
    m.add_argument("--models", type=int, default=6)
    m.add_argument("--elements", type=int, default=6000)
    r = sub.add_parser("measure")
    r.add_argument("folder", type=Path)
    r.add_argument("--tile-size", type=float, default=60.0)
    args = parser.parse_args(argv)
    if args.cmd == "make":
        make(args.folder, args.models, args.elements)
    else:
        print(json.dumps(measure(args.folder, args.tile_size), indent=1))


if __name__ == "__main__":
    main()
