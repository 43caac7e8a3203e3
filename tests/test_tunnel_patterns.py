"""Extraction on tiny georeferenced tunnels built with ifcopenshell.api, one per recognised modelling pattern.

Every model has an IfcAlignment starting at K1+000 and heading 36.87° north of east (direction (0.8, 0.6)), one
compartment and a pipe or cable run in a distribution system, a sensor and a camera placed at known chainages and
lateral offsets (left of the axis positive). Tolerances: point assets 0.01 m (the centre of a box's bounds is its
centre exactly), segment ends 0.25 m (bounds of a slanted 0.2 m thick run reach past its end faces).
"""

from __future__ import annotations

import ifcopenshell
import ifcopenshell.api.aggregate
import ifcopenshell.api.alignment
import ifcopenshell.api.geometry
import ifcopenshell.api.pset
import ifcopenshell.api.root
import ifcopenshell.api.spatial
import ifcopenshell.api.system
import numpy as np
import pytest

from cim.config import default_config
from cim.ingest.run import ingest_file
from cim.store import Store
from cim.tunnel.run import analyse_tunnel
from tests.models import new_model

START = 1000.0
DIRECTION = np.array([0.8, 0.6])
NORMAL = np.array([-0.6, 0.8])  # left of the direction
RUN = (1010.0, 1030.0, 1.5)  # pipe / cable from station, to station, at lateral offset
SENSOR = (1020.0, -1.0)
CAMERA = (1045.0, 0.4)
SEGMENT_TOL, POINT_TOL = 0.25, 0.01


def _local(station: float, offset: float) -> np.ndarray:
    return DIRECTION * (station - START) + NORMAL * offset


def _place(f, product, station: float, offset: float, z: float) -> None:
    """Local x along the axis, y to its left, origin at (station, offset)."""
    m = np.eye(4)
    m[:2, 0], m[:2, 1] = DIRECTION, NORMAL
    m[:3, 3] = [*_local(station, offset), z]
    ifcopenshell.api.geometry.edit_object_placement(f, product=product, matrix=m, is_si=True)


def _box(f, ctx, product, station: float, offset: float, z: float, length: float, width: float, height: float):
    """A box from ``station`` along the axis, centred on ``offset`` across it."""
    rep = ifcopenshell.api.geometry.add_wall_representation(f, context=ctx["body"], length=length, height=height,
                                                            thickness=width, offset=-width / 2)
    ifcopenshell.api.geometry.assign_representation(f, product=product, representation=rep)
    _place(f, product, station, offset, z)


def _alignment(f) -> None:
    al = ifcopenshell.api.alignment
    alignment = al.create(f, "Test tunnel axis")
    end = _local(START + 100.0, 0.0)
    al.layout_horizontal_alignment_by_pi_method(f, al.get_horizontal_layout(alignment),
                                                [(0.0, 0.0), (float(end[0]), float(end[1]))], [])
    al.add_stationing_referent(f, "K1+000", alignment, 0.0, START)


def _zone(f, ifc_class: str, name: str, parent, *, object_type: str | None = None, props: dict | None = None,
          predefined: str | None = None, aggregate: bool = True):
    zone = ifcopenshell.api.root.create_entity(f, ifc_class=ifc_class, name=name, predefined_type=predefined)
    if object_type:
        zone.ObjectType = object_type
    if aggregate:
        ifcopenshell.api.aggregate.assign_object(f, relating_object=parent, products=[zone])
    ifcopenshell.api.geometry.edit_object_placement(f, product=zone)
    if props:
        pset = ifcopenshell.api.pset.add_pset(f, product=zone, name="Cim_TunnelZone")
        ifcopenshell.api.pset.edit_pset(f, pset=pset, properties=props)
    return zone


