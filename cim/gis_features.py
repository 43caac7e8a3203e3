"""Feature-level checks of a GIS layer: one bad feature is repaired or refused with a reason, never the layer.

Repairs keep the geometry family (a polygon stays polygonal); what cannot be repaired, is missing, empty or
has coordinates no CRS can mean is refused with a reason the user can act on.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import shapely

_FAMILIES = {
    "Polygon": "Polygon", "MultiPolygon": "Polygon",
    "LineString": "LineString", "MultiLineString": "LineString", "LinearRing": "LineString",
    "Point": "Point", "MultiPoint": "Point",
}
MAX_COORDINATE = 1e9  # beyond this no CRS places a point on Earth (feet or metres): the value is garbage
_MULTI = {"Polygon": shapely.MultiPolygon, "LineString": shapely.MultiLineString, "Point": shapely.MultiPoint}


@dataclass
class Rejected:
    feature_id: str
    reason: str


def _flatten(geom: shapely.Geometry) -> list[shapely.Geometry]:
    parts = []
    for part in shapely.get_parts(geom):
        parts.extend(_flatten(part) if part.geom_type.startswith(("Multi", "GeometryCollection")) else [part])
    return parts


def repair(geom: shapely.Geometry) -> shapely.Geometry | None:
    """make_valid, keeping the geometry family (a polygon stays polygonal); None if nothing of it survives."""
    fixed = shapely.make_valid(geom)
    family = _FAMILIES.get(geom.geom_type)
    if family is None:
        return fixed if fixed.is_valid and not fixed.is_empty else None
    parts = [p for p in _flatten(fixed) if _FAMILIES.get(p.geom_type) == family and not p.is_empty]
    if family == "Polygon":
        parts = [p for p in parts if p.area > 0]
    if not parts:
        return None
    out = parts[0] if len(parts) == 1 and not geom.geom_type.startswith("Multi") else _MULTI[family](parts)
    return out if out.is_valid else None


def check_features(geoms: np.ndarray, ids: pd.Series, unreadable: dict[int, str]):
    """Split features into kept (with repaired geometry), repaired ids and rejections; loops only over bad ones."""
    keep = np.ones(len(geoms), dtype=bool)
    repaired: list[str] = []
    rejected: list[Rejected] = []
    out = geoms.copy()
    nonfinite = np.zeros(len(geoms), dtype=bool)
    coords, index = shapely.get_coordinates(geoms, return_index=True)
    nonfinite[np.unique(index[~np.isfinite(coords).all(axis=1)])] = True
    absurd = np.zeros(len(geoms), dtype=bool)
    with np.errstate(invalid="ignore"):
        absurd[np.unique(index[(np.abs(coords) > MAX_COORDINATE).any(axis=1)])] = True
    empty = shapely.is_empty(geoms)
    suspect = shapely.is_missing(geoms) | empty | nonfinite | absurd | ~shapely.is_valid(geoms)
    for i in np.flatnonzero(suspect):
        geom, reason = geoms[i], None
        if geom is None:
            reason = unreadable.get(int(i), "missing geometry")
        elif empty[i]:
            reason = "empty geometry"
        elif nonfinite[i]:
            reason = "non-finite coordinates"
        elif absurd[i]:
            reason = f"coordinates beyond {MAX_COORDINATE:.0e} (not a position on Earth in any CRS)"
        else:
            fixed = repair(geom)
            if fixed is None:
                reason = f"invalid geometry that make_valid cannot repair ({shapely.is_valid_reason(geom)})"
            else:
                out[i] = fixed
                repaired.append(ids[i])
        if reason:
            keep[i] = False
            rejected.append(Rejected(ids[i], reason))
    return out, keep, repaired, rejected
