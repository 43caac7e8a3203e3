"""Protection zones as closed solids, so the clash kernel can test buildings and pipes against them.

A zone is a vertical prism over a plan polygon (a tunnel's footprint grown by its protection width,
a buried pipeline's corridor). Plan coordinates come in the city CRS and are shifted into the check's
local frame by ``origin`` before triangulation, so the triangulator works on small numbers.
"""

from __future__ import annotations

import manifold3d as m3
import numpy as np
import shapely
from shapely.geometry import MultiPolygon, Polygon
from shapely.geometry.base import BaseGeometry

from cim.clash.types import Solid
from cim.errors import GeometryError

_QUAD_SEGS = 8  # arc segments per quarter circle in buffers: 0.8 % chord error at most


def prism(polygon: Polygon | MultiPolygon, zmin: float, zmax: float, origin: np.ndarray, key: str) -> Solid:
    """Closed, outward-facing triangle mesh of ``polygon`` extruded from ``zmin`` to ``zmax``.

    Holes become inner walls; each part of a MultiPolygon becomes its own shell. ``origin`` (x, y[, z])
    is subtracted from the world coordinates, heights included when it has a z.
    """
    if zmax <= zmin:
        hint = "give the zone a positive height"
        raise GeometryError(None, f"zone {key}: zmax {zmax} is not above zmin {zmin}", hint)
    o = np.zeros(3)
    o[: len(np.ravel(origin))] = np.ravel(origin)[:3]
    parts = _polygons(polygon, key)
    verts: list[np.ndarray] = []
    faces: list[np.ndarray] = []
    count = 0
    for part in parts:
        rings = _rings(part, o[:2])
        v, f = _extrude(rings, zmin - o[2], zmax - o[2])
        verts.append(v)
        faces.append(f + count)
        count += len(v)
    return Solid(key=key, vertices=np.concatenate(verts), faces=np.concatenate(faces).astype(np.int64), closed=True)


def buffer_prism(geom: BaseGeometry, width: float, zmin: float, zmax: float, origin: np.ndarray, key: str) -> Solid:
    """Prism of ``geom`` grown by ``width`` (round joins): a pipeline's corridor from its centre line
    (width = radius + clearance) or a polygon's outward buffer."""
    if width < 0:
        raise GeometryError(None, f"zone {key}: negative buffer width {width}", "give the zone width in metres, >= 0")
    grown = geom.buffer(width, quad_segs=_QUAD_SEGS) if width > 0 else geom
    return prism(grown, zmin, zmax, origin, key)


def tunnel_zone(
    outer_footprint: BaseGeometry, zmin: float, zmax: float, width: float, origin: np.ndarray, key: str
) -> Solid:
    """A tunnel's protection zone: ``width`` (m) all round its outer walls, roof and floor.

    The footprint is grown by ``width`` in plan and the prism runs from ``zmin - width`` to ``zmax + width``.
    """
    return buffer_prism(outer_footprint, width, zmin - width, zmax + width, origin, key)


def _polygons(geom: BaseGeometry, key: str) -> list[Polygon]:
    geom = shapely.make_valid(geom) if not geom.is_valid else geom
    if isinstance(geom, Polygon):
        parts = [geom]
    elif isinstance(geom, MultiPolygon):
        parts = list(geom.geoms)
    elif hasattr(geom, "geoms"):
        parts = [g for g in geom.geoms if isinstance(g, Polygon)]
    else:
        parts = []
    parts = [p for p in parts if not p.is_empty and p.area > 0]
    if not parts:
        raise GeometryError(None, f"zone {key}: no polygon area in {geom.geom_type}", "buffer lines and points first")
    return parts


def _rings(poly: Polygon, shift: np.ndarray) -> list[np.ndarray]:
    """Exterior counter-clockwise, holes clockwise, shifted, without the closing or repeated points."""
    poly = shapely.orient_polygons(shapely.remove_repeated_points(poly, 1e-9), exterior_cw=False)
    rings = []
    for ring in [poly.exterior, *poly.interiors]:
        xy = np.asarray(ring.coords, dtype=np.float64)[:-1, :2] - shift
        if len(xy) >= 3:
            rings.append(np.ascontiguousarray(xy))
    return rings


def _extrude(rings: list[np.ndarray], z0: float, z1: float) -> tuple[np.ndarray, np.ndarray]:
    """Bottom cap, top cap and one quad per ring edge; the caps come from manifold3d's triangulator."""
    xy = np.concatenate(rings)
    n = len(xy)
    cap = np.asarray(m3.triangulate(rings), dtype=np.int64).reshape(-1, 3)
    e1, e2 = xy[cap[:, 1]] - xy[cap[:, 0]], xy[cap[:, 2]] - xy[cap[:, 0]]
    area2 = e1[:, 0] * e2[:, 1] - e2[:, 0] * e1[:, 1]
    cap = np.where((area2 < 0)[:, None], cap[:, ::-1], cap)  # top cap counter-clockwise seen from above
    bottom = np.column_stack([xy, np.full(n, z0)])
    top = np.column_stack([xy, np.full(n, z1)])
    sides = []
    start = 0
    for ring in rings:
        i = np.arange(len(ring)) + start
        j = np.roll(i, -1)
        # an edge i->j of a CCW exterior (or CW hole) has the solid on its left: outward is to its right
        sides.append(np.column_stack([i, j, j + n]))
        sides.append(np.column_stack([i, j + n, i + n]))
        start += len(ring)
    faces = np.concatenate([cap[:, ::-1], cap + n, *sides])
    return np.concatenate([bottom, top]), faces
