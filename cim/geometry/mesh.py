"""Small facts of triangle meshes shared by the batch code: coverage unions and content hashes."""

from __future__ import annotations

import hashlib

import numpy as np
import shapely

GRID = 1e-4  # 0.1 mm: snapping grid for general unions and rounding for geometry hashes


def coverage_union(polys: np.ndarray, expected_area: float) -> shapely.Geometry | None:
    """The union of triangles that tile without overlap (then its area is their sum), else None.

    A coverage union only merges shared edges, so it is several times cheaper than a general overlay
    and safe in world coordinates; overlapping input is detected by the area and left to the caller.
    """
    try:
        covered = shapely.coverage_union_all(polys)
    except shapely.errors.GEOSException:  # not noded as a coverage (e.g. T-junctions)
        return None
    if covered.is_empty or abs(covered.area - expected_area) > 1e-9 * max(expected_area, 1.0):
        return None
    return covered if covered.is_valid else None


def geometry_hash(verts: np.ndarray, faces: np.ndarray) -> str:
    """Changes exactly when the mesh moves or changes by more than 0.1 mm."""
    h = hashlib.sha1(np.round(verts / GRID).astype(np.int64).tobytes())
    h.update(np.ascontiguousarray(faces, dtype=np.int32).tobytes())
    return h.hexdigest()
