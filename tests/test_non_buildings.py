"""Models that are not buildings: site-only survey models and infrastructure facilities ingest, and the
``buildings`` table says what each facility is (kind)."""

from __future__ import annotations

import ifcopenshell.api

from cim.config import CityConfig
from cim.ingest.run import ingest_file
from cim.store import Store
from tests.conftest import fixture_path
from tests.models import add_box, new_model, write


def _ingest(tmp_path, path, crs: str = "EPSG:4549", placement: dict | None = None):
    models = {path.name: {"placement": placement}} if placement else {}
    store = Store(tmp_path / "store", crs)
    outcome = ingest_file(store, CityConfig(path=tmp_path / "cim.toml", name="t", crs=crs, models=models), path)
    return store, outcome


def test_a_site_only_survey_model_ingests_with_no_building_rows_and_no_journal_left(tmp_path):
    f, ctx = new_model()
    run = ifcopenshell.api.run
    run("aggregate.unassign_object", f, products=[ctx["building"]])
    run("root.remove_product", f, product=ctx["storey"])
    run("root.remove_product", f, product=ctx["building"])
    ctx["storey"] = ctx["site"]  # survey objects sit directly on the site
    add_box(f, ctx, "IfcGeographicElement", name="Survey mound", size=(10.0, 8.0, 1.5))
    add_box(f, ctx, "IfcCivilElement", name="Retaining wall", corner=(12.0, 0.0, 0.0), size=(6.0, 0.4, 2.0))
    path = write(f, tmp_path / "survey.ifc")
    store, outcome = _ingest(tmp_path, path)
    assert outcome.action == "ingested", outcome.message
    assert store.read_model("elements", "survey").num_rows == len(f.by_type("IfcProduct"))
    assert store.read_model("buildings", "survey").num_rows == 0
    assert store.read_model("meshes", "survey").num_rows == 2
    assert not (store.root / "_cim" / "journal.json").exists()
    assert store.read("ingest_errors").num_rows == 0


def _facility_model(ifc_class: str, name: str, **attrs):
    f, ctx = new_model("IFC4X3")
    run = ifcopenshell.api.run
    facility = run("root.create_entity", f, ifc_class=ifc_class, name=name)
    for key, value in attrs.items():
        setattr(facility, key, value)
    run("aggregate.assign_object", f, relating_object=ctx["site"], products=[facility])
    run("geometry.edit_object_placement", f, product=facility)
    ctx["storey"] = facility
    add_box(f, ctx, "IfcBuiltElement", name="Deck", size=(30.0, 10.0, 1.0))
    return f


def test_infrastructure_facilities_are_stored_with_their_kind_not_as_buildings(tmp_path):
    models = {"bridge": _facility_model("IfcBridge", "River bridge"),
              "road": _facility_model("IfcRoad", "Ring road"),
              "railway": _facility_model("IfcRailway", "Line 1"),
              "tunnel": _facility_model("IfcFacility", "Utility tunnel", ObjectType="Utility tunnel"),
              "pier": _facility_model("IfcMarineFacility", "Pier")}
    store = Store(tmp_path / "store", "EPSG:4549")
    config = CityConfig(path=tmp_path / "cim.toml", name="t", crs="EPSG:4549")
    kinds = {}
    for model_id, f in models.items():
        path = write(f, tmp_path / f"{model_id}.ifc")
        outcome = ingest_file(store, config, path)
        assert outcome.action == "ingested", outcome.message
        rows = store.read_model("buildings", model_id).to_pylist()
        kinds[model_id] = [(r["ifc_class"], r["kind"]) for r in rows]
    assert kinds == {"bridge": [("IfcBridge", "bridge")], "road": [("IfcRoad", "road")],
                     "railway": [("IfcRailway", "railway")], "tunnel": [("IfcFacility", "tunnel")],
                     "pier": [("IfcMarineFacility", "facility")]}


def test_a_plain_building_is_kind_building(tmp_path):
    f, ctx = new_model()
    add_box(f, ctx, "IfcWall", name="Wall", size=(5.0, 0.2, 3.0))
    store, outcome = _ingest(tmp_path, write(f, tmp_path / "house.ifc"))
    assert outcome.action == "ingested", outcome.message
    assert [r["kind"] for r in store.read_model("buildings", "house").to_pylist()] == ["building"]


def test_the_real_bridge_fixture_is_a_bridge(tmp_path):
    path = fixture_path("ifc4x3/georeferenced-bridge-deck.ifc")
    store, outcome = _ingest(tmp_path, path, "EPSG:32610")
    assert outcome.action == "ingested", outcome.message
    assert [r["kind"] for r in store.read_model("buildings", path.stem).to_pylist()] == ["bridge"]


def test_the_real_railway_signal_model_is_a_railway_with_no_storeys(tmp_path):
    path = fixture_path("ifc4x3/linear-placement-of-signal.ifc")
    store, outcome = _ingest(tmp_path, path, "EPSG:3065")
    assert outcome.action == "ingested", outcome.message
    rows = store.read_model("buildings", path.stem).to_pylist()
    assert [(r["ifc_class"], r["kind"], r["storeys"]) for r in rows] == [("IfcRailway", "railway", 0)]
