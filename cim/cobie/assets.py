"""Type, Component, System, Assembly, Connection, Attribute and Coordinate rows.

Components are the elements COBie manages (ifcopenshell.util.fm.cobie_component_classes: equipment, doors,
windows, furniture, terminals...; not walls, slabs or pipe runs). An untyped component gets a Type named after its
class and predefined type, so every TypeName names a Type row. Coordinates are the elements' bounds in the city
CRS (easting, northing, height), as stored by the ingest.
"""

from __future__ import annotations

from collections import defaultdict

from cim.cobie.spatial import NA, category, text, unique_names

PSET_VALUES = {  # COBie column -> (property set, property) candidates, first found wins
    "Manufacturer": [("Pset_ManufacturerTypeInformation", "Manufacturer")],
    "ModelNumber": [("Pset_ManufacturerTypeInformation", "ModelReference"),
                    ("Pset_ManufacturerTypeInformation", "ModelLabel")],
    "WarrantyGuarantorParts": [("Pset_Warranty", "WarrantyGuarantorParts")],
    "WarrantyDurationParts": [("Pset_Warranty", "WarrantyPeriod")],
    "ExpectedLife": [("Pset_ServiceLife", "ServiceLifeDuration"), ("COBie_Type", "ExpectedLife")],
    "ReplacementCost": [("COBie_EconomicalImpactValues", "ReplacementCost")],
    "SerialNumber": [("Pset_ManufacturerOccurrence", "SerialNumber")],
    "BarCode": [("Pset_ManufacturerOccurrence", "BarCode")],
    "InstallationDate": [("Pset_ManufacturerOccurrence", "AcquisitionDate"), ("COBie_Component", "InstallationDate")],
    "WarrantyStartDate": [("Pset_Warranty", "WarrantyStartDate"), ("COBie_Component", "WarrantyStartDate")],
    "AssetIdentifier": [("Pset_ManufacturerOccurrence", "AssetIdentifier"), ("COBie_Component", "AssetIdentifier")],
}


def pset_value(el: dict, column: str):
    for pset, prop in PSET_VALUES.get(column, []):
        value = (el.get("psets") or {}).get(pset, {}).get(prop)
        if value not in (None, ""):
            return value
    return None


def fallback_type_name(el: dict) -> str:
    """A Type name for an untyped element: class and predefined type, so untyped equipment still groups."""
    parts = [el["ifc_class"]]
    if el.get("predefined_type") and el["predefined_type"] not in ("NOTDEFINED", "USERDEFINED"):
        parts.append(el["predefined_type"])
    return " ".join(parts)


def component_elements(src) -> list[dict]:
    from ifcopenshell.util.fm import cobie_component_classes

    return [e for e in src.elements if any(src.is_a(e, c) for c in cobie_component_classes)]


def types(src, base: dict, components: list[dict], type_of) -> list[dict]:
    """One Type row per TypeName the components use (``type_of(element) -> name``)."""
    groups: dict[str, list[dict]] = defaultdict(list)
    for el in components:
        groups[type_of(el)].append(el)
    rows = []
    for name, members in sorted(groups.items()):
        first = members[0]
        entity = None
        if first.get("type_global_id") and first.get("type_name") == name:
            try:
                entity = src.ifc.by_guid(first["type_global_id"])
            except RuntimeError:
                entity = None
        values = {c: text(next((v for v in (pset_value(m, c) for m in members) if v not in (None, "")), None))
                  for c in ("Manufacturer", "ModelNumber", "WarrantyGuarantorParts", "WarrantyDurationParts",
                            "ExpectedLife", "ReplacementCost")}
        materials = sorted({m for el in members for m in (el.get("materials") or [])})
        rows.append({**base, "Name": name, "Category": category(first),
                     "Description": text(getattr(entity, "Description", None) or f"{len(members)} x "
                                         f"{first['ifc_class']}"),
                     "AssetType": "Fixed", **values, "WarrantyGuarantorLabor": values["WarrantyGuarantorParts"],
                     "WarrantyDurationLabor": values["WarrantyDurationParts"], "WarrantyDurationUnit": "year",
                     "ExtObject": entity.is_a() if entity is not None else first["ifc_class"],
                     "ExtIdentifier": entity.GlobalId if entity is not None else NA, "DurationUnit": "year",
                     "WarrantyDescription": NA, "NominalLength": NA, "NominalWidth": NA, "NominalHeight": NA,
                     "ModelReference": values["ModelNumber"], "Material": ", ".join(materials) or NA})
    return rows


