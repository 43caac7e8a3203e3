"""Version diff benchmark: cim.diff.compare_versions on a generated model and a 1 % revision, against ifcdiff.

Run: .venv/bin/python -m bench.diff [--elements 50000] [--changed 0.01] [--work DIR] [--no-ifcdiff] [--out FILE]
     .venv/bin/python -m bench.diff --replicate-from DIR/store [--factor 5] --out FILE

Generates a georeferenced model of N elements (bench/genmodel.py, deterministic) and a revision in which 1 %
of the elements changed, in equal parts moved (placement +0.5 m in x), reshaped (extrusion +0.5 m), renamed
(a property change), removed and added (seeded, so every run makes the same files). Both files are ingested
into one store as two versions of one model, then ``compare_versions`` is timed (median of 3; it reads stored
rows and meshes, nothing is tessellated) and IfcOpenShell's ifcdiff 0.9.0 (bench-only:
`.venv/bin/uv pip install ifcdiff==0.9.0`) on the same two files (it opens and reads both files; attributes,
geometry, property, type and container relationships), in its own process, stopped after --ifcdiff-limit
seconds (then recorded as stopped: its time is more than that). Figures go to bench/out/diff.json.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import random
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import ifcopenshell
import ifcopenshell.api
import ifcopenshell.guid
import pyarrow as pa
import pyarrow.compute as pc

from bench.genmodel import _axis, _body, generate
from cim.config import default_config
from cim.diff import compare_versions
from cim.ingest.run import ingest_file
from cim.store import ModelCommit, Store

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "bench" / "out" / "diff.json"
KINDS = ("moved", "reshaped", "properties_changed", "removed", "added")


def revise(original: Path, revised: Path, share: float, seed: int = 14) -> dict[str, int]:
    """Write ``revised``: ``share`` of the elements changed in equal parts of KINDS; returns the counts made."""
    f = ifcopenshell.open(str(original))
    elements = sorted(f.by_type("IfcElement"), key=lambda e: e.GlobalId)
    per_kind = max(1, round(len(elements) * share / len(KINDS)))
    picked = random.Random(seed).sample(elements, per_kind * 4)
    groups = {k: picked[i * per_kind:(i + 1) * per_kind] for i, k in enumerate(KINDS[:4])}
    for el in groups["moved"]:
        loc = el.ObjectPlacement.RelativePlacement.Location
        x, y, z = loc.Coordinates
        loc.Coordinates = (x + 0.5, y, z)
    for el in groups["reshaped"]:
        solid = el.Representation.Representations[0].Items[0]
        solid.Depth = solid.Depth + 0.5
    for el in groups["properties_changed"]:
        el.Name = f"{el.Name} rev B"
    for el in groups["removed"]:
        ifcopenshell.api.run("root.remove_product", f, product=el)
    storey = f.by_type("IfcBuildingStorey")[0]
    ctx = next(c for c in f.by_type("IfcGeometricRepresentationSubContext") if c.ContextIdentifier == "Body")
    added = []
    for i in range(per_kind):
        placement = f.createIfcLocalPlacement(storey.ObjectPlacement, _axis(f, (-10.0 - 5.0 * i, -10.0, 0.0)))
        added.append(f.create_entity("IfcColumn", GlobalId=ifcopenshell.guid.compress(f"{10**9 + i:032x}"),
                                     Name=f"Added column {i}", ObjectPlacement=placement,
                                     Representation=_body(f, ctx, "IfcColumn", i)))
    ifcopenshell.api.run("spatial.assign_container", f, relating_structure=storey, products=added)
    f.write(str(revised))
    return {k: per_kind for k in KINDS}


def ifcdiff_seconds(old: Path, new: Path, limit_s: float) -> dict | None:
    """ifcdiff's figures, run in its own process so a run beyond ``limit_s`` is stopped and recorded as such."""
    if importlib.util.find_spec("ifcdiff") is None:
        return None
    cmd = [sys.executable, "-m", "bench.diff", "--ifcdiff-only", str(old), str(new)]
    started = time.perf_counter()
    try:
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=limit_s, cwd=ROOT, check=True)
    except subprocess.TimeoutExpired:
        return {"seconds": None, "stopped_after_seconds": round(time.perf_counter() - started, 1)}
    return json.loads(done.stdout.strip().splitlines()[-1])


def _ifcdiff_run(old: Path, new: Path) -> dict:
    import contextlib
    import io

    from ifcdiff import IfcDiff

    started = time.perf_counter()
    a, b = ifcopenshell.open(str(old)), ifcopenshell.open(str(new))
    opened = time.perf_counter()
    d = IfcDiff(a, b, ["attributes", "geometry", "property", "type", "container"])
    with contextlib.redirect_stdout(io.StringIO()):
        d.diff()
    done = time.perf_counter()
    return {"seconds": round(done - started, 2), "open_seconds": round(opened - started, 2),
            "diff_seconds": round(done - opened, 2), "added": len(d.added_elements),
            "deleted": len(d.deleted_elements), "changed": len(d.change_register)}


