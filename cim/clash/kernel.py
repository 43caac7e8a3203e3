"""Narrow phase: the four clash tests on one pair of solids.

Closed meshes go through manifold3d (exact booleans in double precision, symbolic perturbation, so
faces that merely touch give an empty intersection and coplanar overlaps are resolved). Open meshes,
and closed ones manifold3d refuses, are measured from the points where their surfaces cross and the
vertices of one inside the other (cim.clash.kernel_open); fcl gives exact triangle distances and the
cheap surface test every test starts with (after box rejects), so the costly steps only run for pairs
that really touch or nest.
"""

from __future__ import annotations

from dataclasses import dataclass

import fcl
import manifold3d as m3
import numpy as np

from cim.clash.kernel_mesh import (
    crossing_points,
    point_mesh_distance,
    thinnest_extent,
    triangles,
    volume_centroid,
    winding_numbers,
)
from cim.clash.kernel_open import OVERLAP, depth_method, surface_overlap
from cim.clash.types import Contact, Solid

# Triangle pairs fcl reports: python-fcl builds a Python object per contact (~3 us each), so keep these small.
_POINT_CONTACTS = 16  # only to place the marker of an overlapping clearance pair


@dataclass
class _Entry:
    """Backends of one solid, built on first use."""

    manifold: m3.Manifold | None = None
    manifold_tried: bool = False
    fcl_object: fcl.CollisionObject | None = None
    volume: float | None = None
    volume_tried: bool = False


class SolidCache:
    """Builds the manifold3d and fcl views of each solid once, keyed by ``Solid.key``.

    A check touches each solid in many pairs, so conversions and volumes are kept for the whole check.
    """

    def __init__(self) -> None:
        self._entries: dict[str, _Entry] = {}
        self._last_pair: tuple[frozenset[str], m3.Manifold, list] | None = None

    def intersection(self, a: Solid, b: Solid) -> tuple[m3.Manifold, list]:
        """The boolean intersection of two closed solids and a slot for its description, kept for the last pair:
        the hard, duplicate and containment tests of one pair share one boolean."""
        key = frozenset((a.key, b.key))
        if self._last_pair is None or self._last_pair[0] != key:
            self._last_pair = (key, self.manifold(a) ^ self.manifold(b), [])
        return self._last_pair[1], self._last_pair[2]

    def overlap(self, a: Solid, b: Solid) -> tuple[float, np.ndarray, float] | None:
        """Volume, centroid and thinnest extent of the intersection of two closed solids; None when empty."""
        inter, described = self.intersection(a, b)
        if inter.is_empty():
            return None
        if not described:
            described.append(_describe(inter))
        return described[0]

    def _entry(self, solid: Solid) -> _Entry:
        e = self._entries.get(solid.key)
        if e is None:
            e = self._entries[solid.key] = _Entry()
        return e

    def manifold(self, solid: Solid) -> m3.Manifold | None:
        """The solid as a Manifold, or None when it is open or manifold3d refuses it."""
        e = self._entry(solid)
        if not e.manifold_tried:
            e.manifold_tried = True
            e.manifold = _to_manifold(solid) if solid.closed else None
        return e.manifold

    def is_closed(self, solid: Solid) -> bool:
        """Closed and accepted by manifold3d: volumes and booleans can be trusted."""
        return self.manifold(solid) is not None

    def fcl_object(self, solid: Solid) -> fcl.CollisionObject:
        """The solid's triangles in an OBBRSS bounding-volume tree (fcl)."""
        e = self._entry(solid)
        if e.fcl_object is None:
            model = fcl.BVHModel()
            model.beginModel(len(solid.faces), len(solid.vertices))
            # python-fcl loops over the rows in Cython: plain lists of ints index faster than numpy scalars
            model.addSubModel(solid.vertices, np.asarray(solid.faces, dtype=np.int64).tolist())
            model.endModel()
            e.fcl_object = fcl.CollisionObject(model, fcl.Transform())
        return e.fcl_object

    def volume(self, solid: Solid) -> float | None:
        """Enclosed volume in m3 of a closed solid, None for an open one."""
        e = self._entry(solid)
        if not e.volume_tried:
            e.volume_tried = True
            man = self.manifold(solid)
            e.volume = float(man.volume()) if man is not None else None
        return e.volume

    def __len__(self) -> int:
        return len(self._entries)


