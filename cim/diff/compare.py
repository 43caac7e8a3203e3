"""compare_versions: the diff of two stored versions of a model, from stored rows only (no re-tessellation)."""

from __future__ import annotations

import time

import pyarrow as pa

from cim.diff.classify import added_row, pair_rows, removed_row
from cim.diff.geometry import read_meshes
from cim.diff.match import match
from cim.diff.model import CHANGE_CLASSES, Diff
from cim.diff.takeoff import clash_deltas, quantity_deltas
from cim.diff.versions import element_rows, resolve_versions
from cim.store import Store

DETAIL_COLUMNS = ("moved_m", "rotation_deg", "dx", "dy", "dz", "pset", "property", "old_value", "new_value",
                  "old_class", "new_class")


def compare_versions(store: Store, model_id: str, from_version: int | None = None,
                     to_version: int | None = None) -> Diff:
    """What changed in ``model_id`` from ``from_version`` (default: the previous) to ``to_version`` (default:
    the current). Raises DiffError (one line, exit 2 in the CLI) when there is nothing to compare."""
    timings: dict[str, float] = {}
    start = time.perf_counter()
    v_from, v_to = resolve_versions(store, model_id, from_version, to_version)
    notes: list[str] = []
    old, new = element_rows(store, model_id, v_from, notes), element_rows(store, model_id, v_to, notes)
    timings["read"] = time.perf_counter() - start
    matching = match(old, new)
    timings["match"] = time.perf_counter() - start - timings["read"]
    changes = _changes(store, model_id, v_from, v_to, matching)
    timings["classify"] = time.perf_counter() - start - timings["read"] - timings["match"]
    for row in changes:
        row.update({"model_id": model_id, "from_version": v_from, "to_version": v_to})
        for col in DETAIL_COLUMNS:
            row.setdefault(col, None)
    diff = Diff(model_id, v_from, v_to, changes=changes, counts=_counts(changes, matching.unchanged),
                notes=notes, crs=store.crs)
    diff.shapes = _shapes(changes, matching)
    diff.quantity_deltas = quantity_deltas(store, model_id, v_from, v_to, notes)
    diff.clash_deltas = clash_deltas(store, model_id, v_from, v_to, notes)
    timings["total"] = time.perf_counter() - start
    diff.timings = {k: round(v, 3) for k, v in timings.items()}
    return diff


def _changes(store: Store, model_id: str, v_from: int, v_to: int, matching) -> list[dict]:
    geometric = [(o, n) for o, n, _ in matching.pairs
                 if o["geometry_hash"] != n["geometry_hash"] and o["has_mesh"] and n["has_mesh"]]
    meshes = read_meshes(store, model_id, {v_from: [o["global_id"] for o, _ in geometric],
                                           v_to: [n["global_id"] for _, n in geometric]})
    meshes_old, meshes_new = meshes[v_from], meshes[v_to]
    changes = [removed_row(r) for r in matching.removed] + [added_row(r) for r in matching.added]
    for old, new, matched_by in matching.pairs:
        changes.extend(pair_rows(old, new, matched_by, meshes_old, meshes_new))
    order = {c: i for i, c in enumerate(CHANGE_CLASSES)}
    return sorted(changes, key=lambda r: (order[r["change"]], r["global_id"], r.get("pset") or "",
                                          r.get("property") or ""))


def _counts(changes: list[dict], unchanged_pairs: int) -> dict[str, int]:
    """Elements per change class; a matched pair whose rows came out empty (reordered JSON) is unchanged."""
    seen: dict[str, set[str]] = {c: set() for c in CHANGE_CLASSES}
    for row in changes:
        seen[row["change"]].add(row["global_id"])
    counts = {c: len(ids) for c, ids in seen.items()}
    counts["unchanged"] = unchanged_pairs
    return counts


def _shapes(changes: list[dict], matching) -> dict[str, bytes]:
    """Footprints (WKB) of changed elements: the new one, the old one for removed elements."""
    wanted = {r["global_id"] for r in changes}
    shapes = {r["global_id"]: r["footprint"] for r in matching.removed if r.get("footprint")}
    for row in matching.added + [n for _, n, _ in matching.pairs]:
        if row["global_id"] in wanted and row.get("footprint"):
            shapes[row["global_id"]] = row["footprint"]
    return shapes


def record_changes(store: Store, diff: Diff) -> int:
    """Store the diff's rows in ``model_changes`` (one journaled write; a rerun of the same pair of versions
    replaces its rows). Returns the number of rows written."""
    from cim.store.schema import table_schema

    table = pa.Table.from_pylist(diff.changes, schema=table_schema("model_changes", store.crs))
    keys = {"model_id": diff.model_id, "from_version": diff.from_version, "to_version": diff.to_version}
    with store.derived(diff.model_id, diff.to_version) as tx:
        tx.replace_rows_where("model_changes", table, keys)
    return table.num_rows
