"""One row of attributes per IFC product: identity, place in the spatial tree, groups, properties."""

from __future__ import annotations

import json
from typing import Any

import ifcopenshell
import ifcopenshell.util.element as uel

from cim.ifc.relations import RelIndex, find_ancestor

STOREY_CLASSES = ("IfcBuildingStorey",)
BUILDING_CLASSES = ("IfcBuilding", "IfcFacility")  # IfcFacility exists from IFC4X3 (bridges, roads, tunnels)

# Quantity entity -> power of the length unit its value carries, to report quantities in SI.
_QUANTITY_POWER = {"IfcQuantityLength": 1, "IfcQuantityArea": 2, "IfcQuantityVolume": 3}


def products(model: ifcopenshell.file) -> list[ifcopenshell.entity_instance]:
    return list(model.by_type("IfcProduct"))


def element_row(el: ifcopenshell.entity_instance, idx: RelIndex, unit_scale: float) -> dict[str, Any]:
    storey = find_ancestor(idx, el, STOREY_CLASSES)
    building = find_ancestor(idx, el, BUILDING_CLASSES)
    container = idx.container.get(el.id())
    parent = idx.parent.get(el.id())
    el_type = idx.types.get(el.id())
    return {
        "global_id": el.GlobalId,
        "step_id": el.id(),
        "ifc_class": el.is_a(),
        "predefined_type": _predefined_type(el, el_type),
        "name": el.Name,
        "description": el.Description,
        "object_type": getattr(el, "ObjectType", None),
        "tag": getattr(el, "Tag", None),
        "type_global_id": el_type.GlobalId if el_type else None,
        "type_name": el_type.Name if el_type else None,
        "storey": storey.Name if storey else None,
        "storey_global_id": storey.GlobalId if storey else None,
        "building": building.Name if building else None,
        "building_global_id": building.GlobalId if building else None,
        "container_global_id": container.GlobalId if container else None,
        "parent_global_id": parent.GlobalId if parent else None,
        "systems": sorted(set(idx.systems.get(el.id(), []))) or None,
        "materials": materials(idx, el, el_type) or None,
        "classification": classification(el) or None,
        "psets": _json(property_sets(idx, el, el_type)),
        "qsets": _json(quantity_sets(idx, el, unit_scale)),
    }


def _predefined_type(el: ifcopenshell.entity_instance, el_type: ifcopenshell.entity_instance | None) -> str | None:
    """The occurrence's PredefinedType, else its type's; USERDEFINED resolves to ObjectType/ElementType."""
    value = getattr(el, "PredefinedType", None)
    if value == "USERDEFINED":
        return getattr(el, "ObjectType", None) or value
    if value and value != "NOTDEFINED":
        return value
    if el_type is not None:
        type_value = getattr(el_type, "PredefinedType", None)
        if type_value == "USERDEFINED":
            return getattr(el_type, "ElementType", None) or type_value
        if type_value and type_value != "NOTDEFINED":
            return type_value
    return value or None


def materials(idx: RelIndex, el: ifcopenshell.entity_instance,
              el_type: ifcopenshell.entity_instance | None) -> list[str]:
    """Material names of the occurrence, else of its type (layer sets, profiles, constituents flattened)."""
    select = idx.material.get(el.id()) or (idx.material.get(el_type.id()) if el_type is not None else None)
    return sorted(_material_names(select)) if select is not None else []


def _material_names(select: ifcopenshell.entity_instance) -> set[str]:
    if select.is_a("IfcMaterial"):
        return {select.Name} if select.Name else set()
    if select.is_a("IfcMaterialLayerSetUsage"):
        return _material_names(select.ForLayerSet)
    if select.is_a("IfcMaterialProfileSetUsage"):
        return _material_names(select.ForProfileSet)
    members = []
    if select.is_a("IfcMaterialLayerSet"):
        members = [layer.Material for layer in select.MaterialLayers or ()]
    elif select.is_a("IfcMaterialProfileSet"):
        members = [profile.Material for profile in select.MaterialProfiles or ()]
    elif select.is_a("IfcMaterialConstituentSet"):
        members = [c.Material for c in select.MaterialConstituents or ()]
    elif select.is_a("IfcMaterialList"):
        members = list(select.Materials or ())
    elif select.is_a("IfcMaterialLayer") or select.is_a("IfcMaterialProfile") or select.is_a("IfcMaterialConstituent"):
        members = [select.Material]
    return {m.Name for m in members if m is not None and m.Name}


def property_sets(idx: RelIndex, el: ifcopenshell.entity_instance,
                  el_type: ifcopenshell.entity_instance | None) -> dict[str, dict[str, Any]]:
    """Property sets of the type overlaid by the occurrence's (occurrence values win)."""
    out: dict[str, dict[str, Any]] = {}
    definitions = list(getattr(el_type, "HasPropertySets", None) or ()) if el_type is not None else []
    definitions += idx.psets.get(el.id(), [])
    for definition in definitions:
        if definition.is_a("IfcPropertySet"):
            props = uel.get_properties(definition.HasProperties or ())
            out.setdefault(definition.Name, {}).update(props)
    return out


def classification(el: ifcopenshell.entity_instance) -> list[str]:
    refs = []
    for rel in getattr(el, "HasAssociations", ()) or ():
        if not rel.is_a("IfcRelAssociatesClassification"):
            continue
        ref = rel.RelatingClassification
        if ref.is_a("IfcClassificationReference"):
            code = getattr(ref, "Identification", None) or getattr(ref, "ItemReference", None) or ref.Name
            source = ref.ReferencedSource
            system = getattr(source, "Name", None) if source is not None else None
            refs.append(f"{system}:{code}" if system else str(code))
        elif ref.is_a("IfcClassification"):
            refs.append(str(ref.Name))
    return sorted(refs)


def quantity_sets(idx: RelIndex, el: ifcopenshell.entity_instance, unit_scale: float) -> dict[str, dict[str, float]]:
    """Declared quantity sets, converted to SI so a mm model and a m model compare directly."""
    out: dict[str, dict[str, float]] = {}
    for qset in idx.psets.get(el.id(), []):
        if not qset.is_a("IfcElementQuantity"):
            continue
        values = {}
        for q in qset.Quantities or ():
            if not q.is_a("IfcPhysicalSimpleQuantity"):
                continue
            value = q[3]  # LengthValue / AreaValue / VolumeValue / CountValue / WeightValue / TimeValue
            if value is None:
                continue
            power = _QUANTITY_POWER.get(q.is_a(), 0)
            values[q.Name] = float(value) * unit_scale**power if power else float(value)
        out[qset.Name] = values
    return out


def _json(value: dict) -> str | None:
    if not value:
        return None
    return json.dumps(_clean(value), ensure_ascii=False, sort_keys=True, default=str)


def _clean(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _clean(v) for k, v in value.items() if k != "id"}
    if isinstance(value, list | tuple):
        return [_clean(v) for v in value]
    return value
