"""Clash kernel: broad phase, the four narrow-phase tests and protection-zone solids.

Every probe runs in three frames: at the origin, placed 500 km out and shifted back into a local
frame (what the engine does), and left unshifted 500 km out (to show the kernel itself is robust).
"""

from __future__ import annotations

import math

import manifold3d as m3
import numpy as np
import pytest
import trimesh
from shapely.geometry import LineString, MultiPolygon, Polygon, box

from cim.clash.broad import candidate_pairs
from cim.clash.kernel import SolidCache, clearance_contact, containment_contact, duplicate_contact, hard_contact
from cim.clash.kernel_mesh import point_mesh_distance, thinnest_extent, winding_numbers
from cim.clash.types import Solid
from cim.clash.zones import buffer_prism, prism, tunnel_zone
from cim.samples import layout

WORLD = np.array([500_000.0, 2_865_000.0, 0.0])
ORIGIN = np.array([499_950.0, 2_865_020.0, 0.0])
FRAMES = {
    "origin": lambda v: v,
    "shifted": lambda v: (v + WORLD) - ORIGIN,
    "raw_500km": lambda v: v + WORLD,
}
TOL = 0.01


@pytest.fixture(params=list(FRAMES))
def frame(request):
    return FRAMES[request.param]


def solid(key: str, mesh: trimesh.Trimesh, place, closed: bool = True) -> Solid:
    return Solid(key=key, vertices=place(np.asarray(mesh.vertices, dtype=np.float64)), faces=mesh.faces, closed=closed)


def block(lo, hi) -> trimesh.Trimesh:
    lo, hi = np.asarray(lo, float), np.asarray(hi, float)
    return trimesh.creation.box(extents=hi - lo, transform=trimesh.transformations.translation_matrix((lo + hi) / 2))


def pipe(start, end, radius: float) -> trimesh.Trimesh:
    return trimesh.creation.cylinder(radius=radius, segment=np.array([start, end], dtype=float), sections=32)


def wall_with_opening(lo, hi, hole_lo, hole_hi) -> trimesh.Trimesh:
    def man(m):
        return m3.Manifold(m3.Mesh64(np.asarray(m.vertices, float), np.asarray(m.faces, np.uint64)))

    out = (man(block(lo, hi)) - man(block(hole_lo, hole_hi))).to_mesh64()
    return trimesh.Trimesh(np.asarray(out.vert_properties)[:, :3], np.asarray(out.tri_verts), process=False)


def near(point, expected, place, tol=1e-3) -> bool:
    return bool(np.allclose(point, place(np.asarray(expected, float)), atol=tol, rtol=0))


# ---------------------------------------------------------------------------------------------------------------
# Narrow phase probes
# ---------------------------------------------------------------------------------------------------------------


def test_a_pipe_through_a_wall_is_a_hard_clash_as_deep_as_the_pipe(frame):
    wall = solid("wall", block((-2, -0.1, 0), (2, 0.1, 3)), frame)
    duct = solid("pipe", pipe((0, -1, 1.5), (0, 1, 1.5), 0.05), frame)
    c = hard_contact(wall, duct, TOL, SolidCache())
    assert c is not None and c.mode == "hard"
    assert c.depth == pytest.approx(0.1, abs=1e-3)
    polygon_area = 0.5 * 32 * 0.05**2 * math.sin(2 * math.pi / 32)
    assert c.volume == pytest.approx(polygon_area * 0.2, rel=1e-6)
    assert near(c.point, (0, 0, 1.5), frame)
    assert hard_contact(duct, wall, TOL, SolidCache()).depth == pytest.approx(c.depth, abs=1e-9)


