"""The demo utility tunnel: deterministic IFC4X3 model with alignment, compartments, systems and handover data."""

from __future__ import annotations

import hashlib
from pathlib import Path

import ifcopenshell
import ifcopenshell.geom
import ifcopenshell.util.element as uel
import ifcopenshell.util.geolocation as geo
import ifcopenshell.util.system as usys
import numpy as np
import pytest

from cim.samples import layout
from cim.samples import tunnel_spec as spec
from cim.samples.tunnel import write_tunnel


@pytest.fixture(scope="module")
def tunnel_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("tunnel") / "utility_tunnel.ifc"
    write_tunnel(path)
    return path


@pytest.fixture(scope="module")
def model(tunnel_path: Path) -> ifcopenshell.file:
    return ifcopenshell.open(str(tunnel_path))


def _fire_compartments(model: ifcopenshell.file) -> list[ifcopenshell.entity_instance]:
    return [p for p in model.by_type("IfcFacilityPartCommon") if p.ObjectType == "FireCompartment"]


def _container_name(el: ifcopenshell.entity_instance) -> str:
    return uel.get_container(el).Name


def test_regenerating_the_tunnel_gives_a_byte_identical_file(tunnel_path: Path, tmp_path: Path) -> None:
    again = tmp_path / "again.ifc"
    write_tunnel(again)
    assert hashlib.sha256(again.read_bytes()).hexdigest() == hashlib.sha256(tunnel_path.read_bytes()).hexdigest()
    assert "2026-01-01T00:00:00" in again.read_text()[:1000]


def test_the_model_is_ifc4x3_add2_with_a_realistic_number_of_products(model: ifcopenshell.file) -> None:
    assert model.schema_identifier == "IFC4X3_ADD2"
    elements = model.by_type("IfcElement")
    assert 1000 <= len(elements) <= 3000
    facility = model.by_type("IfcFacility")
    assert [(f.Name, f.ObjectType) for f in facility if f.is_a() == "IfcFacility"] == [
        ("Binhai Avenue Utility Tunnel", "UtilityTunnel")
    ]


def test_the_alignment_runs_1000_m_from_k0_000(model: ifcopenshell.file) -> None:
    (alignment,) = model.by_type("IfcAlignment")
    horizontal = [
        s.DesignParameters
        for s in model.by_type("IfcAlignmentSegment")
        if s.DesignParameters.is_a("IfcAlignmentHorizontalSegment")
    ]
    assert sum(h.SegmentLength for h in horizontal) == pytest.approx(1000.0)
    vertical = [
        s.DesignParameters
        for s in model.by_type("IfcAlignmentSegment")
        if s.DesignParameters.is_a("IfcAlignmentVerticalSegment")
    ]
    assert sum(v.HorizontalLength for v in vertical) == pytest.approx(1000.0)
    (curve,) = model.by_type("IfcGradientCurve")
    lengths = [seg.SegmentLength.wrappedValue for seg in curve.Segments]
    assert sum(lengths) == pytest.approx(1000.0)
    stations = [r for r in model.by_type("IfcReferent") if r.PredefinedType == "STATION"]
    assert stations and stations[0].Name == "K0+000"
    refs = [r.RelatingStructure.Name for r in alignment.ReferencedInStructures]
    assert refs == ["Binhai Avenue Utility Tunnel"]


def test_the_map_conversion_puts_k0_000_at_the_layout_false_origin(model: ifcopenshell.file) -> None:
    (conversion,) = model.by_type("IfcMapConversion")
    assert conversion.TargetCRS.Name == "EPSG:4549"
    e, n, h = geo.auto_xyz2enh(model, 0.0, 0.0, 0.0)
    assert (e, n, h) == pytest.approx((layout.TUNNEL_E0, layout.TUNNEL_AXIS_N, 0.0))
    e1, n1, _ = geo.auto_xyz2enh(model, spec.LENGTH, -spec.HALF_WIDTH, 0.0)
    assert (e1, n1) == pytest.approx((layout.TUNNEL_E1, layout.TUNNEL_AXIS_N - layout.TUNNEL_OUTER_WIDTH / 2))


def test_compartments_carry_their_type_width_and_clear_height(model: ifcopenshell.file) -> None:
    parts = {p.Name: p for p in model.by_type("IfcFacilityPartCommon") if p.ObjectType == "TunnelCompartment"}
    assert set(parts) == {c.name for c in spec.COMPARTMENTS}
    kinds = {uel.get_pset(p, "Pset_CimTunnelCompartment", "CompartmentType") for p in parts.values()}
    assert kinds == {"gas", "heat", "mixed", "power"}
    gas = uel.get_pset(parts["Gas compartment"], "Pset_CimTunnelCompartment")
    assert gas["Width"] == pytest.approx(1.8)
    assert gas["ClearHeight"] == pytest.approx(3.4)


