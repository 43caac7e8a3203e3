"""Quantity takeoff on a hand-checkable model: a wall with a door, an L-shaped slab, a pipe, a space with a
column; every number below follows from the dimensions given to ifcopenshell.api."""

from __future__ import annotations

import math

import ifcopenshell.api
import pytest

from cim.config import default_config
from cim.errors import CimError
from cim.ingest.run import ingest_file
from cim.qto.crosscheck import disagreements, report
from cim.qto.run import export_csv, export_xlsx, takeoff
from cim.query import run_query
from cim.store import Store
from tests.models import add_element, add_wall, new_model, place, write

REL = 1e-6
PIPE_D = 0.1  # DN100 taken as 0.1 m outside diameter, as the issue states
SLAB_L = [(0.0, 0.0), (6.0, 0.0), (6.0, 2.0), (2.0, 2.0), (2.0, 5.0), (0.0, 5.0)]  # area 18, perimeter 22


def build(path):
    run = ifcopenshell.api.run
    f, ctx = new_model()
    body = ctx["body"]
    wall = add_wall(f, ctx, name="W1", length=5.0, height=3.0, thickness=0.2)
    qto = run("pset.add_qto", f, product=wall, name="Qto_WallBaseQuantities")
    run("pset.edit_qto", f, qto=qto, properties={"NetVolume": 2.6, "GrossSideArea": 15.5})
    opening = run("root.create_entity", f, ifc_class="IfcOpeningElement", name="O1")
    rep = run("geometry.add_wall_representation", f, context=body, length=1.0, height=2.0, thickness=0.6)
    run("geometry.assign_representation", f, product=opening, representation=rep)
    place(f, opening, (2.0, -0.2, 0.0))
    run("feature.add_feature", f, feature=opening, element=wall)
    door_rep = run("geometry.add_door_representation", f, context=body, overall_height=2.0, overall_width=1.0)
    door = add_element(f, ctx, "IfcDoor", "D1", door_rep, (2.0, 0.0, 0.0))
    run("feature.add_filling", f, opening=opening, element=door)
    slab_rep = run("geometry.add_slab_representation", f, context=body, depth=0.25, polyline=SLAB_L)
    add_element(f, ctx, "IfcSlab", "S1", slab_rep, (10.0, 0.0, 0.0))
    circle = f.create_entity("IfcCircleProfileDef", ProfileType="AREA", Radius=PIPE_D / 2)
    pipe_rep = run("geometry.add_profile_representation", f, context=body, profile=circle, depth=10.0)
    add_element(f, ctx, "IfcPipeSegment", "P1", pipe_rep, (0.0, 10.0, 1.0), z_axis=(1.0, 0.0, 0.0),
            x_axis=(0.0, 1.0, 0.0))
    room = [(0.0, 0.0), (4.0, 0.0), (4.0, 5.0), (0.0, 5.0)]
    space_rep = run("geometry.add_slab_representation", f, context=body, depth=2.8, polyline=room)
    add_element(f, ctx, "IfcSpace", "R1", space_rep, (0.0, 20.0, 0.0))
    square = f.create_entity("IfcRectangleProfileDef", ProfileType="AREA", XDim=0.3, YDim=0.3)
    column_rep = run("geometry.add_profile_representation", f, context=body, profile=square, depth=2.8)
    add_element(f, ctx, "IfcColumn", "C1", column_rep, (2.0, 22.5, 0.0))
    return write(f, path)


