"""Clash benchmark: cim against IfcClash on the same generated models and the same clash sets, in one run.

For each size: IfcClash from cold (its own tessellation, all cores), cim from cold (ingest with 2 worker
processes + full check), cim's check alone from cold (meshes already in the store, as in the nightly flow), and
an incremental re-check after moving 1 % of the elements. Found clashes are scored against the planted truth.
IfcClash is a bench-only dependency: `.venv/bin/pip install ifcclash==0.9.0` (make bench does it).

    python -m bench.clash --sizes 2000 10000 50000
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

from bench.clash_models import generate, truth_path
from bench.ifcclash_run import bench_model, score

OUT = Path(__file__).with_name("out")
PY = sys.executable


def _cold(*args: str) -> tuple[dict, float, float]:
    """Run bench.clash_cim in a fresh process: its JSON, wall seconds, and peak RSS of the process tree.

    A ``revision_done`` line from the process is timed as it arrives (``data["revision_wall_s"]``): from the
    process start to the end of the re-ingest and incremental check, before the full check it then runs.
    """
    start = time.perf_counter()
    proc = subprocess.Popen([PY, "-m", "bench.clash_cim", *args], stdout=subprocess.PIPE, text=True,
                            cwd=Path(__file__).resolve().parents[1])
    lines, marks = [], {}
    assert proc.stdout is not None
    for line in proc.stdout:
        lines.append(line)
        if '"revision_done"' in line:
            marks["revision_wall_s"] = round(time.perf_counter() - start, 3)
    _, status, usage = os.wait4(proc.pid, 0)  # CPU of the process and of the workers it reaped
    proc.returncode = os.waitstatus_to_exitcode(status)
    wall = time.perf_counter() - start
    marks["cpu_s"] = round(usage.ru_utime + usage.ru_stime, 2)
    if proc.returncode:
        raise SystemExit(f"bench.clash_cim {args[0]} failed ({proc.returncode})")
    data = {**json.loads(lines[-1]), **marks}
    return data, wall, data["peak_rss_mb"] + data.get("peak_rss_workers_mb", 0.0) * 2


def _pairs(data: dict, rule: str) -> set[tuple[str, str]]:
    return {(a, b) for a, b, _ in data["pairs"].get(rule, [])}


def bench_size(n: int, work: Path) -> dict:
    model = work / f"clash_{n}.ifc"
    if not model.exists() or not truth_path(model).exists():
        generate(model, n)
    truth = json.loads(truth_path(model).read_text())
    theirs = bench_model(model, truth)
    store = work / f"store_{n}"
    shutil.rmtree(store, ignore_errors=True)
    ours, ours_wall, ours_mem = _cold("ingest-check", str(model), str(store))
    check, check_wall, _ = _cold("check", str(store))
    changed = work / "changed" / model.name  # same file name: the same model_id, a new version
    changed.parent.mkdir(exist_ok=True)
    shutil.copy(model, changed)
    moved, _, _ = _cold("move", str(changed), "1")
    recheck, _, _ = _cold("recheck", str(changed), str(store))
    scores = {"hard": score(_pairs(ours, "hard"), truth, "hard"),
              "gas clearance": score(_pairs(ours, "gas clearance"), truth, "gas clearance")}
    ifc_hard = theirs["scores"]["hard"]
    row = {
        "n_elements": truth["n_elements"],
        "ifcclash": {"wall_s": theirs["seconds"], "cpu_s": theirs["cpu_seconds"], "peak_rss_mb": theirs["peak_rss_mb"],
                     "found": {k: v["found"] for k, v in theirs["scores"].items()},
                     "false": {k: v["n_false"] for k, v in theirs["scores"].items()},
                     "missed_kinds": sorted(k for k, v in ifc_hard["by_kind"].items() if v["found"] < v["planted"])},
        "cim": {"end_to_end_wall_s": round(ours_wall, 2), "end_to_end_cpu_s": ours["cpu_s"],
                "ingest_s": ours["ingest_s"], "check_s": ours["check_s"],
                "check_only_cold_wall_s": round(check_wall, 2), "check_only_s": check["check_s"],
                "peak_rss_mb_main_plus_workers": round(ours_mem, 1),
                "found": {k: v["found"] for k, v in scores.items()},
                "false": {k: v["n_false"] for k, v in scores.items()},
                "expected": {k: v["expected"] for k, v in scores.items()}},
        "incremental": {"moved_elements": moved["moved"], "reingest_s": recheck["ingest_s"],
                        "recheck_s": recheck["check_s"], "revision_wall_s": recheck["revision_wall_s"],
                        "revision_and_full_check_cpu_s": recheck["cpu_s"],
                        "full_check_s": recheck["full_check_s"],
                        "ratio": round(recheck["check_s"] / max(recheck["full_check_s"], 1e-9), 3),
                        "tested": recheck["summary"]["tested"], "full_tested": check["summary"]["tested"]},
    }
    row["speedup_end_to_end"] = round(theirs["seconds"] / ours_wall, 2)
    row["speedup_check_from_store"] = round(theirs["seconds"] / check_wall, 2)
    # a revision: cim re-ingests the changed file and re-checks what changed; IfcClash re-runs the whole set
    # CPU seconds: steadier than wall time on a shared machine (IfcClash's threads and cim's workers included)
    row["cpu_ratio_end_to_end"] = round(theirs["cpu_seconds"] / ours["cpu_s"], 2)
    row["speedup_revision"] = round(theirs["seconds"] / recheck["revision_wall_s"], 2)
    return row


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[2000, 10000, 50000])
    parser.add_argument("--work", type=Path, default=OUT / "clash")
    parser.add_argument("--out", type=Path, default=OUT / "clash.json", help="where the JSON of the run goes")
    args = parser.parse_args(argv)
    args.work.mkdir(parents=True, exist_ok=True)
    rows = []
    for n in args.sizes:
        row = bench_size(n, args.work)
        rows.append(row)
        print(json.dumps(row), flush=True)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"cpus": os.cpu_count(), "rows": rows}, indent=1))
    print(f"{'elements':>9} {'IfcClash s':>10} {'cim e2e s':>9} {'x':>5} {'cim check s':>11} {'x':>6} "
          f"{'hard found cim/ifcclash/planted':>32} {'incr ratio':>10} {'revision s':>10} {'x':>5}")
    for r in rows:
        print(f"{r['n_elements']:>9} {r['ifcclash']['wall_s']:>10.1f} {r['cim']['end_to_end_wall_s']:>9.1f} "
              f"{r['speedup_end_to_end']:>5.2f} {r['cim']['check_only_cold_wall_s']:>11.1f} "
              f"{r['speedup_check_from_store']:>6.2f} "
              f"{r['cim']['found']['hard']:>10}/{r['ifcclash']['found']['hard']}/{r['cim']['expected']['hard']:<10} "
              f"{r['incremental']['ratio']:>10.3f} {r['incremental']['revision_wall_s']:>10.1f} "
              f"{r['speedup_revision']:>5.2f}")


if __name__ == "__main__":
    main()
