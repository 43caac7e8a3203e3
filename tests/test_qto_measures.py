"""Mesh measures on meshes built by hand: a box, a box with its lid removed, a hollow square tube."""

from __future__ import annotations

import numpy as np
import pytest

from cim.qto.linear import flow_quantities, structural_quantities
from cim.qto.mesh_measures import mesh_from_arrays, section, surface_area, volume

BOX_FACES = np.array([[0, 2, 1], [0, 3, 2], [4, 5, 6], [4, 6, 7], [0, 1, 5], [0, 5, 4], [1, 2, 6], [1, 6, 5],
                      [2, 3, 7], [2, 7, 6], [3, 0, 4], [3, 4, 7]])
FAR = np.array([464_900.0, 2_865_800.0, 5.0])  # city coordinates: the measures must keep millimetres


def box(dx: float, dy: float, dz: float, at=(0.0, 0.0, 0.0)) -> tuple[np.ndarray, np.ndarray]:
    v = np.array([[0, 0, 0], [dx, 0, 0], [dx, dy, 0], [0, dy, 0], [0, 0, dz], [dx, 0, dz], [dx, dy, dz], [0, dy, dz]],
                 float)
    return v + FAR + at, BOX_FACES.copy()


def test_a_box_far_from_the_origin_keeps_its_volume_and_area():
    mesh = mesh_from_arrays(*box(5.0, 0.2, 3.0))
    assert mesh.closed
    assert volume(mesh) == pytest.approx(3.0, rel=1e-9)
    assert surface_area(mesh) == pytest.approx(2 * (5 * 0.2 + 5 * 3 + 0.2 * 3), rel=1e-9)


def test_a_box_without_its_lid_is_open_and_its_volumes_are_flagged_unreliable():
    verts, faces = box(0.3, 0.3, 3.0)
    mesh = mesh_from_arrays(verts, faces[[0, 1, *range(4, 12)]])
    assert not mesh.closed
    by_name = {q.name: q for q in structural_quantities("IfcColumn", mesh, mesh)}
    assert not by_name["NetVolume"].reliable and "not closed" in by_name["NetVolume"].note
    assert not by_name["CrossSectionArea"].reliable
    assert by_name["Length"].value == pytest.approx(3.0) and by_name["Length"].reliable


def test_a_hollow_tube_has_gross_and_net_sections_and_only_its_outer_surface():
    outer_v, outer_f = box(0.4, 0.4, 1.0)
    inner_v, inner_f = box(0.2, 0.2, 1.0, at=(0.1, 0.1, 0.0))
    # a vertical tube: outer sides outward, inner sides turned inward, annular caps between the rings
    caps = []
    for ring, flip in ((0, True), (4, False)):  # bottom ring 0..3, top ring 4..7 (counter-clockwise from above)
        for k in range(4):
            a, b, c, d = ring + k, ring + (k + 1) % 4, 8 + ring + (k + 1) % 4, 8 + ring + k
            tris = [[a, b, c], [a, c, d]]
            caps += [t[::-1] for t in tris] if flip else tris
    faces = np.concatenate([outer_f[4:], inner_f[4:][:, ::-1] + 8, caps])
    mesh = mesh_from_arrays(np.concatenate([outer_v, inner_v]), faces)
    assert mesh.closed and volume(mesh) == pytest.approx(0.12, rel=1e-9)
    cut = section(mesh, np.array([0.0, 0.0, 0.5017]), np.array([0.0, 0.0, 1.0]))
    assert cut == pytest.approx((0.16, 0.12), rel=1e-9)
    by_name = {q.name: q.value for q in flow_quantities("IfcDuctSegment", mesh)}
    assert by_name["Length"] == pytest.approx(1.0)
    assert by_name["OuterSurfaceArea"] == pytest.approx(4 * 0.4 * 1.0, rel=1e-9)
    assert by_name["GrossCrossSectionArea"] == pytest.approx(0.16, rel=1e-9)
    assert by_name["NetCrossSectionArea"] == pytest.approx(0.12, rel=1e-9)
