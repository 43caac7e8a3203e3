"""`cim query` start-to-answer time against bare DuckDB on the same Delta table, in the same run.

Run: .venv/bin/python -m bench.query [--store cim-data] [--repeat 7] [--cim PATH]
(the store `make run` builds; ``--cim`` times another `cim` executable too, e.g. an older checkout's).

Both sides are fresh processes, as a user runs them: ``cim query "SELECT count(*) FROM elements"``
(checks the SQL, opens the store, binds the views over Arrow datasets, loads spatial, prints a table)
and a bare ``python -c`` that connects to DuckDB, loads the delta extension and counts
``delta_scan('<store>/elements')``. Wall times are medians over ``--repeat`` runs, interleaved so that
machine load hits both alike; CPU seconds (user + system of the child) are reported too, as they
depend less on what else the machine is doing. Figures go to bench/out/query.json.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import re
import resource
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "bench" / "out" / "query.json"
SQL = "SELECT count(*) FROM elements"
BARE = """
import sys, duckdb, duckdb_extensions
duckdb_extensions.import_extension("delta")
con = duckdb.connect()
con.execute("LOAD delta")
print(con.execute("SELECT count(*) FROM delta_scan(?)", [sys.argv[1]]).fetchone()[0])
"""


def timed(argv: list[str]) -> tuple[float, float, str]:
    """(wall seconds, CPU seconds, stdout) of one child process; a failure stops the benchmark."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    done = subprocess.run(argv, capture_output=True, text=True, cwd=ROOT, check=False)
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode != 0:
        sys.exit(f"bench.query: {' '.join(argv[:2])} failed ({done.returncode}): {done.stderr.strip()[:300]}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu, done.stdout


def _precompiled() -> bool:
    """Whether pandas ships compiled bytecode here (`make install` compiles it): without it every start
    recompiles pandas and pyarrow's Python when bytecode is not written back (PYTHONDONTWRITEBYTECODE)."""
    spec = importlib.util.find_spec("pandas")
    return bool(spec and spec.origin and any((Path(spec.origin).parent / "__pycache__").glob("*.pyc")))


def summary(runs: list[tuple[float, float, str]]) -> dict:
    walls, cpus = [r[0] for r in runs], [r[1] for r in runs]
    return {"median_wall_s": round(statistics.median(walls), 3), "min_wall_s": round(min(walls), 3),
            "max_wall_s": round(max(walls), 3), "median_cpu_s": round(statistics.median(cpus), 3),
            "answer": int(re.findall(r"\d+", runs[0][2])[-1])}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--store", type=Path, default=ROOT / "cim-data")
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--cim", type=Path, action="append", default=[],
                        help="another cim executable to time alongside this checkout's")
    args = parser.parse_args()
    store = args.store.resolve()
    if not (store / "elements" / "_delta_log").is_dir():
        sys.exit(f"bench.query: {store} has no elements table; run `make run` first")
    here = shutil.which("cim", path=str(Path(sys.executable).parent)) or "cim"
    commands = {"cim query": [here, "query", "--store", str(store), SQL],
                "bare duckdb": [sys.executable, "-c", BARE, str(store / "elements")]}
    for extra in args.cim:
        commands[f"cim query ({extra})"] = [str(extra), "query", "--store", str(store), SQL]
    runs: dict[str, list] = {name: [] for name in commands}
    for argv in commands.values():  # warm-up: file cache, extension install
        timed(argv)
    for _ in range(args.repeat):
        for name, argv in commands.items():
            runs[name].append(timed(argv))
    figures = {"sql": SQL, "store": str(store), "repeat": args.repeat, "cpus": os.cpu_count(),
               "load_average_1m": round(os.getloadavg()[0], 2),
               "dependencies_precompiled": _precompiled(),
               "results": {name: summary(r) for name, r in runs.items()}}
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps(figures, indent=1) + "\n")
    for name, fig in figures["results"].items():
        print(f"{name:<28} median {fig['median_wall_s']:.2f} s wall (min {fig['min_wall_s']:.2f}, max "
              f"{fig['max_wall_s']:.2f}), {fig['median_cpu_s']:.2f} s CPU; answer {fig['answer']}")
    print(f"load average {figures['load_average_1m']} on {figures['cpus']} cores; figures in {OUT.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
