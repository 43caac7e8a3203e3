"""Measures of world-space triangle meshes with numpy: volume, areas, outlines, principal axes, sections.

Every measure works on a mesh shifted to a local origin first: city coordinates are ~1e6 m, and cross
products of such numbers lose the millimetres that a 0.2 m wall thickness needs.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np
import shapely

MIN_AREA = 1e-12  # m2: triangles smaller than this are degenerate and ignored
SIDE_COS = 0.95  # |cos| between a triangle normal and an axis for the face to count as facing that axis


@dataclass
class Mesh:
    """A triangle mesh in local coordinates (``verts`` minus ``origin``); ``closed`` = watertight."""

    verts: np.ndarray  # (n, 3) float64, local
    faces: np.ndarray  # (m, 3) int64
    origin: np.ndarray  # (3,) float64, world coordinates of local (0, 0, 0)
    closed: bool

    @cached_property
    def tris(self) -> np.ndarray:
        return self.verts[self.faces]

    @cached_property
    def cross(self) -> np.ndarray:
        t = self.tris
        return np.cross(t[:, 1] - t[:, 0], t[:, 2] - t[:, 0])

    @cached_property
    def areas(self) -> np.ndarray:
        return 0.5 * np.linalg.norm(self.cross, axis=1)

    @cached_property
    def normals(self) -> np.ndarray:
        """Unit normals (zero for degenerate triangles)."""
        norm = np.linalg.norm(self.cross, axis=1)
        out = np.zeros_like(self.cross)
        ok = norm > 2 * MIN_AREA
        out[ok] = self.cross[ok] / norm[ok, None]
        return out

    @cached_property
    def centroids(self) -> np.ndarray:
        return self.tris.mean(axis=1)


def mesh_from_flat(vertices: list[float] | np.ndarray, faces: list[int] | np.ndarray, closed: bool) -> Mesh:
    """A Mesh from the ``meshes`` table's flat lists."""
    return mesh_from_arrays(np.asarray(vertices, np.float64).reshape(-1, 3),
                            np.asarray(faces, np.int64).reshape(-1, 3), closed)


def mesh_from_arrays(verts: np.ndarray, faces: np.ndarray, closed: bool | None = None) -> Mesh:
    """A Mesh from (n, 3) world vertices and (m, 3) faces; ``closed`` is computed when not given."""
    verts = np.asarray(verts, np.float64)
    origin = verts.min(axis=0) if len(verts) else np.zeros(3)
    faces = np.asarray(faces, np.int64).reshape(-1, 3)
    return Mesh(verts - origin, faces, origin, is_closed(faces) if closed is None else closed)


def is_closed(faces: np.ndarray) -> bool:
    """Every edge shared by exactly two triangles (the same rule as the ingest)."""
    if len(faces) < 4:
        return False
    edges = np.sort(np.concatenate([faces[:, [0, 1]], faces[:, [1, 2]], faces[:, [2, 0]]]), axis=1)
    _, counts = np.unique(edges, axis=0, return_counts=True)
    return bool((counts == 2).all())


def is_watertight(faces: np.ndarray) -> bool:
    """Every directed edge matched by its reverse: closed shells that may touch along edges (a stair's steps),
    which the two-triangles-per-edge rule calls open although their divergence volume is exact."""
    if len(faces) < 4:
        return False
    directed = np.concatenate([faces[:, [0, 1]], faces[:, [1, 2]], faces[:, [2, 0]]])
    fwd, n_fwd = np.unique(directed, axis=0, return_counts=True)
    rev, n_rev = np.unique(directed[:, ::-1], axis=0, return_counts=True)
    return bool(np.array_equal(fwd, rev) and np.array_equal(n_fwd, n_rev))


