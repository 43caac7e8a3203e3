"""Facility, Floor, Space and Zone rows of any building or facility model.

Floors are the IfcBuildingStorey elements; a model without storeys gets one Floor per facility, so every Space
still names a Floor. A component outside every IfcSpace is placed in the space whose bounds hold its centre on
its storey, else in the storey's "(floor area)" Space row (ExtObject IfcBuildingStorey), because COBie wants a
Space for every Component.
"""

from __future__ import annotations

from collections import defaultdict

from cim.cobie.source import Source, units

NA = "n/a"
FACILITIES = ("IfcFacility", "IfcBuilding")


def text(value) -> str:
    return NA if value in (None, "") else str(value)


def row_name(name: str) -> str:
    """A name other rows can list: COBie lists (SpaceNames, ComponentNames) are comma-separated, so a comma in a
    name becomes a semicolon."""
    return str(name).replace(",", ";")


def unique_names(items: list[dict], label) -> dict[str, str]:
    """global_id -> a name unique among ``items`` (COBie keys rows by Name): repeats get their GlobalId."""
    counts: dict[str, int] = defaultdict(int)
    for el in items:
        counts[row_name(label(el))] += 1
    return {el["global_id"]: row_name(label(el)) if counts[row_name(label(el))] == 1
            else f"{row_name(label(el))} [{el['global_id']}]" for el in items}


def category(el: dict) -> str:
    """The first classification reference, else the predefined or object type, else n/a."""
    return text((el.get("classification") or [None])[0] or el.get("predefined_type") or el.get("object_type"))


def facilities(src: Source, base: dict) -> list[dict]:
    project = (src.ifc.by_type("IfcProject") or [None])[0]
    site = next((e for e in src.elements if e["ifc_class"] == "IfcSite"), None)
    facs = [e for e in src.elements if any(src.is_a(e, c) for c in FACILITIES)] or ([site] if site else [])
    linear, area, volume = units(src.ifc)
    phase = {"plan": "Design", "build": "Construction", "manage": "As Built"}.get(src.model.get("phase"), NA)
    names = unique_names(facs, lambda e: e.get("name") or e["global_id"])
    rows = []
    for el in facs:
        rows.append({"CreatedBy": base["CreatedBy"], "CreatedOn": base["CreatedOn"],
                     "Name": names[el["global_id"]], "Category": category(el),
                     "ProjectName": text(getattr(project, "Name", None)), "SiteName": text(site and site.get("name")),
                     "LinearUnits": linear, "AreaUnits": area, "VolumeUnits": volume, "CurrencyUnit": NA,
                     "AreaMeasurement": "Qto_SpaceBaseQuantities", "ExternalSystem": base["ExtSystem"],
                     "ExternalProjectObject": "IfcProject",
                     "ExternalProjectIdentifier": text(getattr(project, "GlobalId", None)),
                     "ExternalSiteObject": "IfcSite" if site else NA,
                     "ExternalSiteIdentifier": text(site and site["global_id"]),
                     "ExternalFacilityObject": el["ifc_class"], "ExternalFacilityIdentifier": el["global_id"],
                     "Description": text(el.get("description")),
                     "ProjectDescription": text(getattr(project, "Description", None)),
                     "SiteDescription": text(site and site.get("description")), "Phase": phase})
    return rows


def floors(src: Source, base: dict, facility_rows: list[dict]) -> tuple[list[dict], dict[str, str]]:
    """Floor rows and storey global_id -> Floor name (a facility stands in for a model without storeys)."""
    storeys = sorted((e for e in src.elements if e["ifc_class"] == "IfcBuildingStorey"),
                     key=lambda e: (getattr(src.entity(e), "Elevation", None) or 0.0, e.get("name") or ""))
    names = unique_names(storeys, lambda e: e.get("name") or e["global_id"])
    rows = []
    for el in storeys:
        entity = src.entity(el)
        elevation = getattr(entity, "Elevation", None) if entity is not None else None
        height = (el.get("qsets") or {}).get("Qto_BuildingStoreyBaseQuantities", {}).get("GrossHeight")
        rows.append({**base, "Name": names[el["global_id"]], "Category": "Floor", "ExtObject": el["ifc_class"],
                     "ExtIdentifier": el["global_id"], "Description": text(el.get("description") or el.get("name")),
                     "Elevation": elevation if elevation is not None else NA, "Height": text(height)})
    if not rows:
        for fac in facility_rows:
            rows.append({**base, "Name": fac["Name"], "Category": "Level", "ExtObject": fac["ExternalFacilityObject"],
                         "ExtIdentifier": fac["ExternalFacilityIdentifier"],
                         "Description": "the whole facility (the model has no storeys)", "Elevation": NA,
                         "Height": NA})
            names[fac["ExternalFacilityIdentifier"]] = fac["Name"]
    return rows, names


