"""Which base quantities each element gets, and from which meshes: the dispatch of the takeoff.

Gross meshes of hosts with openings come from :mod:`cim.geometry.gross` when the IFC file is at hand;
without it gross = net + the opening bodies, flagged unreliable (an opening usually sticks out of its host).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

import numpy as np
import shapely

from cim.qto.linear import FLOW, STRUCTURAL, flow_quantities, structural_quantities
from cim.qto.mesh_measures import Mesh, merge, min_rectangle
from cim.qto.more_classes import (
    covering_quantities,
    footing_quantities,
    railing_quantities,
    roof_quantities,
    stair_flight_quantities,
    stair_quantities,
)
from cim.qto.openings import QSETS as FILLER_QSETS
from cim.qto.openings import filler_quantities
from cim.qto.quantity import Q
from cim.qto.slabs import slab_quantities
from cim.qto.spaces import (
    OBSTACLES,
    building_quantities,
    counts_for_floor_area,
    plan,
    space_quantities,
    storey_floor_area,
    storey_quantities,
)
from cim.qto.walls import wall_quantities

COUNT_QSET = "Cim_Count"
COUNTED = {"IfcValve", "IfcDamper", "IfcFlowFitting", "IfcFlowController", "IfcFlowTerminal", "IfcPump", "IfcFan",
           "IfcSensor", "IfcActuator", "IfcAlarm", "IfcLightFixture", "IfcLamp", "IfcOutlet", "IfcJunctionBox",
           "IfcSwitchingDevice", "IfcProtectiveDevice", "IfcElectricAppliance", "IfcCommunicationsAppliance",
           "IfcSpaceHeater", "IfcUnitaryEquipment", "IfcTank", "IfcFireSuppressionTerminal"}
BUILDINGS = {"IfcBuilding", "IfcFacility", "IfcBridge", "IfcRoad", "IfcRailway", "IfcMarineFacility"}
FALLBACK_NOTE = "gross = net + opening bodies (IFC file not available): approximate"


def base_class(ifc_class: str) -> str:
    """IfcWallStandardCase -> IfcWall etc.: the subtypes share their supertype's quantity set."""
    for suffix in ("StandardCase", "ElementedCase"):
        if ifc_class.endswith(suffix):
            return ifc_class[: -len(suffix)]
    return ifc_class


def is_counted(ifc_class: str) -> bool:
    return ifc_class in COUNTED or ifc_class.endswith(("Fitting", "Terminal"))


@dataclass
class ModelGeometry:
    """Net meshes, gross meshes and relations of one model version."""

    net: dict[str, Mesh]
    gross: dict[str, Mesh]
    openings_of: dict[str, list[str]] = field(default_factory=dict)  # host -> openings
    opening_of: dict[str, str] = field(default_factory=dict)  # filler -> opening
    host_of: dict[str, str] = field(default_factory=dict)  # filler -> host
    parts_of: dict[str, list[str]] = field(default_factory=dict)  # assembly (roof, stair) -> aggregated parts
    classes: dict[str, str] = field(default_factory=dict)  # global_id -> base IFC class
    origin: np.ndarray = field(default_factory=lambda: np.zeros(3))
    _plans: dict[str, shapely.Geometry] = field(default_factory=dict)

    def plan(self, gid: str) -> shapely.Geometry | None:
        if gid not in self.net:
            return None
        if gid not in self._plans:
            self._plans[gid] = plan(self.net[gid], self.origin)
        return self._plans[gid]

    def host_direction(self, filler: str) -> np.ndarray | None:
        """Unit 2-D direction of the length of the wall hosting a door or window."""
        host = self.host_of.get(filler)
        if host not in self.net:
            return None
        return min_rectangle(self.plan(host))[2]

    def gross_of(self, gid: str) -> tuple[Mesh, str | None]:
        """The gross mesh of an element and a note when it is only approximate."""
        net = self.net[gid]
        if gid not in self.openings_of:
            return net, None
        if gid in self.gross:
            return self.gross[gid], None
        bodies = [self.net[o] for o in self.openings_of[gid] if o in self.net]
        return (merge([net, *bodies]) if bodies else net), FALLBACK_NOTE


def model_geometry(net: dict[str, Mesh], gross: dict[str, Mesh], relations: list[dict],
                   elements: list[dict] | None = None, origin: np.ndarray | None = None) -> ModelGeometry:
    """The geometry of one model version; ``origin`` (the model frame of plans) defaults to the meshes' minimum."""
    openings_of: dict[str, list[str]] = defaultdict(list)
    parts_of: dict[str, list[str]] = defaultdict(list)
    opening_of: dict[str, str] = {}
    host_of: dict[str, str] = {}
    for r in relations:
        if r["rel_type"] == "voids":
            openings_of[r["relating_global_id"]].append(r["related_global_id"])
        elif r["rel_type"] == "fills":
            opening_of[r["related_global_id"]] = r["relating_global_id"]
        elif r["rel_type"] == "hosts":
            host_of[r["related_global_id"]] = r["relating_global_id"]
        elif r["rel_type"] == "aggregates":
            parts_of[r["relating_global_id"]].append(r["related_global_id"])
    if origin is None:
        origin = np.min([m.origin for m in net.values()], axis=0) if net else np.zeros(3)
    classes = {e["global_id"]: base_class(e["ifc_class"]) for e in elements or []}
    return ModelGeometry(net, gross, dict(openings_of), opening_of, host_of, dict(parts_of), classes, origin)


