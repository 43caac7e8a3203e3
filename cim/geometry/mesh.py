"""Derived facts of a world mesh: bounds, footprint, watertightness, a content hash."""

from __future__ import annotations

import hashlib

import numpy as np
import shapely

GRID = 1e-4  # 0.1 mm: snapping grid for footprints and rounding for geometry hashes


def bounds(verts: np.ndarray) -> tuple[float, ...]:
    lo, hi = verts.min(axis=0), verts.max(axis=0)
    return (float(lo[0]), float(lo[1]), float(lo[2]), float(hi[0]), float(hi[1]), float(hi[2]))


def is_closed(verts: np.ndarray, faces: np.ndarray) -> bool:
    """Every edge shared by exactly two triangles, after welding coincident vertices."""
    if len(faces) < 4:
        return False
    _, weld = np.unique(np.round(verts / GRID).astype(np.int64), axis=0, return_inverse=True)
    tri = weld.reshape(-1)[faces]
    edges = np.concatenate([tri[:, [0, 1]], tri[:, [1, 2]], tri[:, [2, 0]]])
    edges.sort(axis=1)
    keys = edges[:, 0].astype(np.int64) * (int(weld.max()) + 1) + edges[:, 1]
    _, counts = np.unique(keys, return_counts=True)
    return bool(np.all(counts == 2))


def footprint(verts: np.ndarray, faces: np.ndarray, closed: bool) -> shapely.Geometry | None:
    """Union of the triangles projected on the ground plane.

    For a closed solid the upward-facing triangles already cover the whole projection, which
    halves the work; open meshes use every non-vertical triangle.
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
    rings = np.concatenate([local[keep], local[keep][:, :1]], axis=1)
    polys = shapely.polygons(rings)
    shape = shapely.union_all(polys, grid_size=GRID)
    if shape.is_empty:
        return None
    return shapely.affinity.translate(shape, float(origin[0]), float(origin[1]))


def geometry_hash(verts: np.ndarray, faces: np.ndarray) -> str:
    h = hashlib.sha1(np.round(verts / GRID).astype(np.int64).tobytes())
    h.update(np.ascontiguousarray(faces, dtype=np.int32).tobytes())
    return h.hexdigest()
