"""Chainage along an IfcAlignment: the axis as a world polyline, and point -> (station, lateral offset).

Asset teams locate everything by chainage (K0+250) and side, so every asset gets both. The axis comes from the
horizontal alignment segments (LINE and CIRCULARARC exact, clothoids and other transitions integrated with a
linearly varying curvature), placed with the alignment's placement and georeferenced into the city CRS.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import ifcopenshell
import ifcopenshell.util.placement
import numpy as np

from cim.georef import Georef


@dataclass(frozen=True)
class Axis:
    """A 2-D world polyline with the station of every vertex (metres)."""

    name: str
    xy: np.ndarray  # (n, 2) city CRS
    stations: np.ndarray  # (n,)

    def project(self, x: float, y: float) -> tuple[float, float]:
        """Station of the nearest point on the axis and the signed offset (left of the direction positive)."""
        a, b = self.xy[:-1], self.xy[1:]
        d = b - a
        len2 = np.maximum((d**2).sum(axis=1), 1e-12)
        p = np.array([x, y])
        t = np.clip(((p - a) * d).sum(axis=1) / len2, 0.0, 1.0)
        foot = a + d * t[:, None]
        dist = np.hypot(*(p - foot).T)
        i = int(np.argmin(dist))
        station = self.stations[i] + t[i] * (self.stations[i + 1] - self.stations[i])
        cross = d[i, 0] * (y - a[i, 1]) - d[i, 1] * (x - a[i, 0])
        return float(station), float(math.copysign(dist[i], cross) if dist[i] > 0 else 0.0)


def _segment_points(seg, unit: float, angle: float, step: float = 5.0) -> list[tuple[float, float, float]]:
    """(x, y, s) points along one IfcAlignmentHorizontalSegment, s from the segment start (model metres)."""
    x0, y0 = (c * unit for c in seg.StartPoint.Coordinates[:2])
    theta0 = float(seg.StartDirection) * angle
    length = abs(float(seg.SegmentLength)) * unit
    r0, r1 = float(seg.StartRadiusOfCurvature or 0.0) * unit, float(seg.EndRadiusOfCurvature or 0.0) * unit
    k0, k1 = (1.0 / r0 if r0 else 0.0), (1.0 / r1 if r1 else 0.0)
    if seg.PredefinedType == "LINE" or (k0 == 0.0 and k1 == 0.0):
        return [(x0, y0, 0.0), (x0 + length * math.cos(theta0), y0 + length * math.sin(theta0), length)]
    if seg.PredefinedType == "CIRCULARARC":
        k1 = k0
    n = max(2, int(math.ceil(length / step)) * 4)
    pts, x, y = [(x0, y0, 0.0)], x0, y0
    ds = length / n
    for i in range(n):  # midpoint rule on the heading
        s = (i + 0.5) * ds
        theta = theta0 + k0 * s + (k1 - k0) * s * s / (2 * length)
        x, y = x + ds * math.cos(theta), y + ds * math.sin(theta)
        pts.append((x, y, (i + 1) * ds))
    return pts


def _nested(obj) -> list:
    return [o for rel in getattr(obj, "IsNestedBy", []) or [] for o in rel.RelatedObjects]


def _start_station(alignment) -> float:
    for ref in _nested(alignment):
        if ref.is_a("IfcReferent"):
            for rel in ref.IsDefinedBy or []:
                if rel.is_a("IfcRelDefinesByProperties"):
                    props = rel.RelatingPropertyDefinition
                    if props.is_a("IfcPropertySet") and props.Name == "Pset_Stationing":
                        for p in props.HasProperties:
                            if p.Name == "Station" and p.NominalValue is not None:
                                return float(p.NominalValue.wrappedValue)
    return 0.0


def alignment_axes(ifc_file: ifcopenshell.file, georef: Georef, unit: float, angle: float) -> list[Axis]:
    """Every IfcAlignment with horizontal segments as a world-space Axis (empty for pre-IFC4X3 files)."""
    try:
        alignments = ifc_file.by_type("IfcAlignment")
    except RuntimeError:
        return []
    axes = []
    for al in alignments:
        local: list[tuple[float, float, float]] = []
        for horiz in (o for o in _nested(al) if o.is_a("IfcAlignmentHorizontal")):
            offset = local[-1][2] if local else 0.0
            for seg in _nested(horiz):
                params = getattr(seg, "DesignParameters", None)
                if params is None or not params.is_a("IfcAlignmentHorizontalSegment"):
                    continue
                pts = _segment_points(params, unit, angle)
                local += [(x, y, offset + s) for x, y, s in (pts if not local else pts[1:])]
                offset = local[-1][2]
        if len(local) < 2:
            continue
        arr = np.array(local)
        m = np.eye(4)
        if al.ObjectPlacement is not None:
            m = ifcopenshell.util.placement.get_local_placement(al.ObjectPlacement)
            m[:3, 3] *= unit
        xyz = (m @ np.column_stack([arr[:, :2], np.zeros(len(arr)), np.ones(len(arr))]).T).T[:, :3]
        world = georef.to_city(xyz)
        axes.append(Axis(al.Name or al.GlobalId, world[:, :2], arr[:, 2] + _start_station(al) * unit))
    return axes


def linear_placements(ifc_file: ifcopenshell.file, unit: float, key=None) -> dict[str, float]:
    """Stored key (``key(product)``, default the GlobalId) -> DistanceAlong (m) of every product placed with
    IfcLinearPlacement (IFC4X3)."""
    out: dict[str, float] = {}
    try:
        placements = ifc_file.by_type("IfcLinearPlacement")
    except RuntimeError:
        return out
    for lp in placements:
        loc = getattr(lp.RelativePlacement, "Location", None)
        dist = getattr(loc, "DistanceAlong", None)
        if dist is None:
            continue
        value = float(getattr(dist, "wrappedValue", dist)) * unit
        for product in lp.PlacesObject or []:
            if getattr(product, "GlobalId", None) is not None:
                out[key(product) if key else product.GlobalId] = value
    return out


def chainage_label(station: float | None) -> str:
    """Station as asset teams write it: 1010.0 -> K1+010.0."""
    if station is None:
        return "n/a"
    km, m = divmod(round(station, 1), 1000.0)
    return f"K{int(km)}+{m:05.1f}"
