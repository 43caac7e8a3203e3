"""The store: Delta Lake tables under one folder. The only module that knows the storage format.

A model's ingest touches several tables; Delta commits are atomic per table only. The ``models``
table is therefore the commit point: readers see a model version (its rows in the versioned tables,
its GIS layer folder) only once its ``models`` row is committed, and a journal written before the
first table and removed after ``models`` lets the next writer restore every touched table to its
previous version after a crash or kill. Tables that checks derive from a model are written in a
transaction with the same journal (see ``Store.derived``), so a failure leaves their previous rows.
"""

from __future__ import annotations

import contextlib
import fcntl
import functools
import logging
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from cim import __version__, arrow_memory  # noqa: F401 - Arrow's pool for every table this process builds
from cim.errors import StoreError
from cim.store.committed import ModelsRead, keep_committed
from cim.store.compact import compact_during_run
from cim.store.derived import DerivedWrite
from cim.store.journal import (  # noqa: F401 - FAULT_ENV: the kill hook tests arm
    FAULT_ENV,
    META_DIR,
    fault_point,
    layer_dir,
    layer_location,
    read_journal,
    read_meta,
    remove_tree,
    table_dir,
    write_json,
)
from cim.store.location import store_root
from cim.store.names import valid_layer_name
from cim.store.objects import ObjectPath, arrow_dataset, is_table, open_table, write_table
from cim.store.opened import append, held, newest_version
from cim.store.pending import Pending
from cim.store.schema import VERSIONED_TABLES, conform, core_tables, table_schema, with_version

log = logging.getLogger(__name__)



@dataclass
class ModelCommit:
    """Everything one ingest writes. Versioned tables come without model_id/version columns.

    ``layer`` is (layer name, features) for a GIS layer; the name must equal ``model_id``.
    ``Store.commit`` sets ``unchanged_since`` when the store already holds this input (same source,
    sha256 and settings) as its latest version, and then writes nothing.
    """

    model_id: str
    record: dict
    tables: dict[str, pa.Table | Pending] = field(default_factory=dict)
    layer: tuple[str, pa.Table] | None = None
    errors: list[dict] = field(default_factory=list)  # ingest_errors rows (refused GIS features)
    unchanged_since: int | None = None


def now_utc() -> datetime:
    return datetime.now(UTC)


