"""LoD1 buildings from element rows: footprint, base and top, storeys, a gross floor area estimate."""

from __future__ import annotations

from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor

import pyarrow as pa
import pyarrow.compute as pc
import shapely

from cim.geometry.union import union_by_groups

NOT_BUILT = ("IfcOpeningElement", "IfcSpace", "IfcSite", "IfcBuilding", "IfcBuildingStorey", "IfcAnnotation",
             "IfcGrid", "IfcDistributionPort", "IfcVirtualElement", "IfcAlignment", "IfcReferent",
             "IfcFacility", "IfcFacilityPart", "IfcBridge", "IfcRoad", "IfcRailway", "IfcMarineFacility",
             "IfcSpatialZone", "IfcExternalSpatialElement")
FLOOR_OUTLINE = ("IfcSlab", "IfcWall", "IfcWallStandardCase", "IfcColumn", "IfcCurtainWall")
GROUND_TOLERANCE = 0.05  # m: a storey within this of the ground floor counts as at ground level
# What a facility is, most specific class first (IfcBuilding, IfcBridge, IfcRoad, IfcRailway are IfcFacility
# subtypes in IFC4X3; IfcTunnel is in the IFC 4.4 drafts). A plain IfcFacility typed or named as a tunnel is one.
KINDS = (("IfcBuilding", "building"), ("IfcBridge", "bridge"), ("IfcRoad", "road"), ("IfcRailway", "railway"),
         ("IfcTunnel", "tunnel"))
COLUMNS = pa.schema([("global_id", pa.string()), ("name", pa.string()), ("ifc_class", pa.string()),
                     ("kind", pa.string()), ("footprint", pa.binary()), ("footprint_area_m2", pa.float64()),
                     ("base_elevation_m", pa.float64()), ("top_elevation_m", pa.float64()),
                     ("height_m", pa.float64()), ("storeys", pa.int32()), ("storeys_above_ground", pa.int32()),
                     ("gross_floor_area_m2", pa.float64()), ("n_elements", pa.int64())])
_ROW_COLUMNS = ("global_id", "ifc_class", "predefined_type", "name", "object_type", "building_global_id",
                "storey_global_id", "footprint", "zmin", "zmax")


def facility_kind(ifc_class: str, name: str | None = None, object_type: str | None = None,
                  predefined_type: str | None = None) -> str:
    """building, bridge, road, railway, tunnel or facility (any other IfcFacility, e.g. a marine one)."""
    import ifcopenshell.ifcopenshell_wrapper as w

    for schema in ("IFC4X3_ADD2", "IFC4", "IFC2X3"):
        try:
            decl = w.schema_by_name(schema).declaration_by_name(ifc_class)
        except (RuntimeError, IndexError):
            continue
        supertypes = set()
        while decl is not None:
            supertypes.add(decl.name())
            decl = decl.supertype()
        break
    else:
        supertypes = {ifc_class}
    for cls, kind in KINDS:
        if cls in supertypes or ifc_class == cls:
            return kind
    text = f"{name or ''} {object_type or ''} {predefined_type or ''}".lower()
    return "tunnel" if "tunnel" in text or "管廊" in text or "隧道" in text else "facility"


def buildings_table(elements: pa.Table, storey_z: dict[str, tuple[float, float]],
                    previous: pa.Table | None = None, changed: frozenset[str] = frozenset()) -> pa.Table:
    """The ``buildings`` rows of one model with their columns even when there are none (a site-only survey
    model, an alignment-only railway): an empty table must still carry the schema it is committed with.
    ``previous`` and ``changed``: see ``building_rows``."""
    kept = {r["global_id"]: r for r in previous.to_pylist()} if previous is not None else {}
    return pa.Table.from_pylist(building_rows(elements, storey_z, kept, changed), schema=COLUMNS)


