"""A review's submission in its context as a small 3-D scene: what view3d.html draws and `cim view --review` places.

Built while the review's scratch store still exists (the submission's meshes live only there): every submission
element as its own mesh (failing elements tagged with their checks), the city's meshes within ``MARGIN_M`` of it
merged per model, the context buildings of ``buildings_existing`` extruded to their height, and the parcel,
setback and red lines on the ground. Coordinates are the city CRS less ``origin`` (float32 keeps millimetres over
a few kilometres); ``origin`` and ``crs`` put the scene back in the world.
"""

from __future__ import annotations

import base64
from typing import Any

import numpy as np

MARGIN_M = 40.0  # how far around the submission the city's own meshes are shown
MAX_CONTEXT_TRIANGLES = 300_000  # keep the page small: beyond this, context meshes are left out (noted)
SCENE_VERSION = 1


def b64(array: np.ndarray, dtype) -> str:
    return base64.b64encode(np.ascontiguousarray(array, dtype=dtype).tobytes()).decode("ascii")


def unb64(text: str, dtype) -> np.ndarray:
    return np.frombuffer(base64.b64decode(text), dtype=dtype)


def _meshes(store, model_id: str, version: int, ids: list[str] | None = None):
    from cim.geometry.mesh import mesh_rows

    filters = [("model_id", "=", model_id), ("version", "=", version)]
    if ids is not None:
        if not ids:
            return []
        filters.append(("global_id", "in", ids))
    return mesh_rows(store.read("meshes", columns=["global_id", "vertices", "faces", "is_closed"], filters=filters))


def failing_elements(review) -> dict[str, list[str]]:
    """GlobalId -> the failed checks that name it (in their details or through a clash)."""
    out: dict[str, list[str]] = {}
    for check in review.failed():
        for detail in check.details:
            gid = detail.get("global_id") if isinstance(detail, dict) else None
            if gid:
                out.setdefault(gid, []).append(check.check_id)
    for clash in review.clashes:
        for gid in (clash.a_global_id, clash.b_global_id if clash.b_model == review.model_id else None):
            if gid and clash.check_id not in out.get(gid, []):
                out.setdefault(gid, []).append(clash.check_id)
    return out


def submission_scene(scratch, city, review, ground_m: float) -> dict[str, Any]:
    """The scene for ``review`` (its model in ``scratch``, the city in ``city``), as plain JSON-ready values."""
    model = scratch.latest(review.model_id)
    own = _meshes(scratch, review.model_id, model["version"])
    elements = {r["global_id"]: r for r in scratch.read_model("elements", review.model_id).to_pylist()}
    allv = np.vstack([v for _, v, _, _ in own]) if own else np.zeros((1, 3))
    lo, hi = allv.min(axis=0), allv.max(axis=0)
    origin = np.array([round((lo[0] + hi[0]) / 2, 1), round((lo[1] + hi[1]) / 2, 1), round(ground_m, 3)])
    failing = failing_elements(review)
    meshes = []
    for gid, verts, faces, _ in own:
        e = elements.get(gid, {})
        meshes.append({"role": "submission", "model_id": review.model_id, "global_id": gid,
                       "ifc_class": e.get("ifc_class"), "name": e.get("name"), "storey": e.get("storey"),
                       "fails": failing.get(gid, []), "positions": b64(verts - origin, np.float32),
                       "indices": b64(faces, np.uint32)})
    box = (lo[0] - MARGIN_M, lo[1] - MARGIN_M, hi[0] + MARGIN_M, hi[1] + MARGIN_M)
    notes: list[str] = []
    meshes.extend(_context_meshes(city, box, origin, notes))
    meshes.extend(_context_buildings(city, box, origin, ground_m))
    return {"scene_version": SCENE_VERSION, "crs": city.crs, "origin": origin.tolist(), "ground_m": ground_m,
            "model_id": review.model_id, "parcel_id": review.parcel_id, "verdict": review.verdict,
            "box": [float(b) - float(o) for b, o in zip(box, (*origin[:2], *origin[:2]), strict=True)],
            "checks": [{"check_id": c.check_id, "title": c.title, "status": c.status, "message": c.message}
                       for c in review.checks],
            "clashes": [{"clash_id": c.clash_id, "check_id": c.check_id, "rule": c.rule,
                         "a_global_id": c.a_global_id, "b_global_id": c.b_global_id,
                         "point": [c.x - origin[0], c.y - origin[1], c.z - origin[2]]} for c in review.clashes],
            "lines": _ground_lines(review, origin), "meshes": meshes, "notes": notes}


