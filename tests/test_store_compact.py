"""Compaction keeps a store with many commits quick to read, and changes no row of any version."""

from __future__ import annotations

import pyarrow.compute as pc

from cim.config import default_config
from cim.ingest.run import ingest_file
from cim.store import Store
from cim.store.compact import compact
from cim.store.objects import open_table
from tests.models import add_wall, new_model, write

CRS = "EPSG:4549"


def _versions(tmp_path, n: int) -> Store:
    """A store holding ``n`` versions of one small model (a wall moved each time): n commits."""
    store = Store(tmp_path / "store", CRS)
    cfg = default_config(CRS, "plan")
    for i in range(n):
        f, ctx = new_model()
        add_wall(f, ctx, name="W", start=(float(i), 0.0, 0.0))
        path = write(f, tmp_path / "m.ifc")
        assert ingest_file(store, cfg, path).action == "ingested"
    return store


def _files(store: Store, table: str) -> int:
    return len(open_table(store.root / table).file_uris())


def test_compacting_a_store_merges_each_tables_files_and_every_version_reads_the_same(tmp_path):
    store = _versions(tmp_path, 4)
    before = {t: store.read(t).sort_by("version") for t in ("elements", "meshes", "models")}
    first = store.read("elements", filters=[("version", "=", 1)])
    assert _files(store, "models") == 4
    done = {c.table: c for c in compact(store, min_files=3)}
    assert {"elements", "meshes", "models"} <= set(done)
    assert done["models"].files_before == 4 and done["models"].files_after == 1
    assert _files(store, "models") == 1 and _files(store, "elements") == 1
    for table, rows in before.items():
        assert store.read(table).sort_by("version").equals(rows)
    assert store.read("elements", filters=[("version", "=", 1)]).equals(first)
    latest = store.read_current("elements")
    assert pc.unique(latest["version"]).to_pylist() == [4]


def test_a_table_with_fewer_files_than_the_threshold_is_left_as_it_is(tmp_path):
    store = _versions(tmp_path, 2)
    version = open_table(store.root / "models").version()
    assert compact(store, min_files=3) == []
    assert open_table(store.root / "models").version() == version


def test_a_store_compacted_then_written_again_keeps_every_model_version(tmp_path):
    store = _versions(tmp_path, 3)
    compact(store, min_files=2)
    f, ctx = new_model()
    add_wall(f, ctx, name="W", start=(9.0, 0.0, 0.0))
    outcome = ingest_file(store, default_config(CRS, "plan"), write(f, tmp_path / "m.ifc"))
    assert outcome.versions == [4]
    assert sorted(store.read("models")["version"].to_pylist()) == [1, 2, 3, 4]
