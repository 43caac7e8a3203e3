"""Read-only SQL over the store with DuckDB + spatial: every table is a view, geometry is GEOMETRY.

Two walls keep `cim query` from writing or reading outside the store's tables:

1. ``cim.query_check`` lets only one checked SELECT (or an EXPLAIN cim builds around one) run.
2. The connection itself cannot write or read any other file. The views' ``delta_scan`` calls (from
   ``cim.store.views``) are bound, through DuckDB's own syntax tree, to ``read_parquet`` over the
   table's current files as deltalake lists them, read through ``cim.query_files.ReadOnlyFiles`` (a
   file system that opens those files for reading and refuses everything else); then DuckDB's local
   file system is disabled, external access is off but for those files, extensions cannot be loaded
   or installed, there is no temp directory (a query larger than memory fails instead of spilling
   into the working folder), and the configuration is locked. So even a statement that got past the
   check finds no file to write and no setting to change.
"""

from __future__ import annotations

import json
import os
import threading
from pathlib import Path
from typing import TYPE_CHECKING

import duckdb

from cim.errors import StoreError
from cim.query_check import INTERNAL_PREFIX, QueryError, RefusedQuery, check_query
from cim.query_result import QueryResult

if TYPE_CHECKING:
    from cim.store import Store
    from cim.store.views import Catalog

__all__ = ["QueryError", "RefusedQuery", "connect", "open_store_for_query", "run_query", "store_folder", "store_views"]

_LOAD_LOCK = threading.Lock()
_LOADED = False
# Settings fixed before anything runs; the file-system locks follow once the views are bound.
_CONFIG = {
    "autoload_known_extensions": False,
    "autoinstall_known_extensions": False,
    "allow_community_extensions": False,
    "allow_unsigned_extensions": False,
    "allow_persistent_secrets": False,
    "python_enable_replacements": False,
    "temp_directory": "",
    # A thread per core. ReadOnlyFiles (Python) needs the GIL in DuckDB's threads, so every statement on a
    # sandbox goes through ``execute``, which releases it; the relation API keeps it while its scans wait
    # for those threads: a deadlock (see ``cim.query_result``).
    "threads": os.cpu_count() or 1,
}
_LOCKS = ("SET enable_external_access = false",
          "SET disabled_filesystems = 'LocalFileSystem'",
          "SET lock_configuration = true")


def _lock(con: duckdb.DuckDBPyConnection, readable: list[str]) -> None:
    """Allow only the store's table files (through the read-only file system), then lock everything."""
    from cim.query_files import sql_list

    con.execute(f"SET allowed_paths = {sql_list(readable)}")
    for statement in _LOCKS:
        con.execute(statement)


def _load_extensions() -> None:
    """DuckDB cannot download extensions here; the PyPI packages ship them."""
    global _LOADED
    with _LOAD_LOCK:
        if not _LOADED:
            import duckdb_extensions

            duckdb_extensions.import_extension("spatial")
            _LOADED = True


def geometry_columns(store: Store, table: str) -> list[str]:
    from cim.store import views

    return views.geometry_columns(table)


class _Sandbox:
    """A new query connection; with ``spatial``, DuckDB's spatial extension loads in a thread meanwhile.

    Loading spatial takes about a quarter of a second, a quarter of a small query's whole run: a query that
    touches no geometry (no geometry column, no ST_ function, no ``*``) runs without it, its views keeping
    geometry as WKB (see ``cim.query_check.CheckedQuery.spatial``). The connection is used by one thread at a
    time: ``ready`` waits for the loader before anything else touches it. While spatial loads, no other
    DuckDB connection and no new thread can start in the process (a global lock and the loader's), so the
    store is opened and the SQL checked before a sandbox is made.
    """

    def __init__(self, spatial: bool = True) -> None:
        self._con = duckdb.connect(config=_CONFIG)
        self.spatial = spatial
        # DuckDB draws a progress bar on stdout for slow queries: it would land inside csv, json or parquet
        # results written to stdout.
        self._con.execute("SET enable_progress_bar = false")
        self._con.execute("SET enable_progress_bar_print = false")
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._load, name="cim-query-spatial", daemon=True)
        if spatial:
            self._thread.start()

    def _load(self) -> None:
        try:
            _load_extensions()
            self._con.execute("LOAD spatial")
        except BaseException as exc:  # handed to the thread that waits in ready()
            self._error = exc

    def _join(self) -> None:
        if self.spatial:
            self._thread.join()

    def ready(self) -> duckdb.DuckDBPyConnection:
        self._join()
        if self._error is not None:
            raise self._error
        return self._con

    def close(self) -> None:
        self._join()
        self._con.close()


