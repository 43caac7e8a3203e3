"""The city clash check by tiles, each tile a task: on the Dask cluster when one is in use, else here.

The coordinator (``cim.clash.run.check_city``) holds the city's boxes and hashes (``cim.clash.region.CityIndex``)
and the protection zones; it cuts the plan into tiles (``cim.clash.tiles``) and sends each tile a ``TileJob``. The
task (``clash_tile``) reads only the elements that reach its tile and their meshes, tests the pairs anchored in it
and returns clash rows. Tiles go out through ``cim.workers.process_pool``, the call that hands the ingest's chunks
to a cluster (``cim.cluster``), so a tile runs wherever a chunk would; the coordinator merges the rows and is the
one writer. An incremental check sends only the tiles that a changed element or zone reaches.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from cim.clash.engine import Checker, CheckStats, Zone
from cim.clash.region import EPS_M, CityIndex, load_window
from cim.clash.rows import finding_row
from cim.clash.rules import RuleSet
from cim.clash.source import ModelSource
from cim.clash.tiles import Tile, tiles
from cim.store import Store
from cim.tunnel.chainage import chainage_label

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class TileJob:
    """Everything one tile's task needs, small enough to send to a worker (no element rows, no meshes)."""

    store: Store
    sources: dict[str, ModelSource]
    rules: RuleSet
    tile: Tile
    origin: np.ndarray
    zones: dict[str, list[Zone]]  # only the zones that reach the tile, without their axis loaders
    changed: frozenset[str] | None  # the changed keys that reach the tile; None: a full check
    margin: float  # the largest margin of the rules: how far beyond the tile elements are read


@dataclass
class TileResult:
    rows: dict[str, dict]  # clash_id -> clashes row (no status yet; zone chainages are the coordinator's)
    points: dict[str, tuple[tuple[float, float, float], str]]  # clash_id -> (world point, zone key) of zone clashes
    stats: CheckStats
    elements: int  # elements the task read


@dataclass
class TiledRun:
    rows: dict[str, dict] = field(default_factory=dict)
    stats: CheckStats = field(default_factory=CheckStats)
    tiles: int = 0  # tiles of the grid
    tasks: int = 0  # tiles checked (an incremental check skips the tiles nothing changed in)
    where: str = "local"  # "cluster", "processes" or "local"
    most_elements: int = 0  # the largest number of elements one task read


def clash_tile(job: TileJob) -> TileResult:
    """One tile's task: read what reaches the tile, find the clashes anchored in it."""
    t, m = job.tile, job.margin
    elements = load_window(job.store, job.sources, t.x0 - m, t.y0 - m, t.x1 + m, t.y1 + m)
    checker = Checker(elements, job.zones, job.origin)
    findings = checker.run(job.rules, None if job.changed is None else set(job.changed), tile=job.tile)
    zones = {z.solid.key: z for zs in job.zones.values() for z in zs}
    rows: dict[str, dict] = {}
    points: dict[str, tuple] = {}
    for f in findings:  # as cim.clash.rows.finding_rows: a pair found twice under one rule keeps the first
        row = finding_row(checker, f, zones.get(f.b), job.rules.name)
        if row["clash_id"] not in rows:
            rows[row["clash_id"]] = row
            if f.b in zones:
                points[row["clash_id"]] = (f.point, f.b)
    return TileResult(rows, points, checker.stats, len(elements))


def zone_bounds(zones: dict[str, list[Zone]], origin: np.ndarray) -> list[tuple[str, Zone, np.ndarray]]:
    """(rule, zone, world box) of every zone."""
    return [(rule, z, z.solid.bounds + np.r_[origin, origin]) for rule, zs in zones.items() for z in zs]


