"""Storey and building of each product (cim.ifc.relations.find_ancestor), with the walks it remembers."""

from __future__ import annotations

import ifcopenshell.api
import ifcopenshell.api.project

from cim.ifc.relations import build_index, find_ancestor

STOREY, BUILDING = ("IfcBuildingStorey",), ("IfcBuilding", "IfcFacility")


def _model():
    f = ifcopenshell.api.project.create_file(version="IFC4")
    run = ifcopenshell.api.run
    project = run("root.create_entity", f, ifc_class="IfcProject", name="P")
    site = run("root.create_entity", f, ifc_class="IfcSite", name="S")
    building = run("root.create_entity", f, ifc_class="IfcBuilding", name="B")
    storeys = [run("root.create_entity", f, ifc_class="IfcBuildingStorey", name=f"L{i}") for i in range(2)]
    run("aggregate.assign_object", f, relating_object=project, products=[site])
    run("aggregate.assign_object", f, relating_object=site, products=[building])
    run("aggregate.assign_object", f, relating_object=building, products=storeys)
    walls = [run("root.create_entity", f, ifc_class="IfcWall", name=f"W{i}") for i in range(4)]
    run("spatial.assign_container", f, relating_structure=storeys[0], products=walls[:3])
    run("spatial.assign_container", f, relating_structure=storeys[1], products=walls[3:])
    loose = run("root.create_entity", f, ifc_class="IfcWall", name="on site")
    run("spatial.assign_container", f, relating_structure=site, products=[loose])
    return f, building, storeys, walls, loose


def test_products_of_one_storey_get_the_same_storey_and_building_asked_in_any_order():
    f, building, storeys, walls, loose = _model()
    idx = build_index(f)
    for wall in [walls[2], *walls, walls[0]]:  # the first answers are remembered, the later ones read back
        expected = storeys[0] if wall in walls[:3] else storeys[1]
        assert find_ancestor(idx, wall, STOREY) == expected
        assert find_ancestor(idx, wall, BUILDING) == building
    assert find_ancestor(idx, loose, STOREY) is None and find_ancestor(idx, loose, BUILDING) is None
    assert find_ancestor(idx, building, BUILDING) == building  # a building is its own building
    assert find_ancestor(idx, storeys[1], STOREY) == storeys[1]


def test_a_containment_cycle_gives_no_ancestor_and_no_hang():
    f, building, storeys, walls, loose = _model()
    idx = build_index(f)
    idx.container[storeys[0].id()] = walls[0]  # a damaged file: the storey inside its own wall
    idx.parent.pop(storeys[0].id(), None)
    assert find_ancestor(idx, walls[1], BUILDING) is None
    assert find_ancestor(idx, walls[0], BUILDING) is None
    assert find_ancestor(idx, walls[1], STOREY) == storeys[0]