def connect(store: Store | Path, only: set[str] | frozenset[str] | None = None, *,
            catalog: Catalog | None = None) -> duckdb.DuckDBPyConnection:
    """An in-memory DuckDB with the store's views over the tables' files, locked so that it writes no file.

    ``only``: create just these views (and those they are built on); default every view.
    """
    from cim.store import views

    cat = catalog or views.catalog(store)
    return _bind(_Sandbox(), store, only, cat)


def _bind(sandbox: _Sandbox, store: Store | Path, only, cat: Catalog) -> duckdb.DuckDBPyConnection:
    from cim.store import views

    try:
        definitions = views.view_definitions(cat, only, spatial=sandbox.spatial)
        con = sandbox.ready()
        scans = _DeltaScans(con, cat)
        for name, select in definitions:
            quoted = name.replace('"', '""')
            con.execute(f'CREATE VIEW "{quoted}" AS {scans.bind(select)}')
        _lock(con, scans.files.uris)
    except BaseException:
        sandbox.close()
        raise
    return con


def store_views(con: duckdb.DuckDBPyConnection) -> list[str]:
    """The views a user may query, by name (the sandbox's own Arrow scans are left out)."""
    rows = con.execute("SELECT view_name FROM duckdb_views() WHERE NOT internal ORDER BY 1").fetchall()
    return [name for (name,) in rows if not name.lower().startswith(INTERNAL_PREFIX)]


def run_query(store: Store | str | Path, sql: str) -> QueryResult:
    """One checked, read-only statement, bound (its columns known) but not yet run; RefusedQuery before anything
    runs otherwise.

    Only the views the statement names are created, so only their Delta tables are opened; spatial is
    loaded only when the statement may touch geometry (and again, with it, if DuckDB then misses a function).
    """
    from cim.store import views

    opened = store if not isinstance(store, (str, Path)) else store_folder(store)
    cat = views.catalog(opened)
    checked = check_query(sql, {name.lower() for name in cat.view_names()})
    con = _bind(_Sandbox(checked.spatial), opened, checked.tables, cat)
    try:
        return QueryResult(con, checked.sql, explain=checked.explain)
    except (duckdb.CatalogException, duckdb.BinderException) as exc:
        if checked.spatial:
            raise query_failed(exc, _columns(con, checked.tables)) from exc
    except duckdb.Error as exc:
        raise query_failed(exc, _columns(con, checked.tables)) from exc
    con.close()  # a function or type only spatial has: run it again with spatial
    con = _bind(_Sandbox(), opened, checked.tables, cat)
    try:
        return QueryResult(con, checked.sql, explain=checked.explain)
    except duckdb.Error as exc:
        raise query_failed(exc, _columns(con, checked.tables)) from exc


def _columns(con: duckdb.DuckDBPyConnection, tables) -> dict[str, list[str]]:
    """The columns of the views a failed query names, to list them in its error line."""
    found = {}
    for name in sorted(tables):
        quoted = name.replace('"', '""')
        try:
            found[name] = [row[0] for row in con.execute(f'DESCRIBE "{quoted}"').fetchall()]
        except duckdb.Error:
            continue
    return found


