"""Occurrences of a type meshed once and placed by cim (cim.geometry.instances) give the kernel's own meshes."""

from __future__ import annotations

from pathlib import Path

import ifcopenshell
import ifcopenshell.api
import numpy as np
import pytest

from cim.geometry.instances import plan_copies
from cim.geometry.mesh import merge_by_product
from cim.geometry.tessellate import iter_meshes
from cim.ifc.placement import world_matrices
from cim.ifc.reader import open_ifc
from cim.ingest.ifc_health import product_matrices
from tests.models import new_model, place

FIXTURES = Path(__file__).resolve().parents[2] / "shared" / "fixtures"


def _box_map(f, ctx, size):
    sx, sy, sz = size
    pos = f.createIfcAxis2Placement2D(f.createIfcCartesianPoint((sx / 2, sy / 2)))
    profile = f.createIfcRectangleProfileDef("AREA", None, pos, sx, sy)
    rep = ifcopenshell.api.run("geometry.add_profile_representation", f, context=ctx["body"], profile=profile,
                               depth=sz)
    return f.createIfcRepresentationMap(f.createIfcAxis2Placement3D(f.createIfcCartesianPoint((0.0, 0.0, 0.0))),
                                        rep)


def _occurrence(f, ctx, ifc_class, rmap, name, at, *, x_axis=None, extra=None, container=True):
    """An occurrence of ``rmap`` with its own (equal) mapping target, as exporters write them."""
    item = f.createIfcMappedItem(rmap, f.createIfcCartesianTransformationOperator3D(
        None, None, f.createIfcCartesianPoint((0.0, 0.0, 0.0)), None, None))
    reps = [f.createIfcShapeRepresentation(ctx["body"], "Body", "MappedRepresentation", [item]), *(extra or [])]
    el = ifcopenshell.api.run("root.create_entity", f, ifc_class=ifc_class, name=name)
    if container:
        ifcopenshell.api.run("spatial.assign_container", f, relating_structure=ctx["storey"], products=[el])
    el.Representation = f.createIfcProductDefinitionShape(None, None, reps)
    place(f, el, at, x_axis=x_axis)
    return el


def _opening(f, ctx, omap, wall, at, x_axis=None):
    opening = _occurrence(f, ctx, "IfcOpeningElement", omap, "Opening", at, x_axis=x_axis, container=False)
    ifcopenshell.api.run("feature.add_feature", f, feature=opening, element=wall)
    return opening


def typed_walls(path: Path, length_unit: str = "METRE") -> Path:
    """Walls of one type: two with the same door opening, one turned a quarter with it too, one with the
    opening elsewhere, three without (one also with an Axis, one turned), one with a Box representation too."""
    f, ctx = new_model(length_unit=length_unit)
    wmap, omap = _box_map(f, ctx, (5.6, 0.2, 3.3)), _box_map(f, ctx, (1.0, 0.4, 2.1))
    for name, at, x_axis, door in (("same A", (0.0, 0.0, 0.0), None, (2.0, -0.1, 0.0)),
                                   ("same B", (10.0, 0.0, 0.0), None, (12.0, -0.1, 0.0)),
                                   ("same turned", (20.0, 5.0, 0.0), (0.0, 1.0, 0.0), (20.1, 7.0, 0.0)),
                                   ("elsewhere", (30.0, 0.0, 0.0), None, (33.0, -0.1, 0.0))):
        wall = _occurrence(f, ctx, "IfcWall", wmap, name, at, x_axis=x_axis)
        _opening(f, ctx, omap, wall, door, x_axis=x_axis)
    _occurrence(f, ctx, "IfcWall", wmap, "plain", (40.0, 0.0, 0.0))
    _occurrence(f, ctx, "IfcWall", wmap, "plain turned", (70.123, 5.456, 0.0), x_axis=(0.6, 0.8, 0.0))
    axis_ctx = ifcopenshell.api.run("context.add_context", f, context_type="Model", context_identifier="Axis",
                                    target_view="GRAPH_VIEW", parent=ctx["body"].ParentContext)
    line = f.createIfcPolyline([f.createIfcCartesianPoint((0.0, 0.1)), f.createIfcCartesianPoint((5.6, 0.1))])
    axis = f.createIfcShapeRepresentation(axis_ctx, "Axis", "Curve2D", [line])
    _occurrence(f, ctx, "IfcWall", wmap, "plain with axis", (50.0, 0.0, 0.0), extra=[axis])
    box = f.createIfcShapeRepresentation(ctx["body"], "Box", "BoundingBox", [f.createIfcBoundingBox(
        f.createIfcCartesianPoint((0.0, 0.0, 0.0)), 5.6, 0.2, 3.3)])
    _occurrence(f, ctx, "IfcWall", wmap, "plain with box", (60.0, 0.0, 0.0), extra=[box])
    f.write(str(path))
    return path


def _meshes(model, products, copies=None) -> dict[int, tuple[np.ndarray, np.ndarray]]:
    include, groups = (products, None) if copies is None else (copies.kernel, copies.groups)
    raws = merge_by_product(list(iter_meshes(model, include=include, groups=groups)))
    return {r.step_id: (r.verts, r.faces) for r in raws}