def replicate(src: Store, dst_root: Path, k: int, model_id: str = "bench") -> Store:
    """A store holding both versions of ``model_id`` with every element and mesh row of ``src`` written ``k``
    times (GlobalId + "~i"), committed through Store.commit: real Delta tables of k times the size, for timing
    compare_versions beyond what can be ingested in the time at hand. Labelled as such in the figures."""
    dst = Store(dst_root, src.crs)
    for version in (1, 2):
        keys = [("model_id", "=", model_id), ("version", "=", version)]
        record = src.read("models", filters=keys).to_pylist()[0]
        for key in ("model_id", "version", "ingested_at", "run_id", "code_version"):
            record.pop(key)
        tables = {}
        for name in ("elements", "meshes"):
            rows = src.read(name, filters=keys).drop_columns(["model_id", "version"])
            gid = rows.schema.get_field_index("global_id")
            tables[name] = pa.concat_tables([rows.set_column(gid, "global_id", pc.binary_join_element_wise(
                rows["global_id"], pa.scalar(f"~{i}"), "")) for i in range(k)])
        record.update(sha256=f"{record['sha256']}x{k}", n_elements=record["n_elements"] * k,
                      n_meshes=record["n_meshes"] * k)
        dst.commit(ModelCommit(model_id, record, tables), skip_unchanged=False)
    return dst


def timed(store: Store, model_id: str = "bench") -> tuple[list[float], object]:
    runs, diff = [], None
    for _ in range(3):
        t = time.perf_counter()
        diff = compare_versions(store, model_id)
        runs.append(round(time.perf_counter() - t, 3))
    return runs, diff


def replicated_figures(src: Path, k: int, out: Path) -> None:
    """--replicate-from: time compare_versions on a store k times the size of an ingested bench store."""
    with tempfile.TemporaryDirectory(prefix="cim-bench-diff-x") as tmp:
        dst = replicate(Store(src, create=False), Path(tmp) / "store", k)
        runs, diff = timed(dst)
        elements = [dst.read("models", filters=[("model_id", "=", "bench"), ("version", "=", v)])["n_elements"][0]
                    .as_py() for v in (1, 2)]
    result = {"replicated_from": str(src), "factor": k, "elements": elements,
        "note": "rows of an ingested store written k times with suffixed GlobalIds (not ingested from IFC)",
        "compare_versions_seconds": runs, "compare_versions_median_seconds": statistics.median(runs),
        "compare_versions_timings": diff.timings, "counts": diff.counts, "n_change_rows": len(diff.changes)}
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--elements", type=int, default=50_000)
    parser.add_argument("--changed", type=float, default=0.01)
    parser.add_argument("--work", type=Path, default=None, help="keep the files and store here")
    parser.add_argument("--no-ifcdiff", action="store_true", help="skip the baseline (slow on big models)")
    parser.add_argument("--out", type=Path, default=OUT)
    parser.add_argument("--ifcdiff-limit", type=float, default=1800.0, help="stop ifcdiff after this many seconds")
    parser.add_argument("--ifcdiff-only", nargs=2, type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--replicate-from", type=Path, help="a bench store (--work DIR/store): time compare_versions "
                                                             "on its rows written --factor times instead")
    parser.add_argument("--factor", type=int, default=5)
    args = parser.parse_args()
    if args.replicate_from:
        replicated_figures(args.replicate_from, args.factor, args.out)
        return
    if args.ifcdiff_only:
        print(json.dumps(_ifcdiff_run(*args.ifcdiff_only)))
        return
    with tempfile.TemporaryDirectory(prefix="cim-bench-diff-") as tmp:
        work = args.work or Path(tmp)
        work.mkdir(parents=True, exist_ok=True)
        v1, v2, path = work / "v1.ifc", work / "v2.ifc", work / "bench.ifc"
        t = time.perf_counter()
        generate(v1, args.elements)
        made = revise(v1, v2, args.changed)
        generate_s = time.perf_counter() - t
        store = Store(work / "store", "EPSG:4549")
        config = default_config("EPSG:4549", "plan")
        ingest_s = []
        for source in (v1, v2):
            path.write_bytes(source.read_bytes())
            t = time.perf_counter()
            outcome = ingest_file(store, config, path, workers=2, force=True)
            ingest_s.append(round(time.perf_counter() - t, 1))
            print(f"ingested {source.name}: {outcome.action} in {ingest_s[-1]} s", flush=True)
        runs, diff = timed(store)
        baseline = None if args.no_ifcdiff else ifcdiff_seconds(v1, v2, args.ifcdiff_limit)
        median = statistics.median(runs)
        result = {
            "elements": args.elements, "changed_share": args.changed, "changes_made": made,
            "generate_seconds": round(generate_s, 1), "ingest_seconds": ingest_s,
            "compare_versions_seconds": runs, "compare_versions_median_seconds": median,
            "compare_versions_timings": diff.timings, "counts": diff.counts, "n_change_rows": len(diff.changes),
            "ifcdiff": baseline,
            "ifcdiff_over_cim": round(baseline["seconds"] / median, 1) if baseline and baseline["seconds"] else None,
        }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