def _context_meshes(city, box, origin: np.ndarray, notes: list[str]) -> list[dict[str, Any]]:
    """The city's meshes whose bounds reach into ``box``, merged into one mesh per model."""
    if not city.has_table("elements") or not city.has_table("meshes"):
        return []
    cols = ["model_id", "version", "global_id", "xmin", "ymin", "xmax", "ymax", "has_mesh"]
    rows = [r for r in city.read_current("elements").select(cols).to_pylist() if r["has_mesh"]
            and r["xmax"] >= box[0] and r["xmin"] <= box[2] and r["ymax"] >= box[1] and r["ymin"] <= box[3]]
    by_model: dict[tuple[str, int], list[str]] = {}
    for r in rows:
        by_model.setdefault((r["model_id"], r["version"]), []).append(r["global_id"])
    out, triangles = [], 0
    for (model_id, version), ids in sorted(by_model.items()):
        parts = _meshes(city, model_id, version, ids)
        n = sum(len(f) for _, _, f, _ in parts)
        if triangles + n > MAX_CONTEXT_TRIANGLES:
            notes.append(f"{model_id}: {len(ids)} nearby elements left out of the 3-D view (size limit)")
            continue
        triangles += n
        merged = _merge([(v, f) for _, v, f, _ in parts])
        if merged is not None:
            out.append({"role": "context", "model_id": model_id, "positions": b64(merged[0] - origin, np.float32),
                        "indices": b64(merged[1], np.uint32)})
    return out


def _merge(parts: list[tuple[np.ndarray, np.ndarray]]) -> tuple[np.ndarray, np.ndarray] | None:
    if not parts:
        return None
    offsets = np.cumsum([0] + [len(v) for v, _ in parts[:-1]])
    return np.vstack([v for v, _ in parts]), np.vstack([f + o for (_, f), o in zip(parts, offsets, strict=True)])


def _context_buildings(city, box, origin: np.ndarray, ground_m: float) -> list[dict[str, Any]]:
    """``buildings_existing`` footprints near the submission extruded from the ground to ``height_m`` (LoD1)."""
    import shapely

    from cim.tiles.context import extrude  # the same LoD1 blocks as the 3D Tiles export

    if "buildings_existing" not in city.layer_names():
        return []
    table = city.read("buildings_existing").to_pylist()
    area = shapely.box(*box)
    parts = []
    for row in table:
        geom = shapely.from_wkb(row["geometry"]) if row.get("geometry") else None
        if geom is None or not geom.intersects(area):
            continue
        height = float(row.get("height_m") or 10.0)
        parts.append(extrude(geom, ground_m, ground_m + height))
    merged = _merge(parts)
    if merged is None:
        return []
    return [{"role": "context", "model_id": "buildings_existing", "positions": b64(merged[0] - origin, np.float32),
             "indices": b64(merged[1], np.uint32)}]


def _ground_lines(review, origin: np.ndarray) -> list[dict[str, Any]]:
    """Parcel, setback, red lines, tunnel outline and pipelines from the review's site plan, as local polylines."""
    import shapely

    plan = review.site_plan
    if plan is None:
        return []
    groups = [("parcel", [plan.parcel]), ("setback", [plan.setback_line]), ("red_line", plan.red_lines),
              ("footprint", [plan.footprint]), ("tunnel", [plan.tunnel]), ("protection_zone", [plan.protection_zone]),
              ("pipeline", plan.pipelines)]
    out = []
    for kind, blobs in groups:
        for blob in blobs:
            geom = shapely.from_wkb(blob) if blob else None
            if geom is None or geom.is_empty:
                continue
            for line in _lines_of(geom):
                xy = np.asarray(line.coords)[:, :2] - origin[:2]
                out.append({"kind": kind, "points": np.round(xy, 3).tolist()})
    return out


def _lines_of(geom) -> list:
    if geom.geom_type in ("Polygon",):
        return [geom.exterior, *geom.interiors]
    if geom.geom_type in ("LineString", "LinearRing"):
        return [geom]
    return [part for g in getattr(geom, "geoms", []) for part in _lines_of(g)]


def review_scene(scratch, city, review, ground_m: float) -> dict[str, Any] | None:
    """The scene, or None when three.js is not installed (view3d.html could not be written anyway)."""
    from cim.view.view3d import three_files

    if three_files() is None or review.model_id is None:
        return None
    return submission_scene(scratch, city, review, ground_m)