class Store:
    """A city model store rooted at ``root`` (a folder, or ``s3://bucket/city``), in one city CRS.

    On S3 ``root`` is a ``cim.store.objects.ObjectPath``: the same commit protocol runs on objects (see there).
    """

    def __init__(self, root: str | Path, crs: str | None = None, *, create: bool = True):
        # a folder, or s3://: its bucket checked; gs:// and friends refused in one line (cim.store.location)
        self.root: Path | ObjectPath = store_root(root)
        self._thread_lock = threading.RLock()
        self._lock_depth = 0
        self._models_read = ModelsRead()
        meta_file = self.root / META_DIR / "store.json"
        if meta_file.exists():
            self.crs: str = self._adopt(read_meta(meta_file), crs)
        elif not create:
            raise StoreError(self.root, "no city model store here", "run `cim ingest` or `make run` first")
        elif not crs:
            raise StoreError(self.root, "a new store needs a city CRS", "pass --crs EPSG:NNNN or set [city] crs")
        else:
            with self.lock():  # two processes creating one store: the second finds it made
                if meta_file.exists():
                    self.crs = self._adopt(read_meta(meta_file), crs)
                else:
                    self.crs = crs
                    self._initialise(meta_file)
        if create and isinstance(self.root, ObjectPath):
            # Opened for writing on an object store: take the writer lock once now. A bucket that refuses writes
            # or a writer that holds the lock too long is then one line before any input is read, instead of
            # a refusal of each file's commit later; and an interrupted write is rolled back as on a folder.
            with self.lock():
                self._recover_locked()
        elif create:
            self.recover()

    def __getstate__(self) -> dict:
        """A Store sent to another process (a Dask worker) is the same store opened there: locks are per process."""
        return {"root": str(self.root), "crs": self.crs}

    def __setstate__(self, state: dict) -> None:
        self.__init__(state["root"], state["crs"], create=False)

    def _adopt(self, meta: dict, crs: str | None) -> str:
        if crs and _norm(crs) != _norm(meta["crs"]):
            raise StoreError(self.root, f"this store's city CRS is {meta['crs']}, not {crs}",
                             "use another --store folder for a different city CRS, or drop --crs")
        return meta["crs"]

    # ---- layout -------------------------------------------------------------------------------
    def _initialise(self, meta_file: Path) -> None:
        for name in core_tables():
            path = self.root / name
            if not is_table(path):
                write_table(path, table_schema(name, self.crs).empty_table(), mode="error", name=name)
                fault_point(f"init:{name}")
        write_json(meta_file, {"crs": self.crs, "created_at": now_utc().isoformat(), "format": 1})

    def table_path(self, name: str) -> Path | ObjectPath:
        """The folder of a table; for a GIS layer, the folder of its current committed version."""
        if name in core_tables():
            return self.root / name
        return self.current_layers().get(name, self.root / name)

    def has_table(self, name: str) -> bool:
        if name in core_tables():
            return is_table(self.root / name)
        return name in self.current_layers()

    def table_names(self) -> list[str]:
        """Core tables present and the committed GIS layers, sorted."""
        if not self.root.exists():
            return []
        core = [n for n in core_tables() if is_table(self.root / n)]
        return sorted([*core, *self.current_layers()])

    def layer_names(self) -> list[str]:
        return sorted(self.current_layers())

    def current_layers(self) -> dict[str, Path | ObjectPath]:
        """Committed GIS layers: name -> folder of the version ``current_models`` names."""
        if not is_table(self.root / "models"):
            return {}
        current = self.current_models()
        out = {}
        for row in current.filter(pc.equal(current["kind"], "gis")).select(["model_id", "version"]).to_pylist():
            path = self._layer_location(row["model_id"], row["version"])
            if path is not None:
                out[row["model_id"]] = path
        return out

    def _layer_location(self, name: str, version: int) -> Path | ObjectPath | None:
        return layer_location(self.root, name, version)

    def table_version(self, name: str) -> int:
        return newest_version(self.table_path(name))

    # ---- reading ------------------------------------------------------------------------------
    def read(self, name: str, *, columns: list[str] | None = None, filters=None,
             version: int | None = None) -> pa.Table:
        """A table's rows; for a versioned table only rows of versions ``models`` records as committed."""
        if not self.has_table(name):
            raise StoreError(self.table_path(name), f"no table {name!r} in the store",
                             f"tables here: {', '.join(self.table_names()) or 'none'}")
        versioned = name in VERSIONED_TABLES
        wanted = columns
        if versioned and columns is not None:
            wanted = [*columns, *(k for k in ("model_id", "version") if k not in columns)]
        table = self._scan(self.table_path(name), wanted, filters, version)
        if versioned:
            table = keep_committed(table, self._committed_keys())
            if columns is not None:
                table = table.select(columns)
        return table

    def _scan(self, path: Path | ObjectPath, columns, filters, version: int | None) -> pa.Table:
        if version is None:
            with held(path) as dt:  # the dataset is the snapshot's file list: read after the table is let go
                dataset = arrow_dataset(dt, path)
        else:
            dataset = arrow_dataset(open_table(path, version=version), path)
        # use_threads=False: pyarrow's threaded scanner leaves threads that abort the interpreter at exit
        # ("terminate called without an active exception", delta-rs #2184, arrow #34314) about half the time.
        expression = pq.filters_to_expression(filters) if filters else None
        return dataset.to_table(columns=columns, filter=expression, use_threads=False)

    def _models(self) -> pa.Table:
        """The ``models`` table at its newest commit (``cim.store.committed.ModelsRead``: read again only after a
        commit, and then only the files it added); on an object store read each time."""
        path = self.root / "models"
        if isinstance(path, ObjectPath) or not self.has_table("models"):
            return self.read("models")
        return self._models_read.rows(path)

    def _committed_keys(self, current_only: bool = False) -> set[tuple[str, int]]:
        models = self.current_models() if current_only else self._models()
        return set(zip(models["model_id"].to_pylist(), models["version"].to_pylist(), strict=True))

    def read_current(self, name: str) -> pa.Table:
        """A table as `cim query` shows it: the current version of each model for versioned tables."""
        table = self.read(name)
        if name in VERSIONED_TABLES:
            table = keep_committed(table, self._committed_keys(current_only=True))
        return table

    def current_models(self) -> pa.Table:
        """The newest version of every model_id."""
        models = self._models()
        if models.num_rows == 0:
            return models
        latest = models.group_by("model_id").aggregate([("version", "max")])
        keys = {(m, v) for m, v in zip(latest["model_id"].to_pylist(), latest["version_max"].to_pylist(),
                                         strict=True)}
        return keep_committed(models, keys)

    def latest(self, model_id: str) -> dict | None:
        models = self._models()
        models = models.filter(pc.equal(models["model_id"], model_id))
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
        """One writer at a time across processes (readers never block); re-entrant within a Store."""
        with self._thread_lock:
            if self._lock_depth:
                self._lock_depth += 1
                try:
                    yield
                finally:
                    self._lock_depth -= 1
                return
            path = self.root / META_DIR / "write.lock"
            if isinstance(path, ObjectPath):  # a lock object taken with a conditional PUT (cim.store.objlock)
                from cim.store.objlock import ObjectLock

                with ObjectLock(path).held():
                    self._lock_depth = 1
                    try:
                        yield
                    finally:
                        self._lock_depth = 0
                return
            path.parent.mkdir(parents=True, exist_ok=True)
            with path.open("w") as fh:
                fcntl.flock(fh, fcntl.LOCK_EX)
                self._lock_depth = 1
                try:
                    yield
                finally:
                    self._lock_depth = 0
                    fcntl.flock(fh, fcntl.LOCK_UN)

    @property
    def _journal(self) -> Path | ObjectPath:
        return self.root / META_DIR / "journal.json"

    def recover(self) -> list[str]:
        """Undo a commit or derived write that was interrupted; returns the tables restored."""
        if not self._journal.exists():
            return []
        with self.lock():
            return self._recover_locked()

    def _recover_locked(self) -> list[str]:
        if not self._journal.exists():
            return []
        journal = read_journal(self.root, self._journal)
        done = journal["kind"] == "model" and self.read("models", filters=[
            ("model_id", "=", journal["model_id"]), ("version", "=", journal["version"])]).num_rows > 0
        restored = [] if done else self._roll_back(journal["tables"])
        if not done:
            log.warning("store %s: interrupted %s write of %s v%s rolled back (%s)", self.root, journal["kind"],
                        journal.get("model_id"), journal.get("version"), ", ".join(restored) or "nothing written")
        self._journal.unlink()
        return restored

    def _roll_back(self, tables: dict[str, int]) -> list[str]:
        restored = []
        for name, before in tables.items():
            path = table_dir(self.root, name, journal=self._journal)
            if before < 0:
                if path.exists():
                    remove_tree(path)
                    restored.append(name)
            elif is_table(path) and open_table(path).version() > before:
                open_table(path).restore(before)
                restored.append(name)
            fault_point(f"recover:{name}")
        return restored

    def _begin(self, kind: str, model_id: str | None, version: int | None, tables: dict[str, int]) -> None:
        write_json(self._journal, {"kind": kind, "model_id": model_id, "version": version, "tables": tables})

    def _rel_version(self, rel: str) -> int:
        path = self.root / rel
        return newest_version(path) if is_table(path) else -1

    def commit(self, change: ModelCommit, run_id: str | None = None, *, skip_unchanged: bool = True) -> int:
        """Write one model version to every table it touches; all or nothing. Returns the version.

        With ``skip_unchanged``, an input identical to the latest version (two ingests of one changed
        file at once) writes nothing: ``change.unchanged_since`` is set and that version returned.
        """
        with self.lock():
            self._recover_locked()
            latest = self.latest(change.model_id)
            _check_commit(change, latest)
            if skip_unchanged and latest is not None and _same_input(latest, change.record):
                change.unchanged_since = latest["version"]
                return latest["version"]
            version = 1 if latest is None else latest["version"] + 1
            layer_rel = layer_dir(change.model_id, version) if change.layer else None
            touched = [*change.tables, *([layer_rel] if layer_rel else []), "models"]
            journal = {t: self._rel_version(t) for t in touched}
            self._begin("model", change.model_id, version, journal)
            fault_point("journal")
            record = {**change.record, "model_id": change.model_id, "version": version, "run_id": run_id,
                      "ingested_at": now_utc(), "code_version": __version__}
            try:
                self._write_parallel(change, version, layer_rel)
                self._append("models", pa.Table.from_pylist([record]))  # last: the row that makes it current
            except Exception:  # a write failed (disk full, bad data): undo now, not at the next writer
                self._roll_back(journal)
                self._journal.unlink()
                raise
            self._journal.unlink()
            fault_point("commit")
            if change.errors:
                rows = [{**e, "run_id": run_id} for e in change.errors]
                schema = table_schema("ingest_errors", self.crs)
                self._append("ingest_errors", pa.Table.from_pylist(rows, schema=schema))
            compact_during_run(self)  # a long run's files merged as it goes: the next commits stay as quick
            return version

    def _write_parallel(self, change: ModelCommit, version: int, layer_rel: str | None) -> None:
        """Write the version's tables (and GIS layer) at once, one thread each; raise the first failure.

        Why threads: each write encodes Parquet and commits in delta-rs, outside the GIL, so the tables
        of one version cost about as much as the biggest of them. The journal covers all of them either way.
        """
        def write(name: str, data: pa.Table | Pending) -> None:
            data = data.result() if isinstance(data, Pending) else data
            self._append(name, with_version(data, change.model_id, version))

        writes = [functools.partial(write, name, data) for name, data in change.tables.items()]
        if change.layer:
            writes.append(functools.partial(self._write_layer, layer_rel, change.layer[1]))
        with ThreadPoolExecutor(max(1, len(writes)), thread_name_prefix="cim-commit") as pool:
            done = [pool.submit(write) for write in writes]
        for future in done:
            future.result()

    def _append(self, name: str, data: pa.Table) -> None:
        data = conform(name, data, self.crs)
        # merge: a column documented after the table was created (a store of an older cim) is added to it
        append(self.root / name, data, schema_mode="merge")
        fault_point(name)

    def _write_layer(self, rel: str, data: pa.Table) -> None:
        path = self.root / rel  # a new folder: the version is uncommitted, a leftover is the same attempt's
        if path.exists():
            remove_tree(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        write_table(path, _typed(data), mode="error", name=path.parent.name)
        fault_point("layer")

    def append_rows(self, name: str, rows: list[dict]) -> None:
        """Append plain rows to a single table (ingest_errors, runs): atomic on its own."""
        if not rows:
            return
        schema = table_schema(name, self.crs)
        with self.lock():
            self._append(name, pa.Table.from_pylist(rows, schema=schema))

    @contextlib.contextmanager
    def derived(self, model_id: str | None = None, version: int | None = None) -> Iterator[DerivedWrite]:
        """All-or-nothing writes of derived tables: an exception or a kill inside leaves the previous rows.

        ``with store.derived(model_id, version) as tx: tx.replace_model_rows(...); tx.replace_table(...)``
        """
        with self.lock():
            self._recover_locked()
            tx = DerivedWrite(self, model_id, version)
            try:
                yield tx
            except BaseException:
                if self._journal.exists():
                    self._roll_back(tx.journaled)
                    self._journal.unlink()
                raise
            if self._journal.exists():
                self._journal.unlink()

    def replace_table(self, name: str, data: pa.Table) -> None:
        """Overwrite a whole documented table in one Delta commit (state tables such as ``clashes``)."""
        with self.derived() as tx:
            tx.replace_table(name, data)

    def replace_derived(self, name: str, model_id: str, version: int, data: pa.Table) -> None:
        """Replace the rows a check derived from one model (e.g. tunnel_assets of the tunnel) atomically.

        ``data`` comes without model_id/version; ``name`` must be documented in schemas/tables.toml.
        The rows of other models stay; Delta history keeps the replaced ones. To replace several tables
        together, use ``with store.derived(model_id, version) as tx``.
        """
        with self.derived(model_id, version) as tx:
            tx.replace_model_rows(name, data)


def _check_commit(change: ModelCommit, latest: dict | None) -> None:
    kind = change.record.get("kind")
    if latest is not None and latest["kind"] != kind:
        raise StoreError(None, f"model_id {change.model_id!r} is already a {latest['kind']} model in this store, "
                               f"not {kind}", "give the file another model_id in cim.toml, or rename the layer")
    if change.layer is None:
        return
    if change.layer[0] != change.model_id or not valid_layer_name(change.model_id):
        raise StoreError(None, f"layer name {change.layer[0]!r} is not a valid, unreserved layer name",
                         "layer names are made by cim.store.names.layer_table_name")


def _typed(data: pa.Table) -> pa.Table:
    """Columns without a type (all null, e.g. an empty layer) as string, geometry as WKB bytes: a Delta
    column of type void would make every later query of the store fail."""
    for i, f in enumerate(data.schema):
        if pa.types.is_null(f.type):
            typed = pa.binary() if f.name == "geometry" else pa.string()
            data = data.set_column(i, pa.field(f.name, typed, f.nullable, f.metadata), data.column(i).cast(typed))
    return data


def _same_input(latest: dict, record: dict) -> bool:
    keys = ("kind", "source_path", "source_layer", "sha256", "settings_hash")
    return all(latest.get(k) == record.get(k) for k in keys)


def _norm(crs: str) -> str:
    return crs.strip().upper().replace(" ", "")
