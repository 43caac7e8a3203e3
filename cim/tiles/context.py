"""LoD1 context: the existing buildings of the GIS layer ``buildings_existing`` as extruded blocks.

A footprint (polygon or multipolygon, city CRS) is triangulated with shapely's constrained Delaunay
triangulation (holes respected) and extruded from the ground elevation by the feature's ``height_m``.
A building that an exported IFC model already shows (its ``building_id`` is that model's id) is left out,
so the detailed model is not hidden inside its own block; a footprint without a positive height is left
out too; both are counted in the export's notes.
"""

from __future__ import annotations

import numpy as np
import shapely
from shapely.geometry import Polygon
from shapely.geometry.polygon import orient

from cim.store import Store
from cim.tiles.features import Feature, digest


def ground_elevation(store: Store) -> float:
    """The ground the context stands on when the config does not say: the median base of the store's
    IFC buildings (the elevation they are built at), else 0."""
    if not store.has_table("buildings"):
        return 0.0
    rows = store.read_current("buildings").select(["kind", "base_elevation_m"]).to_pylist()
    bases = [r["base_elevation_m"] for r in rows if r["kind"] == "building" and r["base_elevation_m"] is not None]
    return float(np.median(bases)) if bases else 0.0


def context_features(store: Store, row: dict, ground_z: float, shown_models: set[str],
                     notes: list[str]) -> list[Feature]:
    """Every footprint of the layer ``row`` names, extruded; skipped ones counted in ``notes``."""
    layer, version = row["model_id"], row["version"]
    table = store.read(layer).to_pylist()
    out, dup, flat = [], 0, 0
    for feat in table:
        if feat.get("building_id") in shown_models:
            dup += 1
            continue
        height = feat.get("height_m")
        geom = shapely.from_wkb(feat["geometry"]) if feat.get("geometry") else None
        if not height or height <= 0 or geom is None or geom.is_empty or geom.area <= 0:
            flat += 1
            continue
        vertices, faces = extrude(geom, ground_z, ground_z + float(height))
        gid = str(feat.get("feature_id"))
        props = {"global_id": gid, "model_id": layer, "version": version, "phase": row["phase"], "kind": "gis",
                 "ifc_class": "", "name": feat.get("name") or feat.get("building_id"), "storey": "", "systems": "",
                 "element_key": f"{layer}/{version}/{gid}"}
        out.append(Feature(props, vertices, faces, digest(props, feat["geometry"].hex(), height, ground_z)))
    if dup:
        notes.append(f"{layer}: {dup} building(s) left out because an exported IFC model shows them")
    if flat:
        notes.append(f"{layer}: {flat} feature(s) left out: no footprint area or no positive height_m")
    return out


def extrude(geom, base: float, top: float) -> tuple[np.ndarray, np.ndarray]:
    """A closed prism (outward-facing counter-clockwise triangles) over a polygon or multipolygon."""
    parts = list(geom.geoms) if hasattr(geom, "geoms") else [geom]
    verts: list[np.ndarray] = []
    faces: list[np.ndarray] = []
    count = 0
    for part in parts:
        if not isinstance(part, Polygon) or part.area <= 0:
            continue
        for v, f in (_caps(orient(part, 1.0), base, top), *(_walls(ring, base, top)
                                                          for ring in _rings(orient(part, 1.0)))):
            verts.append(v)
            faces.append(f + count)
            count += len(v)
    return np.vstack(verts), np.vstack(faces)


def _rings(poly: Polygon):
    yield poly.exterior
    yield from poly.interiors


def _caps(poly: Polygon, base: float, top: float) -> tuple[np.ndarray, np.ndarray]:
    tris = [t for t in shapely.constrained_delaunay_triangles(poly).geoms if t.area > 0]
    pts = []
    for t in tris:
        xy = np.asarray(t.exterior.coords)[:3, :2]
        if _signed_area(xy) < 0:
            xy = xy[::-1]
        pts.append(xy)
    xy = np.vstack(pts)
    n = len(xy)
    top_v = np.column_stack([xy, np.full(n, top)])
    bottom_v = np.column_stack([xy, np.full(n, base)])
    idx = np.arange(n).reshape(-1, 3)
    return np.vstack([top_v, bottom_v]), np.vstack([idx, idx[:, ::-1] + n])


def _walls(ring, base: float, top: float) -> tuple[np.ndarray, np.ndarray]:
    xy = np.asarray(ring.coords)[:, :2]
    a, b = xy[:-1], xy[1:]
    n = len(a)
    verts = np.vstack([np.column_stack([a, np.full(n, base)]), np.column_stack([b, np.full(n, base)]),
                       np.column_stack([b, np.full(n, top)]), np.column_stack([a, np.full(n, top)])])
    i = np.arange(n)
    faces = np.vstack([np.column_stack([i, i + n, i + 2 * n]), np.column_stack([i, i + 2 * n, i + 3 * n])])
    return verts, faces


def _signed_area(xy: np.ndarray) -> float:
    return float((xy[1, 0] - xy[0, 0]) * (xy[2, 1] - xy[0, 1]) - (xy[2, 0] - xy[0, 0]) * (xy[1, 1] - xy[0, 1]))
