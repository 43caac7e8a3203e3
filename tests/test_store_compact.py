"""Compaction keeps a store with many commits quick to read, and changes no row of any version."""

from __future__ import annotations

from itertools import pairwise

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


def test_compacted_files_keep_row_groups_small_enough_to_read_one_version_without_the_others(tmp_path, monkeypatch):
    import pyarrow.parquet as pq

    import cim.store.compact

    monkeypatch.setattr(cim.store.compact, "ROW_GROUP_ROWS", 2)
    store = _versions(tmp_path, 6)
    before = store.read("meshes").sort_by("version")
    compact(store, min_files=3)
    (path,) = [u.removeprefix("file://") for u in open_table(store.root / "meshes").file_uris()]
    meta = pq.ParquetFile(path).metadata
    assert meta.num_rows == before.num_rows and meta.num_row_groups == -(-meta.num_rows // 2)
    column = meta.schema.to_arrow_schema().get_field_index("version")
    spans = [(meta.row_group(i).column(column).statistics.min, meta.row_group(i).column(column).statistics.max)
             for i in range(meta.num_row_groups)]
    ordered = sorted(spans)  # the files' rows kept together: no two groups hold interleaved versions
    assert all(a[1] < b[0] for a, b in pairwise(ordered))
    assert all("RLE_DICTIONARY" not in meta.row_group(i).column(0).encodings for i in range(meta.num_row_groups))
    assert store.read("meshes").sort_by("version").equals(before)


def test_a_long_run_is_compacted_as_it_goes_and_every_version_still_reads_the_same(tmp_path, monkeypatch):
    import cim.store.compact

    monkeypatch.setattr(cim.store.compact, "RUN_FILES", 3)
    store = _versions(tmp_path, 2)
    assert _files(store, "models") == 2  # below RUN_FILES: left as it is
    before = {t: store.read(t).sort_by("version") for t in ("elements", "meshes")}
    monkeypatch.setattr(cim.store.compact, "MIN_FILES", 3)  # the tables have 3 small files after the third
    f, ctx = new_model()
    add_wall(f, ctx, name="W", start=(7.0, 0.0, 0.0))
    outcome = ingest_file(store, default_config(CRS, "plan"), write(f, tmp_path / "m.ifc"))
    assert outcome.versions == [3]
    assert _files(store, "models") == 1 and _files(store, "elements") == 1  # compacted right after the commit
    for table, rows in before.items():
        assert store.read(table, filters=[("version", "<", 3)]).sort_by("version").equals(rows)
    assert sorted(store.read("models")["version"].to_pylist()) == [1, 2, 3]


def test_a_file_at_the_target_size_is_not_rewritten_by_a_later_compaction(tmp_path, monkeypatch):
    import cim.store.compact

    store = _versions(tmp_path, 3)
    compact(store, min_files=2)
    (merged,) = open_table(store.root / "elements").file_uris()
    for i in range(2):  # two more versions: two small files beside the merged one
        f, ctx = new_model()
        add_wall(f, ctx, name="W", start=(20.0 + i, 0.0, 0.0))
        assert ingest_file(store, default_config(CRS, "plan"), write(f, tmp_path / "m.ifc")).action == "ingested"
    sizes = dict(zip(open_table(store.root / "elements").file_uris(), open_table(store.root / "elements")
                     .get_add_actions(flatten=True).column("size_bytes").to_pylist(), strict=True))
    monkeypatch.setattr(cim.store.compact, "TARGET_FILE_BYTES", sizes[merged])  # the others are under it
    assert all(size < sizes[merged] for uri, size in sizes.items() if uri != merged)
    compact(store, min_files=2)
    assert merged in open_table(store.root / "elements").file_uris()
    assert sorted(set(store.read("elements")["version"].to_pylist())) == [1, 2, 3, 4, 5]
