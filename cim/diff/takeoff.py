"""Quantity and clash deltas between two model versions, from the takeoff and clash states of each."""

from __future__ import annotations

from datetime import datetime

from cim.diff.history import rows_for_version, state_during
from cim.store import Store

GROUPS = ("class", "storey", "material")
OPEN = ("new", "active", "approved")
CLASH_FIELDS = ("clash_id", "rule", "mode", "severity", "a_model", "a_global_id", "a_class", "a_name",
                "b_model", "b_global_id", "b_class", "b_name", "x", "y", "z")


def _totals(store: Store, model_id: str, version: int) -> dict[tuple, tuple[float, str]] | None:
    rows = rows_for_version(store, "quantity_summary", model_id, version)
    if rows is None:
        return None
    return {(r["group_by"], r["key"], r["qset"], r["quantity"]): (r["total"], r["unit"])
            for r in rows.to_pylist() if r["group_by"] in GROUPS}


def quantity_deltas(store: Store, model_id: str, v_from: int, v_to: int, notes: list[str]) -> list[dict]:
    """Per class, storey and material: each summed quantity that changed (old, new, delta; 0 when absent)."""
    old, new = _totals(store, model_id, v_from), _totals(store, model_id, v_to)
    for v, totals in ((v_from, old), (v_to, new)):
        if totals is None:
            notes.append(f"no quantity takeoff is stored for version {v}: quantity deltas need one for both "
                         f"versions (`cim qto {model_id}` after each ingest; `cim ingest` runs it)")
    if old is None or new is None:
        return []
    rows = []
    for key in sorted(old.keys() | new.keys()):
        a, b = old.get(key, (0.0, None)), new.get(key, (0.0, None))
        delta = b[0] - a[0]
        if abs(delta) > 1e-9:
            rows.append({"group_by": key[0], "key": key[1], "qset": key[2], "quantity": key[3],
                         "unit": b[1] or a[1], "old": a[0], "new": b[0], "delta": delta})
    return rows


def _open_clashes(store: Store, model_id: str, start: datetime, end: datetime | None) -> dict[str, dict] | None:
    state = state_during(store, "clashes", start, end)
    if state is None:
        return None
    return {r["clash_id"]: {k: r.get(k) for k in CLASH_FIELDS} for r in state.to_pylist()
            if r["status"] in OPEN and model_id in (r["a_model"], r["b_model"])}


def clash_deltas(store: Store, model_id: str, v_from: int, v_to: int, notes: list[str]) -> dict[str, list]:
    """Clashes of the model open after a check of ``v_to`` and not of ``v_from`` (new), and the reverse (resolved)."""
    models = {r["version"]: r["ingested_at"] for r in store.read(
        "models", columns=["version", "ingested_at"], filters=[("model_id", "=", model_id)]).to_pylist()}
    ordered = sorted(models)

    def window(v: int) -> tuple[datetime, datetime | None]:
        later = [x for x in ordered if x > v]
        return models[v], models[later[0]] if later else None

    old, new = _open_clashes(store, model_id, *window(v_from)), _open_clashes(store, model_id, *window(v_to))
    for v, state in ((v_from, old), (v_to, new)):
        if state is None:
            notes.append(f"no clash check ran while version {v} was current: clash deltas need one for both "
                         "versions (`cim clash check` after each ingest; the nightly flow runs it)")
    if old is None or new is None:
        return {"new": [], "resolved": []}
    return {"new": [new[k] for k in sorted(new.keys() - old.keys())],
            "resolved": [old[k] for k in sorted(old.keys() - new.keys())]}
