"""A review's report.json (and the scene in the view3d.html beside it) as things for `cim view --review` to draw.

The submission was checked in a scratch store that is gone, so its meshes are not in the city store. The review
keeps them in view3d.html (:mod:`cim.view.view3d`); here they are put back in the world (city CRS -> ECEF,
float64, so Cesium places them to the millimetre). Without that file the submission is its footprint, extruded
to the height the review measured. Failing checks, clash points and the parcel come from report.json.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from cim.errors import InputError
from cim.view.geo import to_ecef, to_lonlat
from cim.view.scene import b64, unb64
from cim.view.view3d import NAME as VIEW3D
from cim.view.view3d import read_scene

HINT = "pass the report.json that `cim review` wrote, e.g. --review review/violating/report.json"


class ReviewFileError(InputError):
    stage = "view"


def load_report(path: Path, crs: str) -> dict[str, Any]:
    """report.json, checked: a readable review of a submission, made against a city in ``crs``."""
    if not path.is_file():
        raise ReviewFileError(path, "no such review report" if not path.exists() else "not a file", HINT)
    try:
        report = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise ReviewFileError(path, f"not a readable review report ({type(exc).__name__})", HINT) from exc
    if not isinstance(report, dict) or "schema_version" not in report or "checks" not in report:
        raise ReviewFileError(path, "not a review report (no schema_version / checks)", HINT)
    if report.get("verdict") == "error" or not report.get("model_id"):
        raise ReviewFileError(path, f"the review could not check the model ({report.get('reason') or 'no model'}): "
                              "nothing to place", "fix the submission and run cim review again")
    if report.get("crs") and str(report["crs"]).upper() != str(crs).upper():
        raise ReviewFileError(path, f"the review was made in {report['crs']}, the store is in {crs}",
                              "open the store the review was made against (--store)")
    return report


def review_payload(path: Path, crs: str, ground_m: float) -> dict[str, Any]:
    """What the page draws for one review: failing checks, clash points, outlines, and the submission itself."""
    report = load_report(path, crs)
    failed = [{"check_id": c.get("check_id"), "title": c.get("title"), "message": c.get("message")}
              for c in report["checks"] if c.get("status") == "fail"]
    clashes = report.get("clashes") or []
    if clashes:
        lon, lat, h = to_lonlat(crs, [c["x"] for c in clashes], [c["y"] for c in clashes], [c["z"] for c in clashes])
        clashes = [{"clash_id": c["clash_id"], "check_id": c.get("check_id"), "rule": c.get("rule"),
                    "a": f"{c.get('a_class')} {c.get('a_name') or ''}".strip(),
                    "b": f"{c.get('b_class')} {c.get('b_name') or ''}".strip(),
                    "lon": float(a), "lat": float(b), "height": float(z)}
                   for c, a, b, z in zip(clashes, lon, lat, h, strict=True)]
    scene = read_scene(path.parent / VIEW3D)
    meshes = _meshes(scene, crs) if scene and scene.get("crs", crs).upper() == crs.upper() else []
    note = None if meshes else (f"{VIEW3D} is not beside report.json: the submission is shown as its footprint "
                                "(run cim review with the viewer installed for its elements)")
    return {"model_id": report["model_id"], "parcel_id": report.get("parcel_id"), "verdict": report["verdict"],
            "summary": report.get("summary"), "failed": failed, "clashes": clashes, "meshes": meshes,
            "outlines": _outlines(report, crs, ground_m), "height_m": _height(report), "ground_m": ground_m,
            "note": note}


def _meshes(scene: dict[str, Any], crs: str) -> list[dict[str, Any]]:
    """The scene's submission meshes in ECEF (float64, base64), one per element, failing checks attached."""
    origin = np.asarray(scene["origin"], dtype=np.float64)
    out = []
    for m in scene.get("meshes", []):
        if m.get("role") != "submission":
            continue
        local = unb64(m["positions"], np.float32).astype(np.float64).reshape(-1, 3)
        ecef = to_ecef(crs, local + origin)
        out.append({"global_id": m.get("global_id"), "ifc_class": m.get("ifc_class"), "name": m.get("name"),
                    "storey": m.get("storey"), "fails": m.get("fails") or [], "model_id": scene.get("model_id"),
                    "positions": b64(ecef, np.float64), "indices": m["indices"]})
    return out


def _outlines(report: dict[str, Any], crs: str, ground_m: float) -> list[dict[str, Any]]:
    """Parcel, setback line and footprint as WGS84 rings at ground height (flat lists lon, lat, h, ...)."""
    plan = report.get("site_plan") or {}
    out = []
    for kind in ("parcel", "setback_line", "footprint"):
        geom = plan.get(kind)
        if not geom:
            continue
        for ring in _rings(geom):
            pts = np.asarray(ring, dtype=np.float64)[:, :2]
            lon, lat, _ = to_lonlat(crs, pts[:, 0], pts[:, 1])
            flat = np.column_stack([lon, lat, np.full(len(lon), ground_m + 0.3)]).ravel()
            out.append({"kind": kind, "positions": [round(float(v), 9) for v in flat]})
    return out


def _rings(geom: dict[str, Any]) -> list:
    kind, coords = geom.get("type"), geom.get("coordinates") or []
    if kind == "Polygon":
        return list(coords)
    if kind == "MultiPolygon":
        return [ring for poly in coords for ring in poly]
    if kind == "LineString":
        return [coords]
    if kind == "MultiLineString":
        return list(coords)
    return []


def _height(report: dict[str, Any]) -> float | None:
    for check in report.get("checks", []):
        if check.get("check_id") == "height" and isinstance(check.get("measured"), int | float):
            return float(check["measured"])
    return None