def test_a_pipe_inside_a_slab_is_contained_and_not_a_duplicate(frame):
    slab = solid("slab", block((-2, -2, 0), (2, 2, 0.3)), frame)
    duct = solid("pipe", pipe((-1, 0, 0.15), (1, 0, 0.15), 0.05), frame)
    cache = SolidCache()
    c = containment_contact(duct, slab, TOL, cache)
    assert c is not None and c.inside == "a"
    assert containment_contact(slab, duct, TOL, cache).inside == "b"
    assert c.depth == pytest.approx(0.1, abs=1e-3)
    assert c.volume == pytest.approx(cache.volume(duct), rel=1e-9)
    assert near(c.point, (0, 0, 0.15), frame)
    assert duplicate_contact(duct, slab, TOL, cache) is None
    nested = hard_contact(duct, slab, TOL, cache)
    assert nested is not None and nested.depth == pytest.approx(0.1, abs=1e-3)
    assert clearance_contact(duct, slab, 0.5, cache).distance == 0.0


def test_a_pipe_flush_with_the_slab_edge_is_still_contained(frame):
    slab = solid("slab", block((-2, -2, 0), (2, 2, 0.3)), frame)
    duct = solid("pipe", pipe((-2, 0, 0.15), (2, 0, 0.15), 0.05), frame)  # end faces lie on the slab's sides
    c = containment_contact(duct, slab, TOL, SolidCache())
    assert c is not None and c.inside == "a"


def test_a_pipe_sticking_out_of_the_slab_is_not_contained(frame):
    slab = solid("slab", block((-2, -2, 0), (2, 2, 0.3)), frame)
    duct = solid("pipe", pipe((-1, 0, 0.28), (1, 0, 0.28), 0.05), frame)  # 30 mm above the top face
    assert containment_contact(duct, slab, TOL, SolidCache()) is None
    duct_5mm = solid("pipe5", pipe((-1, 0, 0.255), (1, 0, 0.255), 0.05), frame)  # 5 mm out: within tolerance
    assert containment_contact(duct_5mm, slab, TOL, SolidCache()).inside == "a"


def test_two_identical_walls_are_duplicates_not_containment(frame):
    a = solid("w1", block((0, 0, 0), (4, 0.2, 3)), frame)
    b = solid("w2", block((0, 0, 0), (4, 0.2, 3)), frame)
    cache = SolidCache()
    c = duplicate_contact(a, b, TOL, cache)
    assert c is not None and c.mode == "duplicate"
    assert c.volume == pytest.approx(2.4, rel=1e-6)
    assert near(c.point, (2, 0.1, 1.5), frame)
    assert containment_contact(a, b, TOL, cache) is None
    assert hard_contact(a, b, TOL, cache).depth == pytest.approx(0.2, abs=1e-6)


def test_a_wall_shifted_by_more_than_the_tolerance_is_no_duplicate(frame):
    a = solid("w1", block((0, 0, 0), (4, 0.2, 3)), frame)
    b = solid("w2", block((0.02, 0, 0), (4.02, 0.2, 3)), frame)
    assert duplicate_contact(a, b, TOL, SolidCache()) is None


def test_open_duplicate_surfaces_are_found_vertex_by_vertex(frame):
    a = solid("s1", block((0, 0, 0), (4, 0.2, 3)), frame, closed=False)
    moved = block((0, 0, 0), (4, 0.2, 3))
    moved.vertices += (0.003, 0, 0)
    b = solid("s2", moved, frame, closed=False)
    assert duplicate_contact(a, b, TOL, SolidCache()) is not None
    moved.vertices += (0.02, 0, 0)
    c = solid("s3", moved, frame, closed=False)
    assert duplicate_contact(a, c, TOL, SolidCache()) is None


def test_collinear_walls_overlapping_50_mm_are_a_hard_clash_50_mm_deep(frame):
    a = solid("w1", block((0, 0, 0), (4, 0.2, 3)), frame)
    b = solid("w2", block((3.95, 0, 0), (7.95, 0.2, 3)), frame)
    c = hard_contact(a, b, TOL, SolidCache())
    assert c is not None
    assert c.depth == pytest.approx(0.05, abs=1e-3)
    assert c.volume == pytest.approx(0.05 * 0.2 * 3, rel=1e-6)
    assert near(c.point, (3.975, 0.1, 1.5), frame)


