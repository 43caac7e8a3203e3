"""The length of a flow segment along its own axis, read from its IFC geometry rather than its mesh.

A pipe or duct stub shorter than its diameter has its longest extent across the bore, so a length taken
from the mesh's first principal axis reads the diameter (a 0.074 m stub read 0.165 m). The authoring tool
wrote the real length: the depth of the body's extrusion, or the Axis representation's curve.
"""

from __future__ import annotations

import math

import ifcopenshell

LINEAR_CLASSES = ("IfcFlowSegment",)  # IfcPipeSegment, IfcDuctSegment, IfcCableSegment, ... (and IFC2X3's)
EXTRUSIONS = ("IfcExtrudedAreaSolid",)  # includes IfcExtrudedAreaSolidTapered


def axis_length(el: ifcopenshell.entity_instance, unit_scale: float) -> float | None:
    """Metres along the segment's axis: the body's single extrusion depth, else the length of its Axis
    polyline; None when neither is there (a Brep body: the takeoff then measures the mesh and says so)."""
    if not any(el.is_a(c) for c in LINEAR_CLASSES):
        return None
    shape = getattr(el, "Representation", None)
    if shape is None:
        return None
    reps = {r.RepresentationIdentifier: r for r in shape.Representations or ()}
    body = reps.get("Body")
    depth = _extrusion_depth(body) if body is not None else None
    if depth is None and reps.get("Axis") is not None:
        depth = _curve_length(reps["Axis"])
    return depth * unit_scale if depth else None


def _extrusion_depth(rep: ifcopenshell.entity_instance, scale: float = 1.0, level: int = 0) -> float | None:
    """Depth of the representation's only extrusion (through mapped items, with their uniform scale)."""
    items = list(rep.Items or ())
    if len(items) != 1 or level > 4:
        return None
    item = items[0]
    if item.is_a("IfcMappedItem"):
        target = item.MappingTarget
        if target.is_a("IfcCartesianTransformationOperator3DnonUniform"):
            return None
        factor = float(target.Scale) if getattr(target, "Scale", None) is not None else 1.0
        return _extrusion_depth(item.MappingSource.MappedRepresentation, scale * factor, level + 1)
    if any(item.is_a(c) for c in EXTRUSIONS) and item.Depth:
        return float(item.Depth) * scale
    return None  # a Brep, a sweep, or a clipped extrusion (shorter than its depth)


def _curve_length(rep: ifcopenshell.entity_instance) -> float | None:
    total = 0.0
    for item in rep.Items or ():
        points = _polyline_points(item)
        if points is None:
            return None
        total += sum(math.dist(a, b) for a, b in zip(points, points[1:], strict=False))
    return total or None


def _polyline_points(item: ifcopenshell.entity_instance) -> list[tuple[float, ...]] | None:
    if item.is_a("IfcPolyline"):
        return [tuple(p.Coordinates) for p in item.Points]
    if item.is_a("IfcIndexedPolyCurve") and not item.Segments:
        return [tuple(p) for p in item.Points.CoordList]
    if item.is_a("IfcTrimmedCurve") and item.BasisCurve.is_a("IfcLine"):
        ends = [next((v for v in trim if v.is_a("IfcCartesianPoint")), None) for trim in (item.Trim1, item.Trim2)]
        return [tuple(e.Coordinates) for e in ends] if all(ends) else None
    return None
