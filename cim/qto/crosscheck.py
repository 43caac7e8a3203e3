"""Cross-check computed quantities against the quantity sets the model declares (elements.qsets).

A computed quantity is matched to the declared one of the same name in the same standard quantity set,
else in the "BaseQuantities" set many authoring tools write (ArchiCAD, Revit IFC4 exports), else in any
other Qto_*BaseQuantities set. Declared base quantities that cim does not compute are kept as rows with
method "declared" so the takeoff shows everything the file says.
"""

from __future__ import annotations

import json
import math
from collections import defaultdict

from cim.qto.quantity import Q, unit_for

TOLERANCE = 0.02


def standard_qsets(qsets_json: str | None) -> dict[str, dict[str, float]]:
    """Numeric quantities of the standard sets (Qto_*, BaseQuantities) of one element."""
    if not qsets_json:
        return {}
    data = json.loads(qsets_json)
    out: dict[str, dict[str, float]] = {}
    for name, values in data.items():
        if not (name == "BaseQuantities" or name.startswith("Qto_")) or not isinstance(values, dict):
            continue
        nums = {k: float(v) for k, v in values.items() if isinstance(v, int | float) and not isinstance(v, bool)}
        if nums:
            out[name] = nums
    return out


def find_declared(declared: dict[str, dict[str, float]], qset: str, name: str) -> tuple[str, float] | None:
    for candidate in (qset, "BaseQuantities", *sorted(declared)):
        if name in declared.get(candidate, {}):
            return candidate, declared[candidate][name]
    return None


def relative_difference(value: float | None, declared: float | None) -> float | None:
    """(computed - declared) / |declared|; 0 when both are 0, inf when only the declared one is."""
    if value is None or declared is None:
        return None
    if declared == 0:
        return 0.0 if abs(value) < 1e-9 else math.inf
    return (value - declared) / abs(declared)


def quantity_rows(element: dict, computed: list[Q]) -> list[dict]:
    """Rows of the ``quantities`` table for one element: computed ones, then declared-only ones."""
    declared = standard_qsets(element.get("qsets"))
    used: set[tuple[str, str]] = set()
    base = {"global_id": element["global_id"], "ifc_class": element["ifc_class"],
            "geometry_hash": element.get("geometry_hash")}
    rows = []
    for q in computed:
        match = find_declared(declared, q.qset, q.name)
        if match:
            used.add((match[0], q.name))
        dv = match[1] if match else None
        rows.append({**base, "qset": q.qset, "name": q.name, "value": q.value, "unit": q.unit, "method": "computed",
                     "declared_value": dv, "difference": relative_difference(q.value, dv), "reliable": q.reliable,
                     "note": q.note})
    for qset, values in declared.items():
        for name, value in values.items():
            if (qset, name) not in used:
                rows.append({**base, "qset": qset, "name": name, "value": value, "unit": unit_for(name),
                             "method": "declared", "declared_value": value, "difference": None, "reliable": True,
                             "note": None})
    return rows


def disagreements(rows: list[dict], tolerance: float = TOLERANCE) -> dict[str, list[dict]]:
    """Computed quantities that differ from the declared ones by more than ``tolerance``, by IFC class."""
    out: dict[str, list[dict]] = defaultdict(list)
    for r in rows:
        d = r.get("difference")
        if r["method"] == "computed" and d is not None and abs(d) > tolerance:
            out[r["ifc_class"]].append(r)
    return {cls: sorted(v, key=lambda r: -abs(r["difference"])) for cls, v in sorted(out.items())}


def report(rows: list[dict], tolerance: float = TOLERANCE) -> str:
    """A plain-text listing of the disagreements, one class heading then one line per quantity."""
    found = disagreements(rows, tolerance)
    if not found:
        return f"all computed quantities agree with the declared ones within {tolerance:.0%}"
    lines = []
    for cls, items in found.items():
        lines.append(f"{cls}: {len(items)} quantities differ by more than {tolerance:.0%}")
        for r in items:
            flag = "" if r["reliable"] else " (unreliable)"
            lines.append(f"  {r['global_id']} {r['qset']}.{r['name']}: computed {r['value']:.4g} {r['unit']}, "
                         f"declared {r['declared_value']:.4g}, {r['difference']:+.1%}{flag}")
    return "\n".join(lines)
