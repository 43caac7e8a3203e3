"""Overlap of two meshes when manifold3d cannot intersect them (one or both open, or a closed one it refuses).

The boundary of the overlap of two solids is the part of each surface inside the other. Its extent along
any direction is reached at one of its corners, and those corners are either vertices of one mesh inside
the other or points where an edge of one mesh pierces a triangle of the other. So the thinnest extent of
that point set is the thinnest extent of the overlap, as ``kernel_mesh.thinnest_extent`` gives it for the
boolean of two closed solids: exact, whatever the tessellation (fcl's per-triangle penetration is not: a
finely tessellated open cap 38 mm into a slab gives 10 mm triangle pairs and was missed).

Inside means: generalised winding number above one half. For a watertight, consistently wound mesh that is
exact; for any other (open, or closed with faces wound both ways) it is the usual robust guess (a box
missing a face still winds about once round its middle), so a depth between two such meshes is marked
approximate, and a closed but inconsistently wound mesh is measured like an open one.

An open mesh may be a sheet (a plate exported as one surface): its own zero thickness is not an overlap
thickness, so directions in which the part inside the solid is flat are skipped, except the normals of
the solid's own faces it crosses or lies on (a sheet lying on a slab touches it, 0 deep; a sheet standing
38 mm in it reaches 38 mm across the slab's top face). Vertices lying on the other surface count as corners
(a notch edge flush with a wall's end face bounds the overlap there), so surfaces that only touch, but on two
faces of a re-entrant corner, read as overlapping: a limit of measuring from corners alone.
"""

from __future__ import annotations

import numpy as np

from cim.clash.broad import candidate_pairs
from cim.clash.kernel_mesh import (
    cross,
    edge_crossings,
    point_mesh_distance,
    triangles,
    triangles_near,
    winding_numbers,
)
from cim.clash.types import Solid

# depth_method values (schemas/tables_clash.toml, clashes.depth_method)
OVERLAP = "overlap"  # thinnest extent of the overlap of two closed solids
SURFACE_INSIDE = "surface_inside"  # an open mesh in a closed solid: thinnest extent of the part inside it
APPROXIMATE = "approximate"  # two open meshes: inside/outside of an open mesh is a guess

_ON_SURFACE = 1e-6  # m: a vertex this close to the other surface touches it, it is not inside
_FLAT = 1e-6  # m: a spread this small is a sheet's own (zero) thickness
_PAIR_CHUNK = 200_000  # triangle pairs tested at once (bounds memory to some 100 MB)


def depth_method(a: Solid, b: Solid) -> str:
    """What a depth between ``a`` and ``b`` means, from whether their meshes are watertight."""
    closed = int(watertight(a)) + int(watertight(b))
    return OVERLAP if closed == 2 else SURFACE_INSIDE if closed == 1 else APPROXIMATE


def watertight(solid: Solid) -> bool:
    """Closed and wound one way: every directed edge once. Only then is its winding number an exact inside test
    (a closed mesh with a face wound the wrong way, as some exports have, reads as -0.3 well inside it)."""
    if not solid.closed or not len(solid.faces):
        return False
    f = np.asarray(solid.faces, dtype=np.int64)
    i, j = np.concatenate([f[:, 0], f[:, 1], f[:, 2]]), np.concatenate([f[:, 1], f[:, 2], f[:, 0]])
    n = int(f.max()) + 1
    keys = np.sort(i * n + j)
    return bool(np.all(keys[1:] != keys[:-1]) and np.all(np.isin(j * n + i, keys)))  # once each, with its reverse


def surface_overlap(a: Solid, b: Solid) -> tuple[float, np.ndarray, str] | None:
    """Depth (thinnest extent of the overlap, m), centre (of the overlap's box: the mean of its corners would
    lean towards where the tessellation is fine) and depth method; None when nothing lies inside.

    With one closed mesh only the open one's vertices inside it count (the closed one's vertices inside an
    open mesh are a guess that would only blur an exact figure).
    """
    method = depth_method(a, b)
    a_closed, b_closed = watertight(a), watertight(b)
    points, crossed_a, crossed_b = _crossings(a, b)
    none = (np.empty(0, np.int64), np.empty(0, np.int64))
    in_a, on_a = _vertices_in(a, b) if b_closed or method == APPROXIMATE else none
    in_b, on_b = _vertices_in(b, a) if a_closed or method == APPROXIMATE else none
    corners = np.concatenate([points, a.vertices[in_a], a.vertices[on_a], b.vertices[in_b], b.vertices[on_b]])
    if not len(corners):
        return None
    keep_a = _normals(a, crossed_a | _with_vertex(a, in_a) | _with_vertex(a, on_a))
    keep_b = _normals(b, crossed_b | _with_vertex(b, in_b) | _with_vertex(b, on_b))
    if method == SURFACE_INSIDE:  # the solid's faces met always count, the open sheet's flat spread never
        solid, sheet, on, crossed = (b, a, on_a, crossed_b) if b_closed else (a, b, on_b, crossed_a)
        met = crossed | triangles_near(sheet.vertices[on], solid.vertices, solid.faces, _ON_SURFACE)
        depth = _thinnest(corners, _normals(solid, met), np.concatenate([np.eye(3), keep_a if b_closed else keep_b]))
    else:
        depth = _thinnest(corners, np.concatenate([np.eye(3), keep_a, keep_b]), np.empty((0, 3)))
    return depth, (corners.min(axis=0) + corners.max(axis=0)) / 2.0, method


