"""Recognise a utility tunnel's compartments (舱室) and fire compartments (防火分区) in the elements table.

Authoring tools model them in different ways; these patterns are recognised (first match wins per element):

1. IfcFacility / IfcFacilityPart (IFC4X3): a part whose ObjectType, name or pset says ``TunnelCompartment``
   (or "compartment", "舱") is a compartment; ``FireCompartment`` ("fire compartment", "防火分区", "-FC1") is a
   fire compartment, aggregated under its compartment. Assets are contained in either.
2. IfcBuilding / IfcBuildingStorey (IFC2X3/IFC4 tools without infrastructure classes): each storey named like a
   compartment ("Gas compartment", "燃气舱") is one; IfcSpace inside it named like a fire compartment are those.
3. IfcSpace / IfcSpatialZone named or typed like a compartment or fire compartment, anywhere in the tree.
4. Named proxies: IfcBuildingElementProxy whose ObjectType or name says compartment / fire compartment (with a
   body, so membership can come from geometry).

An asset belongs to the zone it is contained in (through its container and parent chain); failing that to the
zone whose 3-D bounds hold its centre; failing that a fire compartment is chosen by chainage inside the
compartment. Compartment type comes from a ``CompartmentType`` property, else from the name, else from the
utilities inside (one type -> that type, several -> mixed).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field

ZONE_CLASSES = ("IfcFacilityPart", "IfcFacilityPartCommon", "IfcBridgePart", "IfcRoadPart", "IfcRailwayPart",
                "IfcBuildingStorey", "IfcSpace", "IfcSpatialZone", "IfcBuildingElementProxy")
FIRE_RE = re.compile(r"fire\s*_?compartment|防火分区|(^|[-_ ])FC\d+\b", re.I)
COMP_RE = re.compile(r"compartment|舱|cabin", re.I)
TYPE_WORDS = (
    ("gas", re.compile(r"\bgas\b|燃气|天然气", re.I)),
    ("sewage", re.compile(r"sewage|sewer|污水", re.I)),
    ("heat", re.compile(r"\bheat|热力|供热", re.I)),
    ("power", re.compile(r"power|electric|电力", re.I)),
    ("telecom", re.compile(r"telecom|communication|通信", re.I)),
    ("water", re.compile(r"water|给水|水", re.I)),
)
COMPARTMENT_TYPES = ("water", "power", "telecom", "gas", "heat", "sewage", "mixed")


@dataclass
class Zone:
    global_id: str
    name: str
    kind: str  # compartment | fire_compartment
    pattern: str
    props: dict
    bounds: tuple[float, ...] | None
    parent: str | None = None  # compartment of a fire compartment
    ctype: str | None = None
    start: float | None = None
    end: float | None = None
    members: list[str] = field(default_factory=list)


def flat_props(psets_json: str | None) -> dict:
    """All properties of all psets in one dict (first pset wins): zones and assets are read by property name."""
    out: dict = {}
    for values in (json.loads(psets_json) if psets_json else {}).values():
        if isinstance(values, dict):
            for k, v in values.items():
                out.setdefault(k, v)
    return out


def _text(row: dict) -> str:
    return " ".join(str(row.get(k) or "") for k in ("name", "object_type", "predefined_type", "description"))


def _pattern(row: dict, classes: dict[str, str]) -> str:
    cls = row["ifc_class"]
    if cls.startswith("IfcFacilityPart") or cls.endswith("Part"):
        return "facility-part"
    if cls == "IfcBuildingStorey":
        return "building-storey"
    if cls in ("IfcSpace", "IfcSpatialZone"):
        return "space-zone"
    return "named-proxy"


def type_from_text(text: str) -> str | None:
    if re.search(r"mixed|综合", text, re.I):
        return "mixed"
    hits = [t for t, rx in TYPE_WORDS if rx.search(text)]
    if "telecom" in hits and "water" in hits or len(hits) > 1 and "gas" not in hits:
        return "mixed"
    return hits[0] if hits else None


def find_zones(rows: list[dict]) -> dict[str, Zone]:
    """Compartments and fire compartments keyed by GlobalId, with their parents resolved."""
    classes = {r["global_id"]: r["ifc_class"] for r in rows}
    zones: dict[str, Zone] = {}
    for r in rows:
        if r["ifc_class"] not in ZONE_CLASSES:
            continue
        props = flat_props(r.get("psets"))
        text = _text(r) + " " + " ".join(json.loads(r["psets"]) if r.get("psets") else [])
        if FIRE_RE.search(text) or "ChainageStart" in props and "CompartmentType" not in props:
            kind = "fire_compartment"
        elif COMP_RE.search(text) or "CompartmentType" in props:
            kind = "compartment"
        else:
            continue
        keys = ("xmin", "ymin", "zmin", "xmax", "ymax", "zmax")
        bounds = tuple(r[k] for k in keys) if r.get("xmin") is not None else None
        z = Zone(r["global_id"], r.get("name") or r["global_id"], kind, _pattern(r, classes), props, bounds)
        if props.get("ChainageStart") is not None and props.get("ChainageEnd") is not None:
            z.start, z.end = float(props["ChainageStart"]), float(props["ChainageEnd"])
        ctype = str(props.get("CompartmentType") or "").lower() or type_from_text(r.get("name") or "")
        z.ctype = ctype if ctype in COMPARTMENT_TYPES else None
        zones[z.global_id] = z
    _link_parents(rows, zones)
    return zones


def _link_parents(rows: list[dict], zones: dict[str, Zone]) -> None:
    up = {r["global_id"]: r.get("parent_global_id") or r.get("container_global_id") for r in rows}
    comps = [z for z in zones.values() if z.kind == "compartment"]
    for z in zones.values():
        if z.kind != "fire_compartment":
            continue
        gid, seen = up.get(z.global_id), set()
        while gid and gid not in seen:
            seen.add(gid)
            if gid in zones and zones[gid].kind == "compartment":
                z.parent = gid
                break
            gid = up.get(gid)
        key = z.props.get("CompartmentKey")
        if z.parent is None and key:
            z.parent = next((c.global_id for c in comps if c.props.get("CompartmentKey") == key), None)
        if z.parent is None and z.bounds:
            z.parent = next((c.global_id for c in comps if c.bounds and _inside(_centre(z.bounds), c.bounds)), None)


def _centre(b: tuple[float, ...]) -> tuple[float, float, float]:
    return ((b[0] + b[3]) / 2, (b[1] + b[4]) / 2, (b[2] + b[5]) / 2)


def _inside(p: tuple[float, float, float], b: tuple[float, ...]) -> bool:
    return all(b[i] - 1e-6 <= p[i] <= b[i + 3] + 1e-6 for i in range(3))


def zone_of(row: dict, zones: dict[str, Zone], up: dict[str, str | None]) -> str | None:
    """The innermost zone holding an element: containment chain first, then geometry."""
    gid, seen = up.get(row["global_id"]), set()
    while gid and gid not in seen:
        seen.add(gid)
        if gid in zones:
            return gid
        gid = up.get(gid)
    if row.get("xmin") is None:
        return None
    centre = _centre(tuple(row[k] for k in ("xmin", "ymin", "zmin", "xmax", "ymax", "zmax")))
    hits = [z for z in zones.values() if z.bounds and z.global_id != row["global_id"] and _inside(centre, z.bounds)]
    hits.sort(key=lambda z: z.kind != "fire_compartment")
    return hits[0].global_id if hits else None
