"""Derived tables as they were for an earlier model version, from their Delta history.

``quantity_summary`` and ``clashes`` keep only the current state; every earlier state is a Delta version of
the table. The takeoff of model version V is the newest state whose rows carry ``version = V``; the clash
state of V is the last clash check committed while V was the model's current version (between its
``ingested_at`` and the next version's).
"""

from __future__ import annotations

from datetime import UTC, datetime

import pyarrow as pa
from deltalake import DeltaTable

from cim.store import Store

MAX_STATES = 500  # how far back in a table's history to look


def _history(store: Store, table: str) -> list[dict]:
    """Commits of a table, newest first: {"version", "timestamp" (UTC datetime)}."""
    if not store.has_table(table):
        return []
    entries = DeltaTable(str(store.table_path(table))).history(limit=MAX_STATES)
    return [{"version": e["version"],
             "timestamp": datetime.fromtimestamp(e["timestamp"] / 1000, tz=UTC)} for e in entries]


def rows_for_version(store: Store, table: str, model_id: str, version: int) -> pa.Table | None:
    """The rows of ``table`` computed from ``model_id`` version ``version``, from the newest state holding them."""
    for entry in _history(store, table):
        try:
            rows = store.read(table, filters=[("model_id", "=", model_id), ("version", "=", version)],
                              version=entry["version"])
        except Exception:  # noqa: BLE001 - a state from before the table had these columns: older ones do too
            return None
        if rows.num_rows:
            return rows
    return None


def state_during(store: Store, table: str, start: datetime, end: datetime | None) -> pa.Table | None:
    """The newest state of ``table`` committed in [start, end) (end None: up to now), or None."""
    for entry in _history(store, table):
        at = entry["timestamp"]
        if at >= start and (end is None or at < end):
            return store.read(table, version=entry["version"])
        if at < start:
            return None
    return None
