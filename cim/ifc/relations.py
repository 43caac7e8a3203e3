"""Relationship indexes built in one pass, so per-element lookups are dictionary hits."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

import ifcopenshell

from cim.ifc.attribute import value
from cim.ifc.identity import Identity, product_identity

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
    identity: Identity = field(default_factory=Identity)
    quantity_scales: dict[str, float] = field(default_factory=dict)  # SI factor per IfcQuantity* entity
    angle_scale: float = 1.0  # radians per plane angle unit (curve trims)
    ancestors: dict[tuple[int, tuple[str, ...]], ifcopenshell.entity_instance | None] = field(default_factory=dict)

    def key(self, entity: ifcopenshell.entity_instance) -> str:
        """The stored key of a product: its GlobalId, unique even when the file's are not (cim.ifc.identity)."""
        return self.identity.key(entity)


def build_index(model: ifcopenshell.file) -> RelIndex:
    idx = RelIndex(identity=product_identity(model), quantity_scales=_quantity_scales(model),
                   angle_scale=_angle_scale(model))
    for rel in model.by_type("IfcRelContainedInSpatialStructure"):
        structure = value(rel, "RelatingStructure")
        if _gid(structure) is not None:  # a damaged file may point anywhere
            for el in value(rel, "RelatedElements") or ():
                idx.container[el.id()] = structure
    for rel in model.by_type("IfcRelAggregates"):
        whole = value(rel, "RelatingObject")
        if _gid(whole) is not None:
            for part in value(rel, "RelatedObjects") or ():
                idx.parent[part.id()] = whole
    if model.schema != "IFC2X3":
        for rel in model.by_type("IfcRelNests"):
            whole = value(rel, "RelatingObject")
            if _gid(whole) is None:
                continue
            for part in value(rel, "RelatedObjects") or ():
                idx.parent.setdefault(part.id(), whole)
                if part.is_a("IfcPort"):
                    idx.port_owner[part.id()] = whole
    else:
        for rel in model.by_type("IfcRelConnectsPortToElement"):
            idx.port_owner[value(rel, "RelatingPort").id()] = value(rel, "RelatedElement")
    for rel in model.by_type("IfcRelDefinesByType"):
        kind = value(rel, "RelatingType")
        if _gid(kind) is not None:
            for obj in value(rel, "RelatedObjects") or ():
                idx.types[obj.id()] = kind
    for rel in model.by_type("IfcRelAssociatesMaterial"):
        material = value(rel, "RelatingMaterial")
        for obj in value(rel, "RelatedObjects"):
            idx.material[obj.id()] = material
    for rel in model.by_type("IfcRelDefinesByProperties"):
        definition = value(rel, "RelatingPropertyDefinition")
        if definition.is_a("IfcPropertySetDefinition"):  # IFC4 also allows sets of definitions: skipped
            for obj in value(rel, "RelatedObjects"):
                idx.psets[obj.id()].append(definition)
    for rel in model.by_type("IfcRelAssignsToGroup"):
        group = value(rel, "RelatingGroup")
        if not group.is_a("IfcSystem") or any(group.is_a(c) for c in SPATIAL_GROUP_CLASSES):
            continue
        name = value(group, "Name") or value(group, "GlobalId") or f"#{group.id()}"
        for obj in value(rel, "RelatedObjects"):
            idx.systems[obj.id()].append(name)
    return idx


def _quantity_scales(model: ifcopenshell.file) -> dict[str, float]:
    from cim.ifc.elements import quantity_scales  # elements imports this module

    try:
        return quantity_scales(model)
    except (AttributeError, TypeError, ValueError):  # a malformed unit assignment: reported where the file opens
        return {}


def _angle_scale(model: ifcopenshell.file) -> float:
    import ifcopenshell.util.unit

    try:
        return float(ifcopenshell.util.unit.calculate_unit_scale(model, "PLANEANGLEUNIT") or 1.0)
    except (AttributeError, TypeError, ValueError, IndexError):
        return 1.0