def building_rows(elements: pa.Table, storey_z: dict[str, tuple[float, float]], previous: dict[str, dict] | None = None,
                  changed: frozenset[str] = frozenset()) -> list[dict]:
    """``storey_z``: storey GlobalId -> (world height, elevation in the model).

    A revision passes the previous version's rows by GlobalId and the elements whose geometry it changed: a
    building whose outline comes from walls and slabs none of which changed keeps its outline and floor area
    (the union of a large building's footprints is most of this function's time); its heights and counts are
    computed again.

    Rows become Python dicts only where Python works on them: the buildings, their storeys, and the members of
    a building outlined again (of one that may keep its outline, its walls, slabs and columns); base, top and
    counts are Arrow aggregates. Turning every element into a dict was 0.15 s of a revision of a
    50,000-element model that kept its building's outline."""
    table = elements.select([c for c in _ROW_COLUMNS if c in elements.column_names])
    classes, owner = table["ifc_class"], table["building_global_id"]
    placed = pc.fill_null(pc.not_equal(owner, ""), False)
    outlining = pc.or_(pc.is_in(classes, pa.array(FLOOR_OUTLINE)), pc.starts_with(classes, "IfcWall"))
    # find_ancestor counts the element itself, so a building or facility is its own building.
    buildings = {r["global_id"]: r for r in _sorted_rows(
        table.filter(pc.fill_null(pc.equal(table["global_id"], owner), False)))}
    storeys: dict[str, set[str]] = defaultdict(set)
    for r in table.filter(pc.and_(placed, pc.equal(classes, "IfcBuildingStorey"))).select(
            ["global_id", "building_global_id"]).to_pylist():
        storeys[r["building_global_id"]].add(r["global_id"])
    touched = pc.is_in(table["global_id"], pa.array(sorted(changed), pa.string()))
    # buildings with a changed wall, slab or column, whatever its footprint now
    redrawn = set(table.filter(pc.and_(pc.and_(placed, outlining), touched))["building_global_id"].to_pylist())
    member = pc.and_(pc.and_(placed, pc.invert(pc.is_in(classes, pa.array(NOT_BUILT)))),
                     pc.is_valid(table["footprint"]))
    members = table.filter(member)
    sums = {r["building_global_id"]: r for r in members.group_by("building_global_id").aggregate(
        [("zmin", "min"), ("zmax", "max"), ("global_id", "count")]).to_pylist()}
    previous = previous or {}
    may_keep = {gid for gid in buildings if gid in sums and gid not in redrawn
                and previous.get(gid, {}).get("footprint") is not None}
    walls = _rows_of(table.filter(pc.and_(member, outlining)), may_keep)
    kept = {gid for gid in may_keep if _outlined_by_floors(walls.get(gid, []), sorted(storeys.get(gid, ())), storey_z)}
    built = _rows_of(members, set(sums) - kept)
    return [_lod1(building, sorted(storeys.get(gid, ())), storey_z, sums[gid], previous[gid] if gid in kept else None,
                  built.get(gid, [])) for gid, building in buildings.items() if gid in sums]


def _sorted_rows(table: pa.Table) -> list[dict]:
    """Rows by GlobalId (stable): outlines are unioned in one order, however the rows were read."""
    return sorted(table.to_pylist(), key=lambda r: r["global_id"])


def _rows_of(members: pa.Table, buildings: set[str]) -> dict[str, list[dict]]:
    """The member rows of ``buildings``, per building, by GlobalId."""
    out: dict[str, list[dict]] = defaultdict(list)
    if buildings:
        chosen = members.filter(pc.is_in(members["building_global_id"], pa.array(sorted(buildings), pa.string())))
        for r in _sorted_rows(chosen):
            out[r["building_global_id"]].append(r)
    return out


def _lod1(building: dict, storey_ids: list[str], storey_z: dict[str, tuple[float, float]], sums: dict,
          kept: dict | None, built: list[dict]) -> dict:
    """The building's row. ``sums``: its members' lowest base, highest top and count; ``kept``: its previous
    row, whose outline and floor area are still its own, else the outline is drawn from ``built``."""
    levels = {s: storey_z[s] for s in storey_ids if s in storey_z}
    ground = _ground_level(list(levels.values()))
    if kept is not None:
        outline, gross = shapely.from_wkb(kept["footprint"]), kept["gross_floor_area_m2"]
    else:
        outline, gross = _outline(built, storey_ids, levels, ground)
    base, top = sums["zmin_min"], sums["zmax_max"]
    storeys_above = sum(1 for world, _ in levels.values() if ground is not None and world >= ground - GROUND_TOLERANCE)
    return {
        "global_id": building["global_id"],
        "name": building["name"],
        "ifc_class": building["ifc_class"],
        "kind": facility_kind(building["ifc_class"], building["name"], building.get("object_type"),
                              building.get("predefined_type")),
        "footprint": shapely.to_wkb(outline) if outline is not None else None,
        "footprint_area_m2": outline.area if outline is not None else None,
        "base_elevation_m": base,
        "top_elevation_m": top,
        "height_m": top - base,
        "storeys": len(storey_ids),
        "storeys_above_ground": storeys_above,
        "gross_floor_area_m2": gross,
        "n_elements": sums["global_id_count"],
    }