def test_an_l_corner_overshooting_by_10_cm_is_a_hard_clash(frame):
    a = solid("w1", block((0, 0, 0), (4, 0.2, 3)), frame)
    b = solid("w2", block((3.9, -0.1, 0), (4.1, 4, 3)), frame)
    c = hard_contact(a, b, TOL, SolidCache())
    assert c is not None and c.depth == pytest.approx(0.1, abs=1e-6)


def test_a_wall_resting_on_a_slab_touches_but_does_not_clash(frame):
    slab = solid("slab", block((-1, -1, 0), (5, 1, 0.3)), frame)
    wall = solid("wall", block((0, 0, 0.3), (4, 0.2, 3.3)), frame)
    cache = SolidCache()
    assert hard_contact(wall, slab, TOL, cache) is None
    assert hard_contact(wall, slab, 0.0, cache) is None  # touching is not interpenetration even at zero tolerance
    c = clearance_contact(wall, slab, 0.5, cache)
    assert c is not None and c.distance == 0.0
    assert containment_contact(wall, slab, TOL, cache) is None


def test_a_door_leaf_in_its_opening_with_5_mm_gaps_does_not_clash(frame):
    wall = solid("wall", wall_with_opening((0, 0, 0), (4, 0.2, 3), (1.5, -1, 0.1), (2.5, 1, 2.2)), frame)
    leaf = solid("door", block((1.505, 0.08, 0.105), (2.495, 0.12, 2.195)), frame)
    cache = SolidCache()
    assert cache.is_closed(wall)
    assert hard_contact(wall, leaf, TOL, cache) is None
    assert hard_contact(wall, leaf, 0.0, cache) is None
    c = clearance_contact(leaf, wall, 0.01, cache)
    assert c is not None and c.distance == pytest.approx(0.005, abs=1e-6)
    assert containment_contact(leaf, wall, TOL, cache) is None


def test_a_pipe_30_cm_from_a_gas_pipe_breaks_a_50_cm_clearance_rule(frame):
    gas = solid("gas", pipe((0, 0, -1.5), (10, 0, -1.5), 0.1), frame)
    water = solid("water", pipe((0, 0.45, -1.5), (10, 0.45, -1.5), 0.05), frame)
    cache = SolidCache()
    c = clearance_contact(gas, water, 0.5, cache)
    assert c is not None and c.mode == "clearance"
    assert c.distance == pytest.approx(0.3, abs=1e-3)
    local = np.asarray(c.point) - frame(np.zeros(3))
    assert local[1:] == pytest.approx((0.25, -1.5), abs=1e-3)
    assert hard_contact(gas, water, TOL, cache) is None


def test_a_pipe_60_cm_away_keeps_the_clearance(frame):
    gas = solid("gas", pipe((0, 0, -1.5), (10, 0, -1.5), 0.1), frame)
    water = solid("water", pipe((0, 0.75, -1.5), (10, 0.75, -1.5), 0.05), frame)
    assert clearance_contact(gas, water, 0.5, SolidCache()) is None


def test_an_open_plate_through_a_block_is_a_hard_clash(frame):
    plate = trimesh.Trimesh([[-1, -1, 0.5], [3, -1, 0.5], [3, 3, 0.5], [-1, 3, 0.5]], [[0, 1, 2], [0, 2, 3]])
    blk = solid("block", block((0, 0, 0), (2, 2, 1)), frame)
    sheet = solid("sheet", plate, frame, closed=False)
    cache = SolidCache()
    c = hard_contact(sheet, blk, TOL, cache)
    assert c is not None and c.volume is None
    assert abs(c.point[2] - frame(np.array([0, 0, 0.5]))[2]) < 1e-6
    assert clearance_contact(sheet, blk, 0.1, cache).distance == 0.0