def test_fire_compartments_are_at_most_200_m_except_the_planted_250_m_one(model: ifcopenshell.file) -> None:
    fires = _fire_compartments(model)
    assert len(fires) == 20
    lengths = {}
    for fc in fires:
        props = uel.get_pset(fc, "Pset_CimFireCompartment")
        lengths[fc.Name] = props["ChainageEnd"] - props["ChainageStart"]
        assert props["Length"] == pytest.approx(lengths[fc.Name])
    too_long = {name: length for name, length in lengths.items() if length > spec.MAX_FIRE_COMPARTMENT}
    assert too_long == {"PWR-FC2": pytest.approx(250.0)}
    for comp in spec.COMPARTMENTS:  # each compartment is covered end to end
        assert sum(v for k, v in lengths.items() if k.startswith(comp.key + "-")) == pytest.approx(1000.0)


def test_every_pipe_and_cable_belongs_to_a_system_with_an_owner(model: ifcopenshell.file) -> None:
    segments = model.by_type("IfcPipeSegment") + model.by_type("IfcCableSegment")
    assert len(segments) == 20 * len(spec.UTILITIES)
    for seg in segments:
        systems = [r.RelatingGroup for r in seg.HasAssignments if r.is_a("IfcRelAssignsToGroup")]
        assert len(systems) == 1, seg.Name
        system = systems[0]
        owners = [r for r in system.HasAssignments if r.is_a("IfcRelAssignsToActor") and r.ActingRole.Role == "OWNER"]
        assert owners, system.Name
        assert uel.get_pset(system, "Pset_CimUtilitySystem", "Owner") == owners[0].RelatingActor.Name
    names = {s.Name for s in model.by_type("IfcDistributionSystem")}
    assert {"DN600 water main", "110 kV cable circuit", "DN300 gas main"} <= names


def test_the_water_main_can_be_traced_port_to_port_from_k0_000_to_k1_000(model: ifcopenshell.file) -> None:
    system = next(s for s in model.by_type("IfcDistributionSystem") if s.Name == "DN600 water main")
    members = [o for r in system.IsGroupedBy for o in r.RelatedObjects]
    start = next(m for m in members if m.Name.endswith("segment K0+000"))
    seen, element = [start], start
    while True:
        outlet = next(p for p in usys.get_ports(element) if p.Name.endswith("outlet"))
        nxt = outlet.ConnectedTo[0].RelatedPort if outlet.ConnectedTo else None
        if nxt is None:
            break
        element = uel.get_nest(nxt)
        seen.append(element)
    assert len(seen) == 20 + 19 == len(members)
    assert seen[-1].Name.endswith("segment K0+950")
    assert sum(1 for e in seen if e.is_a("IfcValve")) == 4


def test_pipes_carry_nominal_diameter_material_and_pressure(model: ifcopenshell.file) -> None:
    seg = next(s for s in model.by_type("IfcPipeSegment") if s.Name.startswith("WS "))
    props = uel.get_psets(seg)
    assert props["Pset_PipeSegmentTypeCommon"]["NominalDiameter"] == pytest.approx(0.6)
    assert props["Pset_PipeSegmentTypeCommon"]["WorkingPressure"] == pytest.approx(0.6e6)
    assert uel.get_material(seg).Name == "Ductile iron K9"
    hv = next(s for s in model.by_type("IfcCableSegment") if s.Name.startswith("HV "))
    assert uel.get_pset(hv, "Pset_ElectricalDeviceCommon", "RatedVoltage") == pytest.approx(110e3)


def test_gas_sits_alone_and_heat_never_shares_with_power(model: ifcopenshell.file) -> None:
    by_compartment: dict[str, set[str]] = {}
    for seg in model.by_type("IfcPipeSegment") + model.by_type("IfcCableSegment"):
        key = _container_name(seg).split("-")[0]
        system = next(r.RelatingGroup for r in seg.HasAssignments if r.is_a("IfcRelAssignsToGroup"))
        by_compartment.setdefault(key, set()).add(system.PredefinedType)
    assert by_compartment["GAS"] == {"GAS"}
    assert "HEATING" not in by_compartment["PWR"] and "ELECTRICAL" not in by_compartment["HEAT"]


def test_every_required_sensor_kind_exists_with_alarm_set_points(model: ifcopenshell.file) -> None:
    sensors = model.by_type("IfcSensor")
    kinds = {uel.get_predefined_type(s) for s in sensors}
    assert {"TEMPERATURESENSOR", "HUMIDITYSENSOR", "GASSENSOR", "LEVELSENSOR"} <= kinds
    gases = {
        uel.get_pset(s, "Pset_SensorTypeGasSensor", "GasDetected")
        for s in sensors
        if uel.get_predefined_type(s) == "GASSENSOR"
    }
    assert gases == {"O2", "CH4"}
    o2 = next(s for s in sensors if uel.get_pset(s, "Pset_CimMonitoringPoint", "GasDetected") == "O2")
    point = uel.get_pset(o2, "Pset_CimMonitoringPoint")
    assert (point["Unit"], point["AlarmLow"], point["AlarmHigh"]) == ("%vol", 19.5, 23.5)
    assert point["MonitoringPointId"].startswith("BHT-")


