"""Small models and edits for the incremental-ingest and revision tests."""

from __future__ import annotations

from pathlib import Path

import ifcopenshell
import ifcopenshell.api

from tests.models import add_box, add_door_in_opening, add_wall, new_model, place, write

N_MESHED = 7  # two walls, a column, three instances of one type, a door


def mapped_instances(f, ctx, n: int) -> None:
    """``n`` columns sharing one IfcRepresentationMap, as a type's instances do."""
    pos = f.createIfcAxis2Placement2D(f.createIfcCartesianPoint((0.2, 0.2)))
    profile = f.createIfcRectangleProfileDef("AREA", None, pos, 0.4, 0.4)
    rep = ifcopenshell.api.run("geometry.add_profile_representation", f, context=ctx["body"], profile=profile,
                               depth=3.0)
    origin = f.createIfcAxis2Placement3D(f.createIfcCartesianPoint((0.0, 0.0, 0.0)))
    shared = f.createIfcRepresentationMap(origin, rep)
    ctype = ifcopenshell.api.run("root.create_entity", f, ifc_class="IfcColumnType", name="C40")
    ctype.RepresentationMaps = [shared]
    for i in range(n):
        item = f.createIfcMappedItem(shared, f.createIfcCartesianTransformationOperator3D(
            None, None, f.createIfcCartesianPoint((0.0, 0.0, 0.0)), None, None))
        body = f.createIfcShapeRepresentation(ctx["body"], "Body", "MappedRepresentation", [item])
        col = ifcopenshell.api.run("root.create_entity", f, ifc_class="IfcColumn", name=f"T{i}")
        ifcopenshell.api.run("spatial.assign_container", f, relating_structure=ctx["storey"], products=[col])
        col.Representation = f.createIfcProductDefinitionShape(None, None, [body])
        place(f, col, (10.0 + 2 * i, 10.0, 0.0))
        ifcopenshell.api.run("type.assign_type", f, related_objects=[col], relating_type=ctype)


def base_model(path: Path) -> Path:
    f, ctx = new_model()
    add_wall(f, ctx, name="W1")
    add_wall(f, ctx, name="W2", start=(0.0, 4.0, 0.0), length=6.0)
    add_box(f, ctx, "IfcColumn", name="C1", corner=(3.0, 8.0, 0.0), size=(0.5, 0.5, 3.0))
    mapped_instances(f, ctx, 3)
    add_box(f, ctx, "IfcDoor", name="D1", corner=(20.0, 0.0, 0.0), size=(0.9, 0.1, 2.1))
    return write(f, path)


def by_name(f: ifcopenshell.file, name: str):
    return next(p for p in f.by_type("IfcProduct") if p.Name == name)


def revise(path: Path, change) -> None:
    """Open the file, apply ``change`` and write it back (STEP ids kept, as a re-save would)."""
    f = ifcopenshell.open(str(path))
    change(f)
    f.write(str(path))


def wall_with_opening(path: Path) -> Path:
    f, ctx = new_model()
    wall = add_wall(f, ctx, name="W1", length=6.0)
    add_door_in_opening(f, ctx, wall, corner=(2.0, 0.0, 0.0))
    add_wall(f, ctx, name="W2", start=(0.0, 4.0, 0.0))
    return write(f, path)
