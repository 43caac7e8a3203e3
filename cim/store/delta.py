"""The store: Delta Lake tables under one folder. The only module that knows the storage format.

A model's ingest touches several tables; Delta commits are atomic per table only. The ``models``
table is therefore the commit point (readers join on it, so rows of an unfinished ingest are never
"current"), and a journal written before the first table and removed after ``models`` lets the
next writer restore every touched table to its previous version after a crash or kill.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import logging
import os
import shutil
import signal
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from deltalake import DeltaTable, write_deltalake

from cim import __version__
from cim.errors import StoreError
from cim.store.schema import conform, core_tables, table_schema

log = logging.getLogger(__name__)

VERSIONED_TABLES = ("elements", "meshes", "buildings", "relations")
META_DIR = "_cim"
FAULT_ENV = "CIM_FAULT_AFTER_TABLE"  # test hook: SIGKILL the process right after writing this table


@dataclass
class ModelCommit:
    """Everything one ingest writes. Versioned tables come without model_id/version columns."""

    model_id: str
    record: dict
    tables: dict[str, pa.Table] = field(default_factory=dict)
    layer: tuple[str, pa.Table] | None = None
    errors: list[dict] = field(default_factory=list)  # ingest_errors rows (refused GIS features)


def now_utc() -> datetime:
    return datetime.now(UTC)


class Store:
    """A city model store rooted at ``root``, in one city CRS."""

    def __init__(self, root: str | Path, crs: str | None = None, *, create: bool = True):
        self.root = Path(root)
        meta_file = self.root / META_DIR / "store.json"
        if meta_file.exists():
            meta = json.loads(meta_file.read_text())
            if crs and _norm(crs) != _norm(meta["crs"]):
                raise StoreError(
                    self.root,
                    f"this store's city CRS is {meta['crs']}, not {crs}",
                    "use another --store folder for a different city CRS, or drop --crs",
                )
            self.crs: str = meta["crs"]
        elif not create:
            raise StoreError(self.root, "no city model store here", "run `cim ingest` or `make run` first")
        elif not crs:
            raise StoreError(self.root, "a new store needs a city CRS", "pass --crs EPSG:NNNN or set [city] crs")
        else:
            self.crs = crs
            self._initialise(meta_file)
        if create:
            self.recover()

    # ---- layout -------------------------------------------------------------------------------
    def _initialise(self, meta_file: Path) -> None:
        meta_file.parent.mkdir(parents=True, exist_ok=True)
        for name in core_tables():
            path = self.table_path(name)
            if not DeltaTable.is_deltatable(str(path)):
                write_deltalake(str(path), table_schema(name, self.crs).empty_table(), mode="error", name=name)
        tmp = meta_file.with_suffix(".tmp")
        tmp.write_text(json.dumps({"crs": self.crs, "created_at": now_utc().isoformat(), "format": 1}))
        os.replace(tmp, meta_file)

    def table_path(self, name: str) -> Path:
        return self.root / name

    def has_table(self, name: str) -> bool:
        return DeltaTable.is_deltatable(str(self.table_path(name)))

    def table_names(self) -> list[str]:
        if not self.root.exists():
            return []
        return sorted(p.name for p in self.root.iterdir() if p.is_dir() and self.has_table(p.name))

    def layer_names(self) -> list[str]:
        core = set(core_tables())
        return [n for n in self.table_names() if n not in core]

    def table_version(self, name: str) -> int:
        return DeltaTable(str(self.table_path(name))).version()

    # ---- reading ------------------------------------------------------------------------------
    def read(self, name: str, *, columns: list[str] | None = None, filters=None,
             version: int | None = None) -> pa.Table:
        if not self.has_table(name):
            raise StoreError(self.table_path(name), f"no table {name!r} in the store",
                             f"tables here: {', '.join(self.table_names()) or 'none'}")
        dt = DeltaTable(str(self.table_path(name)), version=version)
        # use_threads=False: pyarrow's threaded scanner leaves threads that abort the interpreter at exit
        # ("terminate called without an active exception", delta-rs #2184, arrow #34314) about half the time.
        expression = pq.filters_to_expression(filters) if filters else None
        return dt.to_pyarrow_dataset().to_table(columns=columns, filter=expression, use_threads=False)

    def current_models(self) -> pa.Table:
        """The newest version of every model_id."""
        models = self.read("models")
        if models.num_rows == 0:
            return models
        latest = models.group_by("model_id").aggregate([("version", "max")])
        keys = {(m, v) for m, v in zip(latest["model_id"].to_pylist(), latest["version_max"].to_pylist(),
                                         strict=True)}
        mask = [(m, v) in keys for m, v in zip(models["model_id"].to_pylist(), models["version"].to_pylist(),
                                               strict=True)]
        return models.filter(pa.array(mask))

    def latest(self, model_id: str) -> dict | None:
        models = self.read("models", filters=[("model_id", "=", model_id)])
        if models.num_rows == 0:
            return None
        idx = pc.index(models["version"], pc.max(models["version"])).as_py()
        return models.slice(idx, 1).to_pylist()[0]

    def read_model(self, table: str, model_id: str, version: int | None = None) -> pa.Table:
        """Rows of one model version (the current one by default) from a versioned table."""
        if version is None:
            latest = self.latest(model_id)
            if latest is None:
                raise StoreError(self.root, f"no model {model_id!r} in the store",
                                 "list them with `cim query \"SELECT * FROM current_models\"`")
            version = latest["version"]
        return self.read(table, filters=[("model_id", "=", model_id), ("version", "=", version)])

    # ---- writing ------------------------------------------------------------------------------
    @contextlib.contextmanager
    def lock(self) -> Iterator[None]:
        """One writer at a time (readers never block)."""
        path = self.root / META_DIR / "write.lock"
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("w") as fh:
            fcntl.flock(fh, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(fh, fcntl.LOCK_UN)

    @property
    def _journal(self) -> Path:
        return self.root / META_DIR / "journal.json"

    def recover(self) -> list[str]:
        """Undo an ingest that was interrupted mid-commit; returns the tables restored."""
        if not self._journal.exists():
            return []
        with self.lock():
            return self._recover_locked()

    def _recover_locked(self) -> list[str]:
        if not self._journal.exists():
            return []
        journal = json.loads(self._journal.read_text())
        done = self.read("models", filters=[("model_id", "=", journal["model_id"]),
                                            ("version", "=", journal["version"])]).num_rows > 0
        restored: list[str] = []
        if not done:
            for name, before in journal["tables"].items():
                path = self.table_path(name)
                if before < 0:
                    if path.exists():
                        shutil.rmtree(path)
                        restored.append(name)
                elif self.has_table(name) and DeltaTable(str(path)).version() > before:
                    DeltaTable(str(path)).restore(before)
                    restored.append(name)
            log.warning("store %s: interrupted ingest of %s v%s rolled back (%s)", self.root,
                        journal["model_id"], journal["version"], ", ".join(restored) or "nothing written")
        self._journal.unlink()
        return restored

    def commit(self, change: ModelCommit, run_id: str | None = None) -> int:
        """Write one model version to every table it touches; all or nothing. Returns the version."""
        with self.lock():
            self._recover_locked()
            latest = self.latest(change.model_id)
            version = 1 if latest is None else latest["version"] + 1
            touched = [*change.tables, *( [change.layer[0]] if change.layer else [] ), "models"]
            journal = {"model_id": change.model_id, "version": version,
                       "tables": {t: (self.table_version(t) if self.has_table(t) else -1) for t in touched}}
            tmp = self._journal.with_suffix(".tmp")
            tmp.write_text(json.dumps(journal))
            os.replace(tmp, self._journal)
            for name, data in change.tables.items():
                self._append(name, _with_version(data, change.model_id, version))
            if change.layer:
                self._replace_layer(*change.layer)
            record = {**change.record, "model_id": change.model_id, "version": version, "run_id": run_id,
                      "ingested_at": now_utc(), "code_version": __version__}
            self._append("models", pa.Table.from_pylist([record]))
            self._journal.unlink()
            if change.errors:
                rows = [{**e, "run_id": run_id} for e in change.errors]
                schema = table_schema("ingest_errors", self.crs)
                self._append("ingest_errors", pa.Table.from_pylist(rows, schema=schema))
            return version

    def _append(self, name: str, data: pa.Table) -> None:
        data = conform(name, data, self.crs)
        write_deltalake(str(self.table_path(name)), data, mode="append")
        _fault_point(name)

    def _replace_layer(self, name: str, data: pa.Table) -> None:
        write_deltalake(str(self.table_path(name)), data, mode="overwrite", schema_mode="overwrite", name=name)
        _fault_point(name)

    def append_rows(self, name: str, rows: list[dict]) -> None:
        """Append plain rows to a single table (ingest_errors, runs): atomic on its own."""
        if not rows:
            return
        schema = table_schema(name, self.crs)
        with self.lock():
            self._append(name, pa.Table.from_pylist(rows, schema=schema))

    def replace_table(self, name: str, data: pa.Table) -> None:
        """Overwrite a whole documented table in one Delta commit (state tables such as ``clashes``)."""
        data = conform(name, data, self.crs)
        with self.lock():
            # the whole table is replaced: its schema too (a documented column added since it was written)
            write_deltalake(str(self.table_path(name)), data, mode="overwrite", schema_mode="overwrite", name=name)
            _fault_point(name)

    def replace_derived(self, name: str, model_id: str, version: int, data: pa.Table) -> None:
        """Replace the rows a check derived from one model (e.g. tunnel_assets of the tunnel) atomically.

        ``data`` comes without model_id/version; ``name`` must be documented in schemas/tables.toml.
        The rows of other models stay; Delta history keeps the replaced ones.
        """
        data = conform(name, _with_version(data, model_id, version), self.crs)
        path = str(self.table_path(name))
        with self.lock():
            if not self.has_table(name):
                write_deltalake(path, table_schema(name, self.crs).empty_table(), mode="error", name=name)
            quoted = model_id.replace("'", "''")
            write_deltalake(path, data, mode="overwrite", predicate=f"model_id = '{quoted}'")


def _with_version(data: pa.Table, model_id: str, version: int) -> pa.Table:
    n = data.num_rows
    data = data.append_column("model_id", pa.array([model_id] * n, pa.string()))
    return data.append_column("version", pa.array([version] * n, pa.int64()))


def _fault_point(table: str) -> None:
    if os.environ.get(FAULT_ENV) == table:
        os.kill(os.getpid(), signal.SIGKILL)


def _norm(crs: str) -> str:
    return crs.strip().upper().replace(" ", "")