def components(base: dict, items: list[dict], names: dict[str, str], type_of, space_of) -> list[dict]:
    return [{**base, "Name": names[el["global_id"]], "TypeName": type_of(el), "Space": text(space_of(el)),
             "Description": text(el.get("description") or el.get("name") or el["ifc_class"]),
             "ExtObject": el["ifc_class"], "ExtIdentifier": el["global_id"],
             **{c: text(pset_value(el, c)) for c in ("SerialNumber", "InstallationDate", "WarrantyStartDate",
                                                     "BarCode", "AssetIdentifier")},
             "TagNumber": text(el.get("tag"))} for el in items]


def systems(src, base: dict, items: list[dict], names: dict[str, str]) -> list[dict]:
    """One row per IFC system holding at least one component, listing those components."""
    members: dict[str, list[str]] = defaultdict(list)
    for el in items:
        for system in sorted(set(el.get("systems") or [])):
            members[system].append(names[el["global_id"]])
    entities = {}
    for kind in ("IfcSystem", "IfcDistributionSystem"):
        try:
            entities.update({s.Name: s for s in src.ifc.by_type(kind)})
        except RuntimeError:
            continue
    rows = []
    for name, comps in sorted(members.items()):
        entity = entities.get(name)
        kind = (getattr(entity, "PredefinedType", None) or getattr(entity, "ObjectType", None)) if entity else None
        rows.append({**base, "Name": name, "Category": text(kind), "ComponentNames": ",".join(comps),
                     "ExtObject": entity.is_a() if entity is not None else "IfcSystem",
                     "ExtIdentifier": entity.GlobalId if entity is not None else NA,
                     "Description": text(getattr(entity, "Description", None) or f"{len(comps)} components")})
    return rows


def assemblies(src, base: dict, names: dict[str, str]) -> list[dict]:
    """Components aggregated or nested into another component."""
    children: dict[str, list[str]] = defaultdict(list)
    for r in src.relations:
        if r["rel_type"] in ("aggregates", "nests") and r["relating_global_id"] in names \
                and r["related_global_id"] in names:
            children[r["relating_global_id"]].append(names[r["related_global_id"]])
    return [{**base, "Name": f"{names[parent]} assembly", "SheetName": "Component", "ParentName": names[parent],
             "ChildNames": ",".join(kids), "AssemblyType": "Fixed", "ExtObject": "IfcRelAggregates",
             "ExtIdentifier": parent, "Description": f"{len(kids)} parts"} for parent, kids in sorted(children.items())]


def connections(src, base: dict, names: dict[str, str]) -> list[dict]:
    """Components connected through ports (relations rel_type connects_ports)."""
    rows, seen = [], set()
    for r in src.relations:
        a, b = r["relating_global_id"], r["related_global_id"]
        if r["rel_type"] == "connects_ports" and a in names and b in names and (a, b) not in seen:
            seen.add((a, b))
            rows.append({**base, "Name": f"{names[a]} -> {names[b]}", "ConnectionType": "Ports",
                         "SheetName": "Component", "RowName1": names[a], "RowName2": names[b],
                         "RealizingElement": NA, "PortName1": NA, "PortName2": NA,
                         "ExtObject": "IfcRelConnectsPorts", "ExtIdentifier": f"{a}/{b}", "Description": NA})
    return rows


def _scalar(value):
    if isinstance(value, bool):
        return "Yes" if value else "No"
    if isinstance(value, (list, tuple)):
        return ", ".join(map(str, value))
    return value if isinstance(value, (int, float, str)) else None


