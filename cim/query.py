"""Read-only SQL over the store with DuckDB + spatial: every table is a view, geometry is GEOMETRY.

Two walls keep `cim query` from writing or reading outside the store's tables:

1. ``cim.query_check`` lets only one checked SELECT (or an EXPLAIN cim builds around one) run.
2. The connection itself cannot touch any file. The views' ``delta_scan`` calls (from
   ``cim.store.views``) are bound, through DuckDB's own syntax tree, to Arrow datasets that
   deltalake opens in Python; then DuckDB's local file system is disabled, external access is off,
   extensions cannot be loaded or installed, there is no temp directory (a query larger than memory
   fails instead of spilling into the working folder), and the configuration is locked. So even a
   statement that got past the check finds no file to write and no setting to change.
"""

from __future__ import annotations

import json
from pathlib import Path

import duckdb
import duckdb_extensions
from deltalake import DeltaTable

from cim.errors import StoreError
from cim.query_check import INTERNAL_PREFIX, QueryError, RefusedQuery, check_query
from cim.store import Store, views

__all__ = ["QueryError", "RefusedQuery", "connect", "open_store_for_query", "run_query", "store_views"]

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
}
_LOCKS = ("SET enable_external_access = false",
          "SET disabled_filesystems = 'LocalFileSystem'",
          "SET lock_configuration = true")


def _load_extensions() -> None:
    """DuckDB cannot download extensions here; the PyPI packages ship them."""
    global _LOADED
    if not _LOADED:
        duckdb_extensions.import_extension("spatial")
        _LOADED = True


def geometry_columns(store: Store, table: str) -> list[str]:
    return views.geometry_columns(table)


def connect(store: Store) -> duckdb.DuckDBPyConnection:
    """An in-memory DuckDB with the store's views over Arrow datasets, locked so that it touches no file."""
    _load_extensions()
    con = duckdb.connect(config=_CONFIG)
    try:
        con.execute("LOAD spatial")
        scans = _DeltaScans(con, store)
        for name, select in views.view_definitions(store):
            quoted = name.replace('"', '""')
            con.execute(f'CREATE VIEW "{quoted}" AS {scans.bind(select)}')
        for statement in _LOCKS:
            con.execute(statement)
    except BaseException:
        con.close()
        raise
    return con


def store_views(con: duckdb.DuckDBPyConnection) -> list[str]:
    """The views a user may query, by name (the sandbox's own Arrow scans are left out)."""
    rows = con.execute("SELECT view_name FROM duckdb_views() WHERE NOT internal ORDER BY 1").fetchall()
    return [name for (name,) in rows if not name.lower().startswith(INTERNAL_PREFIX)]


def run_query(store: Store, sql: str) -> duckdb.DuckDBPyRelation:
    """The relation for one checked, read-only statement; RefusedQuery before anything runs otherwise."""
    checked = check_query(sql, {name.lower() for name, _ in views.view_definitions(store)})
    con = connect(store)
    try:
        return con.sql(checked.sql)
    except duckdb.Error as exc:
        raise query_failed(exc) from exc


def query_failed(exc: duckdb.Error) -> QueryError:
    """A DuckDB error while binding or running a checked query, as one line."""
    lines = [line for line in str(exc).splitlines() if line.strip()]
    reason = lines[0] if lines else type(exc).__name__
    return QueryError(None, f"query failed: {reason}",
                      "list the tables with `cim tables`; geometry columns are GEOMETRY (use ST_ functions)")


def open_store_for_query(path: str | Path) -> Store:
    store = Store(path, create=False)
    if "models" not in store.table_names():
        raise StoreError(path, "the store has no models table", "run `make run` or `cim ingest` first")
    return store


class _DeltaScans:
    """Replaces ``delta_scan('<store table>')`` in view SQL by an Arrow dataset opened with deltalake."""

    def __init__(self, con: duckdb.DuckDBPyConnection, store: Store):
        self._con = con
        self._store = store
        self._tables = {str(store.table_path(n).resolve()): n for n in store.table_names()}
        self._bound: dict[str, str] = {}

    def bind(self, select: str) -> str:
        tree = json.loads(self._con.execute("SELECT json_serialize_sql(?)", [select]).fetchone()[0])
        if tree.get("error"):
            raise StoreError(self._store.root, f"cannot read a view definition: {tree.get('error_message')}",
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
        return self._con.execute("SELECT json_deserialize_sql(?::JSON)", [json.dumps(tree)]).fetchone()[0]

    def _replace(self, ref: dict) -> None:
        args = ref["function"].get("children", [])
        value = args[0].get("value", {}) if len(args) == 1 and args[0].get("class") == "CONSTANT" else {}
        path = str(Path(str(value.get("value"))).resolve()) if value and not value.get("is_null") else None
        if path not in self._tables and not self._committed_since(path):
            raise StoreError(self._store.root, f"a view scans {path or 'something'} that is not one of the "
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
        folder, root = Path(path), self._store.root.resolve()
        return root in folder.parents and DeltaTable.is_deltatable(path)

    def _register(self, path: str) -> str:
        name = f"{INTERNAL_PREFIX}{len(self._bound)}"
        try:
            dataset = DeltaTable(path).to_pyarrow_dataset()
        except Exception as exc:  # deltalake raises several unrelated types for a damaged table
            raise StoreError(path, f"cannot read the Delta table: {str(exc).splitlines()[0] if str(exc) else exc}",
                             "repair or remove the table, then re-ingest") from exc
        self._con.register(name, dataset)
        self._bound[path] = name
        return name


def _function_name(ref: dict) -> str:
    return str((ref.get("function") or {}).get("function_name", "")).lower()
