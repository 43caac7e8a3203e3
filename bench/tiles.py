"""3D Tiles export: time and size for the sample city and a generated 50k-element model, the incremental
re-export, the worst vertex error against the float64 store, and the glTF validator's verdict.

    python -m bench.tiles [--store cim-data] [--elements 50000]

The sample city comes from --store (what `make run` builds) or, when that folder is missing, is ingested
into a temporary store. The big model is made by bench.genmodel, ingested with 2 worker processes, then
exported. Figures go to bench/out/tiles.json.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

from bench.genmodel import generate
from cim.config import ModelSettings, load_config
from cim.ingest.ifc import prepare_ifc
from cim.store import Store
from cim.tiles import export_tileset
from cim.tiles.validate import gltf_reports, node_modules, worst_vertex_error

ROOT = Path(__file__).resolve().parents[1]
OUT = Path(__file__).resolve().parent / "out"


def sample_store(store: Path, work: Path) -> tuple[Store, float]:
    config = load_config(ROOT / "sample_models" / "cim.toml")
    if (store / "_cim" / "store.json").is_file():
        return Store(store, create=False), config.ground_elevation_m
    from cim.inbox import discover
    from cim.ingest.run import ingest_file

    st = Store(work / "sample", config.crs)
    for path in discover(config):
        ingest_file(st, config, path, workers=2)
    return st, config.ground_elevation_m


def measure(name: str, store: Store, out: Path, ground_z: float | None, validate: bool) -> dict:
    first = export_tileset(store, out, ground_z=ground_z)
    again = export_tileset(store, out, ground_z=ground_z)
    start = time.perf_counter()
    worst, compared = worst_vertex_error(store, out)
    meshes = store.read_current("meshes")
    row = {"case": name, "features": first.n_features, "triangles": int(sum(meshes["n_triangles"].to_pylist())),
           "tiles": first.n_tiles, "export_s": round(first.seconds, 2), "bytes": first.bytes,
           "mb": round(first.bytes / 1e6, 2), "reexport_unchanged_s": round(again.seconds, 2),
           "reexport_tiles_written": again.n_written, "worst_vertex_error_m": worst,
           "vertices_checked_features": compared, "check_s": round(time.perf_counter() - start, 1)}
    if validate and node_modules() is not None:
        reports = gltf_reports(sorted((out / "tiles").glob("*.glb")))
        row["gltf_validator"] = {"files": len(reports), "errors": sum(r["errors"] for r in reports),
                                 "warnings": sum(r["warnings"] for r in reports)}
    print(json.dumps(row), flush=True)
    return row


def big_store(n: int, work: Path) -> Store:
    path = generate(work / f"bench_{n}.ifc", n)
    store = Store(work / f"big_{n}", "EPSG:4549")
    start = time.perf_counter()
    store.commit(prepare_ifc(path, "EPSG:4549", ModelSettings(model_id=f"gen-{n}"), workers=2))
    print(json.dumps({"ingested_elements": n, "ingest_s": round(time.perf_counter() - start, 1)}), flush=True)
    return store


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--store", type=Path, default=ROOT / "cim-data")
    parser.add_argument("--elements", type=int, default=50_000, help="size of the generated model (0 = skip)")
    args = parser.parse_args()
    OUT.mkdir(exist_ok=True)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        store, ground = sample_store(args.store, work)
        rows.append(measure("sample city", store, work / "tiles_sample", ground, validate=True))
        if args.elements:
            rows.append(measure(f"generated {args.elements} elements", big_store(args.elements, work),
                                work / "tiles_big", None, validate=True))
    (OUT / "tiles.json").write_text(json.dumps(rows, indent=1))


if __name__ == "__main__":
    main()
