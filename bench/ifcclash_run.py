"""IfcClash, the baseline of the clash benchmark: cold runs in a child process, scored against planted clashes.

    python -m bench.ifcclash_run --sizes 2000 10000 --cpus 1

Every measurement is a fresh Python process running IfcClash's documented API (``ClashSettings``, ``Clasher``,
clash sets with ``a``/``b`` sources) on the generated model, so the wall time includes interpreter start, imports,
parsing and IfcClash's own tessellation, and peak memory is that child's alone (``os.wait4`` rusage).

How IfcClash's settings map onto the benchmark's rules (from the IfcOpenShell geometry tree documentation):
- ``intersection`` mode: a pair clashes when one element protrudes into or pierces the other. ``tolerance``
  drops protrusions shallower than it, so 0.01 is "interpenetrate by more than 10 mm; touching is not a clash".
  ``check_all=True`` keeps checking every candidate triangle for the worst-case protrusion, so the depth compared
  with the tolerance is the deepest one rather than the first found. When neither mesh is manifold, IfcClash falls
  back to a surface collision with distance 0 that ignores the tolerance.
- ``collision`` mode: any surface contact; ``allow_touching=False`` drops coplanar or edge-only contacts. There is
  no depth and no tolerance.
- ``clearance`` mode: surfaces closer than ``clearance`` metres; ``check_all=True`` measures the worst case.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OUT = Path(__file__).resolve().parent / "out"
MODES = ("intersection", "collision", "clearance")


def clash_set(mode: str = "intersection", tolerance: float = 0.01, clearance: float = 0.5, *,
              a_selector: str | None = None, b_selector: str | None = None, check_all: bool = True,
              allow_touching: bool = False, name: str | None = None) -> dict:
    """One IfcClash clash set (without files): ``a`` against ``b``, or ``a`` against itself when ``b`` is None."""
    if mode not in MODES:
        raise ValueError(f"IfcClash has no mode {mode!r}: use one of {MODES}")
    spec = {"name": name or mode, "mode": mode, "a_selector": a_selector, "b_selector": b_selector}
    if mode == "intersection":
        spec.update(tolerance=tolerance, check_all=check_all)
    elif mode == "collision":
        spec.update(allow_touching=allow_touching)
    else:
        spec.update(clearance=clearance, check_all=check_all)
    return spec


def run_ifcclash(path: Path, mode: str = "intersection", tolerance: float = 0.01, clearance: float = 0.5, *,
                 a_selector: str | None = None, b_selector: str | None = None, check_all: bool = True,
                 allow_touching: bool = False, cpus: int | None = None) -> dict:
    """One clash set, cold: {seconds, peak_rss_mb, pairs, n, results, phases}."""
    spec = clash_set(mode, tolerance, clearance, a_selector=a_selector, b_selector=b_selector, check_all=check_all,
                     allow_touching=allow_touching)
    run = run_ifcclash_sets(path, [spec], cpus=cpus)
    one = run["sets"][0]
    return {**one, "seconds": run["seconds"], "peak_rss_mb": run["peak_rss_mb"], "phases": run["phases"],
            "cpus": cpus}


def run_ifcclash_sets(path: Path, sets: list[dict], *, cpus: int | None = None, timeout: float = 7200) -> dict:
    """Several clash sets in one cold IfcClash process, as ``python -m ifcclash sets.json`` would run them.

    ``cpus`` pins the child to that many cores (IfcClash still starts one tessellation thread per machine core);
    None leaves it IfcClash's default.
    """
    with tempfile.TemporaryDirectory(prefix="ifcclash-") as tmp:
        spec_path, out_path = Path(tmp) / "spec.json", Path(tmp) / "out.json"
        spec_path.write_text(json.dumps({"file": str(Path(path).resolve()), "sets": sets, "output": str(out_path)}))
        log = (Path(tmp) / "log.txt").open("w+")
        pin = (lambda: os.sched_setaffinity(0, sorted(os.sched_getaffinity(0))[:cpus])) if cpus else None
        start = time.perf_counter()
        proc = subprocess.Popen([sys.executable, "-m", "bench.ifcclash_run", "--child", str(spec_path)], cwd=ROOT,
                                stdout=log, stderr=subprocess.STDOUT, preexec_fn=pin)
        status, rusage = _wait(proc, timeout)
        seconds = time.perf_counter() - start
        log.seek(0)
        if status != 0:
            tail = log.read()[-3000:]
            raise RuntimeError(f"{path}: IfcClash exited with status {status} (its log ends below)\n{tail}")
        out = json.loads(out_path.read_text())
    for s in out["sets"]:
        s["pairs"] = {tuple(sorted((r["a_global_id"], r["b_global_id"]))) for r in s["results"]
                      if r["a_global_id"] != r["b_global_id"]}
        s["n"] = len(s["pairs"])
    cpu = rusage.ru_utime + rusage.ru_stime
    return {"seconds": seconds, "peak_rss_mb": rusage.ru_maxrss / 1024, "cpu_seconds": cpu,
            "phases": out["phases"], "sets": out["sets"], "cpus": cpus}


def _wait(proc: subprocess.Popen, timeout: float):
    """Wait for the child and take its own rusage (peak RSS of this child only, not the max over all children)."""
    deadline = time.monotonic() + timeout
    while True:
        pid, status, rusage = os.wait4(proc.pid, os.WNOHANG)
        if pid:
            proc.returncode = os.waitstatus_to_exitcode(status)
            return proc.returncode, rusage
        if time.monotonic() > deadline:
            proc.kill()
        time.sleep(0.02)


def _child(spec_path: Path) -> None:
    """Inside the child: run IfcClash's Clasher and write its raw results with phase times from its own log."""
    import logging

    start = time.perf_counter()
    from ifcclash.ifcclash import Clasher, ClashSettings

    spec = json.loads(Path(spec_path).read_text())
    marks: list[tuple[float, str]] = [(time.perf_counter() - start, "imported")]

    class Marks(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            marks.append((time.perf_counter() - start, record.getMessage()))

    settings = ClashSettings()
    settings.logger = logging.getLogger("ifcclash-bench")
    settings.logger.setLevel(logging.INFO)
    settings.logger.addHandler(Marks())
    clasher = Clasher(settings)
    clasher.clash_sets = [_ifcclash_set(spec["file"], s) for s in spec["sets"]]
    clasher.clash()
    marks.append((time.perf_counter() - start, "done"))
    done = zip(spec["sets"], clasher.clash_sets, strict=True)
    sets = [{**s, "results": list(cs["clashes"].values())} for s, cs in done]
    Path(spec["output"]).write_text(json.dumps({"sets": sets, "phases": _phases(marks)}))


def _ifcclash_set(file: str, s: dict) -> dict:
    def source(selector: str | None) -> dict:
        return {"file": file, "mode": "i", "selector": selector} if selector else {"file": file}

    keys = {"intersection": ("tolerance", "check_all"), "collision": ("allow_touching",),
            "clearance": ("clearance", "check_all")}[s["mode"]]
    out = {"name": s["name"], "mode": s["mode"], "a": [source(s["a_selector"])], **{k: s[k] for k in keys}}
    if s["b_selector"]:
        out["b"] = [source(s["b_selector"])]
    return out


def _phases(marks: list[tuple[float, str]]) -> dict:
    """Seconds per phase from IfcClash's log lines: imports, then per clash set parse, tessellation+tree, clash."""
    phases: dict[str, float] = {"import": round(marks[0][0], 3)}
    last, n = marks[0][0], 1
    names = {"Loading finished": "parse", "Tree finished": "tessellate+tree", "Found clashes": "clash"}
    for t, msg in marks[1:]:
        name = next((v for k, v in names.items() if msg.startswith(k)), None)
        if name:
            key = f"set{n} {name}"
            phases[key] = round(phases.get(key, 0.0) + t - last, 3)
            last, n = t, n + (name == "clash")
    phases["total_in_child"] = round(marks[-1][0], 3)
    return phases


def score(found: set[tuple[str, str]], truth: dict, set_name: str, results: list[dict] | None = None) -> dict:
    """Which planted clashes IfcClash found, per kind, and what it reported that is not a planted clash."""
    clearance = set_name == "gas clearance"
    expected = {(c["a"], c["b"]): c for c in truth["clashes"] if (c["kind"] == "clearance") == clearance}
    controls = {(c["a"], c["b"]): c["kind"] for c in truth["controls"]}
    by_kind: dict[str, dict] = {}
    for pair, c in expected.items():
        k = by_kind.setdefault(c["planted"], {"planted": 0, "found": 0, "missed": []})
        k["planted"] += 1
        if pair in found:
            k["found"] += 1
        else:
            k["missed"].append(pair)
    classes = {}
    reported: dict[tuple[str, str], dict] = {}
    for r in results or []:
        pair = tuple(sorted((r["a_global_id"], r["b_global_id"])))
        classes[pair] = "-".join(sorted((r["a_ifc_class"], r["b_ifc_class"])))
        reported[pair] = r
    for pair, c in expected.items():
        if pair in reported:  # IfcClash's own measure: pierce length, protrusion depth or clearance distance
            by_kind[c["planted"]].setdefault("ifcclash", []).append(
                f"{reported[pair]['type']} {reported[pair]['distance']:.4f}")
    false: dict[str, int] = {}
    for pair in found - set(expected):
        label = controls.get(pair) or classes.get(pair, "?")
        false[label] = false.get(label, 0) + 1
    return {"expected": len(expected), "found": sum(k["found"] for k in by_kind.values()), "by_kind": by_kind,
            "false": false, "n_false": sum(false.values())}


def bench_model(path: Path, truth: dict, *, cpus: int | None = None) -> dict:
    """The benchmark's two clash sets in one cold IfcClash process, scored against the model's planted clashes."""
    sets = []
    for cs in truth["clash_sets"]:
        if cs["mode"] == "hard":
            sets.append(clash_set("intersection", cs["tolerance"], name=cs["name"]))
        else:
            sets.append(clash_set("clearance", clearance=cs["clearance"], a_selector=cs["a"], b_selector=cs["b"],
                                  name=cs["name"]))
    run = run_ifcclash_sets(path, sets, cpus=cpus)
    scores = {s["name"]: score(s["pairs"], truth, s["name"], s["results"]) for s in run["sets"]}
    return {"model": str(path), "n_elements": truth["n_elements"], "seconds": round(run["seconds"], 3),
            "peak_rss_mb": round(run["peak_rss_mb"], 1), "cpu_seconds": round(run["cpu_seconds"], 2),
            "phases": run["phases"], "cpus": cpus, "reported": {s["name"]: s["n"] for s in run["sets"]},
            "scores": scores}


def _print(row: dict) -> None:
    print(f"{row['n_elements']:>6} elements: {row['seconds']:.1f} s wall, {row['peak_rss_mb']:.0f} MB peak, "
          f"{row['cpu_seconds']:.1f} s CPU  phases {row['phases']}")
    for name, s in row["scores"].items():
        kinds = ", ".join(f"{k} {v['found']}/{v['planted']}" for k, v in s["by_kind"].items())
        print(f"    {name}: reported {row['reported'][name]}, planted found {s['found']}/{s['expected']} ({kinds}); "
              f"false {s['n_false']} {s['false']}")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", type=int, nargs="*", default=[2000, 10000], help="generated model sizes")
    parser.add_argument("--model", type=Path, help="an already generated model (its .truth.json beside it)")
    parser.add_argument("--offset", type=float, nargs=2, default=(0.0, 0.0), metavar=("X", "Y"),
                        help="generate the models this far from the origin, metres")
    parser.add_argument("--seed", type=int, default=0, help="which bays of the generated models get the clashes")
    parser.add_argument("--cpus", type=int, default=None, help="pin IfcClash to this many cores (default: all)")
    parser.add_argument("--work", type=Path, default=None, help="where models are written (default: a temp dir)")
    parser.add_argument("--out", type=Path, default=OUT / "ifcclash.json", help="JSON with every figure")
    parser.add_argument("--child", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        _child(args.child)
        return
    from bench.clash_models import generate, truth_path  # not in the child: its imports are part of the timing

    rows = []
    with tempfile.TemporaryDirectory(prefix="clash-bench-") as tmp:
        work = args.work or Path(tmp)
        work.mkdir(parents=True, exist_ok=True)
        if args.model:
            models = [(args.model, json.loads(truth_path(args.model).read_text()))]
        else:
            models = [(work / f"clash_{n}.ifc", n) for n in args.sizes]
        for path, truth in models:
            if isinstance(truth, int):
                truth = generate(path, truth, offset=tuple(args.offset), seed=args.seed)
                print(f"generated {path} ({truth['n_elements']} elements) in {truth['seconds']} s")
            rows.append(bench_model(path, truth, cpus=args.cpus))
            _print(rows[-1])
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(rows, indent=1, default=list))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
