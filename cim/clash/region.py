"""Read part of the city for the clash check, never all of it: the elements whose box reaches a plan window (a
tile), or given elements, with what their declared intent needs; and the city's bounds alone for the coordinator.

The window is a filter on the ``elements`` bounds columns (xmin..ymax), so Parquet row-group statistics skip the
files and row groups that lie elsewhere, and only the rows that reach the window are kept. Relations are read only
where they touch a read element, and a sleeve related to one is read too (``cim.clash.suppress`` needs its box
even when it lies outside the window). Elements keep the order ``load_models`` gives them (models by id, rows in
table order), so a pair is oriented as in the untiled check.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from cim.clash.broad import candidate_pairs
from cim.clash.source import COLUMNS, ElementSet, ModelSource, current_sources, element_key, gids_by_model
from cim.store import Store

BOUNDS = ("xmin", "ymin", "zmin", "xmax", "ymax", "zmax")
INTENT_RELS = ["hosts", "fills", "voids", "connects_ports", "interferes", "aggregates", "nests", "connects"]
SLEEVE_RELS = ("hosts", "connects")  # a sleeve's host or what passes it: the sleeve's row is needed as well
EPS_M = 1e-6  # windows are read this much larger: the exact cut is the tile's own test, never the filter's rounding


@dataclass
class CityIndex:
    """What the coordinator of a tiled check holds per element: its key, box and geometry hash (no rows, no
    meshes), in the order ``load_models`` gives."""

    sources: dict[str, ModelSource]
    keys: list[str]
    bounds: np.ndarray  # (n, 6)
    hashes: list[str]

    def __len__(self) -> int:
        return len(self.keys)


def _current(sources: dict[str, ModelSource], extra: list[tuple]) -> list[list[tuple]]:
    """DNF filters: ``extra`` within the current version of each model."""
    return [[("model_id", "=", m), ("version", "=", s.version), *extra] for m, s in sorted(sources.items())]


def _by_model(table: pa.Table, model_ids) -> dict[str, pa.Table]:
    return {m: table.filter(pc.equal(table["model_id"], m)) for m in sorted(model_ids)}


def city_index(store: Store) -> CityIndex:
    """Keys, boxes and hashes of every element with a mesh in the current models (one narrow scan)."""
    sources = current_sources(store)
    if not sources:
        return CityIndex(sources, [], np.zeros((0, 6)), [])
    table = store.read("elements", columns=["model_id", "global_id", *BOUNDS, "geometry_hash"],
                       filters=_current(sources, [("has_mesh", "=", True)]))
    keys: list[str] = []
    hashes: list[str] = []
    parts = []
    for model_id, part in _by_model(table, sources).items():
        keys += [element_key(model_id, g) for g in part["global_id"].to_pylist()]
        hashes += [h or "" for h in part["geometry_hash"].to_pylist()]
        parts.append(np.column_stack([part[c].to_numpy(zero_copy_only=False) for c in BOUNDS]).astype(np.float64))
    bounds = np.vstack(parts).reshape(-1, 6) if parts else np.zeros((0, 6))
    return CityIndex(sources, keys, bounds, hashes)


def near_changed(index: CityIndex, zone_boxes: list[tuple[str, np.ndarray]], changed: set[str],
                 margin: float) -> list[str]:
    """Keys of the elements an incremental check must read: the changed ones and every element whose box comes
    within ``margin`` of a changed element's or changed zone's box (world boxes), i.e. every element a pair
    touching a change can hold; in the city's order."""
    if not changed or not len(index):
        return []
    wanted = np.array([k in changed for k in index.keys], dtype=bool)
    boxes = [index.bounds[wanted], *(box.reshape(1, 6) for key, box in zone_boxes if key in changed)]
    near = candidate_pairs(np.vstack(boxes).reshape(-1, 6), index.bounds, margin + EPS_M)
    wanted[near[:, 1]] = True
    return [k for k, w in zip(index.keys, wanted, strict=True) if w]


def load_window(store: Store, sources: dict[str, ModelSource], x0: float, y0: float, x1: float,
                y1: float) -> ElementSet:
    """The elements whose box reaches the plan window [x0, x1] x [y0, y1] (and their intent's context)."""
    window = [("xmin", "<=", x1 + EPS_M), ("xmax", ">=", x0 - EPS_M), ("ymin", "<=", y1 + EPS_M),
              ("ymax", ">=", y0 - EPS_M), ("has_mesh", "=", True)]
    return _assemble(store, sources, store.read("elements", columns=COLUMNS, filters=_current(sources, window))
                     if sources else None)


def load_keys(store: Store, sources: dict[str, ModelSource], keys) -> ElementSet:
    """The elements ``keys`` (model_id/GlobalId; others skipped) and their intent's context."""
    return _assemble(store, sources, _read_gids(store, sources, gids_by_model(keys)))


def _read_gids(store: Store, sources: dict[str, ModelSource], gids: dict[str, list[str]]) -> pa.Table | None:
    wanted = {m: s for m, s in sources.items() if gids.get(m)}
    if not wanted:
        return None
    filters = [[("model_id", "=", m), ("version", "=", s.version), ("global_id", "in", gids[m]),
                ("has_mesh", "=", True)] for m, s in sorted(wanted.items())]
    return store.read("elements", columns=COLUMNS, filters=filters)


def _assemble(store: Store, sources: dict[str, ModelSource], elements: pa.Table | None) -> ElementSet:
    out = ElementSet()
    if elements is None or elements.num_rows == 0:
        return out
    per_model = {m: t for m, t in _by_model(elements, set(elements["model_id"].to_pylist())).items()}
    gids = {m: t["global_id"].to_pylist() for m, t in per_model.items()}
    relations = _relations(store, sources, gids)
    rels = _by_model(relations, per_model)
    partners: dict[str, list[str]] = {}
    for model_id, rel in rels.items():
        own = set(gids[model_id])
        for kind, a, b in zip(rel["rel_type"].to_pylist(), rel["relating_global_id"].to_pylist(),
                              rel["related_global_id"].to_pylist(), strict=True):
            if kind in SLEEVE_RELS:
                partners.setdefault(model_id, []).extend(g for g in (a, b) if g not in own)
    for model_id, table in per_model.items():
        out.add_model(sources[model_id], table, rels[model_id])
    extra = _read_gids(store, sources, {m: sorted(set(g)) for m, g in partners.items()})
    if extra is not None:  # context only: outside the window, so never in a pair (the tile's test drops them)
        for model_id, table in _by_model(extra, set(extra["model_id"].to_pylist())).items():
            out.add_model(sources[model_id], table, relations.slice(0, 0))
    return out


def _relations(store: Store, sources: dict[str, ModelSource], gids: dict[str, list[str]]) -> pa.Table:
    """The intent relations that touch one of ``gids`` (per model), from the models' current versions."""
    filters = []
    for model_id, ids in sorted(gids.items()):
        base = [("model_id", "=", model_id), ("version", "=", sources[model_id].version),
                ("rel_type", "in", INTENT_RELS)]
        filters += [[*base, ("relating_global_id", "in", ids)], [*base, ("related_global_id", "in", ids)]]
    return store.read("relations", columns=["model_id", "rel_type", "relating_global_id", "related_global_id"],
                      filters=filters)
