"""kill -9 at many points of ingest, roll-back, derived writes and store creation, and readers during ingests:
no reader ever sees a version `models` does not record, and every store is recovered by the next writer."""

from __future__ import annotations

import json
import multiprocessing
import shutil
import signal
import time
from pathlib import Path

import pytest

from cim.config import default_config
from cim.ingest.run import ingest_file
from cim.qto.run import takeoff
from cim.store import Store
from tests.models import add_wall, new_model, write
from tests.store_harness import CRS, derived_consistent, parcels, reader_loop, violations, write_scenario

POINTS = {  # scenario -> kill points (cim.store.delta.FAULT_ENV)
    "ifc": ["journal", "elements", "relations", "models", "commit"],
    "gis": ["layer", "models", "commit"],
    "derived": ["derived-journal", "quantities", "quantity_summary"],
    "recover": ["recover:elements", "recover:models"],
    "create": ["init:models", "init:quantities"],
}


def _context():
    ctx = multiprocessing.get_context("forkserver")
    ctx.set_forkserver_preload(["tests.store_harness", "cim.ingest.run", "cim.qto.run", "cim.export", "cim.query"])
    return ctx


def _run(ctx, root: Path, scenario: str, files: list[Path], point: str | None) -> int:
    proc = ctx.Process(target=write_scenario, args=(str(root), scenario, [str(f) for f in files], point))
    proc.start()
    proc.join(600)
    return proc.exitcode


@pytest.fixture(scope="module")
def base(tmp_path_factory):
    """A store with model m v1 (taken off) and layer parcels v1 (3 features); the files hold v2."""
    folder = tmp_path_factory.mktemp("harness")
    store = Store(folder / "base", CRS)
    f, ctx = new_model()
    add_wall(f, ctx, name="W1")
    ifc = write(f, folder / "m.ifc")
    layer = parcels(folder / "parcels.geojson", 3)
    for path in (ifc, layer):
        ingest_file(store, default_config(CRS), path)
    takeoff(store, "m")
    add_wall(f, ctx, name="W2", start=(0.0, 3.0, 0.0))
    write(f, ifc)
    parcels(layer, 5)
    journaled = folder / "journaled"  # an ingest killed mid-commit: the journal is there to recover
    shutil.copytree(store.root, journaled)
    assert _run(_context(), journaled, "ifc", [ifc], "relations") == -signal.SIGKILL
    return folder, store.root, journaled, ifc, layer


def test_kill_9_at_every_commit_point_leaves_readable_committed_only_stores(base):
    folder, clean, journaled, ifc, layer = base
    ctx = _context()
    counts = {"kills": 0, "not_reached": 0, "readable": 0, "violations": 0, "recovered": 0}
    found: list[str] = []
    started = time.monotonic()
    for scenario, points in POINTS.items():
        files = {"ifc": [ifc], "gis": [layer], "derived": [ifc]}.get(scenario, [])
        for point in points:
            root = folder / f"{scenario}-{point.replace(':', '-')}"
            if scenario != "create":
                shutil.copytree(journaled if scenario == "recover" else clean, root)
            code = _run(ctx, root, scenario, files, point)
            counts["kills" if code == -signal.SIGKILL else "not_reached"] += 1
            if code != -signal.SIGKILL:
                found.append(f"{scenario}/{point}: not killed (exit {code})")
            if scenario == "create":  # a half-made store: the next creation finishes it
                _run(ctx, root, "create", [], None)
            try:
                bad = violations(root, export_to=root.parent / f"{root.name}-export")
                counts["readable"] += 1
            except Exception as exc:  # noqa: BLE001 - an unreadable store is a finding
                bad = [f"unreadable: {type(exc).__name__}: {exc}"]
            code = _run(ctx, root, "follow-up", [ifc, layer], None)  # recovers, then ingests again
            bad += [f"follow-up exit {code}"] if code else []
            bad += violations(root, readme=False) + derived_consistent(root)
            counts["recovered"] += not bad
            counts["violations"] += len(bad)
            found += [f"{scenario}/{point}: {b}" for b in bad]
    counts["seconds"] = round(time.monotonic() - started)
    print("kill harness:", json.dumps(counts))
    assert not found, found
    assert counts["kills"] == sum(len(p) for p in POINTS.values())


def test_readers_during_ingests_see_only_committed_versions(base, tmp_path):
    folder, clean, _, ifc, layer = base
    root = tmp_path / "store"
    shutil.copytree(clean, root)
    ctx = _context()
    stop = tmp_path / "stop"
    readers = [ctx.Process(target=reader_loop, args=(str(root), str(stop), str(tmp_path / f"r{i}.json")))
               for i in range(2)]
    for proc in readers:
        proc.start()
    f, ictx = new_model()
    for n in range(4, 9):  # each version of parcels and of m has its own row count
        add_wall(f, ictx, name=f"W{n}", start=(0.0, 3.0 * n, 0.0))
        write(f, ifc)
        parcels(layer, n)
        assert _run(ctx, root, "ingest", [ifc, layer], None) == 0
    stop.touch()
    for proc in readers:
        proc.join(600)
    results = [json.loads((tmp_path / f"r{i}.json").read_text()) for i in range(2)]
    print("reader loop:", json.dumps({"reads": sum(r["reads"] for r in results),
                                      "violations": sum(len(r["violations"]) for r in results)}))
    assert [r["violations"] for r in results] == [[], []]
    assert all(r["reads"] >= 1 for r in results)