def assembly_quantities(gid: str, cls: str, geo: ModelGeometry) -> list[Q]:
    """Stairs and roofs: measured from their aggregated parts, or their own mesh when they have none."""
    parts = [p for p in geo.parts_of.get(gid, []) if p in geo.net]
    own = geo.net.get(gid)
    if cls == "IfcStair":
        flights = [geo.net[p] for p in parts if geo.classes.get(p) == "IfcStairFlight"]
        landings = [geo.net[p] for p in parts if geo.classes.get(p) == "IfcSlab"]
        return stair_quantities(own, flights, landings)
    slabs = [(geo.net[p], *geo.gross_of(p)) for p in parts if geo.classes.get(p) == "IfcSlab"]
    return roof_quantities(own, slabs)


def element_quantities(el: dict, geo: ModelGeometry) -> list[Q]:
    """Quantities of one element that has its own geometry (spatial structure is done model-wide)."""
    gid, cls = el["global_id"], base_class(el["ifc_class"])
    if is_counted(cls):
        return [Q(COUNT_QSET, "Count", 1.0)]
    if cls in FILLER_QSETS:
        direction = geo.host_direction(gid)
        opening = geo.opening_of.get(gid)
        if opening in geo.net:
            return filler_quantities(cls, geo.net[opening], direction, "measured from the opening it fills")
        if gid in geo.net:
            return filler_quantities(cls, geo.net[gid], direction, "measured from its own body (no opening)")
        return []
    if cls in ("IfcStair", "IfcRoof"):
        return assembly_quantities(gid, cls, geo)
    if gid not in geo.net:
        return []
    net = geo.net[gid]
    if cls == "IfcWall":
        return wall_quantities(net, *geo.gross_of(gid), el.get("axis_length_m"))
    if cls == "IfcSlab":
        return slab_quantities(net, *geo.gross_of(gid))
    if cls in STRUCTURAL:
        return structural_quantities(cls, net, *geo.gross_of(gid))
    if cls in FLOW:
        return flow_quantities(cls, net, el.get("axis_length_m"))
    return _more_quantities(cls, net, geo.gross_of(gid))


def _more_quantities(cls: str, net: Mesh, gross: tuple[Mesh, str | None]) -> list[Q]:
    if cls == "IfcCovering":
        return covering_quantities(net, *gross)
    if cls == "IfcFooting":
        return footing_quantities(net, *gross)
    if cls == "IfcStairFlight":
        return stair_flight_quantities(net, *gross)
    if cls == "IfcRailing":
        return railing_quantities(net)
    return []


def spatial_quantities(elements: list[dict], geo: ModelGeometry, only: set[str] | None = None) -> dict[str, list[Q]]:
    """Spaces (net of columns and walls), storeys and buildings (gross floor area); only those in ``only``."""
    wanted = (lambda gid: True) if only is None else (lambda gid: gid in only)
    storeys_needed = {el["global_id"] for el in elements if el["ifc_class"] == "IfcBuildingStorey"
                      and (wanted(el["global_id"]) or wanted(el.get("building_global_id") or ""))}
    obstacle_storeys = {el.get("storey_global_id") for el in elements if el["ifc_class"] == "IfcSpace"
                        and wanted(el["global_id"])}
    floor_plans: dict[str, list[shapely.Geometry]] = defaultdict(list)
    obstacles: dict[str, list[shapely.Geometry]] = defaultdict(list)
    for el in elements:
        storey = el.get("storey_global_id")
        if not storey or el["global_id"] not in geo.net:
            continue
        cls = base_class(el["ifc_class"])
        if storey in storeys_needed and counts_for_floor_area(cls, el.get("predefined_type")):
            floor_plans[storey].append(geo.plan(el["global_id"]))
        if storey in obstacle_storeys and cls in OBSTACLES:
            obstacles[storey].append(geo.plan(el["global_id"]))
    out: dict[str, list[Q]] = {}
    storey_area: dict[str, float] = {}
    for el in elements:
        gid, cls = el["global_id"], el["ifc_class"]
        if cls == "IfcSpace" and gid in geo.net and wanted(gid):
            space_plan = geo.plan(gid)
            inside = [p for p in obstacles.get(el.get("storey_global_id") or "", []) if p.intersects(space_plan)]
            out[gid] = space_quantities(geo.net[gid], space_plan, inside)
        elif cls == "IfcBuildingStorey" and gid in storeys_needed:
            if wanted(gid):
                out[gid] = storey_quantities(floor_plans.get(gid, []))
            storey_area[gid] = storey_floor_area(floor_plans.get(gid, []))
    by_building: dict[str, list[float]] = defaultdict(list)
    for el in elements:
        if el["ifc_class"] == "IfcBuildingStorey" and floor_plans.get(el["global_id"]):
            by_building[el.get("building_global_id") or ""].append(storey_area[el["global_id"]])
    for el in elements:
        if el["ifc_class"] in BUILDINGS and wanted(el["global_id"]):
            out[el["global_id"]] = building_quantities(by_building.get(el["global_id"], []))
    return out


def compute(elements: list[dict], geo: ModelGeometry, only: set[str] | None = None) -> dict[str, list[Q]]:
    """global_id -> computed quantities, for every element (of ``only`` when given) that gets any."""
    todo = elements if only is None else [el for el in elements if el["global_id"] in only]
    out = {el["global_id"]: qs for el in todo if (qs := element_quantities(el, geo))}
    out.update(spatial_quantities(elements, geo, only))
    return out
