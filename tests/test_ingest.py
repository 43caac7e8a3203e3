"""Ingesting IFC files: rows in every table, versions, unchanged files skipped, units and placement."""

from __future__ import annotations

import json

import pytest
import shapely

from cim.config import default_config
from cim.ingest.run import ingest_file
from cim.store import Store
from tests.models import add_wall, new_model, write


@pytest.fixture
def store(tmp_path):
    return Store(tmp_path / "store", "EPSG:4549")


@pytest.fixture
def city():
    return default_config("EPSG:4549", "plan")


def _model_file(tmp_path, name="m.ifc", **kwargs):
    f, ctx = new_model(**kwargs)
    add_wall(f, ctx, name="W1")
    add_wall(f, ctx, name="W2", start=(0.0, 4.0, 0.0), length=6.0)
    return write(f, tmp_path / name)


def test_an_ifc_model_becomes_version_1_with_elements_meshes_and_a_building(tmp_path, store, city):
    outcome = ingest_file(store, city, _model_file(tmp_path))
    assert outcome.action == "ingested" and outcome.versions == [1]
    models = store.read("models").to_pylist()
    assert [(m["model_id"], m["version"], m["phase"], m["georef_level"]) for m in models] == [("m", 1, "plan", 50)]
    elements = {r["name"]: r for r in store.read_model("elements", "m").to_pylist()}
    assert elements["W1"]["ifc_class"] == "IfcWall" and elements["W1"]["storey"] == "Ground floor"
    assert elements["W1"]["building"] == "Test building" and elements["W1"]["materials"] == ["Concrete"]
    assert elements["W1"]["xmin"] == pytest.approx(464_900.0, abs=1e-6)
    assert elements["W1"]["zmax"] == pytest.approx(8.0, abs=1e-6)  # 3 m wall on a 5 m datum
    assert shapely.from_wkb(elements["W1"]["footprint"]).area == pytest.approx(5.0 * 0.2, rel=1e-6)
    meshes = store.read_model("meshes", "m").to_pylist()
    assert {m["global_id"] for m in meshes} == {elements["W1"]["global_id"], elements["W2"]["global_id"]}
    assert all(m["is_closed"] and m["n_triangles"] == 12 for m in meshes)
    (building,) = store.read_model("buildings", "m").to_pylist()
    assert building["name"] == "Test building" and building["height_m"] == pytest.approx(3.0)
    assert building["storeys"] == 1


def test_an_unchanged_file_is_skipped_and_a_changed_one_becomes_version_2(tmp_path, store, city):
    path = _model_file(tmp_path)
    ingest_file(store, city, path)
    assert ingest_file(store, city, path).action == "unchanged"
    f, ctx = new_model()
    add_wall(f, ctx, name="W1", length=7.0)
    write(f, path)
    assert ingest_file(store, city, path).versions == [2]
    assert store.read("elements").num_rows == 5 + 4  # history kept: both versions' rows
    current = store.read_model("elements", "m").to_pylist()
    assert [r["version"] for r in current if r["name"] == "W1"] == [2]


def test_a_millimetre_model_with_scale_lands_exactly_where_the_metre_model_does(tmp_path, store, city):
    ingest_file(store, city, _model_file(tmp_path, "metre.ifc"))
    ingest_file(store, city, _model_file(tmp_path, "milli.ifc", length_unit="MILLIMETRE", scale=0.001))
    metre = {r["name"]: r for r in store.read_model("elements", "metre").to_pylist()}
    milli = {r["name"]: r for r in store.read_model("elements", "milli").to_pylist()}
    for name in ("W1", "W2"):
        for key in ("xmin", "ymin", "zmin", "xmax", "ymax", "zmax"):
            assert milli[name][key] == pytest.approx(metre[name][key], abs=1e-6)


def test_a_rotated_model_puts_its_x_axis_along_the_rotation(tmp_path, store, city):
    ingest_file(store, city, _model_file(tmp_path, "rot.ifc", rotation_deg=90.0))
    w1 = next(r for r in store.read_model("elements", "rot").to_pylist() if r["name"] == "W1")
    # local +x (5 m long wall) now points grid north
    assert w1["ymax"] - w1["ymin"] == pytest.approx(5.0, abs=1e-6)
    assert w1["xmax"] - w1["xmin"] == pytest.approx(0.2, abs=1e-6)
    georef = json.loads(store.latest("rot")["georef"])
    assert georef


def test_a_model_without_georeferencing_is_placed_by_the_config(tmp_path, store):
    path = _model_file(tmp_path, "loose.ifc", georef=False)
    city = default_config("EPSG:4549")
    refused = ingest_file(store, city, path)
    assert refused.action == "quarantined" and refused.stage == "georef"
    assert "placement" in refused.message
    placed = city.__class__(**{**city.__dict__, "models": {"loose.ifc": {
        "placement": {"eastings": 465_000.0, "northings": 2_865_900.0, "height": 6.0}}}})
    placed = placed.__class__(**{**placed.__dict__, "path": tmp_path / "cim.toml"})
    outcome = ingest_file(store, placed, path)
    assert outcome.action == "ingested", outcome.message
    w1 = next(r for r in store.read_model("elements", "loose").to_pylist() if r["name"] == "W1")
    assert (w1["xmin"], w1["ymin"], w1["zmin"]) == pytest.approx((465_000.0, 2_865_900.0, 6.0), abs=1e-6)


def test_parallel_tessellation_gives_the_same_rows_as_one_process(tmp_path, city):
    f, ctx = new_model()
    for i in range(220):
        add_wall(f, ctx, name=f"W{i}", start=(0.0, i * 1.0, 0.0), material=None)
    path = write(f, tmp_path / "many.ifc")
    one = Store(tmp_path / "one", "EPSG:4549")
    two = Store(tmp_path / "two", "EPSG:4549")
    ingest_file(one, city, path, workers=1)
    ingest_file(two, city, path, workers=2)
    cols = ["global_id", "geometry_hash", "xmin", "ymax", "storey"]
    a = sorted(one.read_model("elements", "many").select(cols).to_pylist(), key=lambda r: r["global_id"])
    b = sorted(two.read_model("elements", "many").select(cols).to_pylist(), key=lambda r: r["global_id"])
    assert a == b and len(a) == 223
