"""A local Delta table brought up to date instead of opened again: the store's own reads, commits and appends.

Why: opening a ``deltalake.DeltaTable`` replays its log (5-10 ms a table here, more as the log grows), and one
revision of a model opens a dozen tables, some of them three times (the model's latest version before the plan,
before the commit and in it; each table's version for the roll-back journal). ``write_deltalake`` given a path
opens the table again for every append too (half of a small append's time once a table has a hundred commits).
A table this process opened before is brought to its newest commit with ``update_incremental`` (under 1 ms: it
reads only the log entries written since), which sees commits of other processes exactly as a new open would.

What keeps it safe:
- one thread at a time per table (``held``): a DeltaTable is one Rust object whose methods may not run in two
  threads at once, and an append updates it;
- per process: a forked child or a worker starts with none (the parent's runtime does not survive a fork);
- checked against the table's first log entry: a table removed and made again (a rolled-back new table, a store
  restored from a copy) has a new one, and is opened afresh; so is one whose log no longer follows on;
- only for the store's own short uses (a scan's file list, a version number, an append): a caller that keeps a
  table as a snapshot (the query's catalog) opens its own with ``cim.store.objects.open_table``, which this
  never moves.
Object stores are opened every time (their log is listed over the network either way).
"""

from __future__ import annotations

import contextlib
import os
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cim.store.objects import ObjectPath, open_table, write_table, writer_properties

_FIRST_ENTRY = "_delta_log/" + "0" * 20 + ".json"


@dataclass
class _Entry:
    mark: tuple[int, int, int, int] | None = None  # the first log entry's identity when the table was opened
    table: Any = None
    lock: threading.RLock = field(default_factory=threading.RLock)


_entries: dict[str, _Entry] = {}
_guard = threading.Lock()
_inherited: list[dict[str, _Entry]] = []


def _forget_all() -> None:
    """In a forked child: no table of the parent's (nor a lock another of its threads held at the fork). The
    parent's tables are kept, not dropped: their Rust side may wait on runtime threads a fork does not copy."""
    global _entries, _guard
    _inherited.append(_entries)
    _entries, _guard = {}, threading.Lock()


os.register_at_fork(after_in_child=_forget_all)


@contextlib.contextmanager
def held(path: Path | ObjectPath) -> Iterator[Any]:
    """The DeltaTable at ``path`` at its newest commit, for this thread alone until the block ends (opened by
    this process before: updated, not reopened)."""
    if isinstance(path, ObjectPath):
        yield open_table(path)
        return
    entry = _entry(str(path))
    with entry.lock:
        mark = _first_entry(str(path))
        same = entry.table is not None and mark is not None and entry.mark == mark
        if same:
            try:
                entry.table.update_incremental()
            except Exception:  # noqa: BLE001 - a log that no longer follows from this snapshot: open it afresh
                same = False
        if not same:  # also whenever the first entry is gone (its identity unknown): opened every time
            entry.table, entry.mark = open_table(path), mark
        try:
            yield entry.table
        except BaseException:
            entry.table = None  # a failed use (a refused append) may leave it anywhere: open it afresh next time
            raise


def newest_version(path: Path | ObjectPath) -> int:
    with held(path) as table:
        return table.version()


def append(path: Path | ObjectPath, data, **kwargs) -> None:
    """``write_deltalake(..., mode="append")`` through the table held here, not a fresh open of it."""
    if isinstance(path, ObjectPath) or _first_entry(str(path)) is None:
        write_table(path, data, mode="append", **kwargs)
        return
    from deltalake import write_deltalake

    kwargs.setdefault("writer_properties", writer_properties(path))
    with held(path) as table:
        write_deltalake(table, data, mode="append", **kwargs)


def _entry(path: str) -> _Entry:
    with _guard:
        return _entries.setdefault(path, _Entry())


def _first_entry(path: str) -> tuple[int, int, int, int] | None:
    """The identity of the table's first log entry, or None (no table, or its first entries were cleaned up).
    The change time too: a store restored from a copy (``cp -a``, ``shutil.copytree``) keeps the modification
    times and may get the same inode numbers back, but its files' change time is new."""
    try:
        st = os.stat(os.path.join(path, _FIRST_ENTRY))
    except OSError:
        return None
    return st.st_ino, st.st_mtime_ns, st.st_ctime_ns, st.st_size