@pytest.fixture(scope="module")
def done(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("qto")
    store = Store(tmp / "store", "EPSG:4549")
    path = build(tmp / "qto_model.ifc")
    ingest_file(store, default_config("EPSG:4549"), path, workers=1)
    result = takeoff(store, "qto_model")
    rows = store.read("quantities", filters=[("model_id", "=", "qto_model")]).to_pylist()
    names = {e["global_id"]: e["name"] for e in store.read_model("elements", "qto_model").to_pylist()}
    values = {(names[r["global_id"]], r["name"]): r for r in rows if r["method"] == "computed"}
    return store, result, rows, values, tmp


def _q(values, element, name):
    return values[(element, name)]["value"]


def test_the_wall_with_a_door_has_gross_and_net_side_areas_and_volumes(done):
    _, result, _, v, _ = done
    assert result["gross"].startswith("tessellated")
    assert _q(v, "W1", "GrossSideArea") == pytest.approx(15.0, rel=REL)
    assert _q(v, "W1", "NetSideArea") == pytest.approx(13.0, rel=REL)
    assert _q(v, "W1", "GrossVolume") == pytest.approx(3.0, rel=REL)
    assert _q(v, "W1", "NetVolume") == pytest.approx(2.6, rel=REL)
    assert (_q(v, "W1", "Length"), _q(v, "W1", "Width"), _q(v, "W1", "Height")) == pytest.approx((5.0, 0.2, 3.0))
    assert _q(v, "W1", "GrossFootprintArea") == pytest.approx(1.0, rel=REL)
    assert all(v[("W1", n)]["reliable"] for n in ("GrossVolume", "NetVolume", "GrossSideArea"))


def test_the_door_measures_its_width_height_and_area(done):
    v = done[3]
    assert _q(v, "D1", "Width") == pytest.approx(1.0, rel=REL)
    assert _q(v, "D1", "Height") == pytest.approx(2.0, rel=REL)
    assert _q(v, "D1", "Area") == pytest.approx(2.0, rel=REL)


def test_the_l_shaped_slab_has_its_area_perimeter_thickness_and_volume(done):
    v = done[3]
    assert _q(v, "S1", "GrossArea") == pytest.approx(18.0, rel=REL)
    assert _q(v, "S1", "NetArea") == pytest.approx(18.0, rel=REL)
    assert _q(v, "S1", "Perimeter") == pytest.approx(22.0, rel=REL)
    assert _q(v, "S1", "Width") == pytest.approx(0.25, rel=REL)
    assert _q(v, "S1", "NetVolume") == pytest.approx(4.5, rel=REL)


def test_the_pipe_is_ten_metres_long_with_the_outer_area_of_its_segmented_circle(done):
    v = done[3]
    assert _q(v, "P1", "Length") == pytest.approx(10.0, rel=REL)
    # The tessellator approximates the circle by a regular polygon: its perimeter is n sin(pi/n) / pi of the
    # circle's. The segment count n is read back from the measured cross-section area...
    outer = _q(v, "P1", "OuterSurfaceArea")
    section = _q(v, "P1", "GrossCrossSectionArea")
    exact = math.pi * PIPE_D * 10.0
    # ...and both match one inscribed regular polygon: area (n/2) r^2 sin(2 pi/n), perimeter 2 n r sin(pi/n).
    r = PIPE_D / 2
    n = _polygon_sides(section, r)
    assert outer == pytest.approx(2 * n * r * math.sin(math.pi / n) * 10.0, rel=REL)
    assert section == pytest.approx(0.5 * n * r * r * math.sin(2 * math.pi / n), rel=REL)
    assert outer == pytest.approx(exact, rel=0.01)  # the stated tolerance: 1 % for n >= 13 segments
    assert n >= 13


def _polygon_sides(area: float, r: float) -> int:
    """The n whose inscribed regular polygon has this area (area grows monotonically with n)."""
    return min(range(3, 2000), key=lambda n: abs(0.5 * n * r * r * math.sin(2 * math.pi / n) - area))


def test_the_space_has_floor_areas_net_of_its_column_height_volume_and_perimeter(done):
    v = done[3]
    assert _q(v, "R1", "GrossFloorArea") == pytest.approx(20.0, rel=REL)
    assert _q(v, "R1", "NetFloorArea") == pytest.approx(20.0 - 0.09, rel=REL)
    assert _q(v, "R1", "Height") == pytest.approx(2.8, rel=REL)
    assert _q(v, "R1", "GrossVolume") == pytest.approx(56.0, rel=REL)
    assert _q(v, "R1", "GrossPerimeter") == pytest.approx(18.0, rel=REL)


def test_the_column_has_length_section_outer_area_and_volume(done):
    v = done[3]
    assert _q(v, "C1", "Length") == pytest.approx(2.8, rel=REL)
    assert _q(v, "C1", "CrossSectionArea") == pytest.approx(0.09, rel=REL)
    assert _q(v, "C1", "OuterSurfaceArea") == pytest.approx(4 * 0.3 * 2.8, rel=REL)
    assert _q(v, "C1", "NetVolume") == pytest.approx(0.252, rel=REL)


def test_gross_floor_area_per_building_and_storey_is_the_outline_of_floor_elements(done):
    store = done[0]
    sql = ("SELECT group_by, total FROM quantity_summary WHERE quantity = 'GrossFloorArea' AND "
           "((group_by = 'building' AND qset = 'Qto_BuildingBaseQuantities') OR "
           "(group_by = 'storey' AND qset = 'Qto_BuildingStoreyBaseQuantities'))")
    got = dict(run_query(store, sql).fetchall())
    assert got["building"] == pytest.approx(1.0 + 18.0 + 20.0, rel=REL)  # wall + slab + space outlines
    assert got["storey"] == pytest.approx(39.0, rel=REL)


def test_the_summary_totals_volumes_per_class_and_material(done):
    store = done[0]
    rows = store.read("quantity_summary").to_pylist()
    walls = next(r for r in rows if r["group_by"] == "class" and r["key"] == "IfcWall" and r["quantity"] == "NetVolume")
    concrete = next(r for r in rows if r["group_by"] == "material" and r["key"] == "Concrete"
                    and r["quantity"] == "NetVolume")
    assert walls["total"] == pytest.approx(2.6, rel=REL) and walls["count"] == 1
    assert concrete["total"] == pytest.approx(2.6, rel=REL)


def test_declared_quantities_are_cross_checked_and_disagreements_reported(done):
    _, result, rows, v, _ = done
    assert v[("W1", "NetVolume")]["declared_value"] == pytest.approx(2.6)
    assert abs(v[("W1", "NetVolume")]["difference"]) < 1e-6
    assert v[("W1", "GrossSideArea")]["difference"] == pytest.approx(15.0 / 15.5 - 1, rel=1e-6)
    found = disagreements(rows)
    assert [r["name"] for r in found["IfcWall"]] == ["GrossSideArea"]
    assert result["n_disagreements"] == 1
    assert "GrossSideArea" in report(rows) and "-3.2%" in report(rows)


def test_the_takeoff_exports_csv_and_xlsx(done):
    from openpyxl import load_workbook

    store, _, rows, _, tmp = done
    quantities_csv, summary_csv = export_csv(store, "qto_model", tmp / "csv")
    assert len(quantities_csv.read_text().splitlines()) == len(rows) + 1
    assert summary_csv.exists()
    book = load_workbook(export_xlsx(store, "qto_model", tmp / "qto.xlsx"))
    assert book.sheetnames[:2] == ["Quantities", "All storeys"] and book.sheetnames[-1] == "Disagreements"
    assert book["Disagreements"].max_row == 2


def test_without_the_ifc_file_the_takeoff_is_refused_and_changes_nothing(done, tmp_path):
    store = done[0]
    before = store.read("quantities").to_pylist()
    with pytest.raises(CimError, match=r"--ifc .*--approximate"):
        takeoff(store, "qto_model", ifc_path=tmp_path / "moved.ifc")
    assert store.read("quantities").to_pylist() == before


def test_without_the_ifc_file_gross_quantities_are_approximate_and_flagged_when_asked(done, tmp_path):
    store = done[0]
    result = takeoff(store, "qto_model", ifc_path=tmp_path / "moved.ifc", approximate=True)
    assert result["gross"].startswith("unavailable")
    rows = store.read("quantities", filters=[("model_id", "=", "qto_model")]).to_pylist()
    wall_gross = [r for r in rows if r["name"] == "GrossVolume" and r["ifc_class"] == "IfcWall"]
    assert wall_gross and not wall_gross[0]["reliable"] and "approximate" in wall_gross[0]["note"]
    net = [r for r in rows if r["name"] == "NetVolume" and r["ifc_class"] == "IfcWall"]
    assert net[0]["value"] == pytest.approx(2.6, rel=REL) and net[0]["reliable"]
    takeoff(store, "qto_model")  # leave the exact takeoff for the other tests
