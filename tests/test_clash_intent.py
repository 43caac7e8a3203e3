"""Declared intent is never a clash: aggregates, declared interferences, sleeves; undeclared overlaps still are."""

from __future__ import annotations

import ifcopenshell.api
import ifcopenshell.guid
import pytest

from cim.clash.engine import Checker
from cim.clash.rules import load_rules
from cim.clash.source import load_models
from cim.config import default_config
from cim.ingest.run import ingest_file
from cim.store import Store
from tests.models import add_box, add_pipe, new_model, write

RULES = """
[[rules]]
name = "hard"
mode = "hard"
a = { classes = ["IfcElement"], exclude_classes = ["IfcOpeningElement", "IfcElementAssembly"] }
"""


@pytest.fixture(scope="module")
def found(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("intent")
    f, ctx = new_model()
    run = ifcopenshell.api.run
    # parts of one assembly overlap by design
    assembly = run("root.create_entity", f, ifc_class="IfcElementAssembly", name="truss")
    run("spatial.assign_container", f, relating_structure=ctx["storey"], products=[assembly])
    parts = [add_box(f, ctx, "IfcMember", name=f"truss member {i}", corner=(i * 0.5, 0, 0), size=(1, 0.1, 0.1),
                     container=False) for i in range(2)]
    run("aggregate.assign_object", f, relating_object=assembly, products=parts)
    # two walls whose overlap the model declares
    w1 = add_box(f, ctx, "IfcWall", name="declared a", corner=(10, 0, 0), size=(4, 0.2, 3))
    w2 = add_box(f, ctx, "IfcWall", name="declared b", corner=(13.9, 0, 0), size=(4, 0.2, 3))
    f.createIfcRelInterferesElements(ifcopenshell.guid.new(), None, None, None, w1, w2, None, "planned", True)
    # a pipe through a wall in a sleeve the wall hosts
    wall = add_box(f, ctx, "IfcWall", name="sleeved wall", corner=(20, 0, 0), size=(4, 0.2, 3))
    sleeve = add_box(f, ctx, "IfcBuildingElementProxy", name="Sleeve DN100", corner=(21.9, -0.05, 1.4),
                     size=(0.2, 0.3, 0.2))
    f.createIfcRelConnectsElements(ifcopenshell.guid.new(), None, None, None, None, wall, sleeve)
    add_pipe(f, ctx, name="pipe in sleeve", start=(22, -1, 1.5), direction=(0, 1, 0), length=2.2)
    # and one overlap nobody declared
    add_box(f, ctx, "IfcWall", name="undeclared a", corner=(30, 0, 0), size=(4, 0.2, 3))
    add_box(f, ctx, "IfcWall", name="undeclared b", corner=(33.9, 0, 0), size=(4, 0.2, 3))
    store = Store(tmp / "store", "EPSG:4549")
    assert ingest_file(store, default_config("EPSG:4549", "plan"), write(f, tmp / "m.ifc")).action == "ingested"
    (tmp / "rules.toml").write_text(RULES)
    elements = load_models(store)
    names = {r["key"]: r["name"] for r in elements.rows}
    return {tuple(sorted((names[x.a], names[x.b]))) for x in Checker(elements).run(load_rules(tmp / "rules.toml"))}


def test_only_the_undeclared_overlap_is_a_clash(found):
    assert found == {("undeclared a", "undeclared b")}