def _outline(built: list[dict], storey_ids: list[str], levels: dict[str, tuple[float, float]],
             ground: float | None) -> tuple[shapely.Geometry | None, float | None]:
    """(footprint, gross floor area estimate)."""
    floors = floor_outlines(built, storey_ids)
    above = [g for s, g in floors.items() if _at_or_above(s, levels, ground)]
    if above:  # the outline of the walls and slabs of the storeys at and above ground (外墙外围)
        outline = fill_holes(union_by_groups(above))
    else:  # no storeys (a tunnel, a bridge): every built element above ground, else every one
        rows = [r for r in built if ground is None or r["zmax"] > ground + GROUND_TOLERANCE] or built
        outline = filled_outline([r["footprint"] for r in rows])
    return outline, sum(g.area for g in floors.values()) if floors else None


def _at_or_above(storey: str, levels: dict[str, tuple[float, float]], ground: float | None) -> bool:
    return ground is None or levels.get(storey, (ground, 0.0))[0] >= ground - GROUND_TOLERANCE


def _outlined_by_floors(built: list[dict], storey_ids: list[str], storey_z: dict[str, tuple[float, float]]) -> bool:
    """Whether the outline is the walls' and slabs' of the storeys at or above ground (some with a footprint),
    not every element's: then a revision that changed none of them keeps the outline and floor area. Elements
    enter or leave these only through their class, storey or building, which a revision does not change."""
    levels = {s: storey_z[s] for s in storey_ids if s in storey_z}
    ground = _ground_level(list(levels.values()))
    parts = [rows for s, rows in floor_parts(built, storey_ids).items() if _at_or_above(s, levels, ground)]
    return any(not shapely.is_empty(shapely.from_wkb(r["footprint"])) for rows in parts for r in rows)


def _ground_level(storeys: list[tuple[float, float]]) -> float | None:
    """World height of the ground floor: by IFC convention the storey at local elevation 0."""
    if not storeys:
        return None
    return min(storeys, key=lambda s: abs(s[1]))[0]


def filled_outline(wkbs: list[bytes]) -> shapely.Geometry | None:
    """Union of footprints (WKB) with courtyards and gaps filled; None when empty."""
    geoms = shapely.from_wkb(wkbs)
    try:
        shape = union_by_groups(geoms)
    except shapely.errors.GEOSException:  # robustness problem: snap to a 0.1 mm grid and retry
        shape = union_by_groups(geoms, grid_size=1e-4)
    if shape.is_empty:
        return None
    return fill_holes(shape)


def fill_holes(shape: shapely.Geometry) -> shapely.Geometry:
    """The outline without courtyards and gaps between elements: exterior rings only."""
    parts = shapely.get_parts(shape)
    filled = shapely.polygons(shapely.get_exterior_ring(parts[shapely.get_type_id(parts) == 3]))
    if len(filled) == 0:
        return shape
    if len(filled) == 1:
        return filled[0]
    multi = shapely.multipolygons(filled)
    # Disjoint exteriors already form a valid multipolygon; a part inside another's hole needs a union.
    return multi if multi.is_valid else union_by_groups(filled)


def floor_parts(built: list[dict], storey_ids: list[str] | None = None) -> dict[str, list[dict]]:
    """Per storey with walls: its slabs, walls and columns (roof slabs excluded), the rows its outline is made of."""
    by_storey: dict[str, list[dict]] = defaultdict(list)
    for r in built:
        if r["storey_global_id"] and (storey_ids is None or r["storey_global_id"] in storey_ids):
            by_storey[r["storey_global_id"]].append(r)
    floors = {storey: [r for r in rows if r["ifc_class"] in FLOOR_OUTLINE and r.get("predefined_type") != "ROOF"]
              for storey, rows in by_storey.items() if any(r["ifc_class"].startswith("IfcWall") for r in rows)}
    return {storey: parts for storey, parts in floors.items() if parts}


def floor_outlines(built: list[dict], storey_ids: list[str] | None = None) -> dict[str, shapely.Geometry]:
    """Per storey with walls: the filled outline of its slabs, walls and columns (roof slabs excluded).

    Their areas add up to the gross floor area estimate; their union is the building footprint.
    """
    floors = {storey: [r["footprint"] for r in rows] for storey, rows in floor_parts(built, storey_ids).items()}
    # GEOS releases the GIL: storeys are outlined two at a time (a revision waits for this on its own)
    with ThreadPoolExecutor(min(2, max(1, len(floors))), thread_name_prefix="cim-floors") as pool:
        outlines = dict(zip(floors, pool.map(filled_outline, floors.values()), strict=True))
    return {storey: outline for storey, outline in outlines.items() if outline is not None}