def _plan(model, unit_scale: float = 1.0):
    products = [p for p in model.by_type("IfcProduct") if p.Representation is not None]
    return products, plan_copies(products, product_matrices(products), unit_scale)


def _assert_same_meshes(ours: dict, kernel: dict) -> None:
    """Each product's mesh: the same triangles at the same places (to a micrometre), whichever order."""
    assert ours.keys() == kernel.keys()
    for step_id, (verts, faces) in kernel.items():
        mine = ours[step_id]
        assert len(mine[1]) == len(faces), step_id
        tri = np.sort(np.round(verts[faces], 6).reshape(len(faces), -1), axis=0)
        my_tri = np.sort(np.round(mine[0][mine[1]], 6).reshape(len(faces), -1), axis=0)
        assert np.allclose(my_tri, tri, atol=2e-6), step_id


def _by_name(model):
    return {p.Name: p.id() for p in model.by_type("IfcProduct")}


def test_walls_of_a_type_with_the_same_opening_are_cut_once_and_placed_as_the_kernel_places_each(tmp_path):
    model = ifcopenshell.open(str(typed_walls(tmp_path / "walls.ifc")))
    products, copies = _plan(model)
    names = _by_name(model)
    groups = {frozenset(step for step, _, _ in members) for members in copies.groups.values() if len(members) > 1}
    assert frozenset({names["same A"], names["same B"], names["same turned"]}) in groups
    assert frozenset({names["plain"], names["plain with axis"], names["plain turned"]}) in groups
    kernel = {p.id() for p in copies.kernel}
    assert names["elsewhere"] in kernel and names["plain with box"] in kernel
    assert len(copies.kernel) < len(products) - 2
    _assert_same_meshes(_meshes(model, products, copies), _meshes(model, products))


def test_a_millimetre_model_is_placed_in_metres_like_the_kernel_does(tmp_path):
    path = typed_walls(tmp_path / "walls_mm.ifc", length_unit="MILLIMETRE")
    opened = open_ifc(path)
    products, copies = _plan(opened.file, 0.001)
    assert copies.n_copied >= 3
    _assert_same_meshes(_meshes(opened.file, products, copies), _meshes(opened.file, products))


def test_an_opening_moved_by_a_millimetre_is_another_mesh(tmp_path):
    model = ifcopenshell.open(str(typed_walls(tmp_path / "walls.ifc")))
    names = _by_name(model)
    opening = model.by_id(names["same B"]).HasOpenings[0].RelatedOpeningElement
    point = opening.ObjectPlacement.RelativePlacement.Location
    point.Coordinates = (point.Coordinates[0] + 0.001, *point.Coordinates[1:])
    products, copies = _plan(model)
    assert names["same B"] in {p.id() for p in copies.kernel}
    _assert_same_meshes(_meshes(model, products, copies), _meshes(model, products))


@pytest.mark.parametrize("name", ["ifc4/AC20-FZK-Haus.ifc", "ifc2x3/Duplex_A_20110907.ifc",
                                  "ifc2x3/acad2010_objects.ifc", "ifc2x3/487.ifc", "mep/domestic-hot-water.ifc"])
def test_real_exports_mesh_the_same_with_occurrences_placed_by_cim(name):
    path = FIXTURES / name
    if not path.exists():
        pytest.skip(f"{path} is not here (../shared/fixtures)")
    opened = open_ifc(path)
    import ifcopenshell.util.unit

    products, copies = _plan(opened.file, float(ifcopenshell.util.unit.calculate_unit_scale(opened.file)))
    _assert_same_meshes(_meshes(opened.file, products, copies), _meshes(opened.file, products))


def test_an_occurrence_meshes_to_the_same_numbers_alone_or_with_its_group(tmp_path):
    """What a revision relies on: a product meshed again on its own gives the row a full ingest gave it."""
    model = ifcopenshell.open(str(typed_walls(tmp_path / "walls.ifc", length_unit="MILLIMETRE")))
    names = _by_name(model)
    products, copies = _plan(model, 0.001)
    together = _meshes(model, products, copies)
    for name in ("plain", "plain with axis", "plain turned"):
        alone_product = [model.by_id(names[name])]
        alone = _meshes(model, alone_product, plan_copies(alone_product, product_matrices(alone_product), 0.001))
        verts, faces = alone[names[name]]
        assert np.array_equal(verts, together[names[name]][0]), name
        assert np.array_equal(faces, together[names[name]][1]), name


def test_an_opening_placed_in_a_cycle_sends_its_host_to_the_kernel_without_hanging(tmp_path):
    """A revision's small file is checked for cycles below the changed products, not below their openings."""
    model = ifcopenshell.open(str(typed_walls(tmp_path / "walls.ifc")))
    names = _by_name(model)
    placement = model.by_id(names["same A"]).HasOpenings[0].RelatedOpeningElement.ObjectPlacement
    placement.PlacementRelTo = placement
    assert world_matrices([placement]) == [None]
    _, copies = _plan(model)
    assert names["same A"] in {p.id() for p in copies.kernel}
    assert names["same A"] not in {s for members in copies.groups.values() for s, _, _ in members}
