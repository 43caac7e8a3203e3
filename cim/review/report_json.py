"""report.json: the review for machines. Same content as report.html, site-plan geometries as GeoJSON geometry
objects (coordinates in the city CRS, rounded to the millimetre), documented in schemas/review_report.schema.json.

Output is byte-stable for the same Review (fixed key order, no clock read here) and written atomically.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import asdict, is_dataclass
from pathlib import Path
from typing import Any

import shapely

from cim.files import write_atomic
from cim.review.model import FAIL, NOT_APPLICABLE, PASS, ClashItem, Review, SitePlan
from cim.review.siteplan import load_wkb

SCHEMA_VERSION = "1.0"
COORD_DECIMALS = 3


def jsonable(value: Any) -> Any:
    """Plain JSON values: non-finite floats become null, tuples lists, numpy scalars numbers, the rest strings."""
    if value is None or isinstance(value, bool | str | int):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if is_dataclass(value) and not isinstance(value, type):
        return jsonable(asdict(value))
    if isinstance(value, Mapping):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        items = sorted(value, key=str) if isinstance(value, set | frozenset) else value
        return [jsonable(v) for v in items]
    if isinstance(value, bytes):
        return value.hex()
    if hasattr(value, "item"):  # numpy scalar
        return jsonable(value.item())
    return str(value)


def _round_coords(coords: Any) -> Any:
    if isinstance(coords, list | tuple):
        if coords and all(isinstance(c, int | float) for c in coords):
            return [round(float(c), COORD_DECIMALS) + 0.0 for c in coords]
        return [_round_coords(c) for c in coords]
    return coords


def geojson(data: bytes | None) -> dict[str, Any] | None:
    """One WKB blob as a GeoJSON geometry object (no CRS member: the report's ``crs`` applies), or null."""
    geom = load_wkb(data)
    if geom is None:
        return None
    mapping = shapely.geometry.mapping(geom)
    return _geojson_members(mapping)


def _geojson_members(mapping: Mapping[str, Any]) -> dict[str, Any]:
    if mapping["type"] == "GeometryCollection":
        return {"type": "GeometryCollection", "geometries": [_geojson_members(g) for g in mapping["geometries"]]}
    return {"type": mapping["type"], "coordinates": _round_coords(mapping["coordinates"])}


def marker_numbers(review: Review) -> dict[int, int]:
    """Clash index -> site-plan marker number: the marker whose label is the clash id, else one at its x, y."""
    points = review.site_plan.clash_points if review.site_plan else []
    by_label = {label: n for n, (_, _, label) in enumerate(points, start=1)}
    out: dict[int, int] = {}
    for i, clash in enumerate(review.clashes):
        n = by_label.get(clash.clash_id)
        if n is None:
            n = next((k for k, (x, y, _) in enumerate(points, start=1)
                      if abs(x - clash.x) < 1e-3 and abs(y - clash.y) < 1e-3), None)
        if n is not None:
            out[i] = n
    return out


def site_plan_json(plan: SitePlan | None, crs: str | None) -> dict[str, Any] | None:
    """The site-plan layers as GeoJSON geometries, clash points numbered as in the picture."""
    if plan is None:
        return None
    return {
        "crs": crs,
        "parcel": geojson(plan.parcel),
        "setback_line": geojson(plan.setback_line),
        "red_lines": [g for g in map(geojson, plan.red_lines) if g is not None],
        "footprint": geojson(plan.footprint),
        "basement": geojson(plan.basement),
        "neighbours": [g for g in map(geojson, plan.neighbours) if g is not None],
        "tunnel": geojson(plan.tunnel),
        "protection_zone": geojson(plan.protection_zone),
        "pipelines": [g for g in map(geojson, plan.pipelines) if g is not None],
        "clash_points": [{"marker": n, "label": str(label), "x": round(float(x), COORD_DECIMALS) + 0.0,
                          "y": round(float(y), COORD_DECIMALS) + 0.0}
                         for n, (x, y, label) in enumerate(plan.clash_points, start=1)],
    }


def summary(review: Review) -> dict[str, Any]:
    """Counts a dashboard needs without walking the check list."""
    statuses = [c.status for c in review.checks]
    return {
        "checks_total": len(statuses),
        "passed": statuses.count(PASS),
        "failed": statuses.count(FAIL),
        "not_applicable": statuses.count(NOT_APPLICABLE),
        "failed_checks": [c.check_id for c in review.failed()],
        "clashes": len(review.clashes),
    }


def _clash_json(clash: ClashItem, marker: int | None) -> dict[str, Any]:
    out = jsonable(asdict(clash))
    out["plan_marker"] = marker
    return out


def report_dict(review: Review) -> dict[str, Any]:
    """The whole report.json document (schema_version 1.0)."""
    markers = marker_numbers(review)
    return {
        "schema_version": SCHEMA_VERSION,
        "verdict": review.verdict,
        "exit_code": review.exit_code,
        "reason": review.reason,
        "model_path": review.model_path,
        "model_id": review.model_id,
        "parcel_id": review.parcel_id,
        "crs": review.crs,
        "generated_at": review.generated_at,
        "code_version": review.code_version,
        "summary": summary(review),
        "checks": [jsonable(asdict(c)) for c in review.checks],
        "clashes": [_clash_json(c, markers.get(i)) for i, c in enumerate(review.clashes)],
        "quantities": jsonable(review.quantities),
        "site_plan": site_plan_json(review.site_plan, review.crs) if review.verdict != "error" else None,
        "timings": jsonable(review.timings),
        "revision": jsonable(review.revision),
    }


def render_json(review: Review) -> str:
    """report.json text: two-space indent, UTF-8 kept readable, newline at the end."""
    return json.dumps(report_dict(review), indent=2, ensure_ascii=False, allow_nan=False) + "\n"


def write_json(review: Review, path: Path) -> Path:
    """Write report.json atomically and return its path."""
    return write_atomic(path, render_json(review), what="review report")
