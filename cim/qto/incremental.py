"""Reuse the previous takeoff's quantities of elements whose inputs did not change.

An element's quantities depend on its own mesh and on those of the elements it is measured with: its
openings and fillers (voids / fills / hosts), the parts it aggregates (roofs, stairs), the obstacles on a
space's storey, the floor elements of a storey, the storeys of a building. The *signature* of an element
hashes all of them (class, geometry_hash, partners and their hashes); where the signature is the same as in
the version the stored quantities were computed from, those rows are reused and only the others measured.
Rows whose gross body was approximate (the IFC file was missing) are always measured again.
"""

from __future__ import annotations

import hashlib
from collections import defaultdict

from cim.qto.compute import BUILDINGS, FALLBACK_NOTE, base_class
from cim.qto.quantity import Q
from cim.qto.spaces import OBSTACLES, counts_for_floor_area
from cim.store import Store

LINKS = ("voids", "fills", "hosts")
SPATIAL = {"IfcBuildingStorey", *BUILDINGS}  # model-wide totals, counted apart from elements in the summary


def _digest(parts: list) -> str:
    return hashlib.sha1(repr(parts).encode()).hexdigest()


def signatures(elements: list[dict], relations: list[dict]) -> dict[str, str]:
    """global_id -> hash of everything its computed quantities depend on."""
    by_id = {e["global_id"]: e for e in elements}

    def key(gid: str) -> tuple:
        e = by_id.get(gid) or {}
        return gid, e.get("ifc_class"), e.get("geometry_hash")

    links: dict[str, list] = defaultdict(list)
    for r in relations:
        kind, a, b = r["rel_type"], r["relating_global_id"], r["related_global_id"]
        if kind in LINKS:
            links[a].append((kind, "related", *key(b)))
            links[b].append((kind, "relating", *key(a)))
    for r in relations:  # an assembly depends on its parts and on their openings
        if r["rel_type"] == "aggregates":
            b = r["related_global_id"]
            links[r["relating_global_id"]].append(("aggregates", *key(b), tuple(sorted(links.get(b, [])))))
    floors, obstacles = defaultdict(list), defaultdict(list)
    for e in elements:
        storey = e.get("storey_global_id")
        if storey and e.get("geometry_hash"):
            cls = base_class(e["ifc_class"])
            if counts_for_floor_area(cls, e.get("predefined_type")):
                floors[storey].append(key(e["global_id"]))
            if cls in OBSTACLES or e["ifc_class"] in OBSTACLES:
                obstacles[storey].append(key(e["global_id"]))
    out: dict[str, str] = {}
    for e in elements:
        gid, cls = e["global_id"], e["ifc_class"]
        parts = [*key(gid), e.get("predefined_type"), sorted(links.get(gid, []))]
        if cls == "IfcSpace":
            parts.append(sorted(obstacles.get(e.get("storey_global_id") or "", [])))
        elif cls == "IfcBuildingStorey":
            parts.append(sorted(floors.get(gid, [])))
        out[gid] = _digest(parts)
    for e in elements:  # a building's total is its storeys' floor areas
        if e["ifc_class"] in BUILDINGS:
            storeys = sorted((s["global_id"], out[s["global_id"]]) for s in elements
                             if s["ifc_class"] == "IfcBuildingStorey" and s.get("building_global_id") == e["global_id"])
            out[e["global_id"]] = _digest([out[e["global_id"]], storeys])
    return out


def previous_takeoff(store: Store, model_id: str) -> tuple[int | None, list[dict]]:
    """The version the stored quantities of ``model_id`` were computed from, and their computed rows."""
    if not store.has_table("quantities"):
        return None, []
    rows = store.read("quantities", filters=[("model_id", "=", model_id)]).to_pylist()
    if not rows:
        return None, []
    return rows[0]["version"], [r for r in rows if r["method"] == "computed"]


def plan_reuse(elements: list[dict], relations: list[dict], prev_elements: list[dict], prev_relations: list[dict],
               prev_rows: list[dict]) -> dict[str, list[Q]]:
    """global_id -> previous quantities, for every element whose signature is unchanged."""
    current, previous = signatures(elements, relations), signatures(prev_elements, prev_relations)
    rows_of: dict[str, list[dict]] = defaultdict(list)
    for r in prev_rows:
        rows_of[r["global_id"]].append(r)
    reused: dict[str, list[Q]] = {}
    for gid, sig in current.items():
        rows = rows_of.get(gid, [])
        if previous.get(gid) != sig or any(FALLBACK_NOTE in (r["note"] or "") for r in rows):
            continue
        reused[gid] = [Q(r["qset"], r["name"], r["value"], r["reliable"], r["note"]) for r in rows]
    return reused


def needed_meshes(elements: list[dict], relations: list[dict], todo: set[str]) -> set[str]:
    """Meshes the elements in ``todo`` are measured from: their own, their partners', their storeys' members."""
    need = set(todo)
    parts: set[str] = set()
    for r in relations:
        kind, a, b = r["rel_type"], r["relating_global_id"], r["related_global_id"]
        if kind in LINKS and (a in todo or b in todo):
            need.update((a, b))
        elif kind == "aggregates" and a in todo:
            need.add(b)
            parts.add(b)
    need.update(r["related_global_id"] for r in relations
                if r["rel_type"] == "voids" and r["relating_global_id"] in parts)
    storeys = {e["global_id"] for e in elements if e["ifc_class"] == "IfcBuildingStorey"
               and (e["global_id"] in todo or (e.get("building_global_id") or "") in todo)}
    storeys |= {e.get("storey_global_id") for e in elements if e["ifc_class"] == "IfcSpace" and e["global_id"] in todo}
    need.update(e["global_id"] for e in elements if e.get("storey_global_id") in storeys)
    return need
