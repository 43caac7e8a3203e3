"""Shared type representations are tessellated once and placed per occurrence, with the same world meshes as
tessellating every occurrence in world coordinates (what the ingest did before)."""

from __future__ import annotations

import ifcopenshell
import ifcopenshell.api
import ifcopenshell.geom
import numpy as np
import pytest

import cim.geometry.tessellate as tessellate
from tests.models import add_box, add_door_in_opening, add_element, new_model, place

TOL = 1e-4  # 0.1 mm
PLACEMENTS = [  # (at, z axis, x axis): plain, turned in plan, far away, tilted, upside down
    ((0.0, 0.0, 0.0), None, None),
    ((10.0, 5.0, 0.0), None, (0.6, 0.8, 0.0)),
    ((4500.0, -3200.0, 12.0), None, (0.0, 1.0, 0.0)),
    ((3.0, 3.0, 1.0), (0.0, -0.6, 0.8), (1.0, 0.0, 0.0)),
    ((-7.0, 2.0, 4.0), (0.0, 0.0, -1.0), (1.0, 0.0, 0.0)),
]


def _typed_model() -> tuple[ifcopenshell.file, list]:
    """A column type (an L-shaped and a round body) used by five columns, a wall type used by two walls (one
    with a door opening), and a mirrored occurrence of the column type's map."""
    run = ifcopenshell.api.run
    f, ctx = new_model()
    col_type = run("root.create_entity", f, ifc_class="IfcColumnType", name="L column")
    profile = f.createIfcLShapeProfileDef("AREA", None, None, 0.3, 0.2, 0.02)
    body = run("geometry.add_profile_representation", f, context=ctx["body"], profile=profile, depth=3.0)
    run("geometry.assign_representation", f, product=col_type, representation=body)
    columns = []
    for n, (at, z_axis, x_axis) in enumerate(PLACEMENTS):
        col = add_element(f, ctx, "IfcColumn", f"Column {n}", None, at)
        run("type.assign_type", f, related_objects=[col], relating_type=col_type)
        place(f, col, at, z_axis=z_axis, x_axis=x_axis)
        columns.append(col)
    pipe_type = run("root.create_entity", f, ifc_class="IfcPipeSegmentType", name="DN100")
    round_body = run("geometry.add_profile_representation", f, context=ctx["body"],
                     profile=f.createIfcCircleProfileDef("AREA", None, None, 0.05), depth=4.0)
    run("geometry.assign_representation", f, product=pipe_type, representation=round_body)
    for n, (at, z_axis, x_axis) in enumerate(PLACEMENTS[:3]):
        pipe = add_element(f, ctx, "IfcPipeSegment", f"Pipe {n}", None, (at[0] + 1, at[1] + 1, at[2] + 2))
        run("type.assign_type", f, related_objects=[pipe], relating_type=pipe_type)
        place(f, pipe, (at[0] + 1, at[1] + 1, at[2] + 2), z_axis=z_axis, x_axis=x_axis)
    mirrored = add_element(f, ctx, "IfcColumn", "Mirrored column", None, (20.0, 0.0, 0.0))
    rmap = col_type.RepresentationMaps[0]
    op = f.createIfcCartesianTransformationOperator3D(f.createIfcDirection((-1.0, 0.0, 0.0)),
                                                      f.createIfcDirection((0.0, 1.0, 0.0)),
                                                      f.createIfcCartesianPoint((0.0, 0.0, 0.0)), 1.0,
                                                      f.createIfcDirection((0.0, 0.0, 1.0)))
    rep = f.createIfcShapeRepresentation(ctx["body"], "Body", "MappedRepresentation", [f.createIfcMappedItem(rmap, op)])
    mirrored.Representation = f.createIfcProductDefinitionShape(None, None, [rep])
    wall_a = add_box(f, ctx, "IfcWall", name="Wall a", corner=(0.0, 10.0, 0.0), size=(5.0, 0.2, 3.0))
    add_box(f, ctx, "IfcWall", name="Wall b", corner=(0.0, 20.0, 0.0), size=(5.0, 0.2, 3.0))
    add_door_in_opening(f, ctx, wall_a, corner=(1.0, 10.0, 0.0))
    return f, columns


