"""Derived facts of a world mesh: bounds, footprint, watertightness, a content hash."""

from __future__ import annotations

import hashlib

import numpy as np
import shapely

GRID = 1e-4  # 0.1 mm: snapping grid for footprints and rounding for geometry hashes


def bounds(verts: np.ndarray) -> tuple[float, ...]:
    lo, hi = verts.min(axis=0), verts.max(axis=0)
    return (float(lo[0]), float(lo[1]), float(lo[2]), float(hi[0]), float(hi[1]), float(hi[2]))


def is_closed(faces: np.ndarray, n_vertices: int) -> bool:
    """Every edge shared by exactly two triangles (the tessellator welds coincident vertices)."""
    if len(faces) < 4:
        return False
    edges = np.concatenate([faces[:, [0, 1]], faces[:, [1, 2]], faces[:, [2, 0]]]).astype(np.int64)
    edges.sort(axis=1)
    _, counts = np.unique(edges[:, 0] * n_vertices + edges[:, 1], return_counts=True)
    return bool(np.all(counts == 2))


def footprint(verts: np.ndarray, faces: np.ndarray, closed: bool) -> shapely.Geometry | None:
    """Union of the triangles projected on the ground plane.

    For a closed solid the upward-facing triangles already cover the whole projection. When they do not
    overlap (prisms, pipes, most building elements) they form a polygon coverage, whose union is ~5x
    cheaper than a general overlay; the area check tells, and overlapping cases take the general union.
    """
    tri = verts[faces][:, :, :2]
    origin = tri.reshape(-1, 2).min(axis=0)
    local = tri - origin  # keep the union's arithmetic in small numbers
    a, b, c = local[:, 0], local[:, 1], local[:, 2]
    cross = (b[:, 0] - a[:, 0]) * (c[:, 1] - a[:, 1]) - (b[:, 1] - a[:, 1]) * (c[:, 0] - a[:, 0])
    keep = cross > 1e-10 if closed else np.abs(cross) > 1e-10
    if not keep.any():
        keep = np.abs(cross) > 1e-10
        if not keep.any():
            return None
    flip = cross[keep] < 0
    if closed:  # coverage union does no overlay arithmetic, so world coordinates are safe here
        covered = _coverage_union(_triangles(tri[keep], flip), np.abs(cross[keep]).sum() / 2)
        if covered is not None:
            return covered
    shape = shapely.union_all(_triangles(local[keep], flip), grid_size=GRID)
    if shape.is_empty:
        return None
    return shapely.affinity.translate(shape, float(origin[0]), float(origin[1]))


def _triangles(tri: np.ndarray, flip: np.ndarray) -> np.ndarray:
    rings = np.concatenate([tri, tri[:, :1]], axis=1)
    rings[flip] = rings[flip][:, ::-1]
    return shapely.polygons(rings)


def _coverage_union(polys: np.ndarray, expected_area: float) -> shapely.Geometry | None:
    """The union when the triangles tile without overlap (then its area is their sum), else None."""
    try:
        covered = shapely.coverage_union_all(polys)
    except shapely.errors.GEOSException:  # not noded as a coverage (e.g. T-junctions)
        return None
    if covered.is_empty or abs(covered.area - expected_area) > 1e-9 * max(expected_area, 1.0):
        return None
    return covered if covered.is_valid else None


def geometry_hash(verts: np.ndarray, faces: np.ndarray) -> str:
    h = hashlib.sha1(np.round(verts / GRID).astype(np.int64).tobytes())
    h.update(np.ascontiguousarray(faces, dtype=np.int32).tobytes())
    return h.hexdigest()
