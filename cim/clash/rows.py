"""Turn engine findings into rows of the ``clashes`` table (without status: cim.clash.status adds it)."""

from __future__ import annotations

import shapely

from cim.clash.engine import Checker, Finding, Zone
from cim.clash.status import clash_id
from cim.tunnel.chainage import chainage_label


def finding_row(checker: Checker, f: Finding, zone: Zone | None, rule_set: str) -> dict:
    rows = checker.elements.rows
    a = rows[checker.elements.index(f.a)]
    if zone is not None:
        b = {"model_id": zone.model, "global_id": zone.global_id, "ifc_class": zone.ifc_class, "name": zone.name,
             "storey": None, "geometry_hash": zone.hash}
    else:
        b = rows[checker.elements.index(f.b)]
    c = f.contact
    x, y, z = f.point
    chainage = None
    if zone is not None and zone.axis is not None:
        chainage = chainage_label(zone.axis.project(x, y)[0])
    return {
        "clash_id": clash_id(rule_set, f.rule.name, a["global_id"], b["global_id"]),
        "rule_set": rule_set, "rule": f.rule.name, "mode": f.mode, "severity": f.rule.severity,
        "a_model": a["model_id"], "a_global_id": a["global_id"], "a_class": a["ifc_class"], "a_name": a["name"],
        "a_storey": a["storey"], "a_geometry_hash": a["geometry_hash"],
        "b_model": b["model_id"], "b_global_id": b["global_id"], "b_class": b["ifc_class"], "b_name": b["name"],
        "b_storey": b["storey"], "b_geometry_hash": b["geometry_hash"],
        "depth_m": None if c.depth is None else round(float(c.depth), 6),
        "depth_method": None if c.depth is None else c.depth_method,
        "distance_m": None if c.distance is None else round(float(c.distance), 6),
        "volume_m3": None if c.volume is None else round(float(c.volume), 9),
        "x": round(x, 4), "y": round(y, 4), "z": round(z, 4),
        "point": shapely.to_wkb(shapely.Point(round(x, 4), round(y, 4), round(z, 4)), include_srid=False),
        "chainage": chainage,
    }


def finding_rows(checker: Checker, findings: list[Finding], rule_set: str) -> dict[str, dict]:
    """clash_id -> row; a pair found twice under one rule (a and b swapped) keeps the first."""
    zones = {z.solid.key: z for zs in checker.zones.values() for z in zs}
    out: dict[str, dict] = {}
    for f in findings:
        row = finding_row(checker, f, zones.get(f.b), rule_set)
        out.setdefault(row["clash_id"], row)
    return out
