"""A local Delta table brought up to date instead of opened again: the store's own reads and commits.

Why: opening a ``deltalake.DeltaTable`` replays its log (5-10 ms a table here, more as the log grows), and one
revision of a model opens a dozen tables, some of them three times (the model's latest version before the plan,
before the commit and in it; each table's version for the roll-back journal). A table this thread opened before
is brought to its newest commit with ``update_incremental`` (under 1 ms: it reads only the log entries written
since), which sees commits of other processes exactly as a new open would.

What keeps it safe:
- per thread: a DeltaTable is one Rust object whose methods may not run in two threads at once;
- per process: a forked child or a worker starts with none (the parent's runtime does not survive a fork);
- checked against the table's first log entry: a table removed and made again (a rolled-back new table) has a new
  one, and is opened afresh;
- only for the store's own short uses (a scan, a version number): a caller that keeps a table as a snapshot (the
  query's catalog) opens its own with ``cim.store.objects.open_table``, which this never moves.
Object stores are opened every time (their log is listed over the network either way).
"""

from __future__ import annotations

import os
import threading
from pathlib import Path
from typing import Any

from cim.store.objects import ObjectPath, open_table

_FIRST_ENTRY = "_delta_log/" + "0" * 20 + ".json"
_local = threading.local()


def newest_table(path: Path | ObjectPath) -> Any:
    """The DeltaTable at ``path`` at its newest commit (opened by this thread before: updated, not reopened)."""
    if isinstance(path, ObjectPath):
        return open_table(path)
    tables = _tables()
    key = str(path)
    mark = _first_entry(key)
    held = tables.get(key)
    if held is not None and mark is not None and held[0] == mark:
        held[1].update_incremental()
        return held[1]
    table = open_table(path)
    if mark is not None:
        tables[key] = (mark, table)
    else:
        tables.pop(key, None)
    return table


def _tables() -> dict[str, tuple[tuple[int, int, int], Any]]:
    if getattr(_local, "pid", None) != os.getpid():
        _local.pid, _local.tables = os.getpid(), {}
    return _local.tables


def _first_entry(path: str) -> tuple[int, int, int] | None:
    """The identity of the table's first log entry, or None (no table, or its first entries were cleaned up)."""
    try:
        st = os.stat(os.path.join(path, _FIRST_ENTRY))
    except OSError:
        return None
    return st.st_ino, st.st_mtime_ns, st.st_size