def floor_of(el: dict, floor_names: dict[str, str]) -> str | None:
    for key in (el.get("storey_global_id"), el.get("building_global_id")):
        if key in floor_names:
            return floor_names[key]
    return next(iter(floor_names.values()), None) if len(floor_names) == 1 else None


def spaces(src: Source, base: dict, floor_names: dict[str, str]) -> tuple[list[dict], dict[str, str]]:
    """Space rows and space global_id -> Space name."""
    items = [e for e in src.elements if e["ifc_class"] == "IfcSpace"]
    names = unique_names(items, lambda e: e.get("name") or e["global_id"])
    rows = []
    for el in items:
        q = (el.get("qsets") or {}).get("Qto_SpaceBaseQuantities", {})
        rows.append({**base, "Name": names[el["global_id"]], "Category": category(el),
                     "FloorName": text(floor_of(el, floor_names)),
                     "Description": text(el.get("description") or el.get("object_type") or el.get("name")),
                     "ExtObject": "IfcSpace", "ExtIdentifier": el["global_id"], "RoomTag": text(el.get("tag")),
                     "UsableHeight": text(q.get("FinishCeilingHeight") or q.get("Height")),
                     "GrossArea": text(q.get("GrossFloorArea")), "NetArea": text(q.get("NetFloorArea"))})
    return rows, names


def floor_area_space(base: dict, floor_name: str, floor_gid: str) -> dict:
    """The Space row for components of a floor that sit in no IfcSpace."""
    return {**base, "Name": f"{floor_name} (floor area)", "Category": "Floor area", "FloorName": floor_name,
            "Description": f"elements of {floor_name} outside every IfcSpace", "ExtObject": "IfcBuildingStorey",
            "ExtIdentifier": floor_gid, "RoomTag": NA, "UsableHeight": NA, "GrossArea": NA, "NetArea": NA}


def _inside(el: dict, space: dict) -> bool:
    if el.get("xmin") is None or space.get("xmin") is None:
        return False
    centre = [(el[f"{a}min"] + el[f"{a}max"]) / 2 for a in "xyz"]
    return all(space[f"{a}min"] - 1e-6 <= c <= space[f"{a}max"] + 1e-6 for a, c in zip("xyz", centre, strict=True))


def space_of(el: dict, space_names: dict[str, str], space_elements: list[dict]) -> str | None:
    """The Space name of a component: its container, else the space on its storey whose bounds hold its centre."""
    for key in (el.get("container_global_id"), el.get("parent_global_id")):
        if key in space_names:
            return space_names[key]
    for sp in space_elements:
        if sp.get("storey_global_id") == el.get("storey_global_id") and _inside(el, sp):
            return space_names[sp["global_id"]]
    return None


def zones(src: Source, base: dict, space_names: dict[str, str]) -> list[dict]:
    """One row per IfcZone with its spaces (zones without named spaces are left out: COBie needs SpaceNames)."""
    gid_of = {e["step_id"]: e["global_id"] for e in src.elements}
    zone_list = [{"global_id": z.GlobalId, "name": z.Name, "entity": z} for z in src.ifc.by_type("IfcZone")]
    zone_names = unique_names(zone_list, lambda z: z["name"] or z["global_id"])
    rows = []
    for item in zone_list:
        zone = item["entity"]
        members = [o for rel in zone.IsGroupedBy for o in rel.RelatedObjects if o.is_a("IfcSpace")]
        names = [space_names[gid_of[m.id()]] for m in members if gid_of.get(m.id()) in space_names]
        if names:
            rows.append({**base, "Name": zone_names[zone.GlobalId], "Category": text(zone.ObjectType or
                         getattr(zone, "LongName", None) or "Other"), "SpaceNames": ",".join(names),
                         "ExtObject": "IfcZone", "ExtIdentifier": zone.GlobalId, "Description":
                         text(zone.Description)})
    return rows
