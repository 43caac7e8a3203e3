"""The real exports in ../shared/fixtures whose README facts test_fixtures_ingest.py does not assert yet: each is
ingested (or refused) and checked against the numbers its README gives."""

from __future__ import annotations

import json
import math

import pytest

from cim.config import CityConfig
from cim.ingest.run import ingest_file
from cim.qto.run import takeoff
from cim.store import Store
from tests.conftest import fixture_path

CITY = {"eastings": 464_900.0, "northings": 2_865_800.0}


def _ingest(tmp_path, relative: str, crs: str = "EPSG:4549", placement: dict | None = CITY):
    path = fixture_path(relative)
    store = Store(tmp_path / "store", crs)
    models = {path.name: {"placement": placement}} if placement else {}
    outcome = ingest_file(store, CityConfig(path=tmp_path / "cim.toml", name="t", crs=crs, models=models), path)
    return store, path, outcome


def _elements(store, path):
    return store.read_model("elements", path.stem).to_pylist()


def _computed(store, path, name):
    names = {e["global_id"]: e for e in _elements(store, path)}
    rows = store.read("quantities", filters=[("model_id", "=", path.stem)]).to_pylist()
    return [(names[r["global_id"]], r) for r in rows if r["name"] == name and r["method"] == "computed"]


ARCS = {"2ALOcMpMf6ietmddDGVmXr": 3.599, "3AfGraJZX5JwhlGGvNvZ7U": 6.888, "2RRvPc99fCIODqyw7RI5wJ": 4.025,
        "3yFzRpO45C2BOrJRZuxOcS": 2.954}  # R 14.448 m x the arc angle, from the README


def test_the_archicad_curved_walls_keep_their_mesh_volumes_and_measure_their_length_along_the_arc(tmp_path):
    store, path, outcome = _ingest(tmp_path, "ifc2x3/487.ifc")
    assert outcome.action == "ingested", outcome.message
    rows = _elements(store, path)
    assert len(rows) == 21 and sum(r["has_mesh"] for r in rows) == 18
    walls = [r for r in rows if r["ifc_class"] == "IfcWallStandardCase"]
    assert len(walls) == 4 and all(r["materials"] for r in walls)
    assert all(r["zmin"] == pytest.approx(-0.6, abs=1e-3) and r["zmax"] == pytest.approx(3.0, abs=1e-3)
               for r in walls)
    takeoff(store, path.stem, ifc_path=path)
    volumes = sorted(r["value"] for e, r in _computed(store, path, "NetVolume") if e["ifc_class"].startswith("IfcWall"))
    assert volumes == pytest.approx([1.7121, 3.8454, 3.8665, 3.9621], rel=0.01)
    assert sum(volumes) == pytest.approx(13.386, rel=0.01)
    lengths = {e["global_id"]: r for e, r in _computed(store, path, "Length") if e["ifc_class"].startswith("IfcWall")}
    assert {g: r["value"] for g, r in lengths.items()} == pytest.approx(ARCS, abs=1e-3)
    widths = sorted(r["value"] for e, r in _computed(store, path, "Width") if e["ifc_class"].startswith("IfcWall"))
    assert widths == pytest.approx([0.24, 0.25, 0.47, 0.56], abs=0.01)  # the material layer totals


def test_the_revit_feet_export_converts_declared_and_computed_volumes_to_the_same_cubic_metres(tmp_path):
    store, path, outcome = _ingest(tmp_path, "ifc4x3/wall_door_columnt_rgb4x3.ifc")
    assert outcome.action == "ingested", outcome.message
    rows = _elements(store, path)
    assert len(rows) == 8 and sum(r["has_mesh"] for r in rows) == 4
    wall = next(r for r in rows if r["ifc_class"] == "IfcWall")
    declared = json.loads(wall["qsets"])["Qto_WallBaseQuantities"]
    assert declared["NetVolume"] == pytest.approx(163.7037 * 0.3048**3, rel=1e-6)  # ft3 -> m3 = 4.6356
    assert declared["NetSideArea"] == pytest.approx(245.556 * 0.3048**2, rel=1e-4)  # ft2 -> m2
    assert declared["Length"] == pytest.approx(13.5 * 0.3048, rel=1e-6)
    (building,) = store.read_model("buildings", path.stem).to_pylist()
    assert building["kind"] == "building" and building["storeys"] == 2
    assert building["height_m"] == pytest.approx(6.096, abs=1e-3)
    takeoff(store, path.stem, ifc_path=path)
    (net,) = [r for e, r in _computed(store, path, "NetVolume") if e["ifc_class"] == "IfcWall"]
    assert net["value"] == pytest.approx(4.6356, rel=1e-4) and abs(net["difference"]) < 1e-6


