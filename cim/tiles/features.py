"""What a tileset shows: the features of the chosen models, read from the store.

A feature is one IFC element with a mesh (from ``meshes``, with its ``elements`` row for metadata) or one
GIS feature given a 3-D form: an existing building of ``buildings_existing`` extruded from the ground by its
``height_m`` (LoD1; see :mod:`cim.tiles.context`) or a buried pipeline of ``pipelines`` as a tube below the
ground (see :mod:`cim.tiles.pipes`). Geometry stays float64 in the city CRS until a tile is
written.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from cim.errors import CimError, StoreError
from cim.store import Store
from cim.tiles.glb import Prop

PROPS = [
    Prop("global_id", "STRING", "IFC GlobalId (elements.global_id), or the GIS feature id"),
    Prop("model_id", "STRING", "The model (models.model_id) or GIS layer name"),
    Prop("version", "INT32", "The model version (models.version)"),
    Prop("phase", "STRING", "Lifecycle phase of the model: plan, build or manage"),
    Prop("kind", "STRING", "ifc (an IFC element) or gis (a GIS feature given a 3-D form)"),
    Prop("ifc_class", "STRING", "IFC entity (elements.ifc_class); empty for GIS features"),
    Prop("name", "STRING", "Name of the element or feature"),
    Prop("storey", "STRING", "Containing building storey (elements.storey)"),
    Prop("systems", "STRING", "Systems the element is in (elements.systems), joined with '; '"),
    Prop("element_key", "STRING", "Link into the store: model_id/version/global_id (elements or the layer table)"),
]
CONTEXT_LAYERS = ("buildings_existing", "pipelines")
_ELEMENT_COLUMNS = ["global_id", "ifc_class", "name", "storey", "systems"]


@dataclass
class Feature:
    """One pickable thing: its properties, its triangles (city CRS, float64) and a digest of both."""

    props: dict
    vertices: np.ndarray  # (n, 3) float64
    faces: np.ndarray  # (m, 3) int64
    digest: str

    @property
    def centre(self) -> np.ndarray:
        return (self.vertices.min(axis=0) + self.vertices.max(axis=0)) / 2.0

    @property
    def n_triangles(self) -> int:
        return int(self.faces.shape[0])


@dataclass
class Selection:
    """The model versions to export (model_id -> models row) and what was left out, with why."""

    models: dict[str, dict]
    notes: list[str] = field(default_factory=list)


def digest(*parts) -> str:
    return hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode("utf-8")).hexdigest()


def select_models(store: Store, models: list[str] | None, version: int | None, phase: str | None) -> Selection:
    """The models rows to draw; an unknown model, version or phase, or a model with nothing to draw, refused."""
    current = {r["model_id"]: r for r in store.current_models().to_pylist()}
    drawable = {m: r for m, r in current.items() if _drawable(r)}
    if not drawable:
        raise StoreError(store.root, "nothing to export: the store has no model with meshes and no context layer",
                         "ingest IFC models first (`make run` or `cim ingest`)", stage="export")
    if version is not None and phase is not None:
        raise CimError(None, "--version and --phase cannot be combined", "give one of them", stage="export")
    if models:
        for name in models:
            if name not in current:
                raise StoreError(store.root, f"no model {name!r} in the store",
                                 f"models with meshes: {', '.join(sorted(drawable))}", stage="export")
            if not _drawable(current[name]):
                raise StoreError(store.root, f"model {name!r} has no meshes to draw",
                                 f"give a model with meshes ({', '.join(sorted(drawable))}) or re-ingest it",
                                 stage="export")
        chosen = {m: current[m] for m in dict.fromkeys(models)}
    else:
        chosen = dict(sorted(drawable.items()))
    if version is not None:
        if len(chosen) != 1:
            raise CimError(None, "--version needs exactly one --model", "e.g. --model block-a --version 1",
                           stage="export")
        (name,) = chosen
        rows = store.read("models", filters=[("model_id", "=", name), ("version", "=", version)]).to_pylist()
        if not rows:
            raise StoreError(store.root, f"model {name!r} has no version {version}",
                             f"its current version is {current[name]['version']}", stage="export")
        chosen = {name: rows[0]}
    if phase is not None:
        chosen = {m: r for m, r in chosen.items() if r["phase"] == phase}
        if not chosen:
            phases = sorted({r["phase"] for r in drawable.values()})
            raise StoreError(store.root, f"no model with meshes is in phase {phase!r}",
                             f"phases in the store: {', '.join(phases)}", stage="export")
    return Selection(chosen)


def _drawable(row: dict) -> bool:
    return (row["kind"] == "ifc" and row["n_meshes"] > 0) or (row["kind"] == "gis" and row["model_id"] in
                                                             CONTEXT_LAYERS and row["n_elements"] > 0)


def ifc_features(store: Store, row: dict) -> list[Feature]:
    """The meshed elements of one IFC model version, with their elements metadata."""
    model_id, version = row["model_id"], row["version"]
    where = [("model_id", "=", model_id), ("version", "=", version)]
    meshes = store.read("meshes", columns=["global_id", "vertices", "faces", "geometry_hash"], filters=where)
    elements = store.read("elements", columns=_ELEMENT_COLUMNS, filters=where)
    meta = {r["global_id"]: r for r in elements.to_pylist()}
    verts, vstart = _flat(meshes["vertices"], np.float64)
    faces, fstart = _flat(meshes["faces"], np.int64)
    out = []
    for i, (gid, ghash) in enumerate(zip(meshes["global_id"].to_pylist(), meshes["geometry_hash"].to_pylist(),
                                         strict=True)):
        element = meta.get(gid, {})
        props = {"global_id": gid, "model_id": model_id, "version": version, "phase": row["phase"], "kind": "ifc",
                 "ifc_class": element.get("ifc_class"), "name": element.get("name"),
                 "storey": element.get("storey"), "systems": "; ".join(element.get("systems") or []),
                 "element_key": f"{model_id}/{version}/{gid}"}
        v = verts[vstart[i]:vstart[i + 1]].reshape(-1, 3)
        f = faces[fstart[i]:fstart[i + 1]].reshape(-1, 3)
        if len(v) and len(f):
            out.append(Feature(props, v, f, digest(props, ghash)))
    return out


def _flat(column: pa.ChunkedArray, dtype) -> tuple[np.ndarray, np.ndarray]:
    """A list column as one flat array and the start of each row (with the end appended)."""
    lists = column.combine_chunks() if column.num_chunks else pa.array([], column.type)
    lengths = pc.fill_null(pc.list_value_length(lists), 0).to_numpy(zero_copy_only=False)
    starts = np.zeros(len(lengths) + 1, dtype=np.int64)
    starts[1:] = np.cumsum(lengths)
    values = pc.list_flatten(lists).to_numpy(zero_copy_only=False).astype(dtype, copy=False)
    return values, starts