def test_a_closed_flag_on_a_broken_mesh_falls_back_to_the_open_path(frame):
    broken = block((0, 0, 0), (4, 0.2, 3))
    broken = trimesh.Trimesh(broken.vertices, broken.faces[:-1], process=False)  # one triangle missing
    a = solid("broken", broken, frame, closed=True)
    b = solid("w2", block((3.9, -0.1, 0), (4.1, 4, 3)), frame)
    cache = SolidCache()
    assert not cache.is_closed(a) and cache.volume(a) is None
    assert hard_contact(a, b, TOL, cache) is not None
    assert containment_contact(a, b, TOL, cache) is None


def test_an_inside_out_mesh_from_a_mirrored_placement_still_clashes(frame):
    inverted = block((0, 0, 0), (4, 0.2, 3))
    inverted = trimesh.Trimesh(inverted.vertices, inverted.faces[:, ::-1], process=False)
    a = solid("mirrored", inverted, frame)
    cache = SolidCache()
    assert cache.volume(a) == pytest.approx(2.4, rel=1e-6)
    c = hard_contact(a, solid("w2", block((3.9, -0.1, 0), (4.1, 4, 3)), frame), TOL, cache)
    assert c is not None and c.depth == pytest.approx(0.1, abs=1e-6)
    duct = solid("pipe", pipe((1, 0.1, 1), (3, 0.1, 1), 0.05), frame)
    assert containment_contact(duct, a, TOL, cache).inside == "a"


def test_a_mesh_with_split_seams_is_merged_into_a_manifold():
    base = block((0, 0, 0), (1, 2, 3))
    tri = base.vertices[base.faces].reshape(-1, 3)  # every triangle with its own three vertices
    s = Solid("split", tri, np.arange(len(tri)).reshape(-1, 3), closed=True)
    cache = SolidCache()
    assert cache.is_closed(s)
    assert cache.volume(s) == pytest.approx(6.0, rel=1e-12)


# ---------------------------------------------------------------------------------------------------------------
# Mesh measures
# ---------------------------------------------------------------------------------------------------------------


def test_winding_numbers_tell_inside_from_outside():
    b = block((0, 0, 0), (1, 1, 1))
    w = winding_numbers(np.array([[0.5, 0.5, 0.5], [2, 0.5, 0.5], [0.999, 0.001, 0.5]]), b.vertices, b.faces)
    assert w == pytest.approx([1.0, 0.0, 1.0], abs=1e-9)


def test_point_to_mesh_distance_matches_trimesh_on_random_points():
    rng = np.random.default_rng(3)
    mesh = trimesh.creation.icosphere(subdivisions=1)
    pts = rng.uniform(-2, 2, (300, 3))
    ours = point_mesh_distance(pts, mesh.vertices, mesh.faces)
    brute = np.array([np.linalg.norm(mesh.vertices - p, axis=1).min() for p in pts])
    assert np.all(ours <= brute + 1e-12)  # never farther than the nearest vertex
    _, ref, _ = trimesh.proximity.closest_point_naive(mesh, pts)
    assert ours == pytest.approx(ref, abs=1e-9)


def test_the_thinnest_extent_of_a_rotated_plate_is_its_thickness():
    plate = block((0, 0, 0), (3, 2, 0.07))
    plate.apply_transform(trimesh.transformations.rotation_matrix(0.7, [1, 2, 3]))
    assert thinnest_extent(plate.vertices, plate.faces) == pytest.approx(0.07, abs=1e-12)


# ---------------------------------------------------------------------------------------------------------------
# Broad phase
# ---------------------------------------------------------------------------------------------------------------


def brute_pairs(a: np.ndarray, b: np.ndarray | None, margin: float) -> set[tuple[int, int]]:
    other = a if b is None else b
    lo_ok = np.all(a[:, None, :3] - margin <= other[None, :, 3:], axis=2)
    hi_ok = np.all(other[None, :, :3] <= a[:, None, 3:] + margin, axis=2)
    i, j = np.nonzero(lo_ok & hi_ok)
    keep = i < j if b is None else np.ones(len(i), dtype=bool)
    return set(zip(i[keep].tolist(), j[keep].tolist(), strict=True))