def test_the_revit_duct_run_has_its_lengths_from_the_extrusions_its_connections_and_plain_system(tmp_path):
    store, path, outcome = _ingest(tmp_path, "mep/1269--Project_IfcDuctFitting.ifc")
    assert outcome.action == "ingested", outcome.message
    rows = _elements(store, path)
    assert len(rows) == 12 and sum(r["has_mesh"] for r in rows) == 3
    segments = sorted((r for r in rows if r["ifc_class"] == "IfcDuctSegment"), key=lambda r: r["axis_length_m"])
    assert [r["axis_length_m"] for r in segments] == pytest.approx([3.081403, 3.873665], abs=1e-6)
    flows = [r for r in rows if r["ifc_class"] in ("IfcDuctSegment", "IfcDuctFitting")]
    assert all(r["systems"] == ["Mechanical Supply Air 1"] for r in flows)  # a plain IfcSystem
    relations = store.read_model("relations", path.stem).to_pylist()
    assert sum(r["rel_type"] == "connects_ports" for r in relations) == 2
    takeoff(store, path.stem)
    lengths = [r for e, r in _computed(store, path, "Length") if e["ifc_class"] == "IfcDuctSegment"]
    assert sum(r["value"] for r in lengths) == pytest.approx(6.955, abs=1e-3) and all(r["reliable"] for r in lengths)


def test_the_norwegian_revit_export_keeps_its_large_placement_offset_to_the_millimetre(tmp_path):
    store, path, outcome = _ingest(tmp_path, "ifc4/large_offset.ifc", "EPSG:5110",
                                   {"eastings": 0.0, "northings": 0.0})
    assert outcome.action == "ingested", outcome.message
    rows = _elements(store, path)
    assert len(rows) == 20
    meshed = [r for r in rows if r["has_mesh"]]
    assert len(meshed) == 13
    assert min(r["xmin"] for r in meshed) == pytest.approx(114_502.382, abs=1e-3)
    assert max(r["xmax"] for r in meshed) == pytest.approx(114_563.797, abs=1e-3)
    assert min(r["ymin"] for r in meshed) == pytest.approx(1_185_943.974, abs=1e-3)
    assert max(r["ymax"] for r in meshed) == pytest.approx(1_185_980.347, abs=1e-3)
    model = store.latest(path.stem)
    assert model["source_crs"] == "EPSG:5110" and "RefLatitude/RefLongitude disagree" in model["message"]


def test_the_autocad_export_without_site_or_storeys_expands_its_mapped_items(tmp_path):
    store, path, outcome = _ingest(tmp_path, "ifc2x3/acad2010_objects.ifc")
    assert outcome.action == "ingested", outcome.message
    rows = _elements(store, path)
    assert len(rows) == 70 and sum(r["has_mesh"] for r in rows) == 69
    assert not any(r["storey"] for r in rows)  # no IfcBuildingStorey: nothing invented
    for cls, count in (("IfcColumn", 8), ("IfcDoor", 7)):
        placed = {(round(r["xmin"], 3), round(r["ymin"], 3)) for r in rows if r["ifc_class"] == cls and r["has_mesh"]}
        assert len(placed) == count  # each mapped item at its own placement
    (building,) = store.read_model("buildings", path.stem).to_pylist()
    assert building["kind"] == "building" and building["storeys"] == 0 and building["n_elements"] > 50


def test_the_sectioned_solid_is_stored_open_so_no_volume_is_trusted(tmp_path):
    store, path, outcome = _ingest(tmp_path, "ifc4x3/sectioned-solid-horizontal.ifc", "EPSG:32610",
                                   {"eastings": 500_000.0, "northings": 4_000_000.0})
    assert outcome.action == "ingested", outcome.message
    rows = _elements(store, path)
    assert len(rows) == 14
    (solid,) = [r for r in rows if r["ifc_class"] == "IfcBuiltElement"]
    assert solid["xmax"] - solid["xmin"] == pytest.approx(299.9, abs=0.2)
    (mesh,) = [m for m in store.read_model("meshes", path.stem).to_pylist() if m["global_id"] == solid["global_id"]]
    assert not mesh["is_closed"]  # its end caps are doubled: any volume from it is flagged unreliable
    assert store.read_model("buildings", path.stem).num_rows == 0  # no facility: not a building


def test_a_file_with_no_products_is_refused_in_one_line(tmp_path):
    store, path, outcome = _ingest(tmp_path, "ifc4x3/fail-grf001-ifcmapconversion_ifcmapconversion_non_identical.ifc",
                                   "EPSG:3857", None)
    assert outcome.action == "quarantined" and "no products" in outcome.message and "\n" not in outcome.message
    assert store.read("models").num_rows == 0


def test_the_arizona_street_network_in_us_survey_feet_keeps_its_length_in_a_metre_city(tmp_path):
    path = fixture_path("gis/geodanet/streets.shp")
    store = Store(tmp_path / "store", "EPSG:26949")
    outcome = ingest_file(store, CityConfig(path=tmp_path / "cim.toml", name="t", crs="EPSG:26949"), path)
    assert outcome.action == "ingested", outcome.message
    import shapely

    table = store.read("streets")
    assert table.num_rows == 293
    total = float(shapely.length(shapely.from_wkb(table.column("geometry").to_pylist())).sum())
    assert total == pytest.approx(31_825.48, abs=0.05)  # 104414.09 ftUS x 0.3048006; EPSG:2223 would be off
    assert not math.isclose(total, 104_414.09 * 0.3048, abs_tol=0.05)
