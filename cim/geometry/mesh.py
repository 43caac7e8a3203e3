"""Small facts of triangle meshes shared by the batch code: coverage unions and content hashes."""

from __future__ import annotations

import dataclasses
import hashlib

import numpy as np
import shapely

GRID = 1e-4  # 0.1 mm: snapping grid for general unions and rounding for geometry hashes


def coverage_union(polys: np.ndarray, expected_area: float) -> shapely.Geometry | None:
    """The union of triangles that tile without overlap (then its area is their sum), else None.

    A coverage union only merges shared edges, so it is several times cheaper than a general overlay
    and safe in world coordinates; overlapping input is detected by the area and left to the caller.
    """
    try:
        covered = shapely.coverage_union_all(polys)
    except shapely.errors.GEOSException:  # not noded as a coverage (e.g. T-junctions)
        return None
    if covered.is_empty or abs(covered.area - expected_area) > 1e-9 * max(expected_area, 1.0):
        return None
    return covered if covered.is_valid else None


def geometry_hash(verts: np.ndarray, faces: np.ndarray) -> str:
    """Changes exactly when the mesh moves or changes by more than 0.1 mm."""
    h = hashlib.sha1(np.round(verts / GRID).astype(np.int64).tobytes())
    h.update(np.ascontiguousarray(faces, dtype=np.int32).tobytes())
    return h.hexdigest()


def mesh_rows(table) -> list[tuple[str, np.ndarray, np.ndarray, bool]]:
    """(global_id, vertices (n, 3), faces (m, 3), is_closed) per row of a ``meshes`` table, slicing the flat
    list columns once instead of converting row by row."""
    if table.num_rows == 0:
        return []
    verts_col = table.column("vertices").combine_chunks()
    faces_col = table.column("faces").combine_chunks()
    v_off, v_all = verts_col.offsets.to_numpy(), verts_col.values.to_numpy(zero_copy_only=False)
    f_off, f_all = faces_col.offsets.to_numpy(), faces_col.values.to_numpy(zero_copy_only=False)
    gids, closed = table.column("global_id").to_pylist(), table.column("is_closed").to_pylist()
    return [(gid, v_all[v_off[i]:v_off[i + 1]].reshape(-1, 3), f_all[f_off[i]:f_off[i + 1]].reshape(-1, 3),
             bool(closed[i])) for i, gid in enumerate(gids)]


def merge_by_product(raws: list) -> list:
    """One mesh per product, in first-seen order.

    The tessellator yields one shape per Body representation, so a product exported with two shapes (a
    fitting with two bodies) comes twice under the same STEP id. Its parts are concatenated into one mesh;
    a part identical to an earlier one of the same product (the same body written twice) is dropped, so a
    row never holds a doubled surface. ``raws`` are RawMesh-like: step_id, verts (n, 3), faces (m, 3).
    """
    groups: dict[int, list] = {}
    for raw in raws:
        groups.setdefault(raw.step_id, []).append(raw)
    out = []
    for parts in groups.values():
        if len(parts) == 1:
            out.append(parts[0])
            continue
        seen: set[str] = set()
        verts, faces, offset = [], [], 0
        for part in parts:
            digest = geometry_hash(part.verts, part.faces)
            if digest in seen:
                continue
            seen.add(digest)
            verts.append(part.verts)
            faces.append(part.faces + offset)
            offset += len(part.verts)
        merged = np.concatenate(faces).astype(np.int32)
        out.append(dataclasses.replace(parts[0], verts=np.concatenate(verts), faces=merged))
    return out
