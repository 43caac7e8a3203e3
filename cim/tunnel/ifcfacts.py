"""What the asset register needs from the IFC itself and the elements table does not hold.

Class inheritance (is it a distribution element?), owners and operators assigned as actors, system properties
(owner, medium, pressure of a whole pipe run), port flow directions and linear placements.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

import ifcopenshell
import ifcopenshell.util.element
import ifcopenshell.util.system
import ifcopenshell.util.unit

from cim.georef import Georef
from cim.ifc.identity import product_identity
from cim.tunnel.chainage import Axis, alignment_axes, linear_placements

ASSET_ROOTS = ("IfcDistributionElement", "IfcDoor", "IfcWindow", "IfcTransportElement")


@dataclass
class IfcFacts:
    unit: float
    axes: list[Axis]
    distance_along: dict[str, float]
    is_asset: dict[str, bool]
    is_segment: dict[str, bool]
    actors: dict[str, dict[str, str]]  # GlobalId -> {OWNER: name, BUILDINGOPERATOR: name}
    systems: dict[str, dict] = field(default_factory=dict)  # system name -> {type, owner, operator, props}
    downstream: dict[str, list[str]] = field(default_factory=dict)


def _actor_name(actor) -> str | None:
    who = actor.TheActor
    if who.is_a("IfcOrganization"):
        return who.Name
    if who.is_a("IfcPerson"):
        return " ".join(p for p in (who.GivenName, who.FamilyName) if p) or who.Identification
    if who.is_a("IfcPersonAndOrganization"):
        return who.TheOrganization.Name
    return None


def _actors(ifc_file: ifcopenshell.file, key) -> dict[str, dict[str, str]]:
    out: dict[str, dict[str, str]] = defaultdict(dict)
    for rel in ifc_file.by_type("IfcRelAssignsToActor"):
        role = rel.ActingRole.Role if rel.ActingRole is not None else "OWNER"
        if role == "USERDEFINED" and rel.ActingRole.UserDefinedRole:
            role = rel.ActingRole.UserDefinedRole.upper()
        name = _actor_name(rel.RelatingActor)
        for obj in rel.RelatedObjects:
            if name and getattr(obj, "GlobalId", None) is not None:
                out[key(obj)].setdefault(role, name)
    return dict(out)


def _systems(ifc_file: ifcopenshell.file, actors: dict[str, dict[str, str]]) -> dict[str, dict]:
    out = {}
    for system in ifc_file.by_type("IfcSystem"):
        props: dict = {}
        for values in ifcopenshell.util.element.get_psets(system).values():
            props.update({k: v for k, v in values.items() if k != "id"})
        role = actors.get(system.GlobalId or "", {})
        out[system.Name or system.GlobalId] = {
            "type": getattr(system, "PredefinedType", None),
            "owner": props.get("Owner") or role.get("OWNER"),
            "operator": props.get("Operator") or role.get("BUILDINGOPERATOR"),
            "props": props,
        }
    return out


def _downstream(ifc_file: ifcopenshell.file, key) -> dict[str, list[str]]:
    """Element -> elements it feeds, from IfcRelConnectsPorts and the ports' FlowDirection."""
    out: dict[str, list[str]] = defaultdict(list)
    for rel in ifc_file.by_type("IfcRelConnectsPorts"):
        a, b = rel.RelatingPort, rel.RelatedPort
        ea, eb = ifcopenshell.util.system.get_port_element(a), ifcopenshell.util.system.get_port_element(b)
        if ea is None or eb is None:
            continue
        if getattr(a, "FlowDirection", None) == "SINK" and getattr(b, "FlowDirection", None) == "SOURCE":
            ea, eb = eb, ea
        out[key(ea)].append(key(eb))
    return dict(out)


def read_facts(ifc_file: ifcopenshell.file, georef: Georef) -> IfcFacts:
    unit = float(ifcopenshell.util.unit.calculate_unit_scale(ifc_file))
    angle = float(ifcopenshell.util.unit.calculate_unit_scale(ifc_file, "PLANEANGLEUNIT") or 1.0)
    key = product_identity(ifc_file).key  # the keys elements rows are stored under (GlobalIds made unique)
    is_asset, is_segment = {}, {}
    for product in ifc_file.by_type("IfcProduct"):
        is_asset[key(product)] = any(product.is_a(c) for c in ASSET_ROOTS)
        is_segment[key(product)] = product.is_a("IfcFlowSegment")
    actors = _actors(ifc_file, key)
    return IfcFacts(
        unit=unit,
        axes=alignment_axes(ifc_file, georef, unit, angle),
        distance_along=linear_placements(ifc_file, unit, key),
        is_asset=is_asset,
        is_segment=is_segment,
        actors=actors,
        systems=_systems(ifc_file, actors),
        downstream=_downstream(ifc_file, key),
    )