def spatial_parent(idx: RelIndex, element: ifcopenshell.entity_instance) -> ifcopenshell.entity_instance | None:
    """The next element up the spatial tree: container first, then aggregate/nest parent."""
    return idx.container.get(element.id()) or idx.parent.get(element.id())


def find_ancestor(idx: RelIndex, element: ifcopenshell.entity_instance,
                  classes: tuple[str, ...]) -> ifcopenshell.entity_instance | None:
    """Walk up containment/aggregation until an element of one of ``classes`` (the element itself counts).

    Every node walked remembers its answer (``idx.ancestors``): the products of a storey share their walk
    from the storey up (an element row asks twice, for the storey and for the building)."""
    memo = idx.ancestors
    seen: set[int] = set()
    node: ifcopenshell.entity_instance | None = element
    found = None
    while node is not None and node.id() not in seen:
        if (node.id(), classes) in memo:
            found = memo[node.id(), classes]
            break
        if any(node.is_a(c) for c in classes):
            found = node
            break
        seen.add(node.id())
        node = spatial_parent(idx, node)
    for step in seen:  # none of them is of ``classes``: each one's answer is the one found above it
        memo[step, classes] = found
    return found


def relation_rows(model: ifcopenshell.file, idx: RelIndex,
                  skipped: list[int] | None = None) -> list[tuple[str, str, str]]:
    """(rel_type, relating key, related key) for everything clash and asset checks need.

    Keys are the products' stored keys (GlobalIds made unique, cim.ifc.identity), so a duplicated GlobalId
    never turns a relation into a self-link. A relationship whose end is unset or not a rooted entity (a
    damaged file) is left out; its #id goes to ``skipped`` so the caller can report it.
    """
    key = idx.key
    rows: list[tuple[str, str, str]] = []
    skipped = [] if skipped is None else skipped

    def add(kind: str, rel: ifcopenshell.entity_instance, a, b) -> None:
        ga, gb = _gid(a), _gid(b)
        if ga is None or gb is None:
            skipped.append(rel.id())
        else:
            rows.append((kind, key(a), key(b)))

    voids_host: dict[int, ifcopenshell.entity_instance] = {}
    for rel in model.by_type("IfcRelVoidsElement"):
        host, opening = rel.RelatingBuildingElement, rel.RelatedOpeningElement
        if opening is not None:
            voids_host[opening.id()] = host
        add("voids", rel, host, opening)
    for rel in model.by_type("IfcRelFillsElement"):
        opening, filler = rel.RelatingOpeningElement, rel.RelatedBuildingElement
        add("fills", rel, opening, filler)
        if opening is not None and opening.id() in voids_host:
            add("hosts", rel, voids_host[opening.id()], filler)
    for rel in model.by_type("IfcRelAggregates"):
        for part in rel.RelatedObjects or ():
            add("aggregates", rel, rel.RelatingObject, part)
    if model.schema != "IFC2X3":
        for rel in model.by_type("IfcRelNests"):
            for part in rel.RelatedObjects or ():
                add("nests", rel, rel.RelatingObject, part)
        for rel in model.by_type("IfcRelInterferesElements"):
            add("interferes", rel, rel.RelatingElement, rel.RelatedElement)
    for rel in model.by_type("IfcRelConnectsElements"):
        if rel.RelatingElement and rel.RelatedElement:
            add("connects", rel, rel.RelatingElement, rel.RelatedElement)
    for rel in model.by_type("IfcRelConnectsPorts"):
        if rel.RelatingPort is None or rel.RelatedPort is None:
            skipped.append(rel.id())
            continue
        a = idx.port_owner.get(rel.RelatingPort.id())
        b = idx.port_owner.get(rel.RelatedPort.id())
        if a is not None and b is not None:
            add("connects_ports", rel, a, b)
    return rows


def _gid(entity: ifcopenshell.entity_instance | None) -> str | None:
    """The GlobalId of a rooted entity; None for an unset end or an entity of the wrong type."""
    if entity is None or not entity.is_a("IfcRoot"):
        return None
    return value(entity, "GlobalId")
