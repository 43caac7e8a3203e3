"""Qto_SpaceBaseQuantities and gross floor areas of storeys and buildings.

Plan geometry is compared across elements in one model frame (world minus a model origin). A space's
NetFloorArea subtracts the plan of the columns and walls on its storey that stand inside it. A storey's
GrossFloorArea is the outline of its floor slabs, walls, columns, curtain walls and spaces with every hole
filled (so rooms enclosed by walls count; an atrium inside the outline counts too: a known overestimate);
a building's is the sum over its storeys.
"""

from __future__ import annotations

import numpy as np
import shapely

from cim.qto.mesh_measures import Mesh, exterior_only, footprint, volume, z_extent
from cim.qto.quantity import Q, volume_q

QSET = "Qto_SpaceBaseQuantities"
STOREY_QSET = "Qto_BuildingStoreyBaseQuantities"
BUILDING_QSET = "Qto_BuildingBaseQuantities"
OBSTACLES = ("IfcColumn", "IfcWall", "IfcWallStandardCase", "IfcCurtainWall")
FLOOR_CLASSES = ("IfcSlab", "IfcWall", "IfcWallStandardCase", "IfcColumn", "IfcCurtainWall", "IfcSpace")
NOT_FLOORS = ("ROOF",)


def plan(mesh: Mesh, model_origin: np.ndarray) -> shapely.Geometry:
    """Footprint of a mesh in the model frame."""
    shift = mesh.origin[:2] - model_origin[:2]
    return shapely.transform(footprint(mesh), lambda xy: xy + shift)


def space_quantities(mesh: Mesh, space_plan: shapely.Geometry, obstacles: list[shapely.Geometry]) -> list[Q]:
    net_plan = space_plan.difference(shapely.union_all(obstacles)) if obstacles else space_plan
    return [
        Q(QSET, "GrossFloorArea", float(space_plan.area)),
        Q(QSET, "NetFloorArea", float(net_plan.area)),
        Q(QSET, "Height", z_extent(mesh)),
        volume_q(QSET, "GrossVolume", volume(mesh), mesh.closed),
        Q(QSET, "GrossPerimeter", float(exterior_only(space_plan).length) if not space_plan.is_empty else 0.0),
    ]


def counts_for_floor_area(ifc_class: str, predefined_type: str | None) -> bool:
    return ifc_class in FLOOR_CLASSES and (predefined_type or "").upper() not in NOT_FLOORS


def storey_floor_area(plans: list[shapely.Geometry]) -> float:
    """Outline area of a storey's floor elements with holes filled."""
    plans = [p for p in plans if p is not None and not p.is_empty]
    if not plans:
        return 0.0
    return float(exterior_only(shapely.union_all(plans, grid_size=1e-5)).area)


def storey_quantities(plans: list[shapely.Geometry]) -> list[Q]:
    note = None if plans else "no floor elements on this storey"
    return [Q(STOREY_QSET, "GrossFloorArea", storey_floor_area(plans), note is None, note)]


def building_quantities(storey_areas: list[float]) -> list[Q]:
    note = None if storey_areas else "no storeys with floor elements"
    return [Q(BUILDING_QSET, "GrossFloorArea", float(sum(storey_areas)), note is None, note)]