def test_only_the_planted_gas_fire_compartment_lacks_a_ch4_sensor(model: ifcopenshell.file) -> None:
    ch4_in = {
        _container_name(s)
        for s in model.by_type("IfcSensor")
        if uel.get_pset(s, "Pset_CimMonitoringPoint", "GasDetected") == "CH4"
    }
    gas_fcs = {fc.Name for fc in _fire_compartments(model) if fc.Name.startswith("GAS-")}
    assert gas_fcs - ch4_in == {"GAS-FC3"}


def test_only_the_planted_fire_compartment_has_no_camera(model: ifcopenshell.file) -> None:
    with_camera = {
        _container_name(c) for c in model.by_type("IfcAudioVisualAppliance") if uel.get_predefined_type(c) == "CAMERA"
    }
    assert {fc.Name for fc in _fire_compartments(model)} - with_camera == {"WT-FC4"}


def test_equipment_sits_on_the_alignment_at_its_chainage(model: ifcopenshell.file) -> None:
    (curve,) = model.by_type("IfcGradientCurve")
    for sensor in model.by_type("IfcSensor"):
        placement = sensor.ObjectPlacement
        assert placement.is_a("IfcLinearPlacement")
        location = placement.RelativePlacement.Location
        assert location.BasisCurve == curve
        chainage = uel.get_pset(sensor, "Pset_CimMonitoringPoint", "Chainage")
        assert location.DistanceAlong.wrappedValue == pytest.approx(chainage)
        fc = uel.get_container(sensor)
        props = uel.get_pset(fc, "Pset_CimFireCompartment")
        assert props["ChainageStart"] <= chainage <= props["ChainageEnd"]


def test_escape_openings_are_at_most_200_m_apart_in_every_compartment(model: ifcopenshell.file) -> None:
    for comp in spec.COMPARTMENTS:
        hatches = sorted(
            uel.get_pset(d, "Pset_CimTunnelOpening", "Chainage")
            for d in model.by_type("IfcDoor")
            if uel.get_pset(d, "Pset_CimTunnelOpening", "CompartmentKey") == comp.key
        )
        gaps = np.diff([0.0, *hatches, spec.LENGTH])
        assert len(hatches) == 5 and gaps.max() <= spec.MAX_ESCAPE_SPACING
    door = model.by_type("IfcDoor")[0]
    assert door.FillsVoids[0].RelatingOpeningElement.VoidsElements[0].RelatingBuildingElement.is_a("IfcSlab")


def test_most_assets_have_handover_data_and_the_planted_gaps_are_missing(model: ifcopenshell.file) -> None:
    assets = [e for e in model.by_type("IfcDistributionElement") if not e.is_a("IfcDistributionPort")]
    complete = [
        e
        for e in assets
        if e.Tag
        and uel.get_pset(e, "Pset_CimHandover", "Owner")
        and uel.get_pset(e, "Pset_ManufacturerOccurrence", "SerialNumber")
        and uel.get_pset(e, "Pset_ManufacturerTypeInformation", "Manufacturer")
    ]
    assert len(complete) == len(assets) - len(spec.INCOMPLETE_ASSETS)
    by_name = {e.Name: e for e in assets}
    assert by_name["HEAT-FC5 exhaust fan"].Tag is None
    assert uel.get_pset(by_name["HEAT-FC5 exhaust fan"], "Pset_CimHandover", "Owner") is None
    assert uel.get_pset(by_name["GAS-FC4 temperature sensor 2"], "Pset_CimHandover", "Owner") is None
    warranty = uel.get_pset(by_name["GAS-FC1 CH4 sensor 1"], "Pset_CimHandover")
    assert warranty["WarrantyEndDate"] > warranty["WarrantyStartDate"]
    classified = [e for e in assets if any(r.is_a("IfcRelAssociatesClassification") for r in e.HasAssociations)]
    assert 100 < len(classified) < len(assets)


def test_structure_and_pipes_mesh_inside_the_tunnel_envelope(model: ifcopenshell.file) -> None:
    settings = ifcopenshell.geom.settings()
    settings.set("use-world-coords", True)
    pipes = model.by_type("IfcPipeSegment")
    products = pipes + model.by_type("IfcWall")[:5] + model.by_type("IfcSlab")[:2]
    boxes = {}
    for product in products:
        shape = ifcopenshell.geom.create_shape(settings, product)
        verts = np.asarray(shape.geometry.verts).reshape(-1, 3)
        assert len(verts) > 0, product.Name
        boxes[product.id()] = (verts.min(axis=0), verts.max(axis=0))
    for pipe in pipes:
        lo, hi = boxes[pipe.id()]
        assert lo[1] >= -5.0 and hi[1] <= 5.0, pipe.Name
        assert lo[2] >= -2.0 and hi[2] <= 2.0, pipe.Name
        assert hi[0] - lo[0] == pytest.approx(spec.SEGMENT, abs=1e-6)
    water = next(p for p in pipes if p.Name == "WS DN600 segment K0+100")
    lo, hi = boxes[water.id()]
    assert (lo[0], hi[0]) == pytest.approx((100.0, 150.0))
    assert ((lo[1] + hi[1]) / 2, (lo[2] + hi[2]) / 2) == pytest.approx((0.5, -1.0), abs=1e-3)
    assert hi[2] - lo[2] == pytest.approx(0.64, abs=1e-3)
