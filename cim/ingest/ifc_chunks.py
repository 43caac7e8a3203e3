"""Per-chunk work of an IFC ingest: attributes and world meshes of a slice of the products.

Runs in worker processes (ifcopenshell holds the GIL, so threads do not help); each worker opens the
file once and keeps it for the chunks it is given.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import shapely

from cim.geometry.mesh import bounds, footprint, geometry_hash, is_closed
from cim.geometry.tessellate import iter_meshes
from cim.georef import Georef
from cim.ifc.elements import element_row
from cim.ifc.reader import OpenedIfc, open_ifc
from cim.ifc.relations import RelIndex, build_index

_CACHE: dict[str, tuple[OpenedIfc, RelIndex]] = {}


def _opened(path: str) -> tuple[OpenedIfc, RelIndex]:
    if path not in _CACHE:
        _CACHE.clear()
        opened = open_ifc(path)
        _CACHE[path] = (opened, build_index(opened.file))
    return _CACHE[path]


def process_chunk_in_worker(path: str, step_ids: list[int], georef: Georef,
                            unit_scale: float) -> tuple[pa.Table, pa.Table]:
    opened, idx = _opened(path)
    return process_chunk(opened, idx, step_ids, georef, unit_scale)


def process_chunk(opened: OpenedIfc, idx: RelIndex, step_ids: list[int], georef: Georef,
                  unit_scale: float) -> tuple[pa.Table, pa.Table]:
    """Element rows (with bounds, footprint, hash) and mesh rows for ``step_ids``."""
    model = opened.file
    items = [model.by_id(i) for i in step_ids]
    rows = {el.GlobalId: element_row(el, idx, unit_scale) for el in items}
    for row in rows.values():
        row.update(dict.fromkeys(("xmin", "ymin", "zmin", "xmax", "ymax", "zmax", "geometry_hash", "footprint")))
        row["has_mesh"] = False
    mesh_cols: dict[str, list] = {k: [] for k in ("global_id", "vertices", "faces", "n_vertices",
                                                   "n_triangles", "is_closed", "geometry_hash")}
    for raw in iter_meshes(model, include=items):
        row = rows.get(raw.global_id)
        if row is None:
            continue
        world = georef.to_city(raw.verts)
        closed = is_closed(raw.faces, len(raw.verts))
        fp = footprint(world, raw.faces, closed)
        ghash = geometry_hash(world, raw.faces)
        xmin, ymin, zmin, xmax, ymax, zmax = bounds(world)
        row.update(xmin=xmin, ymin=ymin, zmin=zmin, xmax=xmax, ymax=ymax, zmax=zmax, has_mesh=True,
                   geometry_hash=ghash, footprint=shapely.to_wkb(fp) if fp is not None else None)
        mesh_cols["global_id"].append(raw.global_id)
        mesh_cols["vertices"].append(world.reshape(-1))
        mesh_cols["faces"].append(raw.faces.reshape(-1))
        mesh_cols["n_vertices"].append(len(world))
        mesh_cols["n_triangles"].append(len(raw.faces))
        mesh_cols["is_closed"].append(closed)
        mesh_cols["geometry_hash"].append(ghash)
    return pa.Table.from_pylist(list(rows.values())), _mesh_table(mesh_cols)


def _list_array(parts: list[np.ndarray], dtype: pa.DataType) -> pa.Array:
    offsets = np.zeros(len(parts) + 1, dtype=np.int32)
    if parts:
        np.cumsum([len(p) for p in parts], out=offsets[1:])
        values = np.concatenate(parts)
    else:
        values = np.array([], dtype=dtype.to_pandas_dtype())
    return pa.ListArray.from_arrays(pa.array(offsets), pa.array(values, type=dtype))


def _mesh_table(cols: dict[str, list]) -> pa.Table:
    return pa.table({
        "global_id": pa.array(cols["global_id"], pa.string()),
        "vertices": _list_array(cols["vertices"], pa.float64()),
        "faces": _list_array(cols["faces"], pa.int32()),
        "n_vertices": pa.array(cols["n_vertices"], pa.int32()),
        "n_triangles": pa.array(cols["n_triangles"], pa.int32()),
        "is_closed": pa.array(cols["is_closed"], pa.bool_()),
        "geometry_hash": pa.array(cols["geometry_hash"], pa.string()),
    })
