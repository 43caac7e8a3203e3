"""Turn matched pairs and unmatched elements into ``model_changes`` rows (schemas/tables_diff.toml).

One row per added, removed, moved, reshaped element; one per changed property (pset, property, old -> new;
IFC attributes, storey, materials, classification and systems under the pseudo-set ``(attributes)``); one
per changed classification field (class, predefined type, type name) for a reclassified element.
"""

from __future__ import annotations

import json

from cim.diff.geometry import centre, geometry_change
from cim.diff.match import ATTRIBUTES, CLASS

ATTRIBUTE_SET = "(attributes)"


def base_row(row: dict, change: str, matched_by: str | None, old: dict | None = None) -> dict:
    """The columns every change row has: which element, where, how it was matched."""
    c = centre(row)
    return {
        "global_id": row["global_id"], "old_global_id": old["global_id"] if old else None,
        "ifc_class": row["ifc_class"], "name": row.get("name"), "storey": row.get("storey"),
        "change": change, "matched_by": matched_by,
        "x": c[0] if c else None, "y": c[1] if c else None, "z": c[2] if c else None,
    }


def text(value) -> str | None:
    """A stored value as text for old_value / new_value: strings as they are, anything else as JSON."""
    if value is None or isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False, sort_keys=True, default=str)


def _sets(raw: str | None) -> dict[tuple[str, str], object]:
    try:
        data = json.loads(raw) if raw else {}
    except ValueError:
        return {("(unreadable)", "json"): raw}
    if not isinstance(data, dict):
        return {}
    return {(s, p): v for s, props in data.items() if isinstance(props, dict) for p, v in props.items()}


def property_rows(old: dict, new: dict, matched_by: str) -> list[dict]:
    """One row per property, quantity or attribute whose value differs (absent on one side = null)."""
    rows = []
    for column in ("psets", "qsets"):
        if old[column] == new[column]:
            continue
        a, b = _sets(old[column]), _sets(new[column])
        for key in sorted(a.keys() | b.keys()):
            if a.get(key) != b.get(key):
                rows.append({**base_row(new, "properties_changed", matched_by, old), "pset": key[0],
                             "property": key[1], "old_value": text(a.get(key)), "new_value": text(b.get(key))})
    for attr in ATTRIBUTES:
        if old[attr] != new[attr]:
            rows.append({**base_row(new, "properties_changed", matched_by, old), "pset": ATTRIBUTE_SET,
                         "property": attr, "old_value": text(old[attr]), "new_value": text(new[attr])})
    return rows


def class_rows(old: dict, new: dict, matched_by: str) -> list[dict]:
    """One reclassified row per changed field of ifc_class, predefined_type and type_name."""
    return [{**base_row(new, "reclassified", matched_by, old), "property": field, "old_value": old[field],
             "new_value": new[field], "old_class": old["ifc_class"], "new_class": new["ifc_class"]}
            for field in CLASS if old[field] != new[field]]


def pair_rows(old: dict, new: dict, matched_by: str, meshes_old: dict, meshes_new: dict) -> list[dict]:
    """Every change row of one matched pair (possibly none: a JSON text that only reordered its keys)."""
    rows = class_rows(old, new, matched_by)
    geom = geometry_change(old, new, meshes_old.get(old["global_id"]), meshes_new.get(new["global_id"]))
    if geom is not None:
        rows.append({**base_row(new, geom.pop("change"), matched_by, old), **geom})
    return rows + property_rows(old, new, matched_by)


def added_row(row: dict) -> dict:
    return base_row(row, "added", None)


def removed_row(row: dict) -> dict:
    return base_row(row, "removed", None)