def plan_jobs(store: Store, index: CityIndex, zones: dict[str, list[Zone]], origin: np.ndarray, rules: RuleSet,
              size: float, changed: set[str] | None) -> tuple[int, list[TileJob]]:
    """(tiles in the grid, the jobs to run): every tile, or with ``changed`` the tiles a changed key reaches."""
    margin = max((rule.margin for rule in rules.rules), default=0.0)
    placed = zone_bounds(zones, origin)
    boxes = np.vstack([index.bounds, *(b.reshape(1, 6) for _, _, b in placed)]).reshape(-1, 6)
    grid = tiles(boxes, size, margin)
    reach = margin + EPS_M
    changed_in: dict[tuple[int, int], set[str]] | None = None
    if changed is not None:
        changed_in = {}
        by_key = {k: i for i, k in enumerate(index.keys)}
        changed_boxes = [(k, index.bounds[by_key[k]]) for k in changed if k in by_key]
        changed_boxes += [(z.solid.key, b) for _, z, b in placed if z.solid.key in changed]
        for key, box in changed_boxes:
            for cell in _cells(box, size, reach):
                changed_in.setdefault(cell, set()).add(key)
    store = _portable(store)
    sources = {m: dataclasses.replace(src, store=store) for m, src in index.sources.items()}
    jobs = []
    for tile in grid:
        cell = (round(tile.x0 / size), round(tile.y0 / size))
        keys = None if changed_in is None else changed_in.get(cell)
        if changed_in is not None and not keys:
            continue
        near = {}
        for rule, zone, box in placed:
            if tile.reaches(box.reshape(1, 6), reach)[0]:
                near.setdefault(rule, []).append(dataclasses.replace(zone, axis_loader=None))
        jobs.append(TileJob(store, sources, rules, tile, origin, near,
                            None if keys is None else frozenset(keys), margin))
    return len(grid), jobs


def _portable(store: Store) -> Store:
    """The store as a worker in another folder (or on another machine sharing it) opens it: by absolute path."""
    root = Path(store.root)
    return store if root.is_absolute() else Store(root.resolve(), store.crs, create=False)


def _cells(box: np.ndarray, size: float, reach: float) -> list[tuple[int, int]]:
    i0, j0 = (int(v) for v in np.floor((box[:2] - reach) / size))
    i1, j1 = (int(v) for v in np.floor((box[3:5] + reach) / size))
    return [(i, j) for i in range(i0, i1 + 1) for j in range(j0, j1 + 1)]


def run_jobs(jobs: list[TileJob], workers: int = 1,
             progress: Callable[[str, int, int], None] | None = None) -> tuple[list[TileResult], str]:
    """Every job's result, and where they ran: the cluster in use (``cim.cluster``), ``workers`` local
    processes, or one after the other in this process."""
    from cim.cluster import cluster_pool
    from cim.workers import process_pool

    pool = cluster_pool()
    where = "cluster" if pool is not None else "processes" if workers > 1 and len(jobs) > 1 else "local"
    if where == "local":
        results = []
        for n, job in enumerate(jobs):
            results.append(clash_tile(job))
            if progress:
                progress("tiles", n + 1, len(jobs))
        return results, where
    # forkserver, not fork: the Delta Lake runtime this process already started does not survive a fork
    with pool if pool is not None else process_pool(min(workers, len(jobs)), start_method="forkserver") as tasks:
        futures = [tasks.submit(clash_tile, job) for job in jobs]
        results = []
        for n, future in enumerate(futures):
            results.append(future.result())
            if progress:
                progress("tiles", n + 1, len(jobs))
    return results, where


def merge_results(results: list[TileResult], zones: dict[str, list[Zone]]) -> TiledRun:
    """The tiles' rows in one table (each pair is anchored in one tile: no clash comes twice), their counts
    summed, and the chainage of tunnel-zone clashes (the tunnel's axis is read here once, not per tile)."""
    run = TiledRun()
    by_key = {z.solid.key: z for zs in zones.values() for z in zs}
    for result in results:
        for cid, row in result.rows.items():
            if cid in run.rows:  # never, by the anchor rule: say so loudly rather than drop a row
                log.warning("clash %s came from two tiles; the first is kept", cid)
                continue
            run.rows[cid] = row
            if cid in result.points:
                (x, y, _), key = result.points[cid]
                zone = by_key.get(key)
                if zone is not None and zone.axis is not None:
                    row["chainage"] = chainage_label(zone.axis.project(x, y)[0])
        s = result.stats
        run.stats.candidates += s.candidates
        run.stats.tested += s.tested
        run.stats.suppressed += s.suppressed
        for name, n in s.per_rule.items():
            run.stats.per_rule[name] = run.stats.per_rule.get(name, 0) + n
        run.most_elements = max(run.most_elements, result.elements)
    return run
