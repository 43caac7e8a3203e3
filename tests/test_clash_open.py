"""Clash depth when a mesh is open (an end cap exported as an open shell, a plate as one surface): the part of
the surface inside the other solid is measured, whatever the tessellation, at the origin and 500 km out."""

from __future__ import annotations

import numpy as np
import pytest
import trimesh

from cim.clash.kernel import SolidCache, clearance_contact, hard_contact
from cim.clash.types import Solid
from tests.test_clash_kernel import FRAMES, TOL, block, pipe, solid


@pytest.fixture(params=list(FRAMES))
def frame(request):
    return FRAMES[request.param]


SLAB = block((0, 0, -0.3), (4, 4, 0))  # top face at z = 0


def open_cap(reach: float, at=(1.5, 1.5), band: float = 0.01) -> trimesh.Trimesh:
    """A 0.2 m round cap 0.2 m high, open at the top, its side cut in ``band`` rings, bottom ``reach`` below z = 0."""
    cyl = trimesh.creation.cylinder(radius=0.1, height=0.2, sections=24)
    cap = trimesh.Trimesh(cyl.vertices, cyl.faces[cyl.face_normals[:, 2] < 0.99], process=False)
    v, f = trimesh.remesh.subdivide_to_size(cap.vertices, cap.faces, max_edge=band)
    return trimesh.Trimesh(v + (at[0], at[1], 0.1 - reach), f, process=False)


def sheet(corners) -> trimesh.Trimesh:
    return trimesh.Trimesh(np.asarray(corners, float), [[0, 1, 2], [0, 2, 3]], process=False)


def hard(a: trimesh.Trimesh, b: trimesh.Trimesh, frame, a_closed=False, b_closed=True, tol=TOL):
    return hard_contact(solid("a", a, frame, a_closed), solid("b", b, frame, b_closed), tol, SolidCache())


def test_a_finely_tessellated_open_cap_38_mm_into_a_slab_clashes_38_mm_deep(frame):
    c = hard(open_cap(0.038), SLAB, frame)
    assert c is not None and c.depth == pytest.approx(0.038, abs=1e-6)
    assert c.depth_method == "surface_inside" and c.volume is None
    assert np.allclose(c.point, frame(np.array([1.5, 1.5, -0.019])), atol=1e-3)


def test_the_depth_does_not_depend_on_which_side_the_open_mesh_is(frame):
    c = hard(SLAB, open_cap(0.038), frame, a_closed=True, b_closed=False)
    assert c.depth == pytest.approx(0.038, abs=1e-6)


def test_an_open_cap_5_mm_in_or_resting_on_the_slab_is_not_a_clash_at_10_mm(frame):
    assert hard(open_cap(0.005), SLAB, frame) is None
    assert hard(open_cap(0.0), SLAB, frame) is None
    assert hard(open_cap(0.0), SLAB, frame, tol=0.0) is None  # touching is 0 deep, not "a little"


def test_a_flat_sheet_standing_38_mm_in_a_slab_reaches_38_mm(frame):
    plate = sheet([[1, 1, -0.038], [2, 1, -0.038], [2, 1, 1], [1, 1, 1]])
    c = hard(plate, SLAB, frame)
    assert c is not None and c.depth == pytest.approx(0.038, abs=1e-6)


def test_a_flat_sheet_lying_on_a_slab_only_touches_it(frame):
    plate = sheet([[1, 1, 0], [2, 1, 0], [2, 2, 0], [1, 2, 0]])
    assert hard(plate, SLAB, frame, tol=0.0) is None


def test_an_open_pipe_through_a_wall_clashes_by_its_diameter_like_a_closed_one(frame):
    tube = pipe((1, -1, 1.5), (1, 1, 1.5), 0.05)
    tube = trimesh.Trimesh(tube.vertices, tube.faces[np.abs(tube.face_normals[:, 1]) < 0.99], process=False)
    wall = block((0, -0.2, 0), (4, 0.2, 3))  # 0.4 m thick: deeper than the pipe is wide
    c = hard(tube, wall, frame)
    assert c.depth == pytest.approx(0.1, abs=0.002)


def test_two_open_walls_crossing_clash_by_the_wall_thickness_marked_approximate(frame):
    def open_ends(m: trimesh.Trimesh, axis: int) -> trimesh.Trimesh:
        return trimesh.Trimesh(m.vertices, m.faces[np.abs(m.face_normals[:, axis]) < 0.99], process=False)

    a = open_ends(block((0, 1.9, 0), (4, 2.1, 3)), 0)
    b = open_ends(block((1.9, 0, 0), (2.1, 4, 3)), 1)
    c = hard(a, b, frame, b_closed=False)
    assert c.depth == pytest.approx(0.2, abs=1e-6) and c.depth_method == "approximate"


def test_a_closed_mesh_with_a_face_wound_the_wrong_way_is_measured_by_the_part_inside_the_other(frame):
    wall = block((0, 0, 0), (4, 0.2, 3))
    faces = wall.faces.copy()
    faces[0] = faces[0][::-1]  # one triangle wound the wrong way, as some exports have
    a = Solid("flipped", frame(np.asarray(wall.vertices, float)), faces, closed=True)
    b = solid("w2", block((3.9, -0.1, 0), (4.1, 4, 3)), frame)
    cache = SolidCache()
    c = hard_contact(a, b, TOL, cache)
    assert not cache.is_closed(a)  # manifold3d refuses it, and its winding number is no exact inside test
    assert c.depth == pytest.approx(0.1, abs=1e-6) and c.depth_method == "surface_inside"


def test_an_open_mesh_in_a_slab_still_has_zero_clearance(frame):
    cache = SolidCache()
    cap, slab = solid("cap", open_cap(0.038), frame, False), solid("slab", SLAB, frame)
    assert clearance_contact(cap, slab, 0.1, cache).distance == 0.0
