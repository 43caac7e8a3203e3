"""Which rows of the store's versioned tables are committed, read cheaply: the ``models`` table (a version is
committed once its row is there) and the rows of a table whose ``(model_id, version)`` it records."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import unquote

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from cim.store.objects import arrow_dataset
from cim.store.opened import held


class ModelsRead:
    """A local ``models`` table's rows, read again only after a commit, and then only the files it added.

    Why: every read of a versioned table, ``latest`` and ``current_models`` need them (a revision and its clash
    check asked a dozen times), and an ingest of many models reads them twice per commit while the table grows by
    a file per commit (a read of 200 files took longer than the commit). A local table's version is known from
    its log in under 1 ms (``cim.store.opened``); a commit that removed files (a compaction, a roll-back) has the
    table read whole.
    """

    def __init__(self) -> None:
        self._held: tuple | None = None  # (DeltaTable, its version, its file URIs, its rows)

    def rows(self, path: Path) -> pa.Table:
        with held(path) as table:
            version = table.version()
            before = self._held
            if before is not None and before[0] is table and before[1] == version:
                return before[3]
            files = frozenset(table.file_uris())  # from the log: no dataset built (it cost more per file than a read)
            if before is not None and before[0] is table and before[2] <= files:
                added = [pq.read_table(unquote(f.removeprefix("file://")), use_threads=False)  # URIs: %-encoded
                         for f in sorted(files - before[2])]
                rows = pa.concat_tables([before[3], *added], promote_options="permissive")
            else:
                rows = arrow_dataset(table, path).to_table(use_threads=False)
        self._held = (table, version, files, rows)
        return rows


def keep_committed(table: pa.Table, keys: set[tuple[str, int]]) -> pa.Table:
    """Rows whose (model_id, version) is in ``keys``.

    Why not a join of the two columns into strings: a read of one model version holds one pair, and forming a
    string per row cost 0.13 s per 100,000 rows on every read of a large model. The distinct pairs come from a
    hash group-by (2 ms); rows are filtered only when some pair is not wanted, by a number for each pair."""
    if table.num_rows == 0:
        return table
    pairs = table.select(["model_id", "version"]).group_by(["model_id", "version"], use_threads=False).aggregate([])
    present = list(zip(pairs["model_id"].to_pylist(), pairs["version"].to_pylist(), strict=True))
    wanted = [n for n, pair in enumerate(present) if pair in keys]
    if len(wanted) == len(present):
        return table
    if not wanted:
        return table.slice(0, 0)
    models = sorted({m for m, _ in present})
    position = pc.fill_null(pc.index_in(table["model_id"], value_set=pa.array(models, pa.string())), -1)
    version = pc.fill_null(table["version"], -1).to_numpy()
    span = int(version.max()) + 2
    code = position.to_numpy().astype(np.int64) * span + version
    ok = [models.index(m) * span + v for m, v in (present[n] for n in wanted)]
    return table.filter(pa.array(np.isin(code, ok)))