def merge(meshes: list[Mesh]) -> Mesh:
    """One mesh of several (e.g. a host plus the elements filling its openings)."""
    origin = np.min([m.origin for m in meshes], axis=0)
    verts, faces, offset = [], [], 0
    for m in meshes:
        verts.append(m.verts + (m.origin - origin))
        faces.append(m.faces + offset)
        offset += len(m.verts)
    return Mesh(np.concatenate(verts), np.concatenate(faces), origin, all(m.closed for m in meshes))


def volume(mesh: Mesh) -> float:
    """Enclosed volume by the divergence theorem; only meaningful for a closed mesh."""
    t = mesh.tris
    return abs(float(np.einsum("ij,ij->i", t[:, 0], np.cross(t[:, 1], t[:, 2])).sum()) / 6.0)


def surface_area(mesh: Mesh) -> float:
    return float(mesh.areas.sum())


def z_extent(mesh: Mesh) -> float:
    return float(np.ptp(mesh.verts[:, 2])) if len(mesh.verts) else 0.0


def facing_area(mesh: Mesh, axis: np.ndarray, cos: float = SIDE_COS) -> tuple[float, float]:
    """Areas of the triangles facing +axis and -axis (within the angle whose cosine is ``cos``)."""
    dots = mesh.normals @ np.asarray(axis, np.float64)
    return float(mesh.areas[dots > cos].sum()), float(mesh.areas[dots < -cos].sum())


def _polygons(rings: np.ndarray) -> np.ndarray:
    """Shapely triangles from (k, 3, 2) points, each oriented counter-clockwise."""
    a, b, c = rings[:, 0], rings[:, 1], rings[:, 2]
    cross = (b[:, 0] - a[:, 0]) * (c[:, 1] - a[:, 1]) - (b[:, 1] - a[:, 1]) * (c[:, 0] - a[:, 0])
    rings = rings[np.abs(cross) > 2 * MIN_AREA]
    return shapely.polygons(np.concatenate([rings, rings[:, :1]], axis=1))


def outline(points2d: np.ndarray) -> shapely.Geometry:
    """Union of 2-D triangles given as (k, 3, 2) local coordinates (snapped to 0.01 mm)."""
    polys = _polygons(points2d)
    if not len(polys):
        return shapely.Polygon()
    return shapely.union_all(polys, grid_size=1e-5)


def footprint(mesh: Mesh) -> shapely.Geometry:
    """Ground-plane projection in local x, y: upward faces of a closed mesh, every non-vertical face else."""
    nz = mesh.normals[:, 2]
    keep = nz > 1e-6 if mesh.closed else np.abs(nz) > 1e-6
    return outline(mesh.tris[keep][:, :, :2])


def plane_basis(axis: np.ndarray) -> np.ndarray:
    """(2, 3) orthonormal vectors spanning the plane normal to ``axis``."""
    axis = np.asarray(axis, np.float64) / np.linalg.norm(axis)
    helper = np.array([0.0, 0.0, 1.0]) if abs(axis[2]) < 0.9 else np.array([1.0, 0.0, 0.0])
    u = np.cross(helper, axis)
    u /= np.linalg.norm(u)
    return np.stack([u, np.cross(axis, u)])


def facing_outline(mesh: Mesh, axis: np.ndarray, cos: float = SIDE_COS) -> shapely.Geometry:
    """Outline of the faces facing +axis, projected on the plane normal to it (e.g. a slab's top face)."""
    keep = mesh.normals @ axis > cos
    basis = plane_basis(axis)
    return outline(mesh.tris[keep] @ basis.T)


def principal_axes(mesh: Mesh) -> tuple[np.ndarray, np.ndarray]:
    """Eigenvalues (descending) and unit axes (rows) of the surface's exact second moments (uniform per area)."""
    w = mesh.areas
    total = w.sum()
    if total <= 0:
        return np.zeros(3), np.eye(3)
    t = mesh.tris
    s = t.sum(axis=1)
    # integral of p p^T over a triangle = area / 12 * (a a^T + b b^T + c c^T + s s^T)
    second = np.einsum("i,ikj,ikl->jl", w, t, t) + np.einsum("i,ij,il->jl", w, s, s)
    mean = (w[:, None] * s).sum(axis=0) / (3.0 * total)
    cov = second / (12.0 * total) - np.outer(mean, mean)
    values, vectors = np.linalg.eigh(cov)
    order = np.argsort(values)[::-1]
    return values[order], vectors[:, order].T


