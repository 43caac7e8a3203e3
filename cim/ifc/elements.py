"""One row of attributes per IFC product: identity, place in the spatial tree, groups, properties."""

from __future__ import annotations

import json
from typing import Any

import ifcopenshell
import ifcopenshell.util.element as uel
import ifcopenshell.util.unit

from cim.ifc.attribute import attribute, value
from cim.ifc.axis import axis_length
from cim.ifc.relations import RelIndex, find_ancestor

STOREY_CLASSES = ("IfcBuildingStorey",)
BUILDING_CLASSES = ("IfcBuilding", "IfcFacility")  # IfcFacility exists from IFC4X3 (bridges, roads, tunnels)

# Quantity entity -> (unit type of the project's unit assignment, power of the length unit it falls back to).
_QUANTITY_UNIT = {"IfcQuantityLength": ("LENGTHUNIT", 1), "IfcQuantityArea": ("AREAUNIT", 2),
                  "IfcQuantityVolume": ("VOLUMEUNIT", 3), "IfcQuantityWeight": ("MASSUNIT", 0)}
# ifcopenshell scales mass units against the gram; the SI unit (and the store's) is the kilogram.
_PER_SI = {"MASSUNIT": 1000.0}


def products(model: ifcopenshell.file) -> list[ifcopenshell.entity_instance]:
    return list(model.by_type("IfcProduct"))


def element_row(el: ifcopenshell.entity_instance, idx: RelIndex, unit_scale: float) -> dict[str, Any]:
    storey = find_ancestor(idx, el, STOREY_CLASSES)
    building = find_ancestor(idx, el, BUILDING_CLASSES)
    container = idx.container.get(el.id())
    parent = idx.parent.get(el.id())
    el_type = idx.types.get(el.id())
    key = idx.key
    return {
        "global_id": key(el),
        "global_id_issue": idx.identity.issues.get(el.id()),
        "step_id": el.id(),
        "ifc_class": el.is_a(),
        "predefined_type": _predefined_type(el, el_type),
        "name": value(el, "Name"),
        "description": value(el, "Description"),
        "object_type": attribute(el, "ObjectType"),
        "tag": attribute(el, "Tag"),
        "type_global_id": value(el_type, "GlobalId") if el_type else None,
        "type_name": value(el_type, "Name") if el_type else None,
        "storey": value(storey, "Name") if storey else None,
        "storey_global_id": key(storey) if storey else None,
        "building": value(building, "Name") if building else None,
        "building_global_id": key(building) if building else None,
        "container_global_id": key(container) if container else None,
        "parent_global_id": key(parent) if parent else None,
        "systems": sorted(set(idx.systems.get(el.id(), []))) or None,
        "materials": materials(idx, el, el_type) or None,
        "classification": classification(el) or None,
        "psets": _json(property_sets(idx, el, el_type)),
        "qsets": _json(quantity_sets(idx, el, idx.quantity_scales or unit_scale)),
        "axis_length_m": axis_length(el, unit_scale, idx.angle_scale),
    }


def _predefined_type(el: ifcopenshell.entity_instance, el_type: ifcopenshell.entity_instance | None) -> str | None:
    """The occurrence's PredefinedType, else its type's; USERDEFINED resolves to ObjectType/ElementType."""
    value = attribute(el, "PredefinedType")
    if value == "USERDEFINED":
        return attribute(el, "ObjectType") or value
    if value and value != "NOTDEFINED":
        return value
    if el_type is not None:
        type_value = attribute(el_type, "PredefinedType")
        if type_value == "USERDEFINED":
            return attribute(el_type, "ElementType") or type_value
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
        name = value(select, "Name")
        return {name} if name else set()
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
            code = attribute(ref, "Identification") or attribute(ref, "ItemReference") or ref.Name
            source = ref.ReferencedSource
            system = getattr(source, "Name", None) if source is not None else None
            refs.append(f"{system}:{code}" if system else str(code))
        elif ref.is_a("IfcClassification"):
            refs.append(str(ref.Name))
    return sorted(refs)


def quantity_scales(model: ifcopenshell.file) -> dict[str, float]:
    """SI factor per quantity entity, from the file's own unit assignment.

    A millimetre model usually declares its areas in m2 and volumes in m3 (AREAUNIT, VOLUMEUNIT): they are
    not the length unit squared or cubed. Only a unit type the file does not declare falls back to the
    length unit's power (the file's lengths are then the only hint).
    """
    length = ifcopenshell.util.unit.calculate_unit_scale(model)
    out = {}
    for entity, (unit_type, power) in _QUANTITY_UNIT.items():
        declared = _project_unit(model, unit_type)
        out[entity] = (float(ifcopenshell.util.unit.calculate_unit_scale(model, unit_type))
                       / _PER_SI.get(unit_type, 1.0) if declared is not None else length**power)
    return out


def _project_unit(model: ifcopenshell.file, unit_type: str) -> ifcopenshell.entity_instance | None:
    try:
        return ifcopenshell.util.unit.get_project_unit(model, unit_type)
    except (IndexError, AttributeError):  # no project, or no unit assignment
        return None


def _own_unit_scale(q: ifcopenshell.entity_instance) -> float | None:
    """The SI factor of a quantity's own Unit (it overrides the project's), if it names one."""
    unit = getattr(q, "Unit", None)
    if unit is None or not unit.is_a("IfcNamedUnit"):
        return None
    try:
        return float(ifcopenshell.util.unit.get_named_unit_scale(unit)) / _PER_SI.get(unit.UnitType, 1.0)
    except (AttributeError, TypeError, ValueError):
        return None


def quantity_sets(idx: RelIndex, el: ifcopenshell.entity_instance,
                  unit_scale: float | dict[str, float]) -> dict[str, dict[str, float]]:
    """Declared quantity sets, converted to SI so a mm model and a m model compare directly.

    ``unit_scale``: the per-entity factors of :func:`quantity_scales` (a bare length scale is read as
    the length unit's powers, for callers that have nothing better)."""
    scales = unit_scale if isinstance(unit_scale, dict) else {
        e: unit_scale**power for e, (_, power) in _QUANTITY_UNIT.items()}
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
            scale = _own_unit_scale(q) or scales.get(q.is_a(), 1.0)
            values[q.Name] = float(value) * scale
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