def query_failed(exc: duckdb.Error, columns: dict[str, list[str]] | None = None) -> QueryError:
    """A DuckDB error while binding or running a checked query, as one line.

    A column that does not exist is answered with the columns of the tables the query names.
    """
    lines = [line for line in str(exc).splitlines() if line.strip()]
    reason = (lines[0] if lines else type(exc).__name__).rstrip("!")
    hint = "list the tables with `cim tables`; geometry columns are GEOMETRY (use ST_ functions)"
    if columns and isinstance(exc, duckdb.BinderException) and "column" in reason.lower():
        hint = "; ".join(f"columns of {name}: {', '.join(cols)}" for name, cols in columns.items())
    return QueryError(None, f"query failed: {reason}", hint)


def open_store_for_query(path: str | Path) -> Store:
    """The store at ``path``; a folder that is not one is refused naming what it holds and what to do."""
    from cim.store import Store

    found = store_folder(path)
    return found if not isinstance(found, Path) else Store(found, create=False)


def store_folder(path: str | Path) -> Path | Store:
    """``path`` once it is known to be a store with a models table (as open_store_for_query refuses it
    otherwise), without opening the store for writing: what queries need, at a fraction of the start-up.

    An object-store URI (s3://bucket/city) comes back as the ``Store`` opened read-only (no recovery, no lock):
    its tables are read through deltalake with the store's storage options, and gs:// and friends are refused.
    """
    from deltalake import DeltaTable

    from cim.store.location import is_object_store

    if is_object_store(path):
        return _object_store(path)
    folder = Path(path)
    if not (folder / "_cim" / "store.json").is_file():
        raise _not_a_store(folder)
    if not DeltaTable.is_deltatable(str(folder / "models")):
        raise StoreError(path, "the store has no models table", "run `make run` or `cim ingest` first")
    return folder


def _object_store(path: str | Path) -> Store:
    from cim.store import Store
    from cim.store.location import as_uri

    store = Store(as_uri(path), create=False)  # "no city model store here" when there is no _cim/store.json
    if not store.has_table("models"):
        raise StoreError(store.root, "the store has no models table", "run `cim ingest` first")
    return store


def _not_a_store(folder: Path) -> StoreError:
    fix = "pass --store with the folder `make run` or `cim ingest` wrote (default ./cim-data)"
    if not folder.exists():
        return StoreError(folder, "no such folder: it is not a city model store", fix)
    if not folder.is_dir():
        return StoreError(folder, "this is a file, not a city model store folder", fix)
    try:
        entries = sorted(p.name for p in folder.iterdir() if not p.name.startswith("."))
    except OSError as exc:
        return StoreError(folder, f"cannot list the folder ({exc.strerror})", fix)
    stores = [name for name in entries if (folder / name / "_cim" / "store.json").is_file()]
    if stores:
        fix = f"did you mean --store {folder / stores[0]}?"
    shown = ", ".join(entries[:8]) + (", ..." if len(entries) > 8 else "") if entries else "nothing"
    return StoreError(folder, f"not a city model store (no _cim/store.json); the folder holds: {shown}", fix)


