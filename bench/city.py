"""A city-sized run: a synthetic city ingested on a Dask cluster, a night with 2 models changed, clash, queries.

    python -m bench.city [--models 200 --elements 1000000 | --scale tiny|small|medium|full] [--seed 7] [--no-clash]

In one run, on this machine (figures in bench/out/city.json and bench/out/city.md):
1. the city (``bench.city_gen``, cached under bench/out/city/) is ingested by ``cim ingest --cluster`` into a
   fresh store with a ``distributed.LocalCluster`` of 1 worker process, then into another with 2 (1 thread
   each): wall time, elements per second, the scaling between the two, each worker's peak RSS (asked from
   the workers), the ingest process's own peak RSS, and the store's size on disk;
2. the city clash check, full (``cim.clash.run.check_city(store, rules, full=True)``, in a process of its
   own for its peak RSS; ``tile_size`` is passed when the function takes it);
3. a night: 1% of the elements of 2 models moved, the whole city folder ingested again on the 2-worker
   cluster (unchanged files skipped), then the incremental clash check;
4. ``cim query`` in fresh processes (median of 3): footprints x parcels (a spatial join) and an attribute
   aggregate over every element.
Each figure is recorded with its target and whether it is met; nothing is asserted.
"""

from __future__ import annotations

import argparse
import inspect
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench.city_gen import CACHE, CITY_CRS, generate_city

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "bench" / "out"
SCALES = {"tiny": (3, 300), "small": (10, 20_000), "medium": (40, 100_000), "full": (200, 1_000_000)}
TARGETS = {"scaling_min": 1.8, "worker_peak_mb_max": 2048, "night_slack_s": 10.0, "query_s_max": 2.0}
CHANGED_MODELS, CHANGED_SHARE = 2, 0.01
QUERIES = {
    "spatial_join": "SELECT p.parcel_id, p.land_use, count(*) AS n FROM elements e JOIN parcels p "
                    "ON ST_Intersects(e.footprint, p.geometry) GROUP BY ALL ORDER BY p.parcel_id",
    "aggregate": "SELECT model_id, ifc_class, count(*) AS n, sum((xmax - xmin) * (ymax - ymin) * (zmax - zmin)) "
                 "AS bbox_m3, max(zmax) AS top_m FROM elements GROUP BY ALL ORDER BY model_id, ifc_class",
}


def measured(argv: list[str]) -> dict:
    """Wall time, exit code, output and peak RSS (MB) of one child process, reaped with ``os.wait4`` for its usage."""
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        started = time.perf_counter()
        proc = subprocess.Popen(argv, cwd=ROOT, stdout=out, stderr=err, text=True)
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - started
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        return {"wall_s": round(wall, 2), "rc": proc.returncode, "stdout": out.read(), "stderr": err.read(),
                "peak_rss_mb": round(usage.ru_maxrss / 1024, 1), "cpu_s": round(usage.ru_utime + usage.ru_stime, 2)}


def tree_bytes(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file() and not p.is_symlink())


def delta_files(store: Path) -> dict:
    """Per table: data files and Delta log entries (what a reader lists and replays grows with the commits)."""
    out = {}
    for table in ("elements", "meshes", "models"):
        folder = store / table
        if folder.is_dir():
            out[table] = {"parquet_files": sum(1 for _ in folder.rglob("*.parquet")),
                          "log_entries": sum(1 for _ in (folder / "_delta_log").glob("*.json"))}
    return out


def worker_usage() -> tuple[float, float, float]:
    """Run inside a Dask worker: its own peak RSS so far (MB), the largest peak of the children it forked to read
    one file each (``cim.isolated``; MB), and the CPU seconds (user + system) of the worker and those children."""
    own = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime
    return round(own.ru_maxrss / 1024, 1), round(children.ru_maxrss / 1024, 1), round(cpu, 1)


def start_cluster(n_workers: int):
    from distributed import Client, LocalCluster

    cluster = LocalCluster(n_workers=n_workers, threads_per_worker=1, processes=True, host="127.0.0.1",
                           scheduler_port=0, dashboard_address=None)
    return cluster, Client(cluster)


def cim(*args: str) -> list[str]:
    exe = shutil.which("cim", path=str(Path(sys.executable).parent))
    return [exe, *args] if exe else [sys.executable, "-m", "cim.cli", *args]