def _assets(f, ctx, *, run_holder, holder, system_type: str, cable: bool = False) -> None:
    """A run in a distribution system, a sensor and a camera; the run may sit in another zone than the rest."""
    api = ifcopenshell.api
    cls, kind = ("IfcCableSegment", "CABLESEGMENT") if cable else ("IfcPipeSegment", "RIGIDSEGMENT")
    run = api.root.create_entity(f, ifc_class=cls, name="Run", predefined_type=kind)
    sensor = api.root.create_entity(f, ifc_class="IfcSensor", name="Sensor CH4", predefined_type="GASSENSOR")
    camera = api.root.create_entity(f, ifc_class="IfcAudioVisualAppliance", name="Camera",
                                    predefined_type="CAMERA")
    api.spatial.assign_container(f, relating_structure=run_holder, products=[run])
    api.spatial.assign_container(f, relating_structure=holder, products=[sensor, camera])
    _box(f, ctx, run, RUN[0], RUN[2], 1.0, RUN[1] - RUN[0], 0.2, 0.2)
    _box(f, ctx, sensor, SENSOR[0] - 0.1, SENSOR[1], 2.0, 0.2, 0.2, 0.2)
    _box(f, ctx, camera, CAMERA[0] - 0.1, CAMERA[1], 2.5, 0.2, 0.2, 0.2)
    system = api.system.add_system(f, ifc_class="IfcDistributionSystem")
    system.Name, system.PredefinedType = f"{system_type.title()} network", system_type
    api.system.assign_system(f, products=[run], system=system)


def _facility_part(f, ctx) -> str:
    """IFC4X3: IfcFacility + IfcFacilityPartCommon compartment typed by pset, a fire compartment aggregated in it."""
    api = ifcopenshell.api
    api.root.remove_product(f, product=ctx["storey"])
    api.root.remove_product(f, product=ctx["building"])
    facility = _zone(f, "IfcFacility", "Test utility tunnel", ctx["site"], object_type="UtilityTunnel")
    comp = _zone(f, "IfcFacilityPartCommon", "Cabin 1", facility, object_type="TunnelCompartment",
                 predefined="USERDEFINED", props={"CompartmentType": "gas"})
    fire = _zone(f, "IfcFacilityPartCommon", "C1-FC1", comp, object_type="FireCompartment", predefined="USERDEFINED",
                 props={"ChainageStart": START, "ChainageEnd": START + 60.0})
    _assets(f, ctx, run_holder=fire, holder=comp, system_type="GAS")
    return "facility-part"


def _building_storey(f, ctx) -> str:
    """IfcBuilding + one IfcBuildingStorey per compartment, typed by its name."""
    ctx["storey"].Name = "热力舱 Heat compartment"
    _assets(f, ctx, run_holder=ctx["storey"], holder=ctx["storey"], system_type="HEATING")
    return "building-storey"


def _space(f, ctx) -> str:
    """IfcSpace compartment in an ordinary storey, typed by its name."""
    space = _zone(f, "IfcSpace", "电力舱 Power compartment", ctx["storey"])
    _assets(f, ctx, run_holder=space, holder=space, system_type="ELECTRICAL", cable=True)
    return "space-zone"


def _spatial_zone(f, ctx) -> str:
    """IfcSpatialZone compartment with a neutral name: its type comes from the utilities inside."""
    zone = _zone(f, "IfcSpatialZone", "Cabin 2", ctx["storey"], object_type="TunnelCompartment")
    _assets(f, ctx, run_holder=zone, holder=zone, system_type="WATERSUPPLY")
    return "space-zone"


def _named_proxy(f, ctx) -> str:
    """A proxy with a body named as a compartment; assets sit in the storey and belong to it by geometry."""
    proxy = ifcopenshell.api.root.create_entity(f, ifc_class="IfcBuildingElementProxy", name="Telecom compartment")
    ifcopenshell.api.spatial.assign_container(f, relating_structure=ctx["storey"], products=[proxy])
    _box(f, ctx, proxy, START, 0.0, 0.0, 60.0, 4.0, 3.0)
    _assets(f, ctx, run_holder=ctx["storey"], holder=ctx["storey"], system_type="COMMUNICATION", cable=True)
    return "named-proxy"


CASES = {  # builder, compartment name, compartment type, fire compartment of every asset
    "facility_part": (_facility_part, "Cabin 1", "gas", "C1-FC1"),
    "building_storey": (_building_storey, "热力舱 Heat compartment", "heat", None),
    "space": (_space, "电力舱 Power compartment", "power", None),
    "spatial_zone": (_spatial_zone, "Cabin 2", "water", None),
    "named_proxy": (_named_proxy, "Telecom compartment", "telecom", None),
}


