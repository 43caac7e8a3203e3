"""The length of a linear element along its own axis, read from its IFC geometry rather than its mesh.

A pipe or duct stub shorter than its diameter has its longest extent across the bore, so a length taken
from the mesh's first principal axis reads the diameter (a 0.074 m stub read 0.165 m). The authoring tool
wrote the real length: the depth of the body's extrusion, or the Axis representation's curve. A curved
wall's footprint rectangle is not its length either: its Axis arc is (R x angle).
"""

from __future__ import annotations

import math

import ifcopenshell

from cim.ifc.attribute import attribute, value

LINEAR_CLASSES = ("IfcFlowSegment",)  # IfcPipeSegment, IfcDuctSegment, IfcCableSegment, ... (and IFC2X3's)
WALL_CLASSES = ("IfcWall",)  # and IfcWallStandardCase
EXTRUSIONS = ("IfcExtrudedAreaSolid",)  # includes IfcExtrudedAreaSolidTapered


def axis_length(el: ifcopenshell.entity_instance, unit_scale: float, angle_scale: float = 1.0) -> float | None:
    """Metres along the element's axis, or None.

    Flow segments: the body's single extrusion depth, else the length of the Axis curve (None for a Brep
    body: the takeoff then measures the mesh and says so). Walls: the length of an Axis curve with arcs
    only (a straight wall's footprint rectangle is exact). ``angle_scale``: radians per plane angle unit.
    """
    is_flow = any(el.is_a(c) for c in LINEAR_CLASSES)
    if not is_flow and not any(el.is_a(c) for c in WALL_CLASSES):
        return None
    shape = attribute(el, "Representation")
    if shape is None:
        return None
    reps = {value(r, "RepresentationIdentifier"): r for r in value(shape, "Representations") or ()}
    depth = _extrusion_depth(reps["Body"]) if is_flow and reps.get("Body") is not None else None
    if depth is None and reps.get("Axis") is not None:
        length, curved = _curve_length(reps["Axis"], angle_scale)
        depth = length if (is_flow or curved) else None
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


def _curve_length(rep: ifcopenshell.entity_instance, angle_scale: float) -> tuple[float | None, bool]:
    """(length in model units, whether it has arcs) of the representation's curves; None when unknown."""
    total, curved = 0.0, False
    for item in rep.Items or ():
        length, arc = _segment_length(item, angle_scale)
        if length is None:
            return None, False
        total, curved = total + length, curved or arc
    return (total or None), curved


def _segment_length(item: ifcopenshell.entity_instance, angle_scale: float) -> tuple[float | None, bool]:
    if item.is_a("IfcCompositeCurve"):
        parts = [_segment_length(s.ParentCurve, angle_scale) for s in item.Segments]
        if any(p[0] is None for p in parts):
            return None, False
        return sum(p[0] for p in parts), any(p[1] for p in parts)
    if item.is_a("IfcTrimmedCurve") and item.BasisCurve.is_a("IfcCircle"):
        return _arc_length(item, angle_scale), True
    points = _polyline_points(item)
    if points is None:
        return None, False
    return sum(math.dist(a, b) for a, b in zip(points, points[1:], strict=False)), False


def _arc_length(item: ifcopenshell.entity_instance, angle_scale: float) -> float | None:
    """R x the swept angle of a circle trimmed by parameter values (angles in the plane angle unit)."""
    ends = [next((v for v in trim if v.is_a("IfcParameterValue")), None) for trim in (item.Trim1, item.Trim2)]
    if not all(ends):
        return None
    t1, t2 = (float(e.wrappedValue) * angle_scale for e in ends)
    swept = (t2 - t1) if item.SenseAgreement else (t1 - t2)
    swept %= 2 * math.pi
    return float(item.BasisCurve.Radius) * (swept or 2 * math.pi)


def _polyline_points(item: ifcopenshell.entity_instance) -> list[tuple[float, ...]] | None:
    if item.is_a("IfcPolyline"):
        return [tuple(p.Coordinates) for p in item.Points]
    if item.is_a("IfcIndexedPolyCurve") and not item.Segments:
        return [tuple(p) for p in item.Points.CoordList]
    if item.is_a("IfcTrimmedCurve") and item.BasisCurve.is_a("IfcLine"):
        ends = [next((v for v in trim if v.is_a("IfcCartesianPoint")), None) for trim in (item.Trim1, item.Trim2)]
        return [tuple(e.Coordinates) for e in ends] if all(ends) else None
    return None
