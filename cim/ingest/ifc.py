"""Ingest one IFC file: open, georeference, mesh and describe every product, build LoD1 buildings."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import ifcopenshell.util.placement
import ifcopenshell.util.unit
import numpy as np
import pyarrow as pa

from cim.buildings import buildings_table
from cim.config import ModelSettings
from cim.errors import InputError
from cim.georef import Georef, resolve_georef
from cim.ifc.elements import products
from cim.ifc.identity import identity_warnings
from cim.ifc.reader import OpenedIfc, open_ifc
from cim.ifc.relations import RelIndex, build_index, relation_rows
from cim.ingest.ifc_chunks import prime, process_chunk, process_chunk_in_worker, release
from cim.store import ModelCommit
from cim.store.delta import now_utc
from cim.workers import process_pool

Progress = Callable[[int], None]
T = TypeVar("T")
CHUNKS_PER_WORKER = 4


def file_sha256(path: str | Path) -> str:
    h = hashlib.sha256()
    with Path(path).open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def prepare_ifc(path: str | Path, city_crs: str, settings: ModelSettings, *, workers: int = 1,
                progress: Progress | None = None, sha256: str | None = None) -> ModelCommit:
    """Everything one model version writes, ready for ``Store.commit``. Raises CimError on bad input."""
    path = Path(path)
    opened = open_ifc(path)
    unit_scale = ifcopenshell.util.unit.calculate_unit_scale(opened.file)
    georef = resolve_georef(opened.file, path, city_crs, settings.placement)
    step_ids = [p.id() for p in products(opened.file)]
    if not step_ids:
        raise InputError(path, "the file has no products (no IfcProduct: no site, building or element), so there "
                         "is nothing to store", "export the model with its spatial structure and elements")
    idx = build_index(opened.file)

    def model_wide() -> tuple[pa.Table, dict]:  # runs in this process while the workers mesh
        return _relations_table(relation_rows(opened.file, idx)), storey_heights(opened, georef, unit_scale, idx)

    elements, meshes, (relations, storeys) = _process(opened, idx, step_ids, georef, unit_scale, workers, progress,
                                                      model_wide)
    buildings = buildings_table(elements, storeys)
    identity = identity_warnings(opened.file, idx.identity)
    warnings = [*opened.warnings, *georef.warnings, *_identity_summary(identity)]
    sha256 = sha256 or file_sha256(path)
    record = {
        "kind": "ifc",
        "phase": settings.phase,
        "source_path": str(path),
        "source_layer": None,
        "sha256": sha256,
        "settings_hash": settings.fingerprint(city_crs),
        "size_bytes": path.stat().st_size,
        "schema": opened.schema,
        "authoring_application": opened.authoring_application,
        "crs": city_crs,
        "source_crs": georef.source_crs,
        "georef_level": georef.level,
        "georef_method": georef.method,
        "georef": _json(georef.as_record()),
        "status": "warning" if warnings else "ok",
        "message": "\n".join(warnings) or None,
        "n_elements": elements.num_rows,
        "n_meshes": meshes.num_rows,
    }
    tables = {"elements": elements, "meshes": meshes, "buildings": buildings, "relations": relations}
    errors = [{"at": now_utc(), "source_path": str(path), "sha256": sha256, "stage": "identity",
               "error_type": "GlobalIdWarning", "feature_id": key, "message": f"{path}: {message}"}
              for key, message in identity]
    return ModelCommit(model_id=settings.model_id or path.stem, record=record, tables=tables, errors=errors)


def _identity_summary(identity: list[tuple[str, str]]) -> list[str]:
    """One warning line for the model record; the details are rows in ingest_errors (stage identity)."""
    if not identity:
        return []
    return [f"{len(identity)} GlobalId problem(s), every product stored under its own key: {identity[0][1]}"
            + (f"; {len(identity) - 1} more in ingest_errors (stage identity)" if len(identity) > 1 else "")]


def _relations_table(rels: list[tuple[str, str, str]]) -> pa.Table:
    return pa.table({"rel_type": [r[0] for r in rels], "relating_global_id": [r[1] for r in rels],
                     "related_global_id": [r[2] for r in rels]},
                    schema=pa.schema([("rel_type", pa.string()), ("relating_global_id", pa.string()),
                                      ("related_global_id", pa.string())]))


def _process(opened: OpenedIfc, idx: RelIndex, step_ids: list[int], georef: Georef, unit_scale: float,
             workers: int, progress: Progress | None, side_work: Callable[[], T]) -> tuple[pa.Table, pa.Table, T]:
    """Per-element work in chunks (in worker processes when asked); ``side_work`` overlaps with it."""
    if workers <= 1 or len(step_ids) < 200:
        side = side_work()
        parts = []
        for chunk in _chunks(step_ids, max(1, -(-len(step_ids) // CHUNKS_PER_WORKER))):
            parts.append(process_chunk(opened, idx, chunk, georef, unit_scale))
            if progress:
                progress(len(chunk))
        return (*_concat(parts), side)
    chunks = list(_chunks(step_ids, max(1, len(step_ids) // (workers * CHUNKS_PER_WORKER))))
    path = str(Path(opened.path).resolve())
    prime(path, opened, idx)  # fork-started workers inherit the parsed model (copy-on-write)
    try:
        with process_pool(workers) as pool:  # workers die with this process; an exception stops them at once
            futures = [pool.submit(process_chunk_in_worker, path, c, georef, unit_scale) for c in chunks]
            side = side_work()
            parts = []
            for chunk, fut in zip(chunks, futures, strict=True):
                parts.append(fut.result())
                if progress:
                    progress(len(chunk))
    finally:
        release()
    return (*_concat(parts), side)


def _chunks(ids: list[int], size: int):
    for i in range(0, len(ids), size):
        yield ids[i:i + size]


def _concat(parts: list[tuple[pa.Table, pa.Table]]) -> tuple[pa.Table, pa.Table]:
    elements = pa.concat_tables([p[0] for p in parts], promote_options="permissive")
    meshes = pa.concat_tables([p[1] for p in parts], promote_options="permissive")
    return elements, meshes


def storey_heights(opened: OpenedIfc, georef: Georef, unit_scale: float,
                   idx: RelIndex | None = None) -> dict[str, tuple[float, float]]:
    """(world height above the city datum, height in the model) of each storey, by stored key (GlobalId)."""
    out = {}
    for storey in opened.file.by_type("IfcBuildingStorey"):
        if storey.ObjectPlacement is None:
            continue
        matrix = ifcopenshell.util.placement.get_local_placement(storey.ObjectPlacement)
        local = np.array([[matrix[0, 3], matrix[1, 3], matrix[2, 3]]]) * unit_scale
        out[idx.key(storey) if idx else storey.GlobalId] = (float(georef.to_city(local)[0, 2]), float(local[0, 2]))
    return out


def _json(value: dict) -> str:
    return json.dumps(value, sort_keys=True, default=str)
