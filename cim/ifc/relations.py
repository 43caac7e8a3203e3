"""Relationship indexes built in one pass, so per-element lookups are dictionary hits."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

import ifcopenshell

SPATIAL_GROUP_CLASSES = ("IfcZone", "IfcStructuralAnalysisModel")


@dataclass
class RelIndex:
    container: dict[int, ifcopenshell.entity_instance] = field(default_factory=dict)
    parent: dict[int, ifcopenshell.entity_instance] = field(default_factory=dict)
    systems: dict[int, list[str]] = field(default_factory=lambda: defaultdict(list))
    port_owner: dict[int, ifcopenshell.entity_instance] = field(default_factory=dict)
    types: dict[int, ifcopenshell.entity_instance] = field(default_factory=dict)
    material: dict[int, ifcopenshell.entity_instance] = field(default_factory=dict)
    psets: dict[int, list[ifcopenshell.entity_instance]] = field(default_factory=lambda: defaultdict(list))


def build_index(model: ifcopenshell.file) -> RelIndex:
    idx = RelIndex()
    for rel in model.by_type("IfcRelContainedInSpatialStructure"):
        for el in rel.RelatedElements or ():
            idx.container[el.id()] = rel.RelatingStructure
    for rel in model.by_type("IfcRelAggregates"):
        for part in rel.RelatedObjects or ():
            idx.parent[part.id()] = rel.RelatingObject
    if model.schema != "IFC2X3":
        for rel in model.by_type("IfcRelNests"):
            for part in rel.RelatedObjects:
                idx.parent.setdefault(part.id(), rel.RelatingObject)
                if part.is_a("IfcPort"):
                    idx.port_owner[part.id()] = rel.RelatingObject
    else:
        for rel in model.by_type("IfcRelConnectsPortToElement"):
            idx.port_owner[rel.RelatingPort.id()] = rel.RelatedElement
    for rel in model.by_type("IfcRelDefinesByType"):
        for obj in rel.RelatedObjects:
            idx.types[obj.id()] = rel.RelatingType
    for rel in model.by_type("IfcRelAssociatesMaterial"):
        for obj in rel.RelatedObjects:
            idx.material[obj.id()] = rel.RelatingMaterial
    for rel in model.by_type("IfcRelDefinesByProperties"):
        definition = rel.RelatingPropertyDefinition
        if definition.is_a("IfcPropertySetDefinition"):  # IFC4 also allows sets of definitions: skipped
            for obj in rel.RelatedObjects:
                idx.psets[obj.id()].append(definition)
    for rel in model.by_type("IfcRelAssignsToGroup"):
        group = rel.RelatingGroup
        if not group.is_a("IfcSystem") or any(group.is_a(c) for c in SPATIAL_GROUP_CLASSES):
            continue
        name = group.Name or group.GlobalId
        for obj in rel.RelatedObjects:
            idx.systems[obj.id()].append(name)
    return idx


def spatial_parent(idx: RelIndex, element: ifcopenshell.entity_instance) -> ifcopenshell.entity_instance | None:
    """The next element up the spatial tree: container first, then aggregate/nest parent."""
    return idx.container.get(element.id()) or idx.parent.get(element.id())


def find_ancestor(idx: RelIndex, element: ifcopenshell.entity_instance,
                  classes: tuple[str, ...]) -> ifcopenshell.entity_instance | None:
    """Walk up containment/aggregation until an element of one of ``classes`` (the element itself counts)."""
    seen: set[int] = set()
    node: ifcopenshell.entity_instance | None = element
    while node is not None and node.id() not in seen:
        if any(node.is_a(c) for c in classes):
            return node
        seen.add(node.id())
        node = spatial_parent(idx, node)
    return None


def relation_rows(model: ifcopenshell.file, idx: RelIndex) -> list[tuple[str, str, str]]:
    """(rel_type, relating GlobalId, related GlobalId) for everything clash and asset checks need."""
    rows: list[tuple[str, str, str]] = []
    voids_host: dict[int, ifcopenshell.entity_instance] = {}
    for rel in model.by_type("IfcRelVoidsElement"):
        host, opening = rel.RelatingBuildingElement, rel.RelatedOpeningElement
        voids_host[opening.id()] = host
        rows.append(("voids", host.GlobalId, opening.GlobalId))
    for rel in model.by_type("IfcRelFillsElement"):
        opening, filler = rel.RelatingOpeningElement, rel.RelatedBuildingElement
        rows.append(("fills", opening.GlobalId, filler.GlobalId))
        if opening.id() in voids_host:
            rows.append(("hosts", voids_host[opening.id()].GlobalId, filler.GlobalId))
    for rel in model.by_type("IfcRelAggregates"):
        for part in rel.RelatedObjects:
            rows.append(("aggregates", rel.RelatingObject.GlobalId, part.GlobalId))
    if model.schema != "IFC2X3":
        for rel in model.by_type("IfcRelNests"):
            for part in rel.RelatedObjects:
                rows.append(("nests", rel.RelatingObject.GlobalId, part.GlobalId))
        for rel in model.by_type("IfcRelInterferesElements"):
            rows.append(("interferes", rel.RelatingElement.GlobalId, rel.RelatedElement.GlobalId))
    for rel in model.by_type("IfcRelConnectsElements"):
        if rel.RelatingElement and rel.RelatedElement:
            rows.append(("connects", rel.RelatingElement.GlobalId, rel.RelatedElement.GlobalId))
    for rel in model.by_type("IfcRelConnectsPorts"):
        a = idx.port_owner.get(rel.RelatingPort.id())
        b = idx.port_owner.get(rel.RelatedPort.id())
        if a is not None and b is not None:
            rows.append(("connects_ports", a.GlobalId, b.GlobalId))
    return rows