@pytest.fixture(scope="module")
def analysed(tmp_path_factory) -> dict[str, tuple[str, dict[str, dict], list[dict]]]:
    """Every case ingested into one store and analysed: case -> (pattern, assets by name, compartments)."""
    root = tmp_path_factory.mktemp("tunnel_patterns")
    config = default_config("EPSG:4549")
    store = Store(root / "store", config.crs)
    out = {}
    for case, (build, *_) in CASES.items():
        f, ctx = new_model("IFC4X3")
        _alignment(f)
        pattern = build(f, ctx)
        path = root / f"{case}.ifc"
        f.write(str(path))
        outcome = ingest_file(store, config, path)
        assert outcome.action == "ingested", outcome.message
        analyse_tunnel(store, outcome.model_ids[0], path)
        assets = {r["name"]: r for r in store.read_model("tunnel_assets", outcome.model_ids[0]).to_pylist()}
        comps = store.read_model("tunnel_compartments", outcome.model_ids[0]).to_pylist()
        out[case] = (pattern, assets, comps)
    return out


@pytest.mark.parametrize("case", CASES)
def test_each_pattern_puts_every_asset_in_its_compartment_with_the_compartment_type(analysed, case):
    _, name, ctype, fire = CASES[case]
    _, assets, _ = analysed[case]
    assert set(assets) == {"Run", "Sensor CH4", "Camera"}
    for asset in assets.values():
        assert (asset["compartment"], asset["compartment_type"]) == (name, ctype)
        assert asset["fire_compartment"] == fire


@pytest.mark.parametrize("case", CASES)
def test_each_pattern_records_the_compartment_with_its_pattern_and_members(analysed, case):
    pattern, assets, comps = analysed[case]
    _, name, ctype, _ = CASES[case]
    comp = next(c for c in comps if c["kind"] == "compartment")
    assert (comp["name"], comp["pattern"], comp["compartment_type"], comp["n_assets"]) == (name, pattern, ctype, 3)


@pytest.mark.parametrize("case", CASES)
def test_each_pattern_gives_chainage_and_left_positive_offsets_along_the_alignment(analysed, case):
    _, assets, _ = analysed[case]
    run, sensor, camera = assets["Run"], assets["Sensor CH4"], assets["Camera"]
    assert run["chainage_start_m"] == pytest.approx(RUN[0], abs=SEGMENT_TOL)
    assert run["chainage_end_m"] == pytest.approx(RUN[1], abs=SEGMENT_TOL)
    assert run["length_m"] == pytest.approx(RUN[1] - RUN[0], abs=2 * SEGMENT_TOL)
    assert run["lateral_offset_m"] == pytest.approx(RUN[2], abs=POINT_TOL)
    assert (sensor["chainage_start_m"], sensor["lateral_offset_m"]) == pytest.approx(SENSOR, abs=POINT_TOL)
    assert (camera["chainage_start_m"], camera["lateral_offset_m"]) == pytest.approx(CAMERA, abs=POINT_TOL)
    assert run["chainage_source"] == sensor["chainage_source"] == "projection"


@pytest.mark.parametrize("case", CASES)
def test_each_pattern_classifies_the_run_sensor_and_camera(analysed, case):
    _, assets, _ = analysed[case]
    run_kind = "cable" if case in ("space", "named_proxy") else "pipe"
    assert assets["Run"]["asset_kind"] == run_kind and assets["Run"]["system"]
    assert (assets["Sensor CH4"]["asset_kind"], assets["Sensor CH4"]["measured_quantity"]) == ("sensor", "CH4")
    assert (assets["Camera"]["asset_kind"], assets["Camera"]["measured_quantity"]) == ("camera", "video")


def test_a_fire_compartment_part_is_linked_to_its_compartment_and_spans_its_chainage_properties(analysed):
    _, _, comps = analysed["facility_part"]
    fire = next(c for c in comps if c["kind"] == "fire_compartment")
    assert (fire["name"], fire["compartment"], fire["compartment_type"]) == ("C1-FC1", "Cabin 1", "gas")
    assert (fire["chainage_start_m"], fire["chainage_end_m"]) == pytest.approx((START, START + 60.0))

