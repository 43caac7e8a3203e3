"""Pair the elements of two versions: by GlobalId, then a fallback for GlobalIds an exporter regenerated.

Matching works on the stored rows only (no file is read, nothing is tessellated). DuckDB joins the two
versions and keeps the pairs where a compared column differs, so a 50k-element model with a few hundred
changes brings only those few hundred rows into Python.

Fallback (documented in README "Comparing versions"): an element only in the old version and one only in
the new version are the same element when they have the same IFC class, the same element type name and the
same location, the centre of their 3-D bounds rounded to the centimetre. Elements without bounds (no body)
are not matched by the fallback. When several candidates share a key they are paired in name order.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

import duckdb
import pyarrow as pa
import pyarrow.compute as pc

# Compared as they are stored (text or lists); a difference sends the pair on to classify.py.
GEOMETRY = ("geometry_hash", "has_mesh")
CLASS = ("ifc_class", "predefined_type", "type_name")
ATTRIBUTES = ("name", "description", "object_type", "tag", "storey", "building", "systems", "materials",
              "classification")
PROPERTY_SETS = ("psets", "qsets")
COMPARED = (*GEOMETRY, *CLASS, *ATTRIBUTES, *PROPERTY_SETS)
LOCATION_GRID_M = 0.01


@dataclass
class Matching:
    """The outcome: changed pairs (old row, new row, matched_by), unmatched rows and the unchanged count."""

    pairs: list[tuple[dict, dict, str]] = field(default_factory=list)
    removed: list[dict] = field(default_factory=list)
    added: list[dict] = field(default_factory=list)
    unchanged: int = 0


def _differs(columns: tuple[str, ...]) -> str:
    return " OR ".join(f"o.{c} IS DISTINCT FROM n.{c}" for c in columns)


def _rows(table: pa.Table, ids: list[str]) -> dict[str, dict]:
    if not ids:
        return {}
    picked = table.filter(pc.is_in(table["global_id"], value_set=pa.array(ids, pa.string())))
    return {r["global_id"]: r for r in picked.to_pylist()}


def match(old: pa.Table, new: pa.Table) -> Matching:
    """Pairs whose compared columns differ, elements only in one version, and how many are unchanged."""
    con = duckdb.connect()
    try:
        con.register("o", old.drop_columns(["footprint"]))
        con.register("n", new.drop_columns(["footprint"]))
        changed = [r[0] for r in con.execute(
            f"SELECT o.global_id FROM o JOIN n USING (global_id) WHERE {_differs(COMPARED)}").fetchall()]
        n_matched = con.execute("SELECT count(*) FROM o JOIN n USING (global_id)").fetchone()[0]
        only_old = [r[0] for r in con.execute("SELECT global_id FROM o ANTI JOIN n USING (global_id)").fetchall()]
        only_new = [r[0] for r in con.execute("SELECT global_id FROM n ANTI JOIN o USING (global_id)").fetchall()]
    finally:
        con.close()
    old_rows, new_rows = _rows(old, changed + only_old), _rows(new, changed + only_new)
    result = Matching(unchanged=n_matched - len(changed))
    result.pairs = [(old_rows[g], new_rows[g], "global_id") for g in sorted(changed)]
    removed = [old_rows[g] for g in only_old]
    added = [new_rows[g] for g in only_new]
    fallback, result.removed, result.added = match_fallback(removed, added)
    for o, n in fallback:
        if any(o[c] != n[c] for c in COMPARED):
            result.pairs.append((o, n, "fallback"))
        else:
            result.unchanged += 1
    return result


def location_key(row: dict) -> tuple | None:
    """(class, type name, bounds centre on a 1 cm grid), or None for an element without bounds."""
    bounds = [row.get(k) for k in ("xmin", "ymin", "zmin", "xmax", "ymax", "zmax")]
    if any(b is None for b in bounds):
        return None
    centre = tuple(round((bounds[i] + bounds[i + 3]) / 2 / LOCATION_GRID_M) for i in range(3))
    return (row["ifc_class"], row.get("type_name") or "", *centre)


def match_fallback(removed: list[dict], added: list[dict]) -> tuple[list[tuple[dict, dict]], list[dict], list[dict]]:
    """Pair removed and added elements by class + type + location; returns (pairs, still removed, still added)."""
    by_key: dict[tuple, list[dict]] = defaultdict(list)
    for row in added:
        key = location_key(row)
        if key is not None:
            by_key[key].append(row)
    for rows in by_key.values():
        rows.sort(key=lambda r: (r.get("name") or "", r["global_id"]), reverse=True)
    pairs, left = [], []
    for row in sorted(removed, key=lambda r: (r.get("name") or "", r["global_id"])):
        candidates = by_key.get(location_key(row)) if location_key(row) is not None else None
        if candidates:
            pairs.append((row, candidates.pop()))
        else:
            left.append(row)
    paired = {n["global_id"] for _, n in pairs}
    return pairs, left, [r for r in added if r["global_id"] not in paired]