class _DeltaScans:
    """Replaces ``delta_scan('<store table>')`` in view SQL by a scan of the table's current Parquet files."""

    def __init__(self, con: duckdb.DuckDBPyConnection, cat: Catalog):
        from cim.query_files import ReadOnlyFiles

        self._con = con
        self._root = cat.root
        self._tables = {str(path.resolve()): name for name, path in cat.table_paths().items()}
        self._opened = cat.opened
        self._bound: dict[str, str] = {}
        self.files = ReadOnlyFiles()
        con.register_filesystem(self.files)

    def bind(self, select: str) -> str:
        from cim.query_files import sql_string

        tree = json.loads(self._con.execute(f"SELECT json_serialize_sql({sql_string(select)})").fetchone()[0])
        if tree.get("error"):
            raise StoreError(self._root, f"cannot read a view definition: {tree.get('error_message')}",
                             "report this as a bug in cim.store.views")
        stack: list = [tree]
        while stack:
            item = stack.pop()
            if isinstance(item, list):
                stack.extend(item)
            elif isinstance(item, dict):
                if item.get("type") == "TABLE_FUNCTION" and _function_name(item) == "delta_scan":
                    self._replace(item)
                stack.extend(item.values())
        return self._con.execute(f"SELECT json_deserialize_sql({sql_string(json.dumps(tree))}::JSON)").fetchone()[0]

    def _replace(self, ref: dict) -> None:
        args = ref["function"].get("children", [])
        value = args[0].get("value", {}) if len(args) == 1 and args[0].get("class") == "CONSTANT" else {}
        path = _resolved(str(value.get("value"))) if value and not value.get("is_null") else None
        if path not in self._tables and not self._committed_since(path):
            raise StoreError(self._root, f"a view scans {path or 'something'} that is not one of the "
                                               "store's tables", "report this as a bug in cim.store.views")
        internal = self._bound.get(path) or self._register(path)
        table = {key: ref.get(key) for key in ("alias", "sample", "query_location")}
        table.update(type="BASE_TABLE", schema_name="", table_name=internal, catalog_name="", at_clause=None,
                     column_name_alias=ref.get("column_name_alias", []))
        ref.clear()
        ref.update(table)

    def _committed_since(self, path: str | None) -> bool:
        """A table folder of the store that appeared after the table list was read (a layer version committed
        meanwhile by a writer): the views name it, so it is one of the store's tables."""
        if path is None:
            return False
        from cim.store.objects import is_table

        folder = self._at(path)
        return self._root.resolve() in folder.parents and is_table(folder)

    def _at(self, path: str):
        """A table folder named in view SQL as a path: a local Path, or the store's object under its root."""
        root = str(self._root)
        if not isinstance(self._root, Path) and path.startswith(root + "/"):
            return self._root / path[len(root) + 1:]
        return Path(path)

    def _register(self, path: str) -> str:
        from cim.query_files import local_files
        from cim.store.objects import open_table

        name = f"{INTERNAL_PREFIX}{len(self._bound)}"
        try:
            table = self._opened.get(path) or open_table(self._at(path))
            # An object-store table is read as deltalake's Arrow dataset (through its own object-store client):
            # DuckDB's httpfs cannot be installed here, and no local file is opened for it.
            files = local_files(table) if isinstance(self._root, Path) else []
            columns = [field.name for field in table.schema().fields]
            scan = self._parquet_scan(files, columns) if files else None
            if scan is None:
                self._con.register(name, table.to_pyarrow_dataset())
            else:
                self._con.execute(f'CREATE VIEW "{name}" AS {scan}')
        except (duckdb.Error, OSError, ValueError, RuntimeError) as exc:  # deltalake: several unrelated types
            raise StoreError(path, f"cannot read the Delta table: {str(exc).splitlines()[0] if str(exc) else exc}",
                             "repair or remove the table, then re-ingest") from exc
        self._bound[path] = name
        return name

    def _parquet_scan(self, files: list[str], columns: list[str]) -> str | None:
        """SELECT of the table's columns, in the Delta schema's order, over its Parquet files; None when a
        column is in no file (a column added without data): the Arrow dataset then fills it with nulls."""
        from cim.query_files import sql_list

        uris = self.files.allow(files)
        source = f"read_parquet({sql_list(uris)}, union_by_name = true)"
        present = {row[0] for row in self._con.execute(f"DESCRIBE SELECT * FROM {source}").fetchall()}
        if not set(columns) <= present:
            return None
        quoted = ", ".join('"' + c.replace('"', '""') + '"' for c in columns)
        return f"SELECT {quoted} FROM {source}"


def _resolved(path: str) -> str:
    """A table path from view SQL as the catalog keys it: resolved if local, as it is if an object-store URI."""
    from cim.store.location import is_object_store

    return path if is_object_store(path) and "://" in path else str(Path(path).resolve())


def _function_name(ref: dict) -> str:
    return str((ref.get("function") or {}).get("function_name", "")).lower()
