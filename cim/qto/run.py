"""The takeoff of one model: read the current version, measure, cross-check, write both tables.

Public: :func:`takeoff`, :func:`export_csv`, :func:`export_xlsx` (the exporters live in cim.qto.export).
"""

from __future__ import annotations

import json
import logging
import time
from pathlib import Path

import numpy as np
import pyarrow as pa

from cim.errors import CimError, ConfigError, StoreError
from cim.geometry.gross import georef_from_record, gross_meshes, open_model
from cim.ingest.ifc import file_sha256
from cim.qto.aggregate import summary_rows
from cim.qto.compute import STRUCTURAL, base_class, compute, model_geometry
from cim.qto.crosscheck import disagreements, quantity_rows
from cim.qto.export import export_csv, export_xlsx
from cim.qto.mesh_measures import Mesh, mesh_from_arrays
from cim.qto.schema_cols import QUANTITY_COLUMNS, SUMMARY_COLUMNS
from cim.store import Store

__all__ = ["export_csv", "export_xlsx", "takeoff"]
log = logging.getLogger(__name__)
GROSS_CLASSES = {"IfcWall", "IfcSlab", *STRUCTURAL}


def read_meshes(table: pa.Table) -> dict[str, Mesh]:
    """global_id -> Mesh from the ``meshes`` table, slicing the flat list columns once."""
    if table.num_rows == 0:
        return {}
    verts_col = table.column("vertices").combine_chunks()
    faces_col = table.column("faces").combine_chunks()
    v_off, v_all = verts_col.offsets.to_numpy(), verts_col.values.to_numpy(zero_copy_only=False)
    f_off, f_all = faces_col.offsets.to_numpy(), faces_col.values.to_numpy(zero_copy_only=False)
    out = {}
    for i, (gid, closed) in enumerate(zip(table.column("global_id").to_pylist(),
                                          table.column("is_closed").to_pylist(), strict=True)):
        verts = v_all[v_off[i]:v_off[i + 1]].reshape(-1, 3)
        faces = f_all[f_off[i]:f_off[i + 1]].reshape(-1, 3)
        out[gid] = mesh_from_arrays(verts, faces, bool(closed))
    return out


def _gross(store: Store, latest: dict, elements: list[dict], relations: list[dict], has_mesh: set[str],
           ifc_path: Path | None) -> tuple[dict[str, Mesh], str]:
    """Gross meshes of the hosts with openings, and where they came from."""
    hosts = {r["relating_global_id"] for r in relations if r["rel_type"] == "voids"}
    wanted = [e["global_id"] for e in elements if e["global_id"] in hosts and e["global_id"] in has_mesh
              and base_class(e["ifc_class"]) in GROSS_CLASSES]
    if not wanted:
        return {}, "no hosts with openings"
    path = Path(ifc_path or latest["source_path"])
    try:
        if file_sha256(path) != latest["sha256"]:
            log.warning("%s changed since version %s was ingested: gross = net + openings", path, latest["version"])
            return {}, f"{path} changed since ingest: approximate"
        model = open_model(path)
        georef = georef_from_record(json.loads(latest["georef"]))
        raw = gross_meshes(model, georef, wanted)
    except (CimError, OSError) as exc:
        log.warning("gross meshes unavailable (%s): gross = net + openings, flagged unreliable", exc)
        return {}, f"unavailable: {exc}"
    return {gid: mesh_from_arrays(v, f) for gid, (v, f) in raw.items()}, f"tessellated from {path}"


def _table(rows: list[dict], columns: dict[str, pa.DataType]) -> pa.Table:
    return pa.Table.from_pylist(rows, schema=pa.schema([(n, t) for n, t in columns.items()]))


def takeoff(store: Store, model_id: str, ifc_path: Path | None = None, city_crs: str | None = None) -> dict:
    """Compute the quantities of the current version of ``model_id`` and replace its rows in ``quantities`` and
    ``quantity_summary``. ``ifc_path`` overrides the file the model was ingested from (needed only for gross
    meshes of hosts with openings; it must be the current version's file, same SHA-256, else gross falls back
    to net + openings, flagged); ``city_crs`` if given must be the store's. Returns counts for logs."""
    started = time.perf_counter()
    latest = store.latest(model_id)
    if latest is None:
        raise StoreError(store.root, f"no model {model_id!r} in the store", "ingest it first with `cim ingest`")
    if latest["kind"] != "ifc":
        raise StoreError(store.root, f"{model_id!r} is a GIS layer", "quantity takeoff needs an IFC model")
    if city_crs and city_crs.strip().upper() != str(latest["crs"]).strip().upper():
        raise ConfigError(None, f"city CRS {city_crs} differs from the store's {latest['crs']}",
                          "run the takeoff with the store's CRS")
    version = latest["version"]
    elements = store.read_model("elements", model_id, version).to_pylist()
    relations = store.read_model("relations", model_id, version).to_pylist()
    net = read_meshes(store.read_model("meshes", model_id, version))
    gross, gross_source = _gross(store, latest, elements, relations, set(net), ifc_path)
    computed = compute(elements, model_geometry(net, gross, relations))
    rows = [r for el in elements for r in quantity_rows(el, computed.get(el["global_id"], []))]
    summary = summary_rows(rows, {e["global_id"]: e for e in elements}, model_id)
    store.replace_derived("quantities", model_id, version, _table(rows, QUANTITY_COLUMNS))
    store.replace_derived("quantity_summary", model_id, version, _table(summary, SUMMARY_COLUMNS))
    values = np.array([r["reliable"] for r in rows if r["method"] == "computed"], bool)
    return {"model_id": model_id, "version": version, "n_elements": len(computed), "n_quantities": len(rows),
            "n_computed": int(values.size), "n_unreliable": int((~values).sum()),
            "n_disagreements": sum(len(v) for v in disagreements(rows).values()), "n_summary": len(summary),
            "gross": gross_source, "seconds": round(time.perf_counter() - started, 3)}