def _to_manifold(solid: Solid) -> m3.Manifold | None:
    """Manifold from the mesh; vertices split along seams are merged once before giving up, and an
    inside-out mesh (a mirrored placement flips the winding) is turned right side out."""
    if not len(solid.faces):
        return None
    # nanobind refuses read-only arrays (trimesh and manifold3d hand those out): ask for a writeable copy if needed
    v = np.require(solid.vertices, dtype=np.float64, requirements=["C", "W"])
    f = np.require(solid.faces, dtype=np.uint64, requirements=["C", "W"])
    if volume_centroid(v, f)[0] < 0:
        f = np.ascontiguousarray(f[:, ::-1])
    man = m3.Manifold(m3.Mesh64(v, f))
    if man.status() == m3.Error.NotManifold:
        mesh = m3.Mesh64(v, f)
        if mesh.merge():
            man = m3.Manifold(mesh)
    if man.status() != m3.Error.NoError or man.is_empty() or man.volume() <= 0:
        return None
    return man


# ---------------------------------------------------------------------------------------------------------------
# Shared pieces
# ---------------------------------------------------------------------------------------------------------------


def _box_gap(a: Solid, b: Solid) -> np.ndarray:
    """Per-axis overlap of the two boxes (negative: a gap of that size)."""
    return np.minimum(a.bounds[3:], b.bounds[3:]) - np.maximum(a.bounds[:3], b.bounds[:3])


def _box_inside(inner: Solid, outer: Solid, tolerance: float) -> bool:
    lo_ok = np.all(inner.bounds[:3] >= outer.bounds[:3] - tolerance)
    return bool(lo_ok and np.all(inner.bounds[3:] <= outer.bounds[3:] + tolerance))


def _surfaces_touch(a: Solid, b: Solid, cache: SolidCache) -> bool:
    """fcl: do any two triangles intersect or touch?"""
    req = fcl.CollisionRequest(num_max_contacts=1, enable_contact=False)
    return fcl.collide(cache.fcl_object(a), cache.fcl_object(b), req, fcl.CollisionResult()) > 0


def _point_inside(point: np.ndarray, solid: Solid) -> bool:
    return bool(abs(winding_numbers(point, solid.vertices, solid.faces)[0]) > 0.5)  # inside-out meshes give -1


def _nested(a: Solid, b: Solid, cache: SolidCache) -> str | None:
    """With no surface contact: "a" when a lies inside closed b, "b" when b lies inside closed a."""
    # Inside/outside needs a watertight outer mesh; the winding number tolerates what manifold3d refuses.
    if b.closed and _box_inside(a, b, 0.0) and _point_inside(a.vertices[0], b):
        return "a"
    if a.closed and _box_inside(b, a, 0.0) and _point_inside(b.vertices[0], a):
        return "b"
    return None


def _describe(man: m3.Manifold) -> tuple[float, np.ndarray, float]:
    """Volume, centroid and thinnest extent of a boolean result."""
    mesh = man.to_mesh64()
    v = np.asarray(mesh.vert_properties, dtype=np.float64)[:, :3]
    f = np.asarray(mesh.tri_verts, dtype=np.int64)
    vol, centroid = volume_centroid(v, f)
    return float(man.volume()), centroid, thinnest_extent(v, f)


def _solid_description(solid: Solid, cache: SolidCache) -> tuple[float | None, np.ndarray, float]:
    """Volume (None when open), centroid and thinnest extent of a whole solid."""
    _, centroid = volume_centroid(solid.vertices, solid.faces)
    return cache.volume(solid), centroid, thinnest_extent(solid.vertices, solid.faces)


def _point(p: np.ndarray) -> tuple[float, float, float]:
    return (float(p[0]), float(p[1]), float(p[2]))


# ---------------------------------------------------------------------------------------------------------------
# The four tests
# ---------------------------------------------------------------------------------------------------------------