def ingest(inbox: Path, store: Path, address: str) -> dict:
    files = sorted(str(p) for p in inbox.glob("*.ifc")) + [str(inbox / "parcels.gpkg")]
    run = measured(cim("ingest", *files, "--store", str(store), "--crs", CITY_CRS, "--phase", "manage",
                       "--cluster", address, "--no-checks"))
    lines = (run["stdout"] + run["stderr"]).splitlines()
    return {"wall_s": run["wall_s"], "rc": run["rc"], "ingest_process_peak_rss_mb": run["peak_rss_mb"],
            "ingest_process_cpu_s": run["cpu_s"],
            "problems": [ln for ln in lines if "quarantin" in ln.lower() or "error" in ln.lower()][:10]}


def full_ingest(inbox: Path, store: Path, n_workers: int, n_elements: int, keep: bool = False) -> tuple[dict, object]:
    """A from-scratch ingest of the city on a fresh cluster of ``n_workers``; the cluster stays up when ``keep``."""
    shutil.rmtree(store, ignore_errors=True)
    cluster, client = start_cluster(n_workers)
    try:
        row = ingest(inbox, store, cluster.scheduler_address)
        usage = client.run(worker_usage)
    except BaseException:
        client.close()
        cluster.close()
        raise
    row.update(workers=n_workers, elements_per_s=round(n_elements / row["wall_s"], 1),
               worker_peak_rss_mb=sorted(u[0] for u in usage.values()),
               file_process_peak_rss_mb=max(u[1] for u in usage.values()),
               workers_cpu_s=round(sum(u[2] for u in usage.values()), 1), store_bytes=tree_bytes(store))
    if not keep:
        client.close()
        cluster.close()
        return row, None
    return row, (cluster, client)


def stored_counts(store: Path) -> dict:
    """What the store shows as current: elements (with a footprint), models and parcels, through ``cim query``."""
    sql = ("SELECT (SELECT count(*) FROM elements), (SELECT count(*) FROM elements WHERE footprint IS NOT NULL), "
           "(SELECT count(*) FROM current_models), (SELECT count(*) FROM parcels)")
    run = measured(cim("query", sql, "--store", str(store), "--format", "csv"))
    if run["rc"] != 0:
        return {"error": run["stderr"].strip()[:300]}
    values = [int(v) for v in run["stdout"].strip().splitlines()[-1].split(",")]
    return dict(zip(("elements", "elements_with_footprint", "models", "parcels"), values, strict=True))


def clash(store: Path, full: bool, tile_size: float | None) -> dict:
    argv = [sys.executable, "-m", "bench.city", "clash", str(store)] + (["--full"] if full else [])
    if tile_size:
        argv += ["--tile-size", str(tile_size)]
    run = measured(argv)
    if run["rc"] != 0:
        return {"rc": run["rc"], "error": run["stderr"].strip().splitlines()[-3:], "wall_s": run["wall_s"]}
    summary = json.loads(run["stdout"].strip().splitlines()[-1])
    return {"wall_s": run["wall_s"], "peak_rss_mb": run["peak_rss_mb"], "cpu_s": run["cpu_s"], **summary}


def clash_child(store: str, full: bool, tile_size: float | None) -> None:
    """The check itself, in its own process (``python -m bench.city clash STORE``): one JSON line."""
    from cim.clash.rules import load_rules
    from cim.clash.run import check_city
    from cim.store import Store

    kwargs = {"full": full}
    if tile_size and "tile_size" in inspect.signature(check_city).parameters:
        kwargs["tile_size"] = tile_size
    summary = check_city(Store(store, CITY_CRS), load_rules(), **kwargs)
    keep = ("elements", "changed", "candidates", "tested", "found", "statuses", "incremental", "seconds")
    print(json.dumps({"tiled": "tile_size" in kwargs, **{k: summary.get(k) for k in keep}}))


