"""Build ``tunnel_assets``: one row per asset with identity, place, network, handover and sensor data.

Place: the zone an asset is contained in (see ``patterns``); chainage from IfcLinearPlacement DistanceAlong where
the file has it, else the element's 3-D bounds projected onto the alignment axis (world coordinates).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import shapely
from shapely.geometry import Point

from cim.tunnel import classify as cl
from cim.tunnel.ifcfacts import IfcFacts
from cim.tunnel.patterns import Zone, flat_props, zone_of

BOUNDS = ("xmin", "ymin", "zmin", "xmax", "ymax", "zmax")
LIFECYCLE_BY_PHASE = {"plan": "planned", "build": "under construction", "manage": "in service"}


@dataclass
class Place:
    start: float | None
    end: float | None
    source: str | None
    lateral: float | None
    lat_min: float | None
    lat_max: float | None


def place(row: dict, facts: IfcFacts) -> Place:
    """Chainage range and lateral offsets of one element (None when there is no axis or no geometry)."""
    axis = facts.axes[0] if facts.axes else None
    along = facts.distance_along.get(row["global_id"])
    if axis is None or row.get("xmin") is None:
        at = None if along is None else along + (axis.stations[0] if axis else 0.0)
        return Place(at, at, "linear placement" if at is not None else None, None, None, None)
    x0, y0, _, x1, y1, _ = (row[k] for k in BOUNDS)
    corners = [axis.project(x, y) for x, y in ((x0, y0), (x0, y1), (x1, y0), (x1, y1))]
    st, off = zip(*corners, strict=True)
    centre_st, centre_off = axis.project((x0 + x1) / 2, (y0 + y1) / 2)
    if along is not None and not facts.is_segment.get(row["global_id"]):
        at = along + axis.stations[0]
        return Place(at, at, "linear placement", centre_off, min(off), max(off))
    if facts.is_segment.get(row["global_id"]):
        return Place(min(st), max(st), "projection", centre_off, min(off), max(off))
    return Place(centre_st, centre_st, "projection", centre_off, min(off), max(off))


def _first(props: dict, *keys):
    return next((props[k] for k in keys if props.get(k) not in (None, "")), None)


def _geometry(row: dict) -> bytes | None:
    if row.get("footprint"):
        return row["footprint"]
    if row.get("xmin") is None:
        return None
    c = [(row[BOUNDS[i]] + row[BOUNDS[i + 3]]) / 2 for i in range(3)]
    return shapely.to_wkb(Point(*c), include_srid=False)


def _flags(rec: dict, kind: str) -> list[str]:
    checks = [("missing_tag", rec["tag"]), ("missing_owner", rec["owner"]), ("missing_operator", rec["operator"]),
              ("missing_serial_number", rec["serial_number"]), ("missing_manufacturer", rec["manufacturer"]),
              ("missing_installation_date", rec["installation_date"]), ("missing_warranty", rec["warranty_end"]),
              ("missing_classification", rec["classification_code"]), ("no_compartment", rec["compartment"]),
              ("no_fire_compartment", rec["fire_compartment"]), ("no_chainage", rec["chainage_start_m"])]
    flags = [name for name, value in checks if value in (None, "")]
    if kind in ("pipe", "pipe_fitting", "valve", "cable") and not rec["system"]:
        flags.append("no_system")
    return flags


def asset_record(row: dict, facts: IfcFacts, zones: dict[str, Zone], up: dict, phase: str, tunnel: str) -> dict:
    props = flat_props(row.get("psets"))
    kind = cl.asset_kind(row, props)
    system_name = (row.get("systems") or [None])[0]
    system = facts.systems.get(system_name) if system_name else None
    sprops = (system or {}).get("props", {})
    pl = place(row, facts)
    zid = zone_of(row, zones, up)
    fire = zones[zid] if zid and zones[zid].kind == "fire_compartment" else None
    comp = zones.get(fire.parent) if fire and fire.parent else (zones[zid] if zid else None)
    if fire is None and comp is not None and pl.start is not None:
        fire = next((z for z in zones.values() if z.parent == comp.global_id and z.start is not None
                     and z.start <= (pl.start + pl.end) / 2 < z.end), None)
    actors = facts.actors.get(row["global_id"], {})
    unit = facts.unit
    text = " ".join(str(v) for v in (row.get("name"), row.get("type_name"), props.get("Reference"),
                                     sprops.get("Nominal")) if v)
    pressure = _first(props, "WorkingPressure", "DesignPressure") or _first(sprops, "DesignPressure", "WorkingPressure")
    voltage = _first(props, "RatedVoltage") or _first(sprops, "RatedVoltage")
    classification = (row.get("classification") or [None])[0]
    csys, _, ccode = classification.rpartition(":") if classification else (None, None, None)
    install = cl.iso_date(_first(props, "InstallationDate", "AcquisitionDate"))
    w_start = cl.iso_date(_first(props, "WarrantyStartDate"))
    w_end = cl.iso_date(props.get("WarrantyEndDate")) or cl.add_years(w_start, cl.years(props.get("WarrantyPeriod")))
    length = _first(props, "Length")
    if length is None and pl.start is not None and facts.is_segment.get(row["global_id"]):
        length = (pl.end - pl.start) / unit
    rec = {
        "global_id": row["global_id"], "ifc_class": row["ifc_class"], "predefined_type": row.get("predefined_type"),
        "name": row.get("name"), "type_name": row.get("type_name"), "asset_kind": kind, "tunnel": tunnel,
        "compartment": comp.name if comp else None, "compartment_global_id": comp.global_id if comp else None,
        "compartment_type": comp.ctype if comp else None, "fire_compartment": fire.name if fire else None,
        "fire_compartment_global_id": fire.global_id if fire else None,
        "chainage_start_m": pl.start, "chainage_end_m": pl.end, "chainage_source": pl.source,
        "lateral_offset_m": pl.lateral, "lateral_min_m": pl.lat_min, "lateral_max_m": pl.lat_max,
        "elevation_m": None if row.get("zmin") is None else (row["zmin"] + row["zmax"]) / 2,
        "bottom_elevation_m": row.get("zmin"), "top_elevation_m": row.get("zmax"), "geometry": _geometry(row),
        "utility_type": cl.utility_type(kind, row, props, system), "system": system_name,
        "owner": props.get("Owner") or actors.get("OWNER") or (system or {}).get("owner"),
        "operator": props.get("Operator") or actors.get("BUILDINGOPERATOR") or (system or {}).get("operator"),
        "nominal_diameter_mm": cl.diameter_mm(props, unit, text) if kind in ("pipe", "pipe_fitting", "valve")
        else None,
        "length_m": None if length is None else float(length) * unit,
        "pressure_mpa": None if pressure is None else float(pressure) / 1e6,
        "voltage_kv": None if voltage is None else float(voltage) / 1e3,
        "material": (row.get("materials") or [None])[0] or sprops.get("Material"),
        "medium": _first(props, "Medium", "FluidType") or sprops.get("Medium"),
        "connected_to": sorted(set(facts.downstream.get(row["global_id"], []))),
        "tag": row.get("tag"), "serial_number": _first(props, "SerialNumber"), "barcode": _first(props, "BarCode"),
        "manufacturer": _first(props, "Manufacturer"), "model_number": _first(props, "ModelReference", "ModelLabel"),
        "installation_date": install, "warranty_start": w_start, "warranty_end": w_end,
        "expected_life_years": _first(props, "ExpectedLifeYears") or cl.years(props.get("ServiceLifeDuration")),
        "next_maintenance_due": cl.iso_date(_first(props, "NextMaintenanceDate", "NextAssessmentDate")),
        "lifecycle_status": _first(props, "Status", "LifecycleStatus") or LIFECYCLE_BY_PHASE.get(phase),
        "classification_system": csys or None, "classification_code": ccode or None,
        "measured_quantity": cl.measured_quantity(kind, row, props),
        "alarm_setpoint": _first(props, "AlarmHigh", "AlarmSetpoint"), "alarm_low": _first(props, "AlarmLow"),
        "unit": props.get("Unit") if kind == "sensor" else None,
        "monitoring_point_id": props.get("MonitoringPointId"),
    }
    if isinstance(rec["lifecycle_status"], list):
        rec["lifecycle_status"] = ",".join(map(str, rec["lifecycle_status"]))
    rec["quality_flags"] = _flags(rec, kind)
    return rec


def build_assets(rows: list[dict], facts: IfcFacts, zones: dict[str, Zone], phase: str) -> list[dict]:
    """Asset rows for every distribution element, door/hatch and opening cover of the model."""
    up = {r["global_id"]: r.get("container_global_id") or r.get("parent_global_id") for r in rows}
    facility = next((r for r in rows if r["ifc_class"] in ("IfcFacility", "IfcBuilding")), None)
    tunnel = (facility or {}).get("name") or "tunnel"
    out = []
    for r in rows:
        props_text = f"{r.get('name') or ''} {r.get('object_type') or ''}"
        proxy_asset = r["ifc_class"] == "IfcBuildingElementProxy" and r["global_id"] not in zones and \
            cl.asset_kind(r, {}) != "other"
        if (facts.is_asset.get(r["global_id"]) or proxy_asset) and props_text.strip() != "":
            out.append(asset_record(r, facts, zones, up, phase, tunnel))
    return out


def assets_table(records: list[dict]) -> pa.Table:
    """Arrow table (conformed to the documented schema by the store)."""
    if not records:
        return pa.table({"global_id": pa.array([], pa.string())})
    cols = {k: [r[k] for r in records] for k in records[0]}
    for k in ("expected_life_years", "alarm_setpoint", "alarm_low"):
        cols[k] = [None if v is None else float(v) for v in cols[k]]
    return pa.table({k: pa.array(v) for k, v in cols.items()})


def centre_xy(row: dict) -> np.ndarray:
    return np.array([(row["xmin"] + row["xmax"]) / 2, (row["ymin"] + row["ymax"]) / 2])
