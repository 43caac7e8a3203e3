"""Ingest throughput and scaling against raw ifcopenshell.geom.iterator, and peak memory at 50k elements.

    python -m bench.ingest --sizes 2000 10000 --memory 50000

Every figure is a ratio against a baseline measured in the same run on the same file:
- per-process throughput = raw iterator time / cim prepare time with 1 process (target >= 0.8);
- scaling = cim time with 1 process / cim time with 2 processes (target >= 1.8).
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import ifcopenshell
import ifcopenshell.geom
import numpy as np

from bench.genmodel import generate
from cim.config import ModelSettings
from cim.ingest.ifc import prepare_ifc
from cim.store import Store

OUT = Path(__file__).resolve().parent / "out"


def raw_iterator_seconds(path: Path) -> float:
    """The baseline: open the file and mesh every product in world coordinates, touching the buffers."""
    start = time.perf_counter()
    model = ifcopenshell.open(str(path))
    settings = ifcopenshell.geom.settings()
    settings.set("use-world-coords", True)
    iterator = ifcopenshell.geom.iterator(settings, model, 1)
    if iterator.initialize():
        while True:
            shape = iterator.get()
            np.frombuffer(shape.geometry.verts_buffer, dtype=np.float64).sum()
            if not iterator.next():
                break
    return time.perf_counter() - start


def cim_seconds(path: Path, workers: int) -> tuple[float, int]:
    start = time.perf_counter()
    commit = prepare_ifc(path, "EPSG:4549", ModelSettings(model_id="bench"), workers=workers)
    return time.perf_counter() - start, commit.tables["meshes"].num_rows


def throughput(sizes: list[int], work: Path) -> list[dict]:
    rows = []
    for n in sizes:
        path = generate(work / f"bench_{n}.ifc", n)
        raw = raw_iterator_seconds(path)
        one, meshes = cim_seconds(path, 1)
        two, _ = cim_seconds(path, 2)
        rows.append({"elements": n, "meshes": meshes, "raw_iterator_s": round(raw, 2), "cim_1proc_s": round(one, 2),
                     "cim_2proc_s": round(two, 2), "per_process_ratio": round(raw / one, 2),
                     "scaling_2proc": round(one / two, 2)})
        print(json.dumps(rows[-1]), flush=True)
    return rows


def memory(n: int, work: Path) -> dict:
    """Peak RSS of a full ingest (prepare + commit) in a fresh process, main and worker processes."""
    path = generate(work / f"bench_{n}.ifc", n)
    code = ("import resource, sys, time; from cim.config import ModelSettings; from cim.ingest.ifc import prepare_ifc;"
            "from cim.store import Store; t=time.perf_counter();"
            "c = prepare_ifc(sys.argv[1], 'EPSG:4549', ModelSettings(model_id='m'), workers=2);"
            "Store(sys.argv[2], 'EPSG:4549').commit(c); s=time.perf_counter()-t;"
            "print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, resource.getrusage(resource.RUSAGE_CHILDREN)"
            ".ru_maxrss, s)")
    out = subprocess.run([sys.executable, "-c", code, str(path), str(work / "store_mem")], capture_output=True,
                         text=True, check=True).stdout.split()
    row = {"elements": n, "main_peak_mb": round(int(out[0]) / 1024), "worker_peak_mb": round(int(out[1]) / 1024),
           "ingest_s": round(float(out[2]), 1), "file_mb": round(path.stat().st_size / 2**20, 1)}
    print(json.dumps(row), flush=True)
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="*", default=[2000, 10000])
    parser.add_argument("--memory", type=int, default=50000, help="elements for the memory run (0 = skip)")
    args = parser.parse_args()
    OUT.mkdir(exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        result = {"throughput": throughput(args.sizes, work)}
        if args.memory:
            result["memory"] = memory(args.memory, work)
    (OUT / "ingest.json").write_text(json.dumps(result, indent=1))
    _ = resource, Store


if __name__ == "__main__":
    main()
