"""Pipes, cables and cable trays: 50 m segments chained through ports, one IfcDistributionSystem per run."""

from __future__ import annotations

import ifcopenshell.api.material
import ifcopenshell.api.system

from cim.samples import tunnel_spec as spec
from cim.samples.tunnel_handover import Handover, Product
from cim.samples.tunnel_ifc import Entity, Model, stable_guid
from cim.samples.tunnel_structure import Spatial

JOINT_LENGTH = 0.4  # couplings and valves straddle the 50 m joints
_PIPE_WALL = {"DN300": 0.008, "DN500": 0.01, "DN600": 0.012}
_PIPE_PRODUCTS = {
    "Seamless steel L245": Product("Tianjin Steel Pipe (demo)", "L245 seamless DN300", "TSP-L245-300", 2, 30, 12),
    "Pre-insulated steel Q235B": Product("Binhai Pipe Systems (demo)", "Pre-insulated DN500", "BPS-PI-500", 2, 30, 12),
    "Ductile iron K9": Product("Xinxing Ductile Iron (demo)", "K9 T-joint", "XDI-K9", 2, 50, 24),
}
_CABLE_PRODUCT = Product("Far East Cable (demo)", "YJLW03 XLPE", "FEC-XLPE", 3, 30, 12)
_FIBRE_PRODUCT = Product("YOFC (demo)", "GYTA53 288B1", "YOFC-288", 3, 25, 12)
_TRAY_PRODUCT = Product("Binhai Cable Support (demo)", "Hot-dip galvanised tray 500", "BCS-T500", 5, 30, 36)
_VALVE_PRODUCT = Product("Shanghai Valve Works (demo)", "Gate valve PN16", "SVW-Z45", 2, 25, 6)
_COUPLING_PRODUCT = Product("Binhai Pipe Systems (demo)", "Flanged coupling", "BPS-FC", 2, 30, 24)
_CLASSIFICATION = {
    "pipe": ("Pr_65_52_63", "Pipes"),
    "valve": ("Pr_65_54_95", "Valves"),
    "cable": ("Pr_65_70_11", "Cables"),
    "tray": ("Pr_65_70_48", "Cable management products"),
}


def _ports(m: Model, element: Entity, length: float, port_type: str, system_type: str) -> tuple[Entity, Entity]:
    """Inlet at x = 0 and outlet at x = length of the element's own placement."""
    ports = []
    for label, x in (("inlet", 0.0), ("outlet", length)):
        port = ifcopenshell.api.system.add_port(m.f, element=element)
        port.Name = f"{element.Name} {label}"
        port.PredefinedType = port_type
        port.SystemType = system_type
        port.ObjectPlacement = m.local_placement(x, 0.0, 0.0, element.ObjectPlacement)
        ports.append(port)
    return ports[0], ports[1]


def build_utilities(m: Model, s: Spatial, h: Handover) -> dict[str, Entity]:
    """All pipe and cable runs; returns the systems by utility key."""
    systems = {}
    for u in spec.UTILITIES:
        systems[u.key] = _run(m, s, h, u)
    _trays(m, s, h)
    return systems