def _thinnest(points: np.ndarray, always: np.ndarray, unless_flat: np.ndarray) -> float:
    """Smallest spread of ``points`` along ``always`` and along the ``unless_flat`` directions that are not flat."""
    p = points - points.mean(axis=0)
    spreads = []
    if len(always):
        proj = p @ always.T
        spreads.append(proj.max(axis=0) - proj.min(axis=0))
    if len(unless_flat):
        proj = p @ unless_flat.T
        s = proj.max(axis=0) - proj.min(axis=0)
        spreads.append(s[s > _FLAT])
    spread = np.concatenate(spreads) if spreads else np.empty(0)
    return float(spread.min()) if len(spread) else 0.0


def _triangle_boxes(t: np.ndarray) -> np.ndarray:
    return np.concatenate([t.min(axis=1), t.max(axis=1)], axis=1)


def _crossings(a: Solid, b: Solid) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Points where an edge of one mesh pierces a triangle of the other, and which triangles of a and b do."""
    ta, tb = triangles(a.vertices, a.faces), triangles(b.vertices, b.faces)
    crossed_a, crossed_b = np.zeros(len(ta), bool), np.zeros(len(tb), bool)
    box_a, box_b = _triangle_boxes(ta), _triangle_boxes(tb)
    near_a = np.flatnonzero(_box_hits(box_a, b.bounds))
    near_b = np.flatnonzero(_box_hits(box_b, a.bounds))
    if not len(near_a) or not len(near_b):
        return np.empty((0, 3)), crossed_a, crossed_b
    pairs = candidate_pairs(box_a[near_a], box_b[near_b])
    found = []
    for lo in range(0, len(pairs), _PAIR_CHUNK):
        ia, ib = near_a[pairs[lo:lo + _PAIR_CHUNK, 0]], near_b[pairs[lo:lo + _PAIR_CHUNK, 1]]
        pts, hit = edge_crossings(ta[ia], tb[ib])
        crossed_a[ia[hit]] = True
        crossed_b[ib[hit]] = True
        found.append(pts)
    return (np.concatenate(found) if found else np.empty((0, 3))), crossed_a, crossed_b


def _box_hits(boxes: np.ndarray, bounds: np.ndarray) -> np.ndarray:
    return np.all(boxes[:, :3] <= bounds[3:] + _ON_SURFACE, axis=1) & np.all(boxes[:, 3:] >= bounds[:3] - _ON_SURFACE,
                                                                           axis=1)


def _vertices_in(a: Solid, b: Solid) -> tuple[np.ndarray, np.ndarray]:
    """Indices of the vertices of ``a`` inside ``b`` (winding number above one half, clear of its surface) and
    of those on its surface (corners of the overlap where the surfaces meet without crossing, e.g. coplanar)."""
    v = a.vertices
    idx = np.flatnonzero(np.all(v >= b.bounds[:3] - _ON_SURFACE, axis=1) & np.all(v <= b.bounds[3:] + _ON_SURFACE,
                                                                                 axis=1))
    if not len(idx):
        return idx, idx
    on = point_mesh_distance(v[idx], b.vertices, b.faces) <= _ON_SURFACE
    rest = idx[~on]
    if len(rest):
        rest = rest[np.abs(winding_numbers(v[rest], b.vertices, b.faces)) > 0.5]  # inside-out meshes give -1
    return rest, idx[on]


def _with_vertex(solid: Solid, vertices: np.ndarray) -> np.ndarray:
    """Triangles of ``solid`` with a corner among ``vertices`` (indices)."""
    mark = np.zeros(len(solid.vertices), bool)
    mark[vertices] = True
    return mark[solid.faces].any(axis=1)


def _normals(solid: Solid, mask: np.ndarray) -> np.ndarray:
    """Unit normals of the masked triangles, each direction once."""
    t = triangles(solid.vertices, solid.faces[mask])
    if not len(t):
        return np.empty((0, 3))
    n = cross(t[:, 1] - t[:, 0], t[:, 2] - t[:, 0])
    norm = np.linalg.norm(n, axis=1)
    ok = norm > 1e-30
    n = n[ok] / norm[ok, None]
    lead = n[np.arange(len(n)), np.argmax(np.abs(n), axis=1)]
    n = n * np.where(lead < 0, -1.0, 1.0)[:, None]  # opposite faces measure along one direction
    return np.unique(np.round(n, 9), axis=0)
