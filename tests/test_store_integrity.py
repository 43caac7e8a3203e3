"""The store defends itself: its journal and metadata are checked, layer names cannot shadow its tables,
concurrent creation and duplicate ingests are safe, and readers never see uncommitted rows."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import geopandas as gpd
import pyarrow as pa
import pytest
import shapely

from cim.config import default_config
from cim.errors import StoreError
from cim.export import export_geoparquet
from cim.ingest.run import commit_job, ingest_file, plan_file, prepare_job
from cim.query import run_query
from cim.store import ModelCommit, Store
from cim.store.delta import FAULT_ENV
from cim.store.names import is_reserved, layer_table_name, sanitize
from tests.models import add_wall, new_model, write

CRS = "EPSG:4549"
ROOT = Path(__file__).resolve().parents[1]
INGEST = """
import sys
from cim.config import default_config
from cim.ingest.run import ingest_file
from cim.store import Store
ingest_file(Store(sys.argv[1], "EPSG:4549"), default_config("EPSG:4549"), sys.argv[2])
"""


def points(path: Path, n: int) -> Path:
    """A GeoJSON layer of ``n`` points near the sample city, named after the file."""
    frame = gpd.GeoDataFrame({"n": list(range(n))}, crs="EPSG:4326",
                             geometry=[shapely.Point(119.64 + i * 1e-4, 25.90) for i in range(n)])
    frame.to_file(path)
    return path


def kill_ingest(store: Store, path: Path, point: str) -> None:
    env = {**os.environ, FAULT_ENV: point}
    proc = subprocess.run([sys.executable, "-c", INGEST, str(store.root), str(path)], env=env,
                          capture_output=True, timeout=300, cwd=ROOT)
    assert proc.returncode == -signal.SIGKILL, proc.stderr.decode()[-2000:]


def count(store: Store, sql: str) -> int:
    return run_query(Store(store.root, create=False), sql).fetchone()[0]


@pytest.fixture
def store(tmp_path) -> Store:
    return Store(tmp_path / "store", CRS)


@pytest.fixture
def model(tmp_path, store):
    """Model m at version 1 (one wall) in the store; the file on disk already holds a second wall."""
    f, ctx = new_model()
    add_wall(f, ctx, name="W1")
    path = write(f, tmp_path / "m.ifc")
    ingest_file(store, default_config(CRS), path)
    add_wall(f, ctx, name="W2", start=(0.0, 3.0, 0.0))
    write(f, path)
    return path


# ---- the journal and store.json ------------------------------------------------------------------

def _forge_journal(store: Store, tables: dict) -> Path:
    journal = store.root / "_cim" / "journal.json"
    journal.write_text(json.dumps({"model_id": "m", "version": 7, "tables": tables}))
    return journal


@pytest.mark.parametrize("escape", ["../victim", "ABSOLUTE", "layers/../../victim", "layers/link/v1"])
def test_a_journal_naming_a_folder_outside_the_store_is_refused_and_nothing_is_touched(tmp_path, store, escape):
    victim = tmp_path / "victim"
    (victim / "keep").mkdir(parents=True)
    (store.root / "layers").mkdir()
    (store.root / "layers" / "link").symlink_to(victim, target_is_directory=True)
    (victim / "v1").mkdir()
    name = str(victim) if escape == "ABSOLUTE" else escape
    journal = _forge_journal(store, {name: -1})
    with pytest.raises(StoreError) as err:
        Store(store.root, CRS)
    line = err.value.one_line()
    assert "journal" in line and str(journal) in line and "mv " in line and "\n" not in line
    assert (victim / "keep").is_dir() and (victim / "v1").is_dir()
    assert journal.exists()  # kept for the user to look at


def test_a_journal_naming_a_core_table_still_rolls_back_an_interrupted_ingest(store, model):
    before = store.read("elements").num_rows
    kill_ingest(store, model, "relations")
    assert Store(store.root, CRS).read("elements").num_rows == before
    assert Store(store.root, CRS).read("models").num_rows == 1


@pytest.mark.parametrize("content, reason", [
    ("{not json", "not readable JSON"),
    ('["a list"]', "not a JSON object"),
    ('{"model_id": "m", "version": "7", "tables": {"elements": 3}}', '"version" must be a positive integer'),
    ('{"model_id": "m", "version": 7, "tables": {"elements": "3"}}', "is not an integer"),
    ('{"model_id": "m", "version": 7}', '"tables" must map'),
    ('{"version": 7, "tables": {"elements": 3}}', '"model_id" must be'),
])
def test_a_damaged_journal_gives_one_line_naming_the_file_and_the_fix(store, content, reason):
    journal = store.root / "_cim" / "journal.json"
    journal.write_text(content)
    with pytest.raises(StoreError) as err:
        Store(store.root, CRS)
    line = err.value.one_line()
    assert reason in line and str(journal) in line and "move it away" in line


@pytest.mark.parametrize("content, reason", [
    ("", "not readable JSON"),
    ('{"created_at": "x"}', "no city CRS"),
    ('{"crs": 4549}', "no city CRS"),
    ('{"crs": "EPSG:4549", "format": "one"}', '"format" must be a positive integer'),
])
def test_a_damaged_store_json_gives_one_line_naming_the_file_and_the_fix(store, content, reason):
    meta = store.root / "_cim" / "store.json"
    meta.write_text(content)
    for open_store in (lambda: Store(store.root, CRS), lambda: Store(store.root, create=False)):
        with pytest.raises(StoreError) as err:
            open_store()
        assert reason in err.value.one_line() and str(meta) in err.value.one_line()
        assert "rewrite it as" in err.value.one_line()


# ---- layer names ---------------------------------------------------------------------------------

@pytest.mark.parametrize("name", ["quantities", "quantity_summary", "tunnel_assets", "clashes", "current_models",
                                  "elements_history", "clash_elements", "tunnel_pumps"])
def test_a_layer_named_like_a_table_or_view_of_the_store_is_stored_under_its_own_name(tmp_path, store, name):
    before = store.table_version("quantities")
    outcome = ingest_file(store, default_config(CRS), points(tmp_path / f"{name}.geojson", 2))
    assert outcome.action == "ingested" and outcome.model_ids == [f"gis_{name}"]
    assert store.table_version("quantities") == before
    assert count(store, f"SELECT count(*) FROM gis_{name}") == 2
    assert count(store, "SELECT count(*) FROM quantities") == 0
    assert count(store, "SELECT count(*) FROM current_models") == 1
    assert count(store, "SELECT count(*) FROM elements_history") == 0
    errors = store.read("ingest_errors").to_pylist()
    assert [e["error_type"] for e in errors] == ["LayerRenamed"]
    assert f"stored as 'gis_{name}'" in errors[0]["message"]


def test_the_reserved_names_come_from_the_documented_schema():
    for name in ("models", "elements", "elements_history", "quantities_history", "current_models", "runs",
                 "tunnel_findings", "quantity_summary", "clash_elements", "cim_anything", "review_x"):
        assert is_reserved(name), name
    for name in ("parcels", "roads", "road_redlines", "buildings_existing", "pipelines", "gis_quantities"):
        assert not is_reserved(name), name


def test_layer_names_are_sanitised_to_plain_lowercase_names():
    assert sanitize("Road Red-Lines") == "road_red_lines"
    assert sanitize("../../etc") == "etc"
    assert sanitize("_hidden") == "hidden"
    assert sanitize("2024 Bäume") == "gis_2024_baume"
    assert sanitize("'; DROP TABLE models; --") == "drop_table_models"
    assert layer_table_name("Quantities")[0] == "gis_quantities"


@pytest.mark.parametrize("name", ["../escape", "quantities", "Roads", "_x", "1st"])
def test_the_store_refuses_a_layer_commit_with_a_bad_name(store, name):
    table = pa.table({"feature_id": ["1"], "geometry": [shapely.Point(0, 0).wkb]})
    change = ModelCommit(model_id=name, record={"kind": "gis"}, layer=(name, table))
    with pytest.raises(StoreError, match="not a valid, unreserved layer name"):
        store.commit(change)
    assert not (store.root / "escape").exists() and store.read("models").num_rows == 0


# ---- concurrent writers ----------------------------------------------------------------------------

CREATE = """
import sys, time
from cim.store import Store
time.sleep(max(0.0, float(sys.argv[2]) - time.time()))
Store(sys.argv[1], "EPSG:4549")
"""


def test_five_processes_creating_one_new_store_at_once_all_succeed(tmp_path):
    root = tmp_path / "new"
    start = time.time() + 8  # every process has imported cim by then
    procs = [subprocess.Popen([sys.executable, "-c", CREATE, str(root), str(start)], cwd=ROOT,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE) for _ in range(5)]
    results = [(p.wait(timeout=300), p.stderr.read().decode()) for p in procs]
    assert [code for code, _ in results] == [0] * 5, [err[-500:] for _, err in results]
    store = Store(root, create=False)
    assert store.crs == CRS and "models" in store.table_names()


def test_the_same_changed_file_ingested_twice_at_once_gives_one_new_version(store, model):
    config = default_config(CRS)
    first, second = plan_file(store, config, model), plan_file(store, config, model)  # both planned before a commit
    done = commit_job(store, first, prepare_job(first), None, 0.0)
    again = commit_job(store, second, prepare_job(second), None, 0.0)
    assert done.action == "ingested" and done.versions == [2]
    assert again.action == "unchanged" and again.message == "unchanged since version 2"
    models = store.read("models").sort_by("version")
    assert models["version"].to_pylist() == [1, 2]
    assert models["n_elements"].to_pylist() == [4, 5]  # project, site, building, storey, walls
    assert store.read("elements").num_rows == 4 + 5


def test_force_still_ingests_an_unchanged_file_again(store, model):
    ingest_file(store, default_config(CRS), model)
    assert ingest_file(store, default_config(CRS), model, force=True).versions == [3]


# ---- readers never see uncommitted rows -------------------------------------------------------------

def test_a_layer_killed_before_its_commit_is_not_seen_by_any_reader(tmp_path, store):
    path = points(tmp_path / "roads.geojson", 3)
    ingest_file(store, default_config(CRS), path)
    points(path, 5)
    kill_ingest(store, path, "layer")
    reader = Store(store.root, create=False)
    assert count(store, "SELECT count(*) FROM roads") == 3
    assert reader.read("roads").num_rows == 3
    export_geoparquet(reader, tmp_path / "out")
    assert gpd.read_parquet(tmp_path / "out" / "roads.parquet").shape[0] == 3
    writer = Store(store.root, CRS)  # rolls back, then the ingest runs again
    assert not (store.root / "layers" / "roads" / "v2").exists()
    assert ingest_file(writer, default_config(CRS), path).versions == [2]
    assert count(store, "SELECT count(*) FROM roads") == 5


@pytest.mark.parametrize("killed_after", ["elements", "models"])
def test_history_views_show_only_versions_models_records(tmp_path, store, model, killed_after):
    kill_ingest(store, model, killed_after)
    reader = Store(store.root, create=False)
    models = reader.read("models")
    assert models.num_rows == (2 if killed_after == "models" else 1)  # after its models row, v2 is committed
    committed, current = sum(models["n_elements"].to_pylist()), max(models["n_elements"].to_pylist())
    assert count(store, "SELECT count(*) FROM elements_history") == committed
    assert count(store, "SELECT count(DISTINCT version) FROM meshes_history") == models.num_rows
    assert count(store, "SELECT count(*) FROM elements") == current
    assert reader.read("elements").num_rows == committed
    export_geoparquet(reader, tmp_path / "out")
    assert gpd.read_parquet(tmp_path / "out" / "elements.parquet").shape[0] == current


def test_a_failure_inside_a_derived_write_leaves_the_previous_rows(store, model):
    from cim.qto.run import takeoff

    takeoff(store, "m")
    before = {t: store.read(t).num_rows for t in ("quantities", "quantity_summary")}
    versions = {t: store.table_version(t) for t in before}
    with pytest.raises(RuntimeError, match="half-way"), store.derived("m", 1) as tx:
        tx.replace_model_rows("quantities", store.read("quantities").drop_columns(["model_id", "version"]).slice(0, 1))
        raise RuntimeError("half-way")
    assert {t: store.read(t).num_rows for t in before} == before
    assert not (store.root / "_cim" / "journal.json").exists()
    assert all(store.table_version(t) >= versions[t] for t in before)


def test_a_commit_that_fails_half_way_is_undone_at_once(store, model):
    job = plan_file(store, default_config(CRS), model)
    (change,) = prepare_job(job)
    before = {t: store.table_version(t) for t in ("elements", "meshes", "models")}
    change.tables["meshes"] = change.tables["meshes"].append_column("undocumented", pa.nulls(
        change.tables["meshes"].num_rows))
    with pytest.raises(ValueError, match="not documented"):
        store.commit(change)
    assert not (store.root / "_cim" / "journal.json").exists()
    assert store.read("models").num_rows == 1
    assert rows_on_disk(store, "elements") == store.read("elements").num_rows
    assert all(store.table_version(t) >= before[t] for t in before)


def rows_on_disk(store: Store, name: str) -> int:
    """Every row in the Delta table, committed or not."""
    from deltalake import DeltaTable

    return DeltaTable(str(store.table_path(name))).to_pyarrow_table().num_rows


def test_a_layer_with_untyped_columns_is_stored_typed_and_the_store_stays_queryable(store):
    empty = pa.table({"feature_id": pa.nulls(0), "name": pa.nulls(0), "geometry": pa.nulls(0)})
    record = {"kind": "gis", "phase": "manage", "source_path": "empty.geojson", "sha256": "0", "settings_hash": "0",
              "size_bytes": 0, "schema": "GEOJSON", "crs": CRS, "status": "ok", "n_elements": 0, "n_meshes": 0}
    store.commit(ModelCommit(model_id="empty", record=record, layer=("empty", empty)))
    assert count(store, "SELECT count(*) FROM empty") == 0
    assert count(store, "SELECT count(*) FROM models") == 1
    assert str(store.read("empty").schema.field("name").type) == "string"
