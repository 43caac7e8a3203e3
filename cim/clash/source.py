"""What the clash engine checks, read from a store: element rows, bounds, relations, and meshes on demand.

Meshes are read only for elements that survive the broad phase, so a city-wide check reads a small part
of the ``meshes`` table.
"""

from __future__ import annotations

from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from cim.geometry.mesh import mesh_rows
from cim.store import Store

COLUMNS = ["model_id", "version", "global_id", "ifc_class", "predefined_type", "name", "object_type", "storey",
           "parent_global_id", "systems", "psets", "xmin", "ymin", "zmin", "xmax", "ymax", "zmax", "has_mesh",
           "geometry_hash"]
MESH_COLUMNS = ["global_id", "vertices", "faces", "is_closed"]
Mesh = tuple[np.ndarray, np.ndarray, bool]  # world vertices (n, 3), faces (m, 3), closed


def element_key(model_id: str, global_id: str) -> str:
    return f"{model_id}/{global_id}"


@dataclass
class ModelSource:
    store: Store
    model_id: str
    version: int
    phase: str


@dataclass
class ElementSet:
    """Elements with a body mesh from one or more models (maybe from different stores)."""

    rows: list[dict] = field(default_factory=list)
    relations: list[dict] = field(default_factory=list)
    sources: dict[str, ModelSource] = field(default_factory=dict)
    _index: dict[str, int] = field(default_factory=dict)
    _bounds: np.ndarray | None = None
    early: EarlyMeshes | None = None  # meshes read ahead, while the rows are read and the pairs found

    def __len__(self) -> int:
        return len(self.rows)

    @property
    def bounds(self) -> np.ndarray:
        if self._bounds is None:
            cols = ("xmin", "ymin", "zmin", "xmax", "ymax", "zmax")
            self._bounds = np.array([[r[c] for c in cols] for r in self.rows], dtype=np.float64).reshape(-1, 6)
        return self._bounds

    def __contains__(self, key: str) -> bool:
        return key in self._index

    def index(self, key: str) -> int:
        return self._index[key]

    def add_model(self, source: ModelSource, elements: pa.Table, relations: pa.Table) -> None:
        elements = elements.filter(pc.equal(elements["has_mesh"], True))
        for row in elements.select(COLUMNS).to_pylist():
            row["phase"] = source.phase
            row["key"] = element_key(source.model_id, row["global_id"])
            self._index[row["key"]] = len(self.rows)
            self.rows.append(row)
        for rel in relations.select(["rel_type", "relating_global_id", "related_global_id"]).to_pylist():
            rel["model_id"] = source.model_id
            self.relations.append(rel)
        self.sources[source.model_id] = source
        self._bounds = None

    def meshes(self, keys: Iterable[str]) -> dict[str, Mesh]:
        if self.early is None:
            return read_meshes(self.sources, keys)
        keys = list(keys)
        early = self.early.take(keys)  # waits for the read: no scan is left running when the check forks
        return {**early, **read_meshes(self.sources, [k for k in keys if k not in early])}


def read_meshes(sources: dict[str, ModelSource], keys: Iterable[str]) -> dict[str, Mesh]:
    """World meshes of ``keys`` (model_id/GlobalId), one filtered scan per model; other keys are skipped."""
    out: dict[str, Mesh] = {}
    for model_id, table in mesh_tables(sources, keys).items():
        out.update(_keyed(model_id, table))
    return out


def mesh_tables(sources: dict[str, ModelSource], keys: Iterable[str]) -> dict[str, pa.Table]:
    """model_id -> the ``meshes`` rows of ``keys`` in that model (one filtered scan per model)."""
    out = {}
    for model_id, gids in gids_by_model(keys).items():
        src = sources.get(model_id)
        if src is None:  # a zone or a model not in this set: nothing to read
            continue
        out[model_id] = src.store.read("meshes", columns=MESH_COLUMNS, filters=[
            ("model_id", "=", model_id), ("version", "=", src.version), ("global_id", "in", gids)])
    return out


class EarlyMeshes:
    """The meshes of elements an incremental check will likely test, read in a thread from the start.

    Why: the scan decodes every mesh of the model's version whatever the filter keeps (0.11 s of a 50,000-element
    model's 0.6 s check), and the rows to read are known (the changed elements and those near them) before the
    check reads their rows and finds its pairs, which the scan then overlaps (Arrow decodes outside the GIL).
    Keys not read ahead are read when asked for, as without it.
    """

    def __init__(self, sources: dict[str, ModelSource], keys: list[str]) -> None:
        pool = ThreadPoolExecutor(1, thread_name_prefix="cim-early-meshes")
        self._future = pool.submit(mesh_tables, sources, keys)
        pool.shutdown(wait=False)  # the thread ends with its one read

    def take(self, keys: list[str]) -> dict[str, Mesh]:
        """The meshes of ``keys`` among those read ahead (waits for the read; raises what it raised)."""
        wanted = gids_by_model(keys)
        out: dict[str, Mesh] = {}
        for model_id, table in self._future.result().items():
            if model_id in wanted:
                rows = table.filter(pc.is_in(table["global_id"], pa.array(wanted[model_id], pa.string())))
                out.update(_keyed(model_id, rows))
        return out


def gids_by_model(keys: Iterable[str]) -> dict[str, list[str]]:
    """model_id -> the GlobalIds of ``keys`` (model_id/GlobalId) in it, in their order."""
    out: dict[str, list[str]] = {}
    for key in keys:
        model_id, _, gid = key.partition("/")
        out.setdefault(model_id, []).append(gid)
    return out


def current_sources(store: Store) -> dict[str, ModelSource]:
    """The current version of every IFC model in ``store``, without reading any element."""
    return {m["model_id"]: ModelSource(store, m["model_id"], m["version"], m["phase"])
            for m in store.current_models().to_pylist() if m["kind"] == "ifc"}


def load_models(store: Store, model_ids: Iterable[str] | None = None, into: ElementSet | None = None) -> ElementSet:
    """The current version of every IFC model in ``store`` (or of ``model_ids``) added to an ElementSet."""
    out = into or ElementSet()
    wanted = set(model_ids) if model_ids is not None else None
    for model_id, src in sorted(current_sources(store).items()):
        if wanted is not None and model_id not in wanted:
            continue
        current = [("model_id", "=", src.model_id), ("version", "=", src.version)]
        elements = store.read("elements", columns=COLUMNS, filters=current)  # not the footprints and materials
        relations = store.read("relations", filters=current)
        out.add_model(src, elements, relations)
    return out


def _keyed(model_id: str, table: pa.Table) -> dict[str, Mesh]:
    """The meshes of ``table`` (``meshes`` rows of one model) by element key."""
    return {element_key(model_id, gid): (verts, faces, closed) for gid, verts, faces, closed in mesh_rows(table)}
