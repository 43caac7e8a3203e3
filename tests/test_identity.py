"""Identity: every product of a file is stored under its own key, whatever its GlobalId; nothing vanishes."""

from __future__ import annotations

import ifcopenshell
import ifcopenshell.api
import pytest

from cim.config import CityConfig
from cim.ingest.run import ingest_file
from cim.qto.run import takeoff
from cim.store import Store
from tests.conftest import fixture_path
from tests.models import add_box, add_door_in_opening, add_wall, new_model, write


def _ingest(tmp_path, path, placement: dict | None = None, crs: str = "EPSG:4549"):
    models = {path.name: {"placement": placement}} if placement else {}
    store = Store(tmp_path / "store", crs)
    outcome = ingest_file(store, CityConfig(path=tmp_path / "cim.toml", name="t", crs=crs, models=models), path)
    assert outcome.action == "ingested", outcome.message
    return store, outcome


def _duplicated_model(tmp_path):
    f, ctx = new_model()
    wall = add_wall(f, ctx, name="Wall A")
    twin = add_wall(f, ctx, name="Wall B", start=(0.0, 5.0, 0.0))
    twin.GlobalId = wall.GlobalId  # what some exporters write
    add_door_in_opening(f, ctx, twin, corner=(1.0, 4.99, 0.0), size=(0.9, 0.22, 2.1))
    blank = add_box(f, ctx, "IfcColumn", name="Column without id", corner=(8.0, 0.0, 0.0), size=(0.4, 0.4, 3.0))
    blank.GlobalId = ""
    return f, wall, twin, blank


def test_a_duplicated_globalid_stores_every_product_with_a_disambiguated_flagged_key(tmp_path):
    f, wall, twin, blank = _duplicated_model(tmp_path)
    path = write(f, tmp_path / "dup.ifc")
    store, outcome = _ingest(tmp_path, path)
    rows = store.read_model("elements", "dup").to_pylist()
    assert len(rows) == len(f.by_type("IfcProduct"))  # counts in = rows stored
    keys = [r["global_id"] for r in rows]
    assert len(set(keys)) == len(keys) and "" not in keys
    by_step = {r["step_id"]: r for r in rows}
    assert by_step[wall.id()]["global_id"] == wall.GlobalId and by_step[wall.id()]["global_id_issue"] is None
    assert by_step[twin.id()]["global_id"] == f"{wall.GlobalId}#{twin.id()}"
    assert by_step[twin.id()]["global_id_issue"] == "duplicate"
    assert by_step[blank.id()]["global_id"] == f"#{blank.id()}" and by_step[blank.id()]["global_id_issue"] == "missing"
    assert by_step[blank.id()]["has_mesh"]
    # every mesh belongs to a stored element, one row each
    meshes = store.read_model("meshes", "dup").column("global_id").to_pylist()
    assert len(meshes) == len(set(meshes)) and set(meshes) <= set(keys)
    assert {by_step[wall.id()]["global_id"], by_step[twin.id()]["global_id"]} <= set(meshes)
    # the opening is in the twin, not in a wall that links to itself
    relations = store.read_model("relations", "dup").to_pylist()
    assert not [r for r in relations if r["relating_global_id"] == r["related_global_id"]]
    voids = [r for r in relations if r["rel_type"] == "voids"]
    assert [r["relating_global_id"] for r in voids] == [f"{wall.GlobalId}#{twin.id()}"]
    # one warning row per problem; the model is ingested with a warning
    errors = store.read("ingest_errors").to_pylist()
    assert sorted(e["feature_id"] for e in errors) == sorted([f"{wall.GlobalId}#{twin.id()}", f"#{blank.id()}"])
    assert {e["stage"] for e in errors} == {"identity"} and all(e["source_path"] == "dup.ifc" for e in errors)
    assert store.latest("dup")["status"] == "warning" and "GlobalId" in outcome.message


def test_the_takeoff_measures_both_products_that_share_a_globalid(tmp_path):
    f, wall, twin, _ = _duplicated_model(tmp_path)
    path = write(f, tmp_path / "dup.ifc")
    store, _ = _ingest(tmp_path, path)
    takeoff(store, "dup")
    rows = store.read("quantities", filters=[("model_id", "=", "dup")]).to_pylist()
    gross = {r["global_id"]: r for r in rows if r["name"] == "GrossVolume" and r["ifc_class"] == "IfcWall"}
    twin_key = f"{wall.GlobalId}#{twin.id()}"
    assert set(gross) == {wall.GlobalId, twin_key}
    # the twin's gross body is tessellated again from the file (found by its key), not approximated
    assert gross[twin_key]["reliable"] and gross[twin_key]["value"] == pytest.approx(3.0, rel=1e-6)


def test_a_product_with_two_body_representations_gets_one_merged_mesh_row(tmp_path):
    f, ctx = new_model()
    fitting = add_box(f, ctx, "IfcPipeFitting", name="Fitting with two bodies", size=(1.0, 1.0, 1.0))
    pos = f.createIfcAxis2Placement2D(f.createIfcCartesianPoint((0.5, 0.5)))
    profile = f.createIfcRectangleProfileDef("AREA", None, pos, 0.5, 0.5)
    second = ifcopenshell.api.run("geometry.add_profile_representation", f, context=ctx["body"], profile=profile,
                                  depth=2.0)
    first = fitting.Representation.Representations[0]
    fitting.Representation.Representations = [first, second, first]  # the first body written twice, too
    path = write(f, tmp_path / "fit.ifc")
    store, _ = _ingest(tmp_path, path)
    meshes = store.read_model("meshes", "fit").to_pylist()
    assert [m["global_id"] for m in meshes] == [fitting.GlobalId]
    (mesh,) = meshes
    assert mesh["n_triangles"] == 24  # two boxes of 12 triangles; the repeated body is not doubled
    (row,) = [r for r in store.read_model("elements", "fit").to_pylist() if r["global_id"] == fitting.GlobalId]
    assert row["zmax"] - row["zmin"] == pytest.approx(2.0, abs=1e-6)


def test_an_invalid_project_globalid_is_reported_with_its_entity_and_value(tmp_path):
    path = fixture_path("ifc4x3/fail-pjs003-invalid_characters_ifcproject.ifc")
    store, outcome = _ingest(tmp_path, path, placement={"eastings": 500_000.0, "northings": 4_000_000.0},
                             crs="EPSG:32610")
    rows = store.read_model("elements", path.stem).to_pylist()
    assert len(rows) == 13 and not any(r["global_id_issue"] for r in rows)
    (error,) = store.read("ingest_errors").to_pylist()
    assert error["stage"] == "identity" and "IfcProject #7" in error["message"]
    assert "0A_yMRoU+BdB-FGHn1GH7s" in error["message"]


def test_the_real_fixtures_have_unique_globalids_and_every_product_is_stored(tmp_path):
    """On the real exports in ../shared/fixtures: products in the file = rows stored, keys unique."""
    path = fixture_path("ifc2x3/acad2010_objects.ifc")
    store, _ = _ingest(tmp_path, path, placement={"eastings": 464_900.0, "northings": 2_865_800.0})
    rows = store.read_model("elements", path.stem).to_pylist()
    assert len(rows) == len(ifcopenshell.open(str(path)).by_type("IfcProduct")) == 70
    assert len({r["global_id"] for r in rows}) == 70