def random_boxes(rng: np.random.Generator, n: int, offset=(0.0, 0.0, 0.0)) -> np.ndarray:
    """Integer corners (exact touches are common), some flat or point-like boxes and a few long ones."""
    lo = rng.integers(-30, 60, (n, 3)).astype(float)
    size = rng.integers(0, 6, (n, 3)).astype(float)
    size[rng.random(n) < 0.03] *= 20.0
    box = np.concatenate([lo, lo + size], axis=1)
    return box + np.tile(np.asarray(offset, float), 2)


@pytest.mark.parametrize("margin", [0.0, 0.5, 2.0])
def test_broad_phase_self_pairs_match_brute_force(margin):
    rng = np.random.default_rng(7)
    a = random_boxes(rng, 800)
    got = candidate_pairs(a, margin=margin)
    assert got.dtype == np.int64 and got.shape[1] == 2
    assert len({tuple(p) for p in got.tolist()}) == len(got)
    assert {tuple(p) for p in got.tolist()} == brute_pairs(a, None, margin)


@pytest.mark.parametrize("margin", [0.0, 0.5, 2.0])
def test_broad_phase_cross_pairs_match_brute_force(margin):
    rng = np.random.default_rng(11)
    a, b = random_boxes(rng, 500), random_boxes(rng, 700)
    got = candidate_pairs(a, b, margin=margin)
    assert len({tuple(p) for p in got.tolist()}) == len(got)
    assert {tuple(p) for p in got.tolist()} == brute_pairs(a, b, margin)


def test_broad_phase_matches_brute_force_500_km_out_and_on_degenerate_sets():
    rng = np.random.default_rng(13)
    a = random_boxes(rng, 400, offset=WORLD)
    b = random_boxes(rng, 300, offset=WORLD)
    assert {tuple(p) for p in candidate_pairs(a, b, 0.25).tolist()} == brute_pairs(a, b, 0.25)
    same = np.tile([[1.0, 2.0, 3.0, 4.0, 5.0, 6.0]], (50, 1))  # fifty identical boxes: every pair
    assert len(candidate_pairs(same)) == 50 * 49 // 2
    flat = np.tile([[0.0, 0.0, 0.0, 10.0, 0.0, 0.0]], (5, 1))
    flat[:, [0, 3]] += np.arange(5)[:, None] * 10.0  # segments end to end along x: neighbours touch
    assert {tuple(p) for p in candidate_pairs(flat).tolist()} == {(0, 1), (1, 2), (2, 3), (3, 4)}


def test_broad_phase_handles_empty_and_chunked_inputs(monkeypatch):
    assert candidate_pairs(np.zeros((0, 6))).shape == (0, 2)
    assert candidate_pairs(np.zeros((0, 6)), random_boxes(np.random.default_rng(1), 5)).shape == (0, 2)
    import cim.clash.broad as broad

    monkeypatch.setattr(broad, "_CHUNK", 50)
    rng = np.random.default_rng(5)
    a, b = random_boxes(rng, 300), random_boxes(rng, 200)
    assert {tuple(p) for p in candidate_pairs(a).tolist()} == brute_pairs(a, None, 0.0)
    assert {tuple(p) for p in candidate_pairs(a, b, 1.0).tolist()} == brute_pairs(a, b, 1.0)


def test_broad_phase_on_50k_boxes_is_fast():
    import time

    rng = np.random.default_rng(2)
    lo = np.column_stack([rng.uniform(0, 1000, 50_000), rng.uniform(0, 1000, 50_000), rng.uniform(0, 10, 50_000)])
    a = np.concatenate([lo, lo + rng.uniform(0.2, 12, (50_000, 3))], axis=1) + np.tile(WORLD, 2)
    t0 = time.perf_counter()
    got = candidate_pairs(a, margin=0.5)
    assert time.perf_counter() - t0 < 5.0  # about 0.5 s on two cores
    assert 150_000 < len(got) < 1_000_000
    sample = got[np.random.default_rng(0).choice(len(got), 2000, replace=False)]
    i, j = sample[:, 0], sample[:, 1]
    assert np.all(a[i, :3] - 0.5 <= a[j, 3:]) and np.all(a[j, :3] <= a[i, 3:] + 0.5)


