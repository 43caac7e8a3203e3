"""Attributes read by their position (cim.ifc.attribute) are ifcopenshell's own values, in every schema."""

from __future__ import annotations

import pytest

from cim.ifc.attribute import attribute, value
from tests.models import add_box, new_model

NAMES = ("GlobalId", "Name", "Description", "ObjectType", "ObjectPlacement", "Representation", "Tag",
         "PredefinedType", "HasOpenings", "ContainedInStructure", "RelativePlacement", "Location", "Coordinates",
         "Axis", "RefDirection", "DirectionRatios", "Representations", "RepresentationIdentifier", "Items")


def _entities(schema: str):
    f, ctx = new_model(schema)
    add_box(f, ctx, "IfcWall", name="w", corner=(1.0, 2.0, 0.0))
    add_box(f, ctx, "IfcColumn", name="c", corner=(4.0, 2.0, 0.0))
    return list(f)


@pytest.mark.parametrize("schema", ["IFC2X3", "IFC4", "IFC4X3_ADD2"])
def test_each_attribute_read_by_its_position_is_the_one_ifcopenshell_reads_by_name(schema):
    checked = 0
    for entity in _entities(schema):
        for name in NAMES:
            if entity.get_attribute_category(name) == 0:  # not an attribute of this type
                with pytest.raises(AttributeError, match=f"has no attribute '{name}'"):
                    value(entity, name)
                assert attribute(entity, name, "absent") == "absent"
                continue
            expected = getattr(entity, name)
            assert value(entity, name) == expected
            assert attribute(entity, name, "unset") == ("unset" if expected is None else expected)
            checked += 1
    assert checked > 100


def test_the_same_entity_name_in_two_schemas_keeps_each_schemas_own_positions():
    wall_2x3 = next(e for e in _entities("IFC2X3") if e.is_a("IfcWall"))
    wall_4 = next(e for e in _entities("IFC4") if e.is_a("IfcWall"))
    wall_4.PredefinedType = "PARTITIONING"
    assert attribute(wall_4, "PredefinedType") == "PARTITIONING"  # IfcWall's ninth attribute in IFC4
    assert attribute(wall_2x3, "PredefinedType", "none in IFC2X3") == "none in IFC2X3"
    assert value(wall_2x3, "Tag") == wall_2x3.Tag and value(wall_4, "Tag") == wall_4.Tag
    assert attribute(None, "Name", "no entity") == "no entity"