def hard_contact(a: Solid, b: Solid, tolerance: float, cache: SolidCache) -> Contact | None:
    """Solids that interpenetrate by more than ``tolerance`` (m).

    Closed pair: manifold3d intersection; ``depth`` is the thinnest extent of the overlap (see
    ``kernel_mesh.thinnest_extent``: 0.1 for a 0.1 m pipe through a wall, 0.05 for walls overlapping
    50 mm), ``point`` its centroid, ``volume`` its volume. Touching faces give an empty overlap; a
    solid nested inside the other is an overlap as deep as the nested solid is thin.
    Otherwise (an open mesh, or a mesh manifold3d refuses) ``kernel_open.surface_overlap``: ``depth``
    is the thinnest extent of the part of each surface inside the other (for an open mesh in a closed
    solid, how far it reaches in; ``depth_method`` says which), ``point`` the centre of that part's
    box, ``volume`` None. An open mesh nested inside a closed one without touching it is reported
    with the nested mesh's thinnest extent as depth.
    """
    gap = _box_gap(a, b)
    if np.any(gap < 0):
        return None
    if not (cache.is_closed(a) and cache.is_closed(b)):
        if not _surfaces_touch(a, b, cache):
            return _nested_hard(a, b, tolerance, cache)
        return _open_hard(a, b, tolerance)
    if np.any(gap <= tolerance):
        return None  # the overlap is no thicker than the boxes' overlap on any axis
    # No fcl pre-test here: the boolean is cheap when the surfaces do not meet, and building fcl's
    # OBBRSS tree costs more than the boolean itself (about 1 ms for 300 triangles).
    overlap = cache.overlap(a, b)
    if overlap is None:
        return None
    vol, centroid, depth = overlap
    if depth <= tolerance or vol <= 0:
        return None
    return Contact("hard", _point(centroid), depth=depth, volume=vol, depth_method=OVERLAP)


def _nested_hard(a: Solid, b: Solid, tolerance: float, cache: SolidCache) -> Contact | None:
    which = _nested(a, b, cache)
    if which is None:
        return None
    vol, centroid, depth = _solid_description(a if which == "a" else b, cache)
    if depth <= tolerance:
        return None
    return Contact("hard", _point(centroid), depth=depth, volume=vol, depth_method=depth_method(a, b))


def _open_hard(a: Solid, b: Solid, tolerance: float) -> Contact | None:
    overlap = surface_overlap(a, b)
    if overlap is None or overlap[0] <= tolerance:
        return None
    depth, centre, method = overlap
    return Contact("hard", _point(centre), depth=depth, depth_method=method)


def _crossing_centre(a: Solid, b: Solid, contacts: list) -> np.ndarray:
    """Mean of the points where the contacting triangle pairs cross (fcl's own contact positions are
    vertices of one triangle, up to a triangle away); fcl's positions only when all pairs are coplanar."""
    ia = np.array([c.b1 for c in contacts], dtype=np.int64)
    ib = np.array([c.b2 for c in contacts], dtype=np.int64)
    pts = crossing_points(triangles(a.vertices, a.faces[ia]), triangles(b.vertices, b.faces[ib]))
    if len(pts):
        return pts.mean(axis=0)
    return np.mean([c.pos for c in contacts], axis=0)


def clearance_contact(a: Solid, b: Solid, distance: float, cache: SolidCache) -> Contact | None:
    """Surfaces closer than ``distance`` (m): fcl's exact triangle distance.

    ``point`` is the midpoint of the two nearest points. Touching or interpenetrating solids give
    ``distance`` 0 (point: mean of the fcl contact points); so does a solid nested inside a closed one,
    found with a winding-number test because their surfaces never meet.
    """
    if np.any(_box_gap(a, b) < -distance):
        return None
    oa, ob = cache.fcl_object(a), cache.fcl_object(b)
    req = fcl.DistanceRequest(enable_nearest_points=True)
    res = fcl.DistanceResult()
    d = fcl.distance(oa, ob, req, res)
    if d <= 0.0:
        return Contact("clearance", _point(_contact_mean(a, b, cache)), distance=0.0)
    nested = _nested(a, b, cache)
    if nested is not None:
        inner = a if nested == "a" else b
        return Contact("clearance", _point(volume_centroid(inner.vertices, inner.faces)[1]), distance=0.0)
    if d >= distance:
        return None
    mid = (np.asarray(res.nearest_points[0]) + np.asarray(res.nearest_points[1])) / 2.0
    return Contact("clearance", _point(mid), distance=float(d))


