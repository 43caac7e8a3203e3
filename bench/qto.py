"""Quantity takeoff benchmark: throughput of cim.qto.takeoff and agreement with ifc5d (if installed).

Run: .venv/bin/python -m bench.qto [IFC ...]   (default: the shared AC20-FZK-Haus fixture)
ifc5d is a bench-only dependency (`.venv/bin/pip install ifc5d==0.9.0`); without it only throughput is measured.
Figures go to bench/out/qto.json.
"""

from __future__ import annotations

import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

import ifcopenshell

from cim.config import CityConfig
from cim.ingest.run import ingest_file
from cim.qto.run import takeoff
from cim.store import Store

ROOT = Path(__file__).resolve().parents[1]
DEFAULT = ROOT.parent / "shared" / "fixtures" / "ifc4" / "AC20-FZK-Haus.ifc"
PLACEMENT = {"eastings": 464_800.0, "northings": 2_865_900.0, "height": 5.0}
OUT = ROOT / "bench" / "out" / "qto.json"


def ifc5d_quantities(path: Path) -> tuple[dict[tuple[str, str, str], float], float] | None:
    """(global_id, qset, name) -> value from ifc5d's IFC4 base quantity rules, and its seconds; None if absent."""
    try:
        from ifc5d import qto
    except ImportError:
        return None
    model = ifcopenshell.open(str(path))
    started = time.perf_counter()
    results = qto.quantify(model, set(model.by_type("IfcElement")) | set(model.by_type("IfcSpatialElement")),
                           qto.rules["IFC4QtoBaseQuantities"])
    seconds = time.perf_counter() - started
    out = {}
    for element, qsets in results.items():
        for qset, values in qsets.items():
            for name, value in values.items():
                if isinstance(value, int | float):
                    out[(element.GlobalId, qset, name)] = float(value)
    return out, seconds


def bench_file(path: Path) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        city = CityConfig(path=Path(tmp) / "cim.toml", name="bench", crs="EPSG:4549",
                          models={path.name: {"placement": PLACEMENT}})
        store = Store(Path(tmp) / "store", "EPSG:4549")
        ingest_file(store, city, path, workers=1)
        runs = []
        for _ in range(3):
            result = takeoff(store, path.stem, ifc_path=path)
            runs.append(result["seconds"])
        rows = [r for r in store.read("quantities").to_pylist() if r["method"] == "computed"]
    seconds = min(runs)
    figures = {"file": path.name, "elements": result["n_elements"], "computed_quantities": len(rows),
               "takeoff_seconds": seconds, "elements_per_second": round(result["n_elements"] / seconds, 1),
               "declared_disagreements_over_2pct": result["n_disagreements"]}
    theirs = ifc5d_quantities(path)
    if theirs is None:
        figures["ifc5d"] = "not installed: no agreement measured"
        return figures
    values, their_seconds = theirs
    diffs = []
    off: dict[str, list[float]] = {}
    for r in rows:
        other = values.get((r["global_id"], r["qset"], r["name"]))
        if other is not None and r["value"] is not None and abs(other) > 1e-9:
            diffs.append(abs(r["value"] - other) / abs(other))
            if diffs[-1] > 0.01:
                off.setdefault(f"{r['qset']}.{r['name']}", []).append(round(diffs[-1], 3))
    figures["ifc5d"] = {"seconds": round(their_seconds, 3), "quantities": len(values), "compared": len(diffs),
                        "within_1pct": sum(d <= 0.01 for d in diffs), "within_2pct": sum(d <= 0.02 for d in diffs),
                        "median_rel_diff": statistics.median(diffs) if diffs else None,
                        "speed_ratio_cim_over_ifc5d": round(their_seconds / seconds, 2),
                        "over_1pct_by_quantity": {k: {"n": len(v), "median": statistics.median(v)}
                                                  for k, v in sorted(off.items(), key=lambda kv: -len(kv[1]))}}
    return figures


def main(argv: list[str]) -> int:
    paths = [Path(a) for a in argv] or [DEFAULT]
    missing = [p for p in paths if not p.exists()]
    if missing:
        print(f"missing: {', '.join(map(str, missing))}")
        return 1
    figures = [bench_file(p) for p in paths]
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps(figures, indent=2))
    print(json.dumps(figures, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