def attributes(base: dict, rows_by_sheet: dict[str, list[tuple[str, dict]]], stage: str) -> list[dict]:
    """Every scalar property of the Facility, Floor, Space and Component rows' elements: (row name, element)."""
    out = []
    for sheet, items in rows_by_sheet.items():
        for row_name, el in items:
            for pset, props in sorted((el.get("psets") or {}).items()):
                for prop, value in sorted(props.items()):
                    value = _scalar(value)
                    if prop == "id" or value in (None, ""):
                        continue
                    out.append({**base, "Name": prop, "Category": stage, "SheetName": sheet, "RowName": row_name,
                                "Value": value, "Unit": NA, "ExtObject": pset, "ExtIdentifier": el["global_id"],
                                "Description": f"{pset}.{prop}", "AllowedValues": NA})
    return _unique_attribute_names(out)


def _unique_attribute_names(rows: list[dict]) -> list[dict]:
    """Two property sets may carry the same property name on one row: qualify the later ones with the set."""
    seen = set()
    for r in rows:
        key = (r["Name"], r["SheetName"], r["RowName"])
        if key in seen:
            r["Name"] = f"{r['ExtObject']}.{r['Name']}"
        seen.add((r["Name"], r["SheetName"], r["RowName"]))
    return rows


def coordinates(base: dict, rows_by_sheet: dict[str, list[tuple[str, dict]]], crs: str) -> list[dict]:
    """box-lowerleft / box-upperright of every Space and Component with bounds, in the city CRS."""
    out = []
    for sheet, items in rows_by_sheet.items():
        for row_name, el in items:
            if el.get("xmin") is None:
                continue
            for corner, suffix in (("box-lowerleft", "min"), ("box-upperright", "max")):
                out.append({**base, "Name": f"{row_name} {corner}", "Category": corner, "SheetName": sheet,
                            "RowName": row_name, "CoordinateXAxis": round(el[f"x{suffix}"], 4),
                            "CoordinateYAxis": round(el[f"y{suffix}"], 4),
                            "CoordinateZAxis": round(el[f"z{suffix}"], 4), "ExtObject": crs,
                            "ExtIdentifier": el["global_id"], "ClockwiseRotation": 0, "ElevationalRotation": 0,
                            "YawRotation": 0})
    return out


def component_names(items: list[dict]) -> dict[str, str]:
    return unique_names(items, lambda e: e.get("name") or e["global_id"])


def _document_of(ref):
    """(information, location) of an IfcDocumentReference or IfcDocumentInformation (IFC4 and IFC2X3)."""
    if ref.is_a("IfcDocumentInformation"):
        return ref, getattr(ref, "Location", None)
    info = getattr(ref, "ReferencedDocument", None)  # IFC4
    if info is None:
        info = next(iter(getattr(ref, "ReferenceToDocument", None) or []), None)  # IFC2X3 inverse
    return info, getattr(ref, "Location", None) or getattr(info, "Location", None)


def documents(src, base: dict, rows_of: dict[str, tuple[str, str]], stage: str) -> list[dict]:
    """One Document row per document associated with a Facility, Floor, Space, Type or Component row
    (``rows_of``: GlobalId -> (sheet, row name))."""
    out, seen = [], set()
    for rel in src.ifc.by_type("IfcRelAssociatesDocument"):
        info, location = _document_of(rel.RelatingDocument)
        name = (getattr(info, "Name", None) or getattr(rel.RelatingDocument, "Name", None) or location
                or rel.RelatingDocument.is_a())
        for obj in rel.RelatedObjects:
            sheet, row = rows_of.get(getattr(obj, "GlobalId", None), (None, None))
            if sheet is None or (name, sheet, row) in seen:
                continue
            seen.add((name, sheet, row))
            folder, _, file = str(location or "").rpartition("/")
            out.append({**base, "Name": name, "Category": text(getattr(info, "Purpose", None) or "Other"),
                        "ApprovalBy": "Information Only", "Stage": stage, "SheetName": sheet, "RowName": row,
                        "Directory": text(folder), "File": text(file), "ExtObject": rel.RelatingDocument.is_a(),
                        "ExtIdentifier": text(getattr(info, "Identification", None) or getattr(info, "DocumentId",
                                                                                                None)),
                        "Description": text(getattr(info, "Description", None)), "Reference": text(location)})
    return out
