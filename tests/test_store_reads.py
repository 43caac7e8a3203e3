"""What a read of a versioned table shows (committed versions only, the newest of each model for `read_current`),
and that the store's tables kept open per thread always show the newest commit, also one made by another process or
after a table was removed and made again."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys

import pyarrow as pa
import pyarrow.compute as pc
from deltalake import DeltaTable

from cim.ingest.same_content import next_record
from cim.store import ModelCommit, Store
from cim.store.objects import write_table
from cim.store.opened import held, newest_version
from cim.store.schema import with_version
from tests.models import one_wall_store

TABLES = ("elements", "meshes", "buildings", "relations")


def _second_version(store: Store) -> int:
    tables = {t: store.read_model(t, "m", 1).drop_columns(["model_id", "version"]) for t in TABLES}
    record = next_record(store.latest("m"), sha256="0" * 64, content_sha256="1" * 64, size_bytes=1)
    return store.commit(ModelCommit(model_id="m", record=record, tables=tables))


def test_rows_of_a_version_the_models_table_does_not_record_are_never_read(tmp_path):
    store = one_wall_store(tmp_path, "m.ifc")
    stray = with_version(store.read_model("elements", "m", 1).drop_columns(["model_id", "version"]), "m", 7)
    write_table(store.root / "elements", stray, mode="append")  # a writer killed before its models row
    assert store.read("elements").num_rows == stray.num_rows
    assert set(store.read("elements")["version"].to_pylist()) == {1}
    assert store.read("elements", filters=[("version", "=", 7)]).num_rows == 0


def test_every_committed_version_is_read_and_read_current_shows_only_the_newest(tmp_path):
    store = one_wall_store(tmp_path, "m.ifc")
    assert _second_version(store) == 2
    one = store.read_model("elements", "m", 1).num_rows
    everything = store.read("elements")
    assert everything.num_rows == 2 * one
    assert sorted(set(everything["version"].to_pylist())) == [1, 2]
    current = store.read_current("elements")
    assert current.num_rows == one and set(current["version"].to_pylist()) == {2}


def test_a_table_read_again_shows_a_commit_made_by_another_process(tmp_path):
    store = one_wall_store(tmp_path, "m.ifc")
    before = store.read("models").num_rows
    script = ("import sys; from tests.test_store_reads import _second_version; from cim.store import Store; "
              f"_second_version(Store({str(store.root)!r}, create=False))")
    subprocess.run([sys.executable, "-c", script], check=True, cwd=os.getcwd())
    assert store.read("models").num_rows == before + 1
    assert store.latest("m")["version"] == 2


def test_a_table_removed_and_made_again_is_opened_afresh(tmp_path):
    path = tmp_path / "t"
    write_table(path, pa.table({"a": [1, 2, 3]}))
    write_table(path, pa.table({"a": [4]}), mode="append")
    assert newest_version(path) == 1
    shutil.rmtree(path)
    write_table(path, pa.table({"a": [9]}))
    assert newest_version(path) == 0
    with held(path) as table:
        assert pc.sum(table.to_pyarrow_dataset().to_table()["a"]).as_py() == 9


def test_a_table_whose_first_log_entry_was_cleaned_up_still_shows_each_new_commit(tmp_path):
    path = tmp_path / "t"
    write_table(path, pa.table({"a": [1]}))
    write_table(path, pa.table({"a": [2]}), mode="append")
    DeltaTable(str(path)).create_checkpoint()
    (path / "_delta_log" / ("0" * 20 + ".json")).unlink()  # the log's cleanup after a checkpoint
    assert newest_version(path) == 1
    write_table(path, pa.table({"a": [3]}), mode="append")
    assert newest_version(path) == 2


def test_a_store_restored_from_a_copy_at_its_path_is_read_as_the_copy(tmp_path):
    store = one_wall_store(tmp_path, "m.ifc")
    backup = tmp_path / "backup"
    shutil.copytree(store.root, backup)  # a backup of version 1 (copytree keeps the files' times)
    assert _second_version(store) == 2 and store.latest("m")["version"] == 2
    shutil.rmtree(store.root)
    shutil.copytree(backup, store.root)  # restored while this process holds the tables open
    assert store.latest("m")["version"] == 1
    assert set(store.read("elements")["version"].to_pylist()) == {1}
    assert _second_version(store) == 2  # and written to as the restored store


def test_the_models_a_store_read_before_are_those_a_new_store_reads_after_commits_and_a_roll_back(tmp_path):
    from cim.store.objects import open_table

    hostile = tmp_path / "it's a \"city\" 城市"  # the log names files by %-encoded URI
    hostile.mkdir()
    store = one_wall_store(hostile, "m.ifc")
    assert store.latest("m")["version"] == 1
    before_second = open_table(store.root / "models").version()
    assert _second_version(store) == 2
    assert _second_version(store) == 2  # the same input again: unchanged, nothing written
    fresh = Store(store.root, create=False)
    assert store.latest("m")["version"] == fresh.latest("m")["version"] == 2
    assert store.current_models().to_pylist() == fresh.current_models().to_pylist()
    open_table(store.root / "models").restore(before_second)  # another process rolls the second version back
    assert store.latest("m")["version"] == 1
    assert store.read("models").num_rows == store.current_models().num_rows == 1


def test_a_store_folder_whose_path_holds_a_percent_escape_is_refused_in_one_line_before_anything_is_written(tmp_path):
    import pytest

    from cim.errors import StoreError

    folder = tmp_path / "city 100%41"
    with pytest.raises(StoreError) as refused:
        Store(folder / "store", "EPSG:4549")
    assert "'%41'" in str(refused.value) and "\n" not in str(refused.value)
    assert not folder.exists()
