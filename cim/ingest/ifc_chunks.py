"""Per-chunk work of an IFC ingest: attributes and world meshes of a slice of the products.

Runs in worker processes (ifcopenshell holds the GIL, so threads do not help); each worker opens the
file once and keeps it for the chunks it is given.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import shapely

from cim.geometry.batch import MeshFacts, mesh_facts
from cim.geometry.instances import plan_copies
from cim.geometry.mesh import merge_by_product
from cim.geometry.tessellate import iter_meshes
from cim.georef import Georef
from cim.georef.crs import outside_bounds
from cim.ifc.elements import element_row
from cim.ifc.reader import OpenedIfc, open_ifc
from cim.ifc.relations import RelIndex, build_index
from cim.ingest.ifc_health import placement_issues, product_matrices

log = logging.getLogger(__name__)
_CACHE: dict[str, tuple[OpenedIfc, RelIndex]] = {}
ABSURD_M = 1.0e8  # no real mesh vertex is 100,000 km from the model's origin
Refusal = tuple[int, str, str]  # (step id, stage, reason)


def _version(path: str) -> str:
    """The file as it is now: a long-lived (Dask) worker must not mesh last night's parse of a changed file."""
    st = os.stat(path)
    return f"{path}\0{st.st_mtime_ns}\0{st.st_size}"


def _opened(path: str) -> tuple[OpenedIfc, RelIndex]:
    version = _version(path)
    if version not in _CACHE:
        release()
        opened = open_ifc(path)
        _CACHE[version] = (opened, build_index(opened.file))
    return _CACHE[version]


def prime(path: str, opened: OpenedIfc, idx: RelIndex) -> None:
    """Hand the parent's parsed model to forked workers, so they do not parse the file again."""
    release()
    _CACHE[_version(path)] = (opened, idx)


def release() -> None:
    _CACHE.clear()


@dataclass
class Chunk:
    """What a chunk of products gives back (picklable)."""

    elements: pa.Table
    meshes: pa.Table
    refused: list[Refusal]


def process_chunk_in_worker(path: str, step_ids: list[int], georef: Georef, unit_scale: float,
                            reused: frozenset[int] = frozenset(), *, check_placements: bool = False) -> Chunk:
    opened, idx = _opened(path)
    return process_chunk(opened, idx, step_ids, georef, unit_scale, reused, check_placements=check_placements)


def process_chunk(opened: OpenedIfc, idx: RelIndex, step_ids: list[int], georef: Georef,
                  unit_scale: float, reused: frozenset[int] = frozenset(), *,
                  check_placements: bool = False) -> Chunk:
    """Element rows (with bounds, footprint, hash) and mesh rows for ``step_ids``, and the products refused
    because their geometry lies at absurd coordinates or outside the city CRS (left out of both tables).

    Products in ``reused`` get their attribute row only: their geometry comes from the previous version
    (``cim.ingest.reuse``), so they are not given to the kernel. With ``check_placements``
    products placed at absurd positions are refused here (``ifc_health.placement_issues``), before meshing."""
    model = opened.file
    items = [model.by_id(i) for i in step_ids]
    refused: list[Refusal] = []
    to_mesh = [el for el in items if el.id() not in reused]
    matrices = product_matrices(to_mesh)
    if check_placements:
        bad = placement_issues(to_mesh, unit_scale, matrices)
        refused += [(step, found.stage, found.reason) for step, found in bad.items()]
        items = [el for el in items if el.id() not in bad]
        to_mesh = [el for el in to_mesh if el.id() not in bad]
    # Keyed by STEP id: GlobalIds may repeat or be empty (cim.ifc.identity gives each product its own key).
    rows = {el.id(): element_row(el, idx, unit_scale) for el in items}
    for row in rows.values():
        row.update(dict.fromkeys(("xmin", "ymin", "zmin", "xmax", "ymax", "zmax", "geometry_hash", "footprint")))
        row["has_mesh"] = False
    raws = []
    copies = plan_copies(to_mesh, matrices, unit_scale)
    for raw in iter_meshes(model, include=copies.kernel, groups=copies.groups):
        if raw.step_id not in rows:
            continue
        if not np.isfinite(raw.verts).all() or np.abs(raw.verts).max() > ABSURD_M:
            refused.append((raw.step_id, "geometry", "its geometry reaches an absurd size or position "
                            f"({np.nanmax(np.abs(raw.verts)):.3g} m from the model origin)"))
        else:
            raws.append(raw)
    raws = merge_by_product(raws)  # a product with several bodies: one mesh
    facts = mesh_facts([r.verts for r in raws], [r.faces for r in raws], georef.to_city)
    crs = georef.city_crs
    outside = outside_bounds(crs, facts.bounds[:, :3]) | outside_bounds(crs, facts.bounds[:, 3:])
    for i in np.flatnonzero(outside):
        b = facts.bounds[i]
        refused.append((raws[i].step_id, "geometry", f"its geometry spans E {b[0]:.6g}..{b[3]:.6g}, "
                        f"N {b[1]:.6g}..{b[4]:.6g}, H {b[2]:.6g}..{b[5]:.6g}, outside the area of use of the "
                        f"city CRS {crs}"))
    keep = np.flatnonzero(~outside)
    facts = MeshFacts([facts.world[i] for i in keep], facts.bounds[keep], facts.closed[keep],
                      [facts.footprints[i] for i in keep], [facts.hashes[i] for i in keep])
    raws = [raws[i] for i in keep]
    for step_id, _stage, _reason in refused:
        rows.pop(step_id, None)
    wkbs = shapely.to_wkb(np.array(facts.footprints, dtype=object))
    for i, raw in enumerate(raws):
        xmin, ymin, zmin, xmax, ymax, zmax = (float(v) for v in facts.bounds[i])
        rows[raw.step_id].update(xmin=xmin, ymin=ymin, zmin=zmin, xmax=xmax, ymax=ymax, zmax=zmax, has_mesh=True,
                                 geometry_hash=facts.hashes[i], footprint=wkbs[i])
    mesh_cols = {
        "global_id": [rows[r.step_id]["global_id"] for r in raws],
        "vertices": [w.reshape(-1) for w in facts.world],
        "faces": [r.faces.reshape(-1) for r in raws],
        "n_vertices": [len(r.verts) for r in raws],
        "n_triangles": [len(r.faces) for r in raws],
        "is_closed": facts.closed.tolist(),
        "geometry_hash": facts.hashes,
    }
    return Chunk(pa.Table.from_pylist(list(rows.values())), _mesh_table(mesh_cols), refused)


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