def extent_along(mesh: Mesh, axis: np.ndarray) -> float:
    proj = mesh.verts @ np.asarray(axis, np.float64)
    return float(proj.max() - proj.min()) if len(proj) else 0.0


def min_rectangle(poly: shapely.Geometry) -> tuple[float, float, np.ndarray]:
    """Long side, short side and the unit 2-D direction of the long side of the minimum-area rectangle."""
    if poly.is_empty:
        return 0.0, 0.0, np.array([1.0, 0.0])
    rect = shapely.minimum_rotated_rectangle(poly)
    coords = np.asarray(rect.exterior.coords) if rect.geom_type == "Polygon" else np.asarray(rect.coords)
    if len(coords) < 3:  # degenerate: a segment
        d = coords[-1] - coords[0]
        n = float(np.linalg.norm(d))
        return n, 0.0, d / n if n else np.array([1.0, 0.0])
    e1, e2 = coords[1] - coords[0], coords[2] - coords[1]
    l1, l2 = float(np.linalg.norm(e1)), float(np.linalg.norm(e2))
    return (l1, l2, e1 / l1) if l1 >= l2 else (l2, l1, e2 / l2)


def exterior_only(geom: shapely.Geometry) -> shapely.Geometry:
    """The geometry with every hole filled."""
    parts = getattr(geom, "geoms", [geom])
    shells = [shapely.Polygon(p.exterior) for p in parts if p.geom_type == "Polygon" and not p.is_empty]
    return shapely.union_all(shells)


def section(mesh: Mesh, point: np.ndarray, axis: np.ndarray) -> tuple[float, float] | None:
    """(gross, net) area of the cut by the plane through ``point`` normal to ``axis``; None if it is not closed.

    Gross fills the holes (a pipe's bore), net is the material; cuts of open meshes do not polygonize.
    """
    axis = np.asarray(axis, np.float64) / np.linalg.norm(axis)
    d = (mesh.verts - point) @ axis
    dist = d[mesh.faces]  # (m, 3)
    segments = []
    for i, j in ((0, 1), (1, 2), (2, 0)):
        a, b = dist[:, i], dist[:, j]
        cut = (a * b) < 0
        t = a[cut] / (a[cut] - b[cut])
        pa, pb = mesh.tris[cut, i], mesh.tris[cut, j]
        segments.append((np.nonzero(cut)[0], pa + (pb - pa) * t[:, None]))
    idx = np.concatenate([s[0] for s in segments])
    pts = np.concatenate([s[1] for s in segments])
    if not len(idx):
        return None
    order = np.argsort(idx, kind="stable")
    idx, pts = idx[order], pts[order]
    first = np.r_[True, idx[1:] != idx[:-1]]
    starts = np.nonzero(first)[0]
    pairs = starts[(starts + 1 < len(idx)) & (np.r_[starts[1:], len(idx)] - starts == 2)]
    basis = plane_basis(axis)
    a2, b2 = pts[pairs] @ basis.T, pts[pairs + 1] @ basis.T
    lines = shapely.linestrings(np.stack([a2, b2], axis=1).round(7))
    faces = list(shapely.get_parts(shapely.polygonize(list(lines))))
    if not faces:
        return None
    gross = float(exterior_only(shapely.union_all(faces, grid_size=1e-7)).area)
    reps = [f.representative_point() for f in faces]
    filled = [shapely.Polygon(f.exterior) for f in faces]
    depth = [sum(other.contains(r) for k, other in enumerate(filled) if k != i) for i, r in enumerate(reps)]
    net = float(sum(f.area for f, dp in zip(faces, depth, strict=True) if dp % 2 == 0))
    return gross, net
