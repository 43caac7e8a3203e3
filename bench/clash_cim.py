"""The cim side of the clash benchmark, one cold process per measurement (run by bench/clash.py).

  ingest-check MODEL STORE   ingest the model (2 worker processes) then a full check: end to end from cold
  check STORE                a full check of what the store holds (meshes already stored)
  move MODEL PERCENT         move PERCENT % of the pipes and ducts 0.3 m sideways, in place (a design change)
  recheck MODEL STORE        re-ingest the changed model and an incremental check (printed as a first JSON line, so
                             the caller can time a revision from cold), then a full check in the same process
Each prints one JSON line (recheck two): seconds per step, the pairs found per rule, and peak memory.
"""

from __future__ import annotations

import json
import os
import resource
import sys
import time
from pathlib import Path

RULES = Path(__file__).with_name("clash_rules.toml")


def _peak_mb() -> dict:
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    kids = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    return {"peak_rss_mb": round(own, 1), "peak_rss_workers_mb": round(kids, 1)}


def _ingest(model: str, store_dir: str, *, force: bool = True) -> tuple[object, float]:
    """Ingest ``model`` with 2 worker processes; ``force=False`` for a revision, which reuses the unchanged
    elements' geometry from the version before (the nightly flow never forces)."""
    from cim.config import default_config
    from cim.ingest.run import ingest_file
    from cim.store import Store

    start = time.perf_counter()
    store = Store(store_dir, "EPSG:4549")
    outcome = ingest_file(store, default_config("EPSG:4549", "plan"), model, workers=2, force=force)
    if outcome.action != "ingested":
        raise SystemExit(f"ingest failed: {outcome.message}")
    return store, time.perf_counter() - start


def _check(store, full: bool) -> dict:
    from cim.clash.rules import load_rules
    from cim.clash.run import check_city

    start = time.perf_counter()
    summary = check_city(store, load_rules(RULES), full=full, workers=2)  # both cores, as the ingest
    rows = [r for r in store.read("clashes").to_pylist() if r["status"] != "resolved"]
    pairs: dict[str, list] = {}
    for r in rows:
        pairs.setdefault(r["rule"], []).append(sorted((r["a_global_id"], r["b_global_id"])) + [r["mode"]])
    return {"check_s": round(time.perf_counter() - start, 3), "summary": summary, "pairs": pairs}


def _move(model: str, percent: float) -> int:
    import ifcopenshell

    f = ifcopenshell.open(model)
    movable = sorted(f.by_type("IfcPipeSegment") + f.by_type("IfcDuctSegment"), key=lambda e: e.GlobalId)
    n_total = len(f.by_type("IfcElement"))
    n = max(1, round(n_total * percent / 100))
    step = max(1, len(movable) // n)
    moved = 0
    for el in movable[::step][:n]:
        rel = el.ObjectPlacement.RelativePlacement
        x, y, z = rel.Location.Coordinates
        rel.Location = f.createIfcCartesianPoint((x + 0.3, y + 0.3, z))
        moved += 1
    f.write(model)
    return moved


def main(argv: list[str]) -> None:
    cmd = argv[0]
    if cmd == "ingest-check":
        store, ingest_s = _ingest(argv[1], argv[2])
        out = {"ingest_s": round(ingest_s, 3), **_check(store, full=True)}
    elif cmd == "check":
        import pyarrow.dataset  # noqa: F401 - imported by the first Delta read; keep it out of check_s (not wall)

        from cim.store import Store

        out = _check(Store(argv[1], create=False), full=True)
    elif cmd == "move":
        out = {"moved": _move(argv[1], float(argv[2]))}
    elif cmd == "recheck":  # the incremental check, then a full one in the same warm process for the ratio
        store, ingest_s = _ingest(argv[1], argv[2], force=False)
        incremental = _check(store, full=False)
        print(json.dumps({"revision_done": True}), flush=True)  # the caller's clock: re-ingest + incremental check
        full = _check(store, full=True)
        out = {"ingest_s": round(ingest_s, 3), **incremental, "full_check_s": full["check_s"]}
    else:
        raise SystemExit(__doc__)
    print(json.dumps({**out, **_peak_mb()}, default=str), flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
    # Skip the interpreter's teardown: Arrow's I/O threads can abort it ("terminate called without an active
    # exception", apache/arrow#34314) after the figures are out, which would fail the measurement, not cim.
    os._exit(0)
