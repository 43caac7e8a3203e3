"""The review's quantity summary: the takeoff (cim.qto) of the scratch copy of the submission."""

from __future__ import annotations

from collections import Counter

from cim.qto.run import takeoff
from cim.review.site_footprint import above_ground_floor_area
from cim.review.storeys import sort_storeys
from cim.store import Store

GFA_ABOVE = "Gross floor area above ground m²"  # the takeoff's storey GFA over the storeys above ground: FAR
SKIP = {"IfcOpeningElement", "IfcSite", "IfcBuilding", "IfcBuildingStorey", "IfcSpace", "IfcProject",
        "IfcVirtualElement", "IfcAnnotation", "IfcGrid"}
MAIN = [("Qto_SlabBaseQuantities", "NetVolume", "Slab concrete m³"),
        ("Qto_WallBaseQuantities", "NetVolume", "Wall volume m³"),
        ("Qto_WallBaseQuantities", "NetSideArea", "Wall area (net) m²"),
        ("Qto_ColumnBaseQuantities", "NetVolume", "Column volume m³"),
        ("Qto_BeamBaseQuantities", "NetVolume", "Beam volume m³"),
        ("Qto_WindowBaseQuantities", "Area", "Window area m²"),
        ("Qto_DoorBaseQuantities", "Area", "Door area m²"),
        ("Qto_PipeSegmentBaseQuantities", "Length", "Pipe length m"),
        ("Qto_DuctSegmentBaseQuantities", "Length", "Duct length m"),
        ("Qto_SpaceBaseQuantities", "NetFloorArea", "Space floor area (net) m²")]


def quantity_summary(store: Store, model_id: str, elements: list[dict], ground_z: float) -> dict:
    """GFA per storey (the takeoff's Qto_BuildingStoreyBaseQuantities, above-ground ones marked), element
    counts and the main quantities a planner or estimator looks at first."""
    takeoff(store, model_id)
    rows = store.read("quantity_summary", filters=[("model_id", "=", model_id)]).to_pylist()
    above = above_ground_floor_area(elements, ground_z)
    gfa, counted = {}, 0.0
    for r in rows:
        if r["group_by"] == "storey" and r["qset"] == "Qto_BuildingStoreyBaseQuantities" and \
                r["quantity"] == "GrossFloorArea":
            label = r["key"] if r["key"] in above else f"{r['key']} (below ground: not counted in FAR)"
            gfa[label] = round(r["total"], 2)
            counted += r["total"] if r["key"] in above else 0.0
    counted += sum(a for storey, a in above.items() if storey not in gfa)  # no takeoff row: the outline area
    counts = Counter(e["ifc_class"] for e in elements if e["ifc_class"] not in SKIP)
    totals = {(r["qset"], r["quantity"]): r["total"] for r in rows if r["group_by"] == "model"}
    main = {GFA_ABOVE: round(counted, 2),
            **{label: round(totals[(q, n)], 2) for q, n, label in MAIN if (q, n) in totals}}
    return {"gfa_per_storey": sort_storeys(gfa), "counts": dict(sorted(counts.items())), "main": main}