def _per_instance(model: ifcopenshell.file) -> dict[int, tuple[np.ndarray, np.ndarray]]:
    """Every product tessellated on its own, in world coordinates, by the kernel the ingest uses."""
    s = tessellate.settings()
    s.set("use-world-coords", True)
    it = ifcopenshell.geom.iterator(s, model, 1, geometry_library=tessellate.GEOMETRY_LIBRARY)
    out, more = {}, it.initialize()
    while more:
        shape = it.get()
        faces = np.frombuffer(shape.geometry.faces_buffer, dtype=np.int32).reshape(-1, 3).copy()
        if len(faces):
            out[shape.id] = (np.frombuffer(shape.geometry.verts_buffer, dtype=np.float64).reshape(-1, 3).copy(), faces)
        more = it.next()
    return out


def _points(verts: np.ndarray) -> list[tuple]:
    """Vertices on a 0.1 mm grid, sorted."""
    return sorted(map(tuple, np.round(verts / TOL).astype(np.int64)))


def _area(verts: np.ndarray, faces: np.ndarray) -> float:
    tri = verts[faces]
    return float(np.linalg.norm(np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0]), axis=1).sum() / 2)


def _volume(verts: np.ndarray, faces: np.ndarray) -> float:
    """Signed: a triangle turned inside out changes it."""
    tri = verts[faces]
    return float(np.einsum("ij,ij->i", tri[:, 0], np.cross(tri[:, 1], tri[:, 2])).sum() / 6)




@pytest.fixture(scope="module")
def typed():
    return _typed_model()


def test_a_type_used_by_several_placed_occurrences_meshes_the_same_as_meshing_each_in_world_coordinates(typed):
    model, _ = typed
    reference = _per_instance(model)
    meshes = {m.step_id: m for m in tessellate.iter_meshes(model)}
    assert set(meshes) == set(reference) and len(meshes) >= 12
    for step_id, (verts, faces) in reference.items():
        mesh = meshes[step_id]
        assert mesh.verts.shape == verts.shape, model.by_id(step_id).Name
        # the same points and triangles; the order the kernel lists them in may differ between frames
        assert _points(mesh.verts) == _points(verts), model.by_id(step_id).Name
        # the same surface: a flat cap may be split into triangles differently in the two frames
        assert len(mesh.faces) == len(faces), model.by_id(step_id).Name
        area = _area(verts, faces)  # a surface moved by at most TOL changes the volume by at most area * TOL
        assert _area(mesh.verts, mesh.faces) == pytest.approx(area, rel=1e-5), model.by_id(step_id).Name
        assert _volume(mesh.verts, mesh.faces) == pytest.approx(_volume(verts, faces), abs=area * TOL)


def test_a_shared_type_representation_is_tessellated_once_for_all_its_occurrences(typed, monkeypatch):
    model, columns = typed
    copied = []
    original = tessellate._local_mesh
    monkeypatch.setattr(tessellate, "_local_mesh", lambda geom: copied.append(geom.id) or original(geom))
    meshes = list(tessellate.iter_meshes(model, include=columns))
    assert len(meshes) == len(columns) == 5
    assert len(copied) == 1  # one triangulation copied out, placed five times
    lows = {tuple(np.round(m.verts.min(axis=0), 3)) for m in meshes}
    assert len(lows) == 5  # each occurrence at its own place


def test_a_mirroring_placement_keeps_the_triangles_facing_out():
    verts = np.array([[0.0, 0, 0], [1, 0, 0], [0, 1, 0], [0, 0, 1]])
    faces = np.array([[0, 2, 1], [0, 1, 3], [0, 3, 2], [1, 2, 3]], dtype=np.int32)  # outward normals
    mirror = np.diag([-1.0, 1.0, 1.0, 1.0])
    placed, placed_faces = tessellate.place(verts, faces, mirror)
    tri = placed[placed_faces]
    normals = np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0])
    outward = tri.mean(axis=1) - placed.mean(axis=0)
    assert (np.einsum("ij,ij->i", normals, outward) > 0).all()
