"""quantity_summary: totals of the additive computed quantities per model, building, storey, class,
material and system.

Materials: an element with several materials is one key, the names sorted and joined with " + " (its
quantities are not split between them). Systems: an element in several systems counts in each of them.
Building and storey rows of IfcBuilding / IfcBuildingStorey elements key on the element itself, so
``group_by = 'building' AND qset = 'Qto_BuildingBaseQuantities' AND quantity = 'GrossFloorArea'`` is the
gross floor area of each building.
"""

from __future__ import annotations

from collections import defaultdict

from cim.qto.compute import BUILDINGS

NOT_ADDITIVE = {"Width", "Height", "Depth", "Perimeter", "CrossSectionArea", "GrossCrossSectionArea",
                "NetCrossSectionArea", "GrossPerimeter"}


def _groups(el: dict, model_id: str) -> list[tuple[str, str, str | None, str | None]]:
    """(group_by, key, key_global_id, building) of every group an element's quantities add to."""
    cls, gid = el["ifc_class"], el["global_id"]
    out = [("model", model_id, None, None), ("class", cls, None, None)]
    if cls in BUILDINGS:
        out.append(("building", el.get("name") or gid, gid, el.get("name")))
    elif el.get("building_global_id"):
        out.append(("building", el.get("building") or el["building_global_id"], el["building_global_id"],
                    el.get("building")))
    if cls == "IfcBuildingStorey":
        out.append(("storey", el.get("name") or gid, gid, el.get("building")))
    elif el.get("storey_global_id"):
        out.append(("storey", el.get("storey") or el["storey_global_id"], el["storey_global_id"], el.get("building")))
    if el.get("materials"):
        out.append(("material", " + ".join(sorted(el["materials"])), None, None))
    out.extend(("system", s, None, None) for s in sorted(set(el.get("systems") or [])))
    return out


def summary_rows(quantity_rows: list[dict], elements: dict[str, dict], model_id: str) -> list[dict]:
    """Aggregate the computed rows of the ``quantities`` table (declared-only rows are not summed)."""
    totals: dict[tuple, list[float]] = defaultdict(lambda: [0.0, 0, 0])
    for r in quantity_rows:
        if r["method"] != "computed" or r["value"] is None or r["name"] in NOT_ADDITIVE:
            continue
        el = elements[r["global_id"]]
        for group in _groups(el, model_id):
            acc = totals[(*group, r["qset"], r["name"], r["unit"])]
            acc[0] += r["value"]
            acc[1] += 1
            acc[2] += 0 if r["reliable"] else 1
    return [{"group_by": g, "key": k, "key_global_id": kg, "building": b, "qset": qs, "quantity": q, "unit": u,
             "total": t, "count": n, "n_unreliable": bad}
            for (g, k, kg, b, qs, q, u), (t, n, bad) in sorted(totals.items(), key=lambda kv: tuple(
                str(x) for x in kv[0]))]
