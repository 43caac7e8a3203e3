"""Coverings, footings, railings, stair flights, stairs and roofs built with ifcopenshell.api to sizes that
give every quantity by hand."""

from __future__ import annotations

import math

import ifcopenshell.api
import numpy as np
import pytest

from cim.config import default_config
from cim.ingest.run import ingest_file
from cim.qto.run import takeoff
from cim.store import Store
from tests.models import add_element, new_model, write

REL = 1e-6
STEPS = [(0.0, 0.0), (0.9, 0.0), (0.9, 0.6), (0.6, 0.6), (0.6, 0.4), (0.3, 0.4), (0.3, 0.2), (0.0, 0.2)]  # 0.36 m2
PITCH = math.radians(30.0)


def build(path):
    run = ifcopenshell.api.run
    f, ctx = new_model()
    body = ctx["body"]
    pad = f.create_entity("IfcRectangleProfileDef", ProfileType="AREA", XDim=2.0, YDim=1.0)
    add_element(f, ctx, "IfcFooting", "F1", run("geometry.add_profile_representation", f, context=body, profile=pad,
                                              depth=0.5), (0.0, 0.0, -0.5))
    tiles = run("geometry.add_slab_representation", f, context=body, depth=0.02,
                polyline=[(0.0, 0.0), (3.0, 0.0), (3.0, 4.0), (0.0, 4.0)])
    add_element(f, ctx, "IfcCovering", "C1", tiles, (5.0, 0.0, 0.0), predefined_type="FLOORING")
    rail = run("geometry.add_wall_representation", f, context=body, length=3.0, height=1.0, thickness=0.05)
    add_element(f, ctx, "IfcRailing", "R1", rail, (10.0, 0.0, 0.0), z_axis=(0.0, 0.0, 1.0),
            x_axis=(math.cos(0.5), math.sin(0.5), 0.0))
    steps = f.create_entity("IfcArbitraryClosedProfileDef", ProfileType="AREA",
                            OuterCurve=f.create_entity("IfcPolyline", [f.createIfcCartesianPoint(p)
                                                                       for p in [*STEPS, STEPS[0]]]))
    flight_rep = run("geometry.add_profile_representation", f, context=body, profile=steps, depth=1.0)
    stair = add_element(f, ctx, "IfcStair", "ST1", None, (0.0, 10.0, 0.0))
    flight = add_element(f, ctx, "IfcStairFlight", "SF1", flight_rep, (0.0, 10.0, 0.0), container=False,
                     z_axis=(0.0, -1.0, 0.0))
    landing_rep = run("geometry.add_slab_representation", f, context=body, depth=0.2,
                      polyline=[(0.0, 0.0), (1.0, 0.0), (1.0, 1.0), (0.0, 1.0)])
    landing = add_element(f, ctx, "IfcSlab", "L1", landing_rep, (0.9, 9.0, 0.4), container=False,
                          predefined_type="LANDING")
    run("aggregate.assign_object", f, relating_object=stair, products=[flight, landing])
    roof = add_element(f, ctx, "IfcRoof", "RF1", None, (0.0, 20.0, 3.0))
    s, c = math.sin(PITCH), math.cos(PITCH)
    halves = []
    for name, z_axis, at in (("RS1", (0.0, -s, c), (0.0, 20.0, 3.0)), ("RS2", (0.0, s, c), (0.0, 26.0, 3.0))):
        rep = run("geometry.add_slab_representation", f, context=body, depth=0.2,
                  polyline=[(0.0, 0.0), (5.0, 0.0), (5.0, 3.0), (0.0, 3.0)])
        halves.append(add_element(f, ctx, "IfcSlab", name, rep, at, container=False, predefined_type="ROOF",
                                  z_axis=z_axis))
    run("aggregate.assign_object", f, relating_object=roof, products=halves)
    return write(f, path)


