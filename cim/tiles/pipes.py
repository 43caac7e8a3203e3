"""Buried pipelines of the GIS layer ``pipelines`` as tubes below the ground.

A pipeline is a 2-D line with ``diameter_mm`` and ``depth_m`` (cover from the ground to the pipe's top, as
the clash rules read it): each segment becomes an octagonal prism of that diameter whose top lies
``depth_m`` below the ground elevation. Segments are separate closed prisms (overlapping at bends), so each
is convex and its triangles are turned to face outwards by their position against its centre.
"""

from __future__ import annotations

import numpy as np
import shapely

from cim.store import Store
from cim.tiles.features import Feature, digest

SIDES = 8
DEFAULT_DIAMETER_M = 0.3


def pipeline_features(store: Store, row: dict, ground_z: float, notes: list[str]) -> list[Feature]:
    """One feature per pipeline (all its segments); lines without length are counted in ``notes``."""
    layer, version = row["model_id"], row["version"]
    out, skipped = [], 0
    for feat in store.read(layer).to_pylist():
        geom = shapely.from_wkb(feat["geometry"]) if feat.get("geometry") else None
        if geom is None or geom.is_empty or geom.length <= 0:
            skipped += 1
            continue
        dia = float(feat.get("diameter_mm") or DEFAULT_DIAMETER_M * 1000) / 1000.0
        cover = float(feat.get("depth_m") or 0.0)
        centre_z = ground_z - cover - dia / 2.0
        lines = list(geom.geoms) if hasattr(geom, "geoms") else [geom]
        parts = [tube(np.asarray(line.coords)[:, :2], dia / 2.0, centre_z) for line in lines]
        parts = [p for p in parts if p is not None]
        if not parts:
            skipped += 1
            continue
        vertices, faces = _merge(parts)
        gid = str(feat.get("feature_id"))
        name = " ".join(str(v) for v in (feat.get("pipeline_id"), feat.get("type"), f"DN{dia * 1000:.0f}") if v)
        props = {"global_id": gid, "model_id": layer, "version": version, "phase": row["phase"], "kind": "gis",
                 "ifc_class": "", "name": name, "storey": "", "systems": feat.get("type") or "",
                 "element_key": f"{layer}/{version}/{gid}"}
        out.append(Feature(props, vertices, faces, digest(props, feat["geometry"].hex(), dia, cover, ground_z)))
    if skipped:
        notes.append(f"{layer}: {skipped} feature(s) left out: no line to draw")
    return out


def tube(xy: np.ndarray, radius: float, z: float) -> tuple[np.ndarray, np.ndarray] | None:
    """Closed octagonal prisms along a polyline at height ``z`` (the axis), one per segment."""
    parts = []
    for a, b in zip(xy[:-1], xy[1:], strict=True):
        length = float(np.hypot(*(b - a)))
        if length <= 1e-9:
            continue
        d = np.array([*(b - a) / length, 0.0])
        side = np.array([-d[1], d[0], 0.0])
        up = np.array([0.0, 0.0, 1.0])
        angles = np.arange(SIDES) * 2 * np.pi / SIDES
        ring = radius * (np.cos(angles)[:, None] * side + np.sin(angles)[:, None] * up)
        start = ring + np.array([a[0], a[1], z])
        end = ring + np.array([b[0], b[1], z])
        parts.append(_prism(np.vstack([start, end])))
    return _merge(parts) if parts else None


def _prism(v: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    n = SIDES
    k = np.arange(n)
    k1 = (k + 1) % n
    sides = np.vstack([np.column_stack([k, k1, k1 + n]), np.column_stack([k, k1 + n, k + n])])
    fan = np.arange(1, n - 1)
    caps = np.vstack([np.column_stack([np.zeros(n - 2, int), fan, fan + 1]),
                      np.column_stack([np.full(n - 2, n), fan + n, fan + 1 + n])])
    faces = np.vstack([sides, caps])
    # a prism is convex: a triangle faces outwards when its normal points away from the centre
    tri = v[faces]
    normal = np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0])
    inward = np.einsum("ij,ij->i", normal, tri.mean(axis=1) - v.mean(axis=0)) < 0
    faces[inward] = faces[inward][:, ::-1]
    return v, faces


def _merge(parts: list[tuple[np.ndarray, np.ndarray]]) -> tuple[np.ndarray, np.ndarray]:
    verts, faces, count = [], [], 0
    for v, f in parts:
        verts.append(v)
        faces.append(f + count)
        count += len(v)
    return np.vstack(verts), np.vstack(faces)
