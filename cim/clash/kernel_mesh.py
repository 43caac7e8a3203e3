"""Numpy measures on triangle meshes the clash kernel needs besides the booleans and BVH queries.

All functions are vectorised over triangles (no Python loop per triangle) and work in float64.
"""

from __future__ import annotations

import numpy as np

_AXES = np.eye(3)


def cross(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Row-wise cross product of (n, 3) arrays; several times faster than ``np.cross`` on small inputs."""
    a0, a1, a2 = a[..., 0], a[..., 1], a[..., 2]
    b0, b1, b2 = b[..., 0], b[..., 1], b[..., 2]
    return np.stack([a1 * b2 - a2 * b1, a2 * b0 - a0 * b2, a0 * b1 - a1 * b0], axis=-1)


def triangles(vertices: np.ndarray, faces: np.ndarray) -> np.ndarray:
    """(m, 3, 3) corner coordinates."""
    return np.asarray(vertices, dtype=np.float64)[np.asarray(faces, dtype=np.int64)]


def volume_centroid(vertices: np.ndarray, faces: np.ndarray) -> tuple[float, np.ndarray]:
    """Signed volume and centroid of a closed mesh, from tetrahedra fanned from the mesh's own centre.

    Fanning from a nearby point instead of the frame origin keeps the sums small and exact far from it.
    """
    v = np.asarray(vertices, dtype=np.float64)
    if not len(faces):
        return 0.0, v.mean(axis=0) if len(v) else np.zeros(3)
    ref = v.mean(axis=0)
    t = triangles(v - ref, faces)
    six_vol = np.einsum("ij,ij->i", t[:, 0], cross(t[:, 1], t[:, 2]))
    vol = float(six_vol.sum()) / 6.0
    if abs(vol) < 1e-300:
        return 0.0, ref + t.reshape(-1, 3).mean(axis=0)
    centroid = (six_vol[:, None] * t.sum(axis=1)).sum(axis=0) / (24.0 * vol)
    return vol, ref + centroid


def thinnest_extent(vertices: np.ndarray, faces: np.ndarray) -> float:
    """Smallest width of the mesh measured across one of its own faces or along x, y or z.

    For every face normal (and the three axes) the vertices are projected on it and the spread
    is taken; the smallest spread is the result. For a convex overlap with a face on each side of
    its thinnest direction (boxes, prisms, a pipe through a wall) this is the minimum width; extra
    directions never push it below the true minimum width, so it is never an underestimate.
    """
    v = np.asarray(vertices, dtype=np.float64)
    if len(v) < 2:
        return 0.0
    v = v - v.mean(axis=0)
    t = triangles(v, faces)
    n = cross(t[:, 1] - t[:, 0], t[:, 2] - t[:, 0])
    norm = np.linalg.norm(n, axis=1)
    ok = norm > 1e-30
    dirs = n[ok] / norm[ok, None]  # repeated normals cost a column each: cheaper than deduplicating them
    dirs = np.concatenate([_AXES, dirs])
    proj = v @ dirs.T
    return float((proj.max(axis=0) - proj.min(axis=0)).min())


def winding_numbers(points: np.ndarray, vertices: np.ndarray, faces: np.ndarray, chunk: int = 500_000) -> np.ndarray:
    """Generalised winding number of each point w.r.t. a closed mesh: ~1 inside, ~0 outside.

    Van Oosterom-Strackee solid angle per triangle, summed; exact for closed meshes and robust
    (no ray casting, so no grazing-ray cases). Vectorised over points and triangles, in chunks.
    """
    p = np.asarray(points, dtype=np.float64).reshape(-1, 3)
    t = triangles(vertices, faces)
    out = np.zeros(len(p))
    if not len(t):
        return out
    step = max(1, chunk // len(t))
    for lo in range(0, len(p), step):
        q = p[lo : lo + step, None, :]
        a, b, c = t[None, :, 0] - q, t[None, :, 1] - q, t[None, :, 2] - q
        la, lb, lc = (np.linalg.norm(x, axis=2) for x in (a, b, c))
        det = np.sum(a * cross(b, c), axis=2)
        den = la * lb * lc + np.sum(a * b, axis=2) * lc + np.sum(b * c, axis=2) * la + np.sum(c * a, axis=2) * lb
        out[lo : lo + step] = np.arctan2(det, den).sum(axis=1) / (2.0 * np.pi)
    return out


def point_mesh_distance(
    points: np.ndarray,
    vertices: np.ndarray,
    faces: np.ndarray,
    chunk: int = 500_000,
) -> np.ndarray:
    """Exact distance from every point to the nearest triangle (Ericson's closest-point regions)."""
    p = np.asarray(points, dtype=np.float64).reshape(-1, 3)
    t = triangles(vertices, faces)
    best = np.full(len(p), np.inf)
    if not len(t):
        return best
    step = max(1, chunk // len(t))
    for lo in range(0, len(p), step):
        q = p[lo : lo + step, None, :]
        d = np.linalg.norm(q - _closest_on_triangles(q, t[None, :, 0], t[None, :, 1], t[None, :, 2]), axis=2)
        best[lo : lo + step] = d.min(axis=1)
    return best


def triangles_near(points: np.ndarray, vertices: np.ndarray, faces: np.ndarray, within: float,
                   chunk: int = 500_000) -> np.ndarray:
    """Mask of the triangles that lie within ``within`` of any of ``points`` (the faces a touching point is on)."""
    p = np.asarray(points, dtype=np.float64).reshape(-1, 3)
    t = triangles(vertices, faces)
    near = np.zeros(len(t), bool)
    if not len(t):
        return near
    step = max(1, chunk // len(t))
    for lo in range(0, len(p), step):
        q = p[lo : lo + step, None, :]
        d = np.linalg.norm(q - _closest_on_triangles(q, t[None, :, 0], t[None, :, 1], t[None, :, 2]), axis=2)
        near |= (d <= within).any(axis=0)
    return near


def _closest_on_triangles(p: np.ndarray, a: np.ndarray, b: np.ndarray, c: np.ndarray) -> np.ndarray:
    """Closest point on triangle abc to p, broadcast over leading axes."""

    def dot(x, y):
        return np.sum(x * y, axis=-1)

    ab, ac, ap = b - a, c - a, p - a
    d1, d2 = dot(ab, ap), dot(ac, ap)
    bp = p - b
    d3, d4 = dot(ab, bp), dot(ac, bp)
    cp = p - c
    d5, d6 = dot(ab, cp), dot(ac, cp)
    va = d3 * d6 - d5 * d4
    vb = d5 * d2 - d1 * d6
    vc = d1 * d4 - d3 * d2
    with np.errstate(divide="ignore", invalid="ignore"):
        denom = va + vb + vc
        v = np.where(denom != 0, vb / denom, 0.0)
        w = np.where(denom != 0, vc / denom, 0.0)
        res = a + ab * v[..., None] + ac * w[..., None]  # interior
        # edge regions (checked from least to most specific so the later ones win)
        t_ab = np.clip(d1 / np.where(d1 - d3 != 0, d1 - d3, 1.0), 0, 1)
        t_ac = np.clip(d2 / np.where(d2 - d6 != 0, d2 - d6, 1.0), 0, 1)
        num_bc = d4 - d3
        t_bc = np.clip(num_bc / np.where(num_bc + d5 - d6 != 0, num_bc + d5 - d6, 1.0), 0, 1)
    res = np.where(((va <= 0) & (num_bc >= 0) & (d5 - d6 >= 0))[..., None], b + (c - b) * t_bc[..., None], res)
    res = np.where(((vb <= 0) & (d2 >= 0) & (d6 <= 0))[..., None], a + ac * t_ac[..., None], res)
    res = np.where(((vc <= 0) & (d1 >= 0) & (d3 <= 0))[..., None], a + ab * t_ab[..., None], res)
    res = np.where(((d6 >= 0) & (d5 <= d6))[..., None], c, res)
    res = np.where(((d3 >= 0) & (d4 <= d3))[..., None], b, res)
    res = np.where(((d1 <= 0) & (d2 <= 0))[..., None], a, res)
    return res


def crossing_points(tris_a: np.ndarray, tris_b: np.ndarray) -> np.ndarray:
    """Points where the edges of each triangle pierce its partner (pairs given row by row).

    The points lie on the pairs' intersection segments; their mean is a fair centre of where two
    surfaces cross. Coplanar pairs yield nothing.
    """
    return edge_crossings(tris_a, tris_b)[0]


def edge_crossings(tris_a: np.ndarray, tris_b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``crossing_points`` and, per pair, whether it gave any point."""
    hit = np.zeros(len(tris_a), bool)
    pts = []
    for edges_of, tris in ((tris_a, tris_b), (tris_b, tris_a)):
        p, h = _edge_hits(edges_of, tris)
        pts.append(p)
        hit |= h
    return np.concatenate(pts), hit


def _edge_hits(edges_of: np.ndarray, tris: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Möller-Trumbore: where the three edges of ``edges_of[k]`` cross triangle ``tris[k]``; which k do."""
    out = []
    any_hit = np.zeros(len(tris), bool)
    a, b, c = tris[:, 0], tris[:, 1], tris[:, 2]
    e1, e2 = b - a, c - a
    for i, j in ((0, 1), (1, 2), (2, 0)):
        o, d = edges_of[:, i], edges_of[:, j] - edges_of[:, i]
        h = cross(d, e2)
        det = np.einsum("ij,ij->i", e1, h)
        ok = np.abs(det) > 1e-300
        inv = np.where(ok, 1.0 / np.where(ok, det, 1.0), 0.0)
        s = o - a
        u = inv * np.einsum("ij,ij->i", s, h)
        q = cross(s, e1)
        v = inv * np.einsum("ij,ij->i", d, q)
        t = inv * np.einsum("ij,ij->i", e2, q)
        hit = ok & (u >= 0) & (v >= 0) & (u + v <= 1) & (t >= 0) & (t <= 1)
        any_hit |= hit
        out.append(o[hit] + d[hit] * t[hit, None])
    return np.concatenate(out), any_hit