def _run(m: Model, s: Spatial, h: Handover, u: spec.Utility) -> Entity:
    system = ifcopenshell.api.system.add_system(m.f, ifc_class="IfcDistributionSystem")
    system.Name, system.PredefinedType, system.LongName = u.system_name, u.system_type, u.nominal
    system.Description = f"{u.medium}; owner {u.owner.name}"
    m.pset(
        [system],
        "Pset_CimUtilitySystem",
        {
            "Owner": u.owner.name,
            "Operator": u.owner.name,
            "Medium": u.medium,
            "Nominal": u.nominal,
            "CompartmentKey": u.comp,
            "DesignPressure": m.f.createIfcPressureMeasure(u.design_pressure_pa) if u.design_pressure_pa else None,
            "RatedVoltage": m.f.createIfcElectricVoltageMeasure(u.voltage_v) if u.voltage_v else None,
        },
    )
    h.assign([system], u.owner, "OWNER")
    h.assign([system], u.owner, "BUILDINGOPERATOR")
    is_pipe = u.kind == "pipe"
    seg_class = "IfcPipeSegment" if is_pipe else "IfcCableSegment"
    product = _PIPE_PRODUCTS[u.material] if is_pipe else (_FIBRE_PRODUCT if u.key == "TEL" else _CABLE_PRODUCT)
    seg_type = _segment_type(m, h, u, seg_class, product)
    port_type = "PIPE" if is_pipe else "CABLE"
    direction = "SINK" if u.key == "HR" else ("SOURCEANDSINK" if u.key == "TEL" else "SOURCE")
    segments: list[Entity] = []
    joints: list[Entity] = []
    last_out: Entity | None = None
    n_seg = int(spec.LENGTH // spec.SEGMENT)
    for k in range(n_seg):
        x0 = k * spec.SEGMENT
        name = f"{u.key} {u.nominal} segment {spec.chainage_label(x0)}"
        seg = m.product(seg_class, name, seg_type.PredefinedType, Tag=f"{u.key}-S{k + 1:02d}")
        seg.ObjectPlacement = m.local_placement(x0, u.y, u.z, s.facility.ObjectPlacement)
        wall = _PIPE_WALL.get(u.nominal) if is_pipe else None
        seg.Representation = m.shape([m.tube_along_x(spec.SEGMENT, u.diameter, wall)])
        s.contain(s.fire_compartment(u.comp, x0 + spec.SEGMENT / 2), seg)
        inlet, outlet = _ports(m, seg, spec.SEGMENT, port_type, u.system_type)
        if last_out is not None:
            ifcopenshell.api.system.connect_port(m.f, last_out, inlet, direction=direction)
        last_out = outlet
        segments.append(seg)
        x1 = x0 + spec.SEGMENT
        if is_pipe and x1 < spec.LENGTH:
            joint, j_in, j_out = _joint(m, s, u, x1, len(joints) + 1)
            ifcopenshell.api.system.connect_port(m.f, last_out, j_in, direction=direction)
            last_out = j_out
            joints.append(joint)
    m.assign_type(seg_type, segments)
    ifcopenshell.api.system.assign_system(m.f, products=segments + joints, system=system)
    installed = "2025-03-15" if is_pipe else "2025-05-20"
    h.occurrences(segments, product, u.owner, u.owner, installed, f"{u.key}-SEG")
    h.classify(segments, *_CLASSIFICATION["pipe" if is_pipe else "cable"])
    if joints:
        valves = [j for j in joints if j.is_a("IfcValve")]
        couplings = [j for j in joints if not j.is_a("IfcValve")]
        _joint_types(m, h, u, valves, couplings)
        h.occurrences(valves, _VALVE_PRODUCT, u.owner, u.owner, installed, f"{u.key}-VLV")
        h.occurrences(couplings, _COUPLING_PRODUCT, u.owner, u.owner, installed, f"{u.key}-CPL")
        h.classify(valves, *_CLASSIFICATION["valve"])
    return system


def _segment_type(m: Model, h: Handover, u: spec.Utility, seg_class: str, product: Product) -> Entity:
    """One type per nominal size and material, shared by runs that use the same product (supply/return)."""
    name = f"{u.nominal} {u.material}"
    try:
        return m.f.by_guid(stable_guid(f"{seg_class}Type/{name}"))
    except RuntimeError:
        pass  # first run of this product: create the type below
    is_pipe = seg_class == "IfcPipeSegment"
    material = m.material(u.material, "steel" if is_pipe else "cable")
    predefined = "RIGIDSEGMENT" if is_pipe else ("OPTICALCABLESEGMENT" if u.key == "TEL" else "CABLESEGMENT")
    seg_type = m.element_type(f"{seg_class}Type", name, predefined)
    ifcopenshell.api.material.assign_material(m.f, products=[seg_type], material=material)
    h.type_data(seg_type, product)
    if is_pipe:
        m.pset(
            [seg_type],
            "Pset_PipeSegmentTypeCommon",
            {
                "Reference": u.nominal,
                "NominalDiameter": float(u.nominal[2:]) / 1000,
                "OuterDiameter": u.diameter,
                "InnerDiameter": u.diameter - 2 * _PIPE_WALL[u.nominal],
                "WorkingPressure": u.design_pressure_pa,
                "Length": spec.SEGMENT,
            },
        )
    else:
        m.pset([seg_type], "Pset_CableSegmentTypeCommon", {"Reference": u.nominal})
        if u.voltage_v:
            m.pset([seg_type], "Pset_ElectricalDeviceCommon", {"RatedVoltage": u.voltage_v})
    return seg_type


def _joint(m: Model, s: Spatial, u: spec.Utility, x: float, n: int) -> tuple[Entity, Entity, Entity]:
    """A valve at the 200 m fire walls (so each fire compartment can be isolated), a coupling elsewhere."""
    is_valve = x in spec.VALVE_CHAINAGES
    if is_valve:
        ptype = "SAFETYCUTOFF" if u.key == "GAS" else "ISOLATING"
        name = f"{u.key} {u.nominal} valve {spec.chainage_label(x)}"
        el = m.product("IfcValve", name, ptype, Tag=f"{u.key}-V{n:02d}")
    else:
        el = m.product(
            "IfcPipeFitting",
            f"{u.key} {u.nominal} coupling {spec.chainage_label(x)}",
            "CONNECTOR",
            Tag=f"{u.key}-C{n:02d}",
        )
    el.ObjectPlacement = m.local_placement(x - JOINT_LENGTH / 2, u.y, u.z, s.facility.ObjectPlacement)
    outer = u.diameter + (0.12 if is_valve else 0.06)
    el.Representation = m.shape([m.tube_along_x(JOINT_LENGTH, outer)])
    s.contain(s.fire_compartment(u.comp, x), el)
    inlet, outlet = _ports(m, el, JOINT_LENGTH, "PIPE", u.system_type)
    return el, inlet, outlet


def _joint_types(m: Model, h: Handover, u: spec.Utility, valves: list[Entity], couplings: list[Entity]) -> None:
    if valves:
        vt = m.element_type("IfcValveType", f"{u.nominal} {u.key} valve", valves[0].PredefinedType)
        h.type_data(vt, _VALVE_PRODUCT)
        m.pset(
            [vt], "Pset_ValveTypeCommon", {"Size": float(u.nominal[2:]) / 1000, "WorkingPressure": u.design_pressure_pa}
        )
        m.assign_type(vt, valves)
    if couplings:
        ct = m.element_type("IfcPipeFittingType", f"{u.nominal} {u.key} coupling", "CONNECTOR")
        h.type_data(ct, _COUPLING_PRODUCT)
        m.assign_type(ct, couplings)


def _trays(m: Model, s: Spatial, h: Handover) -> None:
    """Cable tray tiers in 50 m segments (cable carriers: no ports, owned by the tunnel owner)."""
    tray_type = m.element_type("IfcCableCarrierSegmentType", "Galvanised cable tray 500x100", "CABLETRAYSEGMENT")
    steel = m.material("Hot-dip galvanised steel Q235", "steel")
    ifcopenshell.api.material.assign_material(m.f, products=[tray_type], material=steel)
    h.type_data(tray_type, _TRAY_PRODUCT)
    trays = []
    for tier, (key, y, z_top) in enumerate(spec.TRAYS):
        for k in range(int(spec.LENGTH // spec.SEGMENT)):
            x0 = k * spec.SEGMENT
            tray = m.product(
                "IfcCableCarrierSegment",
                f"{key} tray tier {tier + 1} {spec.chainage_label(x0)}",
                "CABLETRAYSEGMENT",
                Tag=f"{key}-T{tier + 1}-{k + 1:02d}",
            )
            tray.ObjectPlacement = m.local_placement(x0, y, z_top - spec.TRAY_THICKNESS, s.facility.ObjectPlacement)
            tray.Representation = m.shape([m.box(spec.SEGMENT, spec.TRAY_WIDTH, spec.TRAY_THICKNESS, spec.SEGMENT / 2)])
            s.contain(s.fire_compartment(key, x0 + spec.SEGMENT / 2), tray)
            trays.append(tray)
    m.assign_type(tray_type, trays)
    h.occurrences(trays, _TRAY_PRODUCT, spec.TUNNEL_OWNER, spec.TUNNEL_OPERATOR, "2024-11-10", "TRAY")
    h.classify(trays, *_CLASSIFICATION["tray"])
