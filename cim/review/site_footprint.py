"""Per-storey outlines of a submission from its element rows, split at the city's ground level.

Setback, coverage and FAR are planning quantities of the building above ground (地上); a basement
that reaches further is judged by the tunnel and pipeline checks instead. The stored ``buildings``
row takes "ground" from the model (the storey at elevation 0) and counts the basement in its gross
floor area, so the review recomputes both against the city's ground datum here.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pyarrow as pa
import shapely
from shapely.geometry.base import BaseGeometry

from cim.buildings import NOT_BUILT, fill_holes, filled_outline, floor_outlines

GROUND_TOLERANCE_M = 0.05  # a storey whose walls start within this of the ground counts as above ground
_COLUMNS = ("ifc_class", "predefined_type", "storey", "storey_global_id", "footprint", "zmin")


@dataclass(frozen=True)
class StoreyOutline:
    """One storey's filled outline of its floor slabs, walls and columns (roof slabs excluded)."""

    storey_global_id: str
    storey: str | None
    base_z: float  # lowest wall bottom, city datum
    above_ground: bool
    outline: BaseGeometry

    @property
    def area_m2(self) -> float:
        return float(self.outline.area)


def _rows(elements: pa.Table | list[dict[str, Any]]) -> list[dict[str, Any]]:
    if isinstance(elements, pa.Table):
        return elements.select([c for c in _COLUMNS if c in elements.column_names]).to_pylist()
    return list(elements)


def storey_outlines(elements: pa.Table | list[dict[str, Any]], ground_z: float) -> list[StoreyOutline]:
    """Outlines of the storeys that have walls (as cim.buildings draws them), lowest first, each marked above or
    below ground by where its lowest wall starts."""
    built = [r for r in _rows(elements) if r.get("footprint") is not None and r["ifc_class"] not in NOT_BUILT]
    outlines = floor_outlines(built)
    out = []
    for gid, outline in outlines.items():
        rows = [r for r in built if r["storey_global_id"] == gid]
        walls = [float(r["zmin"]) for r in rows if r["ifc_class"].startswith("IfcWall") and r.get("zmin") is not None]
        if not walls:
            continue
        base = min(walls)
        out.append(StoreyOutline(gid, rows[0].get("storey"), base, base >= ground_z - GROUND_TOLERANCE_M, outline))
    return sorted(out, key=lambda s: s.base_z)


def _elements_above(elements: pa.Table | list[dict[str, Any]], ground_z: float) -> BaseGeometry | None:
    """Fallback without storeys: every built element starting at or above ground."""
    wkbs = [r["footprint"] for r in _rows(elements) if r.get("footprint") is not None and r["ifc_class"] not in
            NOT_BUILT and r.get("zmin") is not None and r["zmin"] >= ground_z - GROUND_TOLERANCE_M]
    return filled_outline(wkbs) if wkbs else None


def above_ground_footprint(elements: pa.Table | list[dict[str, Any]], ground_z: float) -> BaseGeometry | None:
    """Outline of the building above the ground datum (外墙外围), city CRS; None when nothing stands above it."""
    above = [s.outline for s in storey_outlines(elements, ground_z) if s.above_ground]
    if above:
        return fill_holes(shapely.union_all(above))
    return _elements_above(elements, ground_z)


def below_ground_footprint(elements: pa.Table | list[dict[str, Any]], ground_z: float) -> BaseGeometry | None:
    """Outline of the basement storeys, for the site plan; None without a basement."""
    below = [s.outline for s in storey_outlines(elements, ground_z) if not s.above_ground]
    return fill_holes(shapely.union_all(below)) if below else None


def above_ground_floor_area(elements: pa.Table | list[dict[str, Any]], ground_z: float) -> dict[str, float]:
    """Gross floor area per above-ground storey (outline area, m2), keyed by storey name; FAR sums these."""
    above = [s for s in storey_outlines(elements, ground_z) if s.above_ground]
    names = [s.storey or s.storey_global_id for s in above]
    return {(n if names.count(n) == 1 else f"{n} ({s.storey_global_id})"): round(s.area_m2, 3)
            for n, s in zip(names, above, strict=True)}
