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

from cim.config import resolve_source
from cim.errors import CimError, ConfigError, StoreError
from cim.geometry.gross import georef_from_record, gross_meshes, open_model
from cim.geometry.mesh import mesh_rows
from cim.ingest.ifc import file_sha256
from cim.isolated import call_in_child
from cim.qto.aggregate import summary_rows
from cim.qto.compute import STRUCTURAL, base_class, compute, model_geometry
from cim.qto.crosscheck import disagreements, quantity_rows
from cim.qto.export import export_csv, export_xlsx
from cim.qto.incremental import SPATIAL, needed_meshes, plan_reuse, previous_takeoff
from cim.qto.mesh_measures import Mesh, is_watertight, mesh_from_arrays
from cim.qto.more_classes import OWN_BODY
from cim.qto.schema_cols import QUANTITY_COLUMNS, SUMMARY_COLUMNS
from cim.store import Store

__all__ = ["export_csv", "export_xlsx", "takeoff"]
log = logging.getLogger(__name__)
GROSS_CLASSES = {"IfcWall", "IfcSlab", *STRUCTURAL, *OWN_BODY}


def read_meshes(table: pa.Table) -> dict[str, Mesh]:
    """global_id -> Mesh from the ``meshes`` table; a mesh the ingest flagged open counts as closed when its
    shells are watertight and only touch along edges."""
    return {gid: mesh_from_arrays(verts, faces, closed or is_watertight(faces))
            for gid, verts, faces, closed in mesh_rows(table)}


class QtoError(CimError):
    stage = "qto"


def _gross(store: Store, latest: dict, elements: list[dict], relations: list[dict], has_mesh: set[str],
           ifc_path: Path | None, approximate: bool) -> tuple[dict[str, Mesh], str]:
    """Gross meshes of the hosts with openings (among the meshes read), and where they came from.

    They need the ingested IFC file again. When it cannot be found, or is not the file of this version,
    the takeoff is refused (nothing is written) unless ``approximate``: then gross = net + openings, flagged."""
    hosts = {r["relating_global_id"] for r in relations if r["rel_type"] == "voids"}
    wanted = [e["global_id"] for e in elements if e["global_id"] in hosts and e["global_id"] in has_mesh
              and base_class(e["ifc_class"]) in GROSS_CLASSES]
    if not wanted:
        return {}, "no hosts with openings"
    path = Path(ifc_path) if ifc_path else resolve_source(latest["source_path"], latest.get("source_root"))
    try:
        if not path.is_file():
            raise QtoError(path, f"the IFC file of {latest['model_id']!r} version {latest['version']} is not "
                           f"there, and {len(wanted)} host(s) with openings need it for gross quantities",
                           "pass --ifc path/to/the/ingested.ifc, or --approximate to accept gross = net + "
                           "openings flagged unreliable")
        if file_sha256(path) != latest["sha256"]:
            raise QtoError(path, f"this file changed since version {latest['version']} of {latest['model_id']!r} "
                           "was ingested", "ingest it again first (cim ingest), pass --ifc with the ingested file, "
                           "or --approximate to accept gross = net + openings flagged unreliable")
        georef = georef_from_record(json.loads(latest["georef"]))
        # read in a child process: IfcOpenShell never frees a parsed file (cim.isolated)
        raw = call_in_child(_gross_from_file, path, georef, wanted, path=path)
    except (CimError, OSError) as exc:
        if not approximate:
            raise exc if isinstance(exc, QtoError) else QtoError(path, f"gross meshes unavailable: {exc}",
                                                                 "pass --approximate to accept gross = net + "
                                                                 "openings flagged unreliable") from exc
        log.warning("gross meshes unavailable (%s): gross = net + openings, flagged unreliable", exc)
        return {}, f"unavailable: {exc}"
    return {gid: mesh_from_arrays(v, f) for gid, (v, f) in raw.items()}, f"tessellated from {path}"


def _gross_from_file(path: Path, georef, wanted: list[str]) -> dict:
    return gross_meshes(open_model(path), georef, wanted)


