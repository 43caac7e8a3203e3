"""Moved or reshaped: tell a placement change from a shape change with the stored world meshes.

The geometry hash changes when an element moves *or* changes shape. The meshes of both versions are read
from the store (only those of the changed elements; nothing is tessellated) and fitted with a rigid motion
(Kabsch): when the new vertices are the old ones rotated and translated, within 1 mm, the element moved (by
the translation of its mesh centroid and the rotation angle); otherwise it was reshaped. The tessellator
meshes each body in its own frame before placing it, so a moved element keeps its vertex order.
"""

from __future__ import annotations

import numpy as np

from cim.geometry.mesh import mesh_rows
from cim.store import Store

RIGID_TOLERANCE_M = 1e-3


def read_meshes(store: Store, model_id: str, wanted: dict[int, list[str]]) -> dict[int, dict[str, tuple]]:
    """version -> global_id -> (vertices (n, 3), faces (m, 3)) of the given elements, in one scan of ``meshes``
    (the scan, not the few rows kept, is what costs on a big model)."""
    out: dict[int, dict[str, tuple]] = {v: {} for v in wanted}
    ids = sorted({g for gids in wanted.values() for g in gids})
    if not ids or not store.has_table("meshes"):
        return out
    table = store.read("meshes", columns=["global_id", "vertices", "faces", "is_closed", "version"],
                       filters=[("model_id", "=", model_id), ("version", "in", list(wanted)), ("global_id", "in", ids)])
    versions, keep = table["version"].to_pylist(), {v: set(gids) for v, gids in wanted.items()}
    for (gid, v, f, _), version in zip(mesh_rows(table), versions, strict=True):
        if gid in keep[version]:
            out[version][gid] = (v, f)
    return out


def rigid_motion(old: tuple[np.ndarray, np.ndarray], new: tuple[np.ndarray, np.ndarray]) -> tuple[float, float] | None:
    """(translation in m, rotation in degrees) when ``new`` is ``old`` moved rigidly, else None."""
    (va, fa), (vb, fb) = old, new
    if va.shape != vb.shape or fa.shape != fb.shape or not np.array_equal(fa, fb) or len(va) == 0:
        return None
    ca, cb = va.mean(axis=0), vb.mean(axis=0)
    a, b = va - ca, vb - cb
    u, _, vt = np.linalg.svd(a.T @ b)
    d = np.sign(np.linalg.det(vt.T @ u.T)) or 1.0
    rot = vt.T @ np.diag([1.0, 1.0, d]) @ u.T
    if np.max(np.linalg.norm(a @ rot.T - b, axis=1)) > RIGID_TOLERANCE_M:
        return None
    angle = float(np.degrees(np.arccos(np.clip((np.trace(rot) - 1.0) / 2.0, -1.0, 1.0))))
    return float(np.linalg.norm(cb - ca)), angle


def centre(row: dict) -> tuple[float, float, float] | None:
    bounds = [row.get(k) for k in ("xmin", "ymin", "zmin", "xmax", "ymax", "zmax")]
    if any(b is None for b in bounds):
        return None
    return tuple((bounds[i] + bounds[i + 3]) / 2 for i in range(3))


def shift(old: dict, new: dict) -> tuple[float, float, float] | None:
    """How far the centre of the 3-D bounds moved (dx, dy, dz), or None without bounds."""
    a, b = centre(old), centre(new)
    if a is None or b is None:
        return None
    return b[0] - a[0], b[1] - a[1], b[2] - a[2]


def geometry_change(old: dict, new: dict, old_mesh, new_mesh) -> dict | None:
    """The moved or reshaped detail of one pair whose geometry hash differs, None when the geometry is the same."""
    if old["geometry_hash"] == new["geometry_hash"] and old["has_mesh"] == new["has_mesh"]:
        return None
    d = shift(old, new)
    detail = {"dx": d[0], "dy": d[1], "dz": d[2]} if d else {"dx": None, "dy": None, "dz": None}
    motion = rigid_motion(old_mesh, new_mesh) if old_mesh is not None and new_mesh is not None else None
    if motion is not None:
        return {"change": "moved", "moved_m": motion[0], "rotation_deg": motion[1], **detail}
    moved = float(np.linalg.norm(d)) if d else None
    return {"change": "reshaped", "moved_m": moved, "rotation_deg": None, **detail}
