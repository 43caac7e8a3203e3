"""Build ``tunnel_compartments``: compartments and fire compartments with their extent along the chainage.

Extents come from chainage properties (ChainageStart/ChainageEnd) when the file has them, else from the zone's
bounds projected onto the axis, else from the chainage range of the assets inside.
"""

from __future__ import annotations

import pyarrow as pa

from cim.tunnel.ifcfacts import IfcFacts
from cim.tunnel.patterns import Zone


def _num(props: dict, key: str, unit: float) -> float | None:
    v = props.get(key)
    return float(v) * unit if isinstance(v, int | float) else None


def finish_zones(zones: dict[str, Zone], assets: list[dict], facts: IfcFacts) -> None:
    """Fill in members, missing chainage extents and missing compartment types from the assets."""
    for a in assets:
        for key in ("compartment_global_id", "fire_compartment_global_id"):
            if a[key]:
                zones[a[key]].members.append(a["global_id"])
    axis = facts.axes[0] if facts.axes else None
    by_id = {a["global_id"]: a for a in assets}
    for z in zones.values():
        if z.start is None and z.bounds and axis is not None:
            st = [axis.project(x, y)[0] for x in (z.bounds[0], z.bounds[3]) for y in (z.bounds[1], z.bounds[4])]
            z.start, z.end = min(st), max(st)
        if z.start is None and z.kind == "compartment":
            kids = [k for k in zones.values() if k.parent == z.global_id and k.start is not None]
            if kids:
                z.start, z.end = min(k.start for k in kids), max(k.end for k in kids)
        if z.start is None:
            ends = [(by_id[g]["chainage_start_m"], by_id[g]["chainage_end_m"]) for g in z.members]
            st = [v for pair in ends for v in pair if v is not None]
            if st:
                z.start, z.end = min(st), max(st)
        if z.ctype is None and z.kind == "compartment":
            types = {by_id[g]["utility_type"] for g in z.members} & {"gas", "heat", "water", "telecom", "power",
                                                                       "sewage"}
            z.ctype = types.pop() if len(types) == 1 else ("mixed" if types else None)
    for z in zones.values():
        if z.kind == "fire_compartment" and z.ctype is None and z.parent:
            z.ctype = zones[z.parent].ctype


def lateral_edges(z: Zone, facts: IfcFacts) -> tuple[float | None, float | None]:
    """Lateral offsets of the zone's side walls (left of the axis positive)."""
    a, b = _num(z.props, "OffsetSouthEdge", facts.unit), _num(z.props, "OffsetNorthEdge", facts.unit)
    if a is not None and b is not None:
        return min(a, b), max(a, b)
    if z.bounds and facts.axes:
        off = [facts.axes[0].project(x, y)[1] for x in (z.bounds[0], z.bounds[3]) for y in (z.bounds[1], z.bounds[4])]
        return min(off), max(off)
    return None, None


def compartment_records(zones: dict[str, Zone], facts: IfcFacts, tunnel: str) -> list[dict]:
    out = []
    for z in sorted(zones.values(), key=lambda z: (z.kind != "compartment", z.name)):
        parent = zones.get(z.parent) if z.parent else None
        lo, hi = lateral_edges(z, facts)
        clear = _num(z.props, "ClearHeight", facts.unit)
        if clear is None and z.bounds and z.pattern != "facility-part":
            clear = z.bounds[5] - z.bounds[2]
        width = _num(z.props, "Width", facts.unit) or (None if lo is None else hi - lo)
        out.append({
            "global_id": z.global_id, "name": z.name, "kind": z.kind, "pattern": z.pattern, "tunnel": tunnel,
            "compartment": (parent.name if parent else None) if z.kind == "fire_compartment" else z.name,
            "compartment_global_id": (parent.global_id if parent else None) if z.kind == "fire_compartment"
            else z.global_id,
            "compartment_type": z.ctype, "chainage_start_m": z.start, "chainage_end_m": z.end,
            "length_m": None if z.start is None else z.end - z.start, "width_m": width, "clear_height_m": clear,
            "lateral_min_m": lo, "lateral_max_m": hi, "n_assets": len(z.members),
        })
    return out


def compartments_table(records: list[dict]) -> pa.Table:
    if not records:
        return pa.table({"global_id": pa.array([], pa.string())})
    return pa.table({k: [r[k] for r in records] for k in records[0]})