def _contact_mean(a: Solid, b: Solid, cache: SolidCache) -> np.ndarray:
    req = fcl.CollisionRequest(num_max_contacts=_POINT_CONTACTS, enable_contact=True)
    res = fcl.CollisionResult()
    fcl.collide(cache.fcl_object(a), cache.fcl_object(b), req, res)
    if res.contacts:
        return _crossing_centre(a, b, res.contacts)
    lo = np.maximum(a.bounds[:3], b.bounds[:3])
    hi = np.minimum(a.bounds[3:], b.bounds[3:])
    return (lo + hi) / 2.0


def duplicate_contact(a: Solid, b: Solid, tolerance: float, cache: SolidCache) -> Contact | None:
    """The same geometry twice, within ``tolerance`` (m).

    Always requires the boxes to agree within ``tolerance``. Closed pair: the intersection holds at
    least 99 % of each volume. Otherwise: every vertex of each mesh lies within ``tolerance`` of the
    other's triangles. ``depth`` is the overlap's thinnest extent, ``point`` its centroid.
    """
    if np.any(np.abs(a.bounds - b.bounds) > tolerance):
        return None
    if cache.is_closed(a) and cache.is_closed(b):
        overlap = cache.overlap(a, b)
        if overlap is None:
            return None
        vol, centroid, depth = overlap
        va, vb = cache.volume(a), cache.volume(b)
        if va is None or vb is None or vol < 0.99 * va or vol < 0.99 * vb:
            return None
        return Contact("duplicate", _point(centroid), depth=depth, volume=vol, depth_method=OVERLAP)
    if np.any(point_mesh_distance(a.vertices, b.vertices, b.faces) > tolerance):
        return None
    if np.any(point_mesh_distance(b.vertices, a.vertices, a.faces) > tolerance):
        return None
    centroid = volume_centroid(a.vertices, a.faces)[1] if a.closed else a.vertices.mean(axis=0)
    return Contact("duplicate", _point(centroid), depth=thinnest_extent(a.vertices, a.faces),
                   depth_method=depth_method(a, b))


def containment_contact(a: Solid, b: Solid, tolerance: float, cache: SolidCache) -> Contact | None:
    """One closed solid wholly inside the other, and not a duplicate of it.

    Inside means: its box lies in the other's box grown by ``tolerance``, and the intersection
    (manifold3d) holds all of its volume up to 1e-6 relative, or the part left outside (a boolean
    difference) is nowhere thicker than ``tolerance``. ``inside`` is "a" or "b"; ``depth`` is the inner
    solid's thinnest extent, ``point`` the overlap's centroid and ``volume`` its volume.
    """
    ma, mb = cache.manifold(a), cache.manifold(b)
    if ma is None or mb is None:
        return None
    a_in_b, b_in_a = _box_inside(a, b, tolerance), _box_inside(b, a, tolerance)
    if not (a_in_b or b_in_a):
        return None
    if duplicate_contact(a, b, tolerance, cache) is not None:
        return None
    overlap = cache.overlap(a, b)
    if overlap is None:
        return None
    vol, centroid, _ = overlap
    candidates = [("a", a, ma, mb)] if a_in_b else []
    candidates += [("b", b, mb, ma)] if b_in_a else []
    candidates.sort(key=lambda c: cache.volume(c[1]) or 0.0)  # the smaller one first
    for which, inner, m_in, m_out in candidates:
        v_in = cache.volume(inner) or 0.0
        if vol < 0.5 * v_in:
            continue
        if vol >= v_in * (1 - 1e-6) or _outside_part_thin(m_in, m_out, tolerance):
            depth = thinnest_extent(inner.vertices, inner.faces)
            return Contact("containment", _point(centroid), depth=depth, inside=which, volume=vol,
                           depth_method=OVERLAP)
    return None


def _outside_part_thin(inner: m3.Manifold, outer: m3.Manifold, tolerance: float) -> bool:
    rest = inner - outer
    if rest.is_empty():
        return True
    return all(_describe(piece)[2] <= tolerance for piece in rest.decompose())