def night(inbox: Path, store: Path, cluster_client, specs: list[dict], full_s: float, n_elements: int) -> dict:
    """Move 1% of the elements of 2 models (real copies: the cache stays as generated), ingest the folder again."""
    from bench.revision import move_share

    picked = [specs[0], specs[len(specs) // 2]] if len(specs) > 1 else specs[:1]
    moved = 0
    for spec in picked:
        path = inbox / f"{spec['model_id']}.ifc"
        data = path.read_bytes()
        path.unlink()  # a hard link into the cache until now
        path.write_bytes(data)
        moved += move_share(path, CHANGED_SHARE)
    cluster, _ = cluster_client
    row = ingest(inbox, store, cluster.scheduler_address)
    share_elements = sum(s["elements"] for s in picked) / n_elements
    target = len(picked) / len(specs) * full_s + TARGETS["night_slack_s"]
    row.update(models_changed=[s["model_id"] for s in picked], elements_moved=moved,
               target_s=round(target, 2), target_met=row["wall_s"] <= target,
               element_share_target_s=round(share_elements * full_s + TARGETS["night_slack_s"], 2))
    return row


def timed_query(store: Path, sql: str, repeat: int = 3) -> dict:
    runs = [measured(cim("query", sql, "--store", str(store), "--format", "csv")) for _ in range(repeat)]
    if any(r["rc"] != 0 for r in runs):
        bad = next(r for r in runs if r["rc"] != 0)
        return {"rc": bad["rc"], "error": bad["stderr"].strip()[:300]}
    rows = runs[0]["stdout"].strip().splitlines()[1:]
    walls = [r["wall_s"] for r in runs]
    median = statistics.median(walls)
    return {"median_wall_s": median, "walls_s": walls, "rows": len(rows),
            "median_cpu_s": statistics.median(r["cpu_s"] for r in runs),
            "peak_rss_mb": max(r["peak_rss_mb"] for r in runs),
            "target_met": median <= TARGETS["query_s_max"], "first_rows": rows[:3], "_rows": rows}


def link_inbox(city: Path, inbox: Path) -> None:
    """The run's inbox: hard links to the cached files (the night replaces two of them with changed copies)."""
    shutil.rmtree(inbox, ignore_errors=True)
    inbox.mkdir(parents=True)
    for src in sorted((city / "models").glob("*.ifc")) + [city / "parcels.gpkg"]:
        os.link(src, inbox / src.name)


def run(n_models: int, n_elements: int, seed: int, tile_size: float | None, workers: list[int],
        with_clash: bool = True) -> dict:
    started = time.perf_counter()
    city = generate_city(n_models, n_elements, seed)
    meta = json.loads((city / "manifest.json").read_text())
    work = CACHE / f"run_{city.name}"
    inbox = work / "inbox"
    link_inbox(city, inbox)
    result: dict = {"scale": {"models": n_models, "elements": n_elements, "seed": seed, "ifc_bytes": meta["bytes"],
                              "generated_in_s": meta["seconds"], "parcels": meta["parcels"]},
                    "targets": TARGETS, "machine": {"cpus": os.cpu_count(), "load_at_start": os.getloadavg()}}
    save(result)
    ingests = {}
    kept = None
    for n in workers:
        keep = n == max(workers)
        row, cluster_client = full_ingest(inbox, work / f"store_{n}w", n, n_elements, keep=keep)
        kept = cluster_client or kept
        ingests[n] = row
        print(f"full ingest, {n} worker(s): {json.dumps(row)}", flush=True)
        result["ingest"] = {str(k): v for k, v in ingests.items()}
        save(result)
    store = work / f"store_{max(workers)}w"
    try:
        result["stored"] = {**stored_counts(store), "delta_files": delta_files(store)}
        if 1 in ingests and 2 in ingests:
            scaling = ingests[1]["wall_s"] / ingests[2]["wall_s"]
            result["scaling"] = {"ratio": round(scaling, 2), "target_met": scaling >= TARGETS["scaling_min"]}
        peak = max(max(r["worker_peak_rss_mb"]) + r.get("file_process_peak_rss_mb", 0.0) for r in ingests.values())
        result["worker_peak"] = {"mb": peak, "target_met": peak <= TARGETS["worker_peak_mb_max"]}
        if with_clash:
            result["clash_full"] = clash(store, True, tile_size)
            save(result)
        full_s = ingests[max(workers)]["wall_s"]
        result["night"] = night(inbox, store, kept, meta["specs"], full_s, n_elements)
        save(result)
    finally:
        if kept:
            kept[1].close()
            kept[0].close()
    if with_clash:
        result["clash_incremental"] = clash(store, False, tile_size)
        save(result)
    result["queries"] = {name: timed_query(store, sql) for name, sql in QUERIES.items()}
    join_rows = result["queries"]["spatial_join"].get("_rows", [])
    result["queries"]["spatial_join"]["elements_matched"] = sum(int(r.rsplit(",", 1)[1]) for r in join_rows)
    for q in result["queries"].values():
        q.pop("_rows", None)
    result["seconds"] = round(time.perf_counter() - started, 1)
    save(result)
    return result


def save(result: dict) -> None:
    """Written after every step: a long run that dies keeps what it measured."""
    OUT.mkdir(exist_ok=True)
    (OUT / "city.json").write_text(json.dumps(result, indent=1, default=str))
    (OUT / "city.md").write_text(table(result))


def table(r: dict) -> str:
    """The run as a Markdown table (figure, value, target, met)."""
    s = r["scale"]
    rows = [f"Scale: {s['models']} models, {s['elements']:,} elements ({s['ifc_bytes'] / 1e6:.0f} MB of IFC), "
            f"{s['parcels']} parcels", "", "| figure | value | target | met |", "|---|---|---|---|"]

    def add(name, value, target="", met=""):
        rows.append(f"| {name} | {value} | {target} | {met} |")

    for n, i in sorted(r.get("ingest", {}).items()):
        add(f"full ingest, {n} worker(s)", f"{i['wall_s']} s, {i['elements_per_s']} elements/s (exit {i['rc']}), "
            f"workers' CPU {i.get('workers_cpu_s')} s, ingest process CPU {i.get('ingest_process_cpu_s')} s")
        child = i.get("file_process_peak_rss_mb", 0.0)
        add(f"peak RSS per worker, {n} worker(s): the worker + its largest per-file process (worst case, both "
            "at their peaks at once)", f"{', '.join(str(m) for m in i['worker_peak_rss_mb'])} + {child} MB",
            f"<= {TARGETS['worker_peak_mb_max']} MB", all(m + child <= TARGETS["worker_peak_mb_max"]
                                                          for m in i["worker_peak_rss_mb"]))
        add(f"peak RSS of the ingest process, {n} worker(s)", f"{i['ingest_process_peak_rss_mb']} MB")
        add(f"store on disk, {n} worker(s)", f"{i['store_bytes'] / 1e6:.1f} MB "
            f"({i['store_bytes'] / s['elements']:.0f} bytes per element)")
    if "scaling" in r:
        add("scaling 1 -> 2 workers", f"{r['scaling']['ratio']}x", f">= {TARGETS['scaling_min']}x",
            r["scaling"]["target_met"])
    for key, label in (("clash_full", "clash check, full"), ("clash_incremental", "clash check, incremental")):
        c = r.get(key)
        if c:
            value = (f"{c['wall_s']} s, CPU {c.get('cpu_s')} s, peak RSS {c['peak_rss_mb']} MB, {c.get('found')} "
                     f"clashes ({c.get('tested')} pairs tested), tiled: "
                     f"{c.get('tiled')}" if "peak_rss_mb" in c else f"failed: {c.get('error')}")
            add(label, value)
    if "night" in r:
        n = r["night"]
        add(f"night: {', '.join(n['models_changed'])} changed ({n['elements_moved']} elements moved)",
            f"{n['wall_s']} s (exit {n['rc']}), ingest process CPU {n.get('ingest_process_cpu_s')} s",
            f"<= {n['target_s']} s", n["target_met"])
    for name, q in r.get("queries", {}).items():
        value = (f"{q['median_wall_s']} s median (CPU {q.get('median_cpu_s')} s), {q['rows']} rows"
                 if "median_wall_s" in q else f"failed: {q['error']}")
        add(f"cim query, {name}", value, f"<= {TARGETS['query_s_max']} s", q.get("target_met", False))
    return "\n".join(rows) + "\n"


def main() -> None:
    if sys.argv[1:2] == ["clash"]:
        parser = argparse.ArgumentParser(prog="bench.city clash")
        parser.add_argument("store")
        parser.add_argument("--full", action="store_true")
        parser.add_argument("--tile-size", type=float)
        args = parser.parse_args(sys.argv[2:])
        clash_child(args.store, args.full, args.tile_size)
        return
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", type=int)
    parser.add_argument("--elements", type=int)
    parser.add_argument("--scale", choices=sorted(SCALES), help="models and elements in one word (default: full)")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--tile-size", type=float, default=200.0, help="m; used when check_city takes tile_size")
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2], help="cluster sizes to ingest with")
    parser.add_argument("--no-clash", action="store_true", help="skip the clash checks (step 2 and the night's)")
    args = parser.parse_args()
    models, elements = SCALES[args.scale or "full"]
    result = run(args.models or models, args.elements or elements, args.seed, args.tile_size, args.workers,
                 not args.no_clash)
    print(table(result))


if __name__ == "__main__":
    main()
