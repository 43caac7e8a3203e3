"""The completion gate (竣工备案): is what was built what was approved?

The as-built version is measured exactly like the approved plan version, from the store, with the same
functions the planning review uses (above-ground outline, storey outlines, the plan's parcel and the road
red lines): height, footprint, setbacks, gross floor area, FAR and coverage. Each deviation is compared with
the city's ``[lifecycle]`` tolerance; underground elements are checked against the tunnel's protection zone
and the pipelines' clearance again. Exit 0 when everything is within tolerance, 1 when not.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import geopandas as gpd
import shapely

from cim.config import CityConfig
from cim.lifecycle import order
from cim.lifecycle.element_diff import element_diff_section
from cim.lifecycle.gate import GateResult, check_file, ingest_version, report_dir, write_report
from cim.lifecycle.record import Decision, GateRefused, append
from cim.store import Store

# indicator -> (tolerance key in [lifecycle], deviation judged relative to the approved value?, unit)
INDICATORS = {"height": ("height_m", False, "m"), "footprint": ("footprint_share", True, "m2"),
              "setback": ("setback_m", False, "m"), "red_line_setback": ("setback_m", False, "m"),
              "gfa": ("gfa_share", True, "m2"), "far": ("far", False, "ratio"),
              "coverage": ("coverage", False, "ratio")}
ZONE_CHECKS = ("tunnel_protection", "pipelines")


def _layer(store: Store, name: str) -> gpd.GeoDataFrame:
    if name not in store.layer_names():
        raise GateRefused(store.root, f"the city store has no {name} layer", "ingest the city first: make run")
    table = store.read(name).to_pandas()
    table["geometry"] = shapely.from_wkb(table["geometry"])
    return gpd.GeoDataFrame(table, geometry="geometry", crs=store.crs)


def measure(store: Store, model_id: str, version: int, ground: float, parcel, red_lines) -> dict:
    """The planning indicators of one stored version, against ``parcel`` (the approved plan's)."""
    from cim.review.site import signed_clearance
    from cim.review.site_footprint import above_ground_floor_area, above_ground_footprint

    elements = store.read_model("elements", model_id, version).to_pylist()
    footprint = above_ground_footprint(elements, ground)
    if footprint is None or footprint.is_empty:
        raise GateRefused(None, f"v{version} of {model_id!r} has no element above the ground level",
                          "check the model's storey elevations")
    tops = [b["top_elevation_m"] for b in store.read_model("buildings", model_id, version).to_pylist()
            if b["top_elevation_m"] is not None]
    top = max(tops) if tops else max(e["zmax"] for e in elements if e["zmax"] is not None)
    area = float(parcel.get("area_m2") or parcel.geometry.area)
    gfa = sum(above_ground_floor_area(elements, ground).values())
    return {"height": round(top - ground, 3), "footprint": round(float(footprint.area), 3),
            "setback": round(signed_clearance(footprint, parcel.geometry), 3),
            "red_line_setback": round(float(red_lines.geometry.distance(footprint).min()), 3)
            if len(red_lines) else None,
            "gfa": round(gfa, 3), "far": round(gfa / area, 4), "coverage": round(float(footprint.area) / area, 4)}


def compare(approved: dict, built: dict, tolerances: dict) -> list[dict]:
    """One row per indicator: both values, the deviation, the tolerance and pass/fail."""
    out = []
    for name, (key, relative, unit) in INDICATORS.items():
        a, b = approved.get(name), built.get(name)
        if a is None or b is None:
            out.append({"indicator": name, "approved": a, "as_built": b, "status": "not_applicable"})
            continue
        deviation = b - a
        judged = abs(deviation) / abs(a) if relative and a else abs(deviation)
        ok = judged <= tolerances[key] + 1e-9
        out.append({"indicator": name, "unit": unit, "approved": a, "as_built": b, "deviation": round(deviation, 4),
                    "relative_deviation": round(deviation / a, 5) if relative and a else None,
                    "tolerance": tolerances[key], "tolerance_is_share": relative,
                    "status": "pass" if ok else "fail"})
    return out


def zone_checks(store: Store, config: CityConfig, model_id: str, model: dict, rules_path: Path | None) -> list[dict]:
    """The as-built's elements against the tunnel protection zone and the pipelines' clearance (clash engine)."""
    from cim.clash.rules import load_rules
    from cim.clash.source import ElementSet, ModelSource
    from cim.review.clashes import run_clash_checks

    elements = ElementSet()
    source = ModelSource(store, model_id, model["version"], model["phase"])
    elements.add_model(source, store.read_model("elements", model_id, model["version"]),
                       store.read_model("relations", model_id, model["version"]))
    outcome = run_clash_checks(elements, store, load_rules(rules_path), config.ground_elevation_m, config.root,
                               datetime.now(UTC))
    return [{"check": c.check_id, "status": c.status, "measured": c.measured, "allowed": c.allowed,
             "message": c.message, "details": c.details} for c in outcome.checks if c.check_id in ZONE_CHECKS]


def completion_gate(store: Store, config: CityConfig, model_id: str, *, ifc: Path | None = None,
                    version: int | None = None, out: Path | None = None, by: str | None = None,
                    reports: Path | None = None, rules_path: Path | None = None) -> GateResult:
    rows = order.require(store, model_id, "completion")
    plan = order.approved_plan(rows, model_id, "the as-built")
    plan_model = order.pick_version(store, model_id, plan["version"])
    if ifc is not None:
        check_file(store, model_id, "completion", ifc, rows, plan_schema=plan_model["schema"])
        version = ingest_version(store, config, model_id, ifc)
    model = order.pick_version(store, model_id, version)
    if model["version"] == plan["version"]:
        raise GateRefused(None, f"{model_id!r} has no version after its approved plan v{plan['version']}: nothing "
                                "to compare", f"file the as-built: cim gate completion {model_id} --ifc AS_BUILT.ifc")
    order.require(store, model_id, "completion", model["version"])
    if model["schema"] != plan_model["schema"]:
        raise GateRefused(None, f"v{model['version']} of {model_id!r} is {model['schema']} but the approved plan "
                                f"v{plan['version']} is {plan_model['schema']}",
                          "file the as-built in the plan's schema")
    from cim.review.site import find_parcel

    ground = config.ground_elevation_m
    red_lines = _layer(store, "road_redlines")
    plan_elements = store.read_model("elements", model_id, plan["version"]).to_pylist()
    from cim.review.site_footprint import above_ground_footprint

    plan_fp = above_ground_footprint(plan_elements, ground)
    if plan_fp is None or plan_fp.is_empty:
        raise GateRefused(None, f"the approved plan v{plan['version']} of {model_id!r} has nothing above ground", "")
    parcel = find_parcel(plan_fp, _layer(store, "parcels"))
    approved = measure(store, model_id, plan["version"], ground, parcel, red_lines)
    built = measure(store, model_id, model["version"], ground, parcel, red_lines)
    indicators = compare(approved, built, config.lifecycle.tolerances)
    zones = zone_checks(store, config, model_id, model, rules_path)
    failed = [i["indicator"] for i in indicators if i["status"] == "fail"] + \
             [z["check"] for z in zones if z["status"] == "fail"]
    report = {"gate": "completion", "model_id": model_id, "version": model["version"],
              "approved_version": plan["version"], "parcel_id": str(parcel["parcel_id"]),
              "verdict": "fail" if failed else "pass", "failed": failed,
              "tolerances": config.lifecycle.tolerances, "indicators": indicators, "zones": zones,
              "element_diff": element_diff_section(store, model_id, plan["version"], model["version"])}
    path = write_report(report_dir(model_id, model["version"], "completion", out, reports), report)
    note = ("beyond tolerance: " + ", ".join(failed)) if failed else f"within tolerance of plan v{plan['version']}"
    row = append(store, Decision(model_id, model["version"], "completion", not failed, path, note=note, by=by,
                                 against_version=plan["version"]))
    return GateResult("completion", model_id, model["version"], not failed, path, report, row)
