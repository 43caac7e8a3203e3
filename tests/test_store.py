"""The store: atomic multi-table commits that survive a kill, and tables that match schemas/tables.toml."""

from __future__ import annotations

import os
import signal
import subprocess
import sys

import pytest

from cim.config import default_config
from cim.ingest.run import ingest_file
from cim.query import run_query
from cim.store import Store, documented_tables
from cim.store.delta import FAULT_ENV
from cim.store.schema import arrow_type
from tests.models import add_wall, new_model, write

INGEST = """
import sys
from cim.config import default_config
from cim.ingest.run import ingest_file
from cim.store import Store
ingest_file(Store(sys.argv[1], "EPSG:4549"), default_config("EPSG:4549"), sys.argv[2], force=True)
"""


def _snapshot(store: Store) -> dict[str, tuple[int, int]]:
    return {name: (store.table_version(name), store.read(name).num_rows) for name in store.table_names()}


@pytest.fixture
def filled(tmp_path):
    store = Store(tmp_path / "store", "EPSG:4549")
    f, ctx = new_model()
    add_wall(f, ctx, name="W1")
    path = write(f, tmp_path / "m.ifc")
    ingest_file(store, default_config("EPSG:4549"), path)
    add_wall(f, ctx, name="W2", start=(0.0, 3.0, 0.0))
    write(f, path)
    return store, path


@pytest.mark.parametrize("killed_after", ["elements", "relations"])
def test_a_kill_mid_commit_leaves_every_table_at_its_previous_version(filled, killed_after):
    store, path = filled
    rows_before = {name: rows for name, (_, rows) in _snapshot(store).items()}
    env = {**os.environ, FAULT_ENV: killed_after}
    proc = subprocess.run([sys.executable, "-c", INGEST, str(store.root), str(path)], env=env,
                          capture_output=True, timeout=120)
    assert proc.returncode == -signal.SIGKILL
    # Before any recovery, readers already see the previous state: models is the commit point.
    seen = run_query(Store(store.root, create=False), "SELECT count(*) FROM elements").fetchone()[0]
    assert seen == rows_before["elements"]
    # The next writer rolls the touched tables back to their previous versions.
    reopened = Store(store.root, "EPSG:4549")
    assert {name: rows for name, (_, rows) in _snapshot(reopened).items()} == rows_before
    assert not (store.root / "_cim" / "journal.json").exists()
    # And the store works on: the interrupted ingest can simply run again.
    assert ingest_file(reopened, default_config("EPSG:4549"), path).versions == [2]


def test_written_tables_match_the_documented_schema(filled):
    store, path = filled
    ingest_file(store, default_config("EPSG:4549"), path)
    documented = documented_tables()["tables"]
    for name, spec in documented.items():
        schema = store.read(name).schema
        assert schema.names == [c["name"] for c in spec["columns"]], name
        for col in spec["columns"]:
            field = schema.field(col["name"])
            assert field.type == arrow_type(col["type"]), (name, col["name"], field.type)
            assert field.nullable == col.get("nullable", True) or not field.nullable, (name, col["name"])
        for col in spec["columns"]:
            assert col.get("meaning"), f"{name}.{col['name']} has no documented meaning"


def test_a_gis_layer_table_has_the_documented_id_and_geometry_columns_with_its_crs(tmp_path):
    import geopandas as gpd
    import shapely

    store = Store(tmp_path / "s", "EPSG:4549")
    path = tmp_path / "wells.geojson"
    gpd.GeoDataFrame({"depth_m": [12.5]}, geometry=[shapely.Point(119.64, 25.90)], crs="EPSG:4326").to_file(path)
    ingest_file(store, default_config("EPSG:4549"), path)
    schema = store.read("wells").schema
    documented = [c["name"] for c in documented_tables()["layer_tables"]["columns"]]
    assert set(documented) <= set(schema.names) and "depth_m" in schema.names
    assert schema.field("geometry").metadata[b"crs"] == b"EPSG:4549"


def test_a_store_refuses_a_second_city_crs(tmp_path):
    Store(tmp_path / "s", "EPSG:4549")
    with pytest.raises(Exception, match="EPSG:4549"):
        Store(tmp_path / "s", "EPSG:32650")


def test_a_process_that_read_the_store_exits_cleanly(filled):
    """pyarrow's threaded scanner made about half of such processes abort at exit (code 134)."""
    store, _ = filled
    code = ("import sys; from cim.store import Store; s = Store(sys.argv[1], create=False); "
            "print(s.read('elements', filters=[('model_id', '=', 'm')]).num_rows)")
    codes = [subprocess.run([sys.executable, "-c", code, str(store.root)], capture_output=True, timeout=120).returncode
             for _ in range(4)]
    assert codes == [0, 0, 0, 0]
