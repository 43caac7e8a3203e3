"""Keep the store's tables quick to read as commits pile up: compact their small files, checkpoint their logs.

Every commit appends one small Parquet file to each table it touches and one entry to the table's Delta log,
and nothing merged them: a read opens every file (about 4 ms each, bench/city.py), and the ``models`` table,
which every read of a versioned table consults, gains a file per model version. Delta's OPTIMIZE (compact)
rewrites a table's small files into a few large ones in a transaction of its own that changes no row
(``dataChange=false``): readers of any version, time travel (``Store.read(version=...)``) and the journal's
roll-back targets are unaffected, as the old files stay until a vacuum, which cim never runs. A checkpoint
then lets the next reader start from it instead of replaying every commit of the log.

deltalake's own ``optimize.compact`` and ``create_checkpoint`` do the work; this module decides when (a table
with at least ``MIN_FILES`` small data files) and takes the store's writer lock around it, so no commit
interleaves. Only files under ``TARGET_FILE_BYTES`` are merged, into files of about that size, which later
compactions leave as they are: each row is rewritten about once, however often a store is compacted.

A long run is compacted while it goes (``compact_during_run``, after each commit): every append of deltalake
(1.6) costs in proportion to the table's files and their statistics (a one-row append: 5.8 ms at one file, 31.8
ms at 200, 56.8 ms at 400 files of 40 columns; 6.2 ms again once compacted), so a writer committing model
after model spent most of a commit on the files of the commits before. The 1M-element bench city (200 commits,
``bench.city``): the writer's CPU 48.8 -> 39.7 s with 1 worker, 47.3 -> 40.3 s with 2; the full ingest 841 -> 794 s
and 479 -> 471 s. A commit's cost no longer grows with the models before it. The price: the files a compaction
replaces stay for time travel, so the store grew 691 -> 752 MB.

The compacted files keep row groups of ``ROW_GROUP_ROWS`` rows. Left to its defaults, the compaction wrote a
city's million meshes as one row group: a revision reads its model's previous rows, and reading one model's
3,947 meshes then decompressed all of them (4.9-20 s instead of 0.04 s), which made a night after a full ingest
of the 200-model bench city take 20-24 s instead of 4-5 s. The rows keep their commit order (a model's rows
together), so a model's read touches one or two row groups; DuckDB reads the groups in parallel.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from cim.store.objects import ObjectPath, is_table, open_table, writer_properties
from cim.store.opened import held
from cim.store.schema import core_tables

log = logging.getLogger(__name__)
MIN_FILES = 32  # below this a read opens few enough files that compacting is not worth a rewrite
ROW_GROUP_ROWS = 65_536  # rows per row group of a compacted file (one model's read: 0.04 s at 1M meshes)
TARGET_FILE_BYTES = 32 << 20  # files under this are merged into files of about this size; larger ones stay
RUN_FILES = 64  # a local store's ``models`` table with this many files is compacted after the commit


@dataclass(frozen=True)
class Compacted:
    table: str
    files_before: int
    files_after: int


def compact(store, min_files: int | None = None) -> list[Compacted]:
    """Compact every core table of ``store`` holding ``min_files`` (default ``MIN_FILES``) small data files or
    more; returns what was done.

    Runs under the store's writer lock, after rolling back whatever a crashed writer left (``Store.recover``).
    """
    least = MIN_FILES if min_files is None else min_files
    done = []
    with store.lock():
        store.recover()
        for name in core_tables():
            path = store.root / name
            if not is_table(path):
                continue
            table = open_table(path)
            sizes = table.get_add_actions(flatten=True).column("size_bytes").to_pylist()
            if sum(1 for size in sizes if size < TARGET_FILE_BYTES) < least:
                continue
            before = len(sizes)
            table.optimize.compact(target_size=TARGET_FILE_BYTES,
                                   writer_properties=writer_properties(path, ROW_GROUP_ROWS))
            table = open_table(path)
            table.create_checkpoint()
            done.append(Compacted(name, before, len(table.file_uris())))
    for item in done:
        log.info("compacted %s: %d files into %d", item.table, item.files_before, item.files_after)
    return done


def compact_during_run(store) -> list[Compacted]:
    """After a commit: compact a local store whose ``models`` table has reached ``RUN_FILES`` files (one per commit
    since the last compaction), quietly. Object stores are compacted at the end of a run only: counting their
    files costs a listing per commit."""
    if isinstance(store.root, ObjectPath):
        return []
    with held(store.root / "models") as table:
        if len(table.file_uris()) < RUN_FILES:
            return []
    return compact_quietly(store)


def compact_quietly(store, min_files: int | None = None) -> list[Compacted]:
    """``compact`` for the end of a run: a failure is logged, never raised (the run's data is already stored)."""
    try:
        return compact(store, min_files)
    except Exception as exc:  # noqa: BLE001 - compaction only saves time for the next readers
        log.warning("the store's tables were not compacted (%s: %s); they stay as they are, readable",
                    type(exc).__name__, exc)
        return []