# ---------------------------------------------------------------------------------------------------------------
# Protection zones
# ---------------------------------------------------------------------------------------------------------------


def _check_closed(s: Solid, volume: float) -> None:
    man = m3.Manifold(m3.Mesh64(np.ascontiguousarray(s.vertices), np.ascontiguousarray(s.faces, dtype=np.uint64)))
    assert man.status() == m3.Error.NoError
    assert man.volume() == pytest.approx(volume, rel=1e-9)  # positive: normals face outwards
    assert SolidCache().volume(s) == pytest.approx(volume, rel=1e-9)


def test_the_sample_tunnel_zone_reaches_three_metres_beyond_the_outer_walls():
    footprint = box(layout.TUNNEL_E0, 2_865_708.0, layout.TUNNEL_E1, 2_865_718.0)
    origin = np.array([layout.CENTRE_E, layout.CENTRE_N, 0.0])
    zone = tunnel_zone(footprint, layout.TUNNEL_BOTTOM_Z, layout.TUNNEL_TOP_Z, 3.0, origin, "tunnel-zone")
    world = zone.bounds + np.concatenate([origin, origin])
    assert world[4] == pytest.approx(2_865_721.0, abs=1e-6)
    assert world[1] == pytest.approx(2_865_705.0, abs=1e-6)
    assert world[0] == pytest.approx(layout.TUNNEL_E0 - 3.0, abs=1e-6)
    assert (world[2], world[5]) == pytest.approx((-5.0, 5.0), abs=1e-12)
    _check_closed(zone, footprint.buffer(3.0, quad_segs=8).area * 10.0)


def test_a_building_footing_inside_the_tunnel_zone_clashes_with_it():
    origin = np.array([layout.CENTRE_E, layout.CENTRE_N, 0.0])
    footprint = box(layout.TUNNEL_E0, 2_865_708.0, layout.TUNNEL_E1, 2_865_718.0)
    zone = tunnel_zone(footprint, -2.0, 2.0, 3.0, origin, "zone")
    footing = prism(box(464_600, 2_865_720, 464_610, 2_865_730), -1.0, 0.5, origin, "footing")
    clear = prism(box(464_600, 2_865_722, 464_610, 2_865_730), -1.0, 0.5, origin, "clear")
    cache = SolidCache()
    c = hard_contact(footing, zone, TOL, cache)
    assert c is not None and c.depth == pytest.approx(1.0, abs=1e-6)
    assert hard_contact(clear, zone, TOL, cache) is None
    assert clearance_contact(clear, zone, 2.0, cache).distance == pytest.approx(1.0, abs=1e-9)


def test_a_prism_with_a_hole_and_a_second_part_is_closed_and_outward():
    outer = Polygon([(0, 0), (10, 0), (10, 10), (0, 10)], [[(3, 3), (3, 6), (6, 6), (6, 3)]])
    shape = MultiPolygon([outer, box(20, 0, 22, 5)])
    s = prism(shape, 1.0, 3.5, np.array([5.0, 5.0]), "ring")
    assert s.bounds[2] == 1.0 and s.bounds[0] == -5.0
    _check_closed(s, shape.area * 2.5)


def test_a_buried_pipeline_corridor_is_its_centre_line_buffered():
    line = LineString([(500_000, 2_865_000), (500_100, 2_865_000), (500_100, 2_865_050)])
    s = buffer_prism(line, 0.3 + 1.0, -3.0, 0.0, WORLD, "gas-corridor")
    _check_closed(s, line.buffer(1.3, quad_segs=8).area * 3.0)
    assert s.bounds[1] == pytest.approx(-1.3, abs=1e-9)