def _table(rows: list[dict], columns: dict[str, pa.DataType]) -> pa.Table:
    return pa.Table.from_pylist(rows, schema=pa.schema([(n, t) for n, t in columns.items()]))


def _origin(elements: list[dict]) -> np.ndarray | None:
    """The model frame of plans: the lower corner of all element bounds (the same for a partial read)."""
    lows = [(e["xmin"], e["ymin"], e["zmin"]) for e in elements if e.get("xmin") is not None]
    return np.min(np.array(lows, np.float64), axis=0) if lows else None


def _read_meshes(store: Store, model_id: str, version: int, only: set[str] | None) -> dict[str, Mesh]:
    filters = [("model_id", "=", model_id), ("version", "=", version)]
    if only is not None:
        if not only:
            return {}
        filters.append(("global_id", "in", sorted(only)))
    return read_meshes(store.read("meshes", filters=filters))


def _reuse(store: Store, model_id: str, version: int, elements: list[dict], relations: list[dict]) -> dict:
    """Previous quantities of the unchanged elements: none without a takeoff of an earlier version (a takeoff
    run again on the same version measures everything, e.g. with another IFC file or newer code)."""
    prev_version, prev_rows = previous_takeoff(store, model_id)
    if prev_version is None or prev_version >= version:
        return {}
    prev_elements = store.read_model("elements", model_id, prev_version).to_pylist()
    prev_relations = store.read_model("relations", model_id, prev_version).to_pylist()
    return plan_reuse(elements, relations, prev_elements, prev_relations, prev_rows)


def takeoff(store: Store, model_id: str, ifc_path: Path | None = None, city_crs: str | None = None, *,
            full: bool = False, approximate: bool = False) -> dict:
    """Compute the quantities of the current version of ``model_id`` and replace its rows in ``quantities`` and
    ``quantity_summary``. ``ifc_path`` overrides the file the model was ingested from (needed only for gross
    meshes of hosts with openings; it must be the current version's file, same SHA-256, else the takeoff is
    refused and nothing is written, unless ``approximate``: then gross = net + openings, flagged); ``city_crs``
    if given must be the store's. Elements whose geometry and
    partners (openings, fillers, parts, storey members) are unchanged since the stored takeoff keep their
    quantities (from a takeoff of an earlier version); ``full`` measures everything again. Returns counts."""
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
    reused = {} if full else _reuse(store, model_id, version, elements, relations)
    todo = {e["global_id"] for e in elements} - set(reused)
    net = _read_meshes(store, model_id, version, needed_meshes(elements, relations, todo) if reused else None)
    gross, gross_source = _gross(store, latest, [e for e in elements if e["global_id"] in net], relations, set(net),
                                 ifc_path, approximate)
    computed = compute(elements, model_geometry(net, gross, relations, elements, _origin(elements)),
                       todo if reused else None)
    quantities = {**{g: qs for g, qs in reused.items() if qs}, **computed}
    rows = [r for el in elements for r in quantity_rows(el, quantities.get(el["global_id"], []))]
    summary = summary_rows(rows, {e["global_id"]: e for e in elements}, model_id)
    with store.derived(model_id, version) as tx:  # both tables or neither
        tx.replace_model_rows("quantities", _table(rows, QUANTITY_COLUMNS))
        tx.replace_model_rows("quantity_summary", _table(summary, SUMMARY_COLUMNS))
    values = np.array([r["reliable"] for r in rows if r["method"] == "computed"], bool)
    spatial = {e["global_id"] for e in elements if e["ifc_class"] in SPATIAL}
    return {"model_id": model_id, "version": version, "n_elements": len(quantities), "n_quantities": len(rows),
            "n_computed": int(values.size), "n_unreliable": int((~values).sum()),
            "n_disagreements": sum(len(v) for v in disagreements(rows).values()), "n_summary": len(summary),
            "n_reused": sum(1 for g, qs in reused.items() if qs and g not in spatial),
            "n_recomputed": sum(1 for g in computed if g not in spatial),
            "n_spatial_recomputed": sum(1 for g in computed if g in spatial),
            "gross": gross_source, "seconds": round(time.perf_counter() - started, 3)}