@pytest.fixture(scope="module")
def values(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("more")
    store = Store(tmp / "store", "EPSG:4549")
    ingest_file(store, default_config("EPSG:4549"), build(tmp / "more.ifc"), workers=1)
    takeoff(store, "more")
    names = {e["global_id"]: e["name"] for e in store.read_model("elements", "more").to_pylist()}
    rows = store.read("quantities", filters=[("model_id", "=", "more")]).to_pylist()
    return {(names[r["global_id"]], r["name"]): r for r in rows if r["method"] == "computed"}


def _check(values, element: str, qset: str, expected: dict[str, float]) -> None:
    for name, want in expected.items():
        row = values[(element, name)]
        assert row["qset"] == qset and row["reliable"], (element, name, row["note"])
        assert row["value"] == pytest.approx(want, rel=REL), (element, name)


def test_a_two_by_one_by_half_metre_footing_measures_as_a_prism_along_its_length(values):
    _check(values, "F1", "Qto_FootingBaseQuantities",
           {"Length": 2.0, "Width": 1.0, "Height": 0.5, "CrossSectionArea": 0.5, "OuterSurfaceArea": 6.0,
            "GrossSurfaceArea": 7.0, "GrossVolume": 1.0, "NetVolume": 1.0})


def test_a_three_by_four_metre_covering_two_centimetres_thick(values):
    _check(values, "C1", "Qto_CoveringBaseQuantities", {"Width": 0.02, "GrossArea": 12.0, "NetArea": 12.0})


def test_a_railing_turned_in_plan_keeps_its_three_metre_length(values):
    _check(values, "R1", "Qto_RailingBaseQuantities", {"Length": 3.0})


def test_a_stair_flight_runs_along_its_rising_treads(values):
    _check(values, "SF1", "Qto_StairFlightBaseQuantities", {"Length": 0.9, "GrossVolume": 0.36, "NetVolume": 0.36})


def test_a_stair_sums_its_flight_run_and_the_volumes_of_flight_and_landing(values):
    _check(values, "ST1", "Qto_StairBaseQuantities", {"Length": 0.9, "GrossVolume": 0.56, "NetVolume": 0.56})


def test_a_pitched_roof_has_the_true_area_of_its_slabs_and_their_ground_projection(values):
    _check(values, "RF1", "Qto_RoofBaseQuantities",
           {"GrossArea": 30.0, "NetArea": 30.0, "ProjectedArea": 30.0 * math.cos(PITCH)})


def test_an_open_covering_surface_keeps_its_area_but_every_quantity_is_flagged():
    from cim.qto.mesh_measures import mesh_from_arrays
    from cim.qto.more_classes import covering_quantities

    far = np.array([464_900.0, 2_865_800.0, 5.0])
    quad = np.array([[0.0, 0.0, 0.0], [3.0, 0.0, 0.0], [3.0, 4.0, 0.0], [0.0, 4.0, 0.0]]) + far
    mesh = mesh_from_arrays(quad, np.array([[0, 2, 1], [0, 3, 2]]))  # facing down: the ceiling side
    by_name = {q.name: q for q in covering_quantities(mesh, mesh)}
    assert not mesh.closed
    assert by_name["GrossArea"].value == pytest.approx(12.0, rel=REL)
    assert by_name["NetArea"].value == pytest.approx(12.0, rel=REL)
    assert by_name["Width"].value == pytest.approx(0.0, abs=1e-9)
    assert not any(q.reliable for q in by_name.values()) and "not closed" in by_name["NetArea"].note


def test_a_footing_without_its_top_is_open_and_its_volumes_and_section_are_flagged():
    from cim.qto.mesh_measures import mesh_from_arrays
    from cim.qto.more_classes import footing_quantities
    from tests.test_qto_measures import box

    verts, faces = box(2.0, 1.0, 0.5)
    mesh = mesh_from_arrays(verts, faces[[0, 1, *range(4, 12)]])
    by_name = {q.name: q for q in footing_quantities(mesh, mesh)}
    assert (by_name["Length"].value, by_name["Width"].value, by_name["Height"].value) == pytest.approx((2.0, 1.0, 0.5))
    assert not by_name["NetVolume"].reliable and not by_name["CrossSectionArea"].reliable
    assert by_name["GrossSurfaceArea"].value == pytest.approx(5.0, rel=REL) and not by_name["GrossSurfaceArea"].reliable
