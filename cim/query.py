"""Read-only SQL over the store with DuckDB + spatial: every table is a view, geometry is GEOMETRY."""

from __future__ import annotations

from pathlib import Path

import duckdb
import duckdb_extensions

from cim.errors import CimError, StoreError
from cim.store import Store, views

_LOADED = False


class QueryError(CimError):
    stage = "query"


def _load_extensions() -> None:
    """DuckDB cannot download extensions here; the PyPI packages ship them."""
    global _LOADED
    if not _LOADED:
        duckdb_extensions.import_extension("spatial")
        duckdb_extensions.import_extension("delta")
        _LOADED = True


def geometry_columns(store: Store, table: str) -> list[str]:
    return views.geometry_columns(table)


def connect(store: Store) -> duckdb.DuckDBPyConnection:
    """An in-memory DuckDB with views over the store's Delta tables, then locked to read-only use."""
    _load_extensions()
    con = duckdb.connect()
    con.execute("LOAD spatial")
    con.execute("LOAD delta")
    for name, select in views.view_definitions(store):
        con.execute(f'CREATE VIEW "{name}" AS {select}')
    allowed = str(store.root.resolve())
    con.execute(f"SET allowed_directories = ['{allowed}']")
    con.execute("SET enable_external_access = false")
    con.execute("SET lock_configuration = true")
    return con


READ_ONLY = {duckdb.StatementType.SELECT, duckdb.StatementType.EXPLAIN}


def check_read_only(sql: str) -> str:
    """One read-only statement (SELECT, WITH, DESCRIBE, EXPLAIN); anything that writes is refused."""
    try:
        statements = duckdb.extract_statements(sql)
    except duckdb.Error as exc:
        raise QueryError(None, f"SQL syntax error: {str(exc).splitlines()[0]}", "check the SQL") from exc
    if len(statements) != 1:
        raise QueryError(None, f"give exactly one statement (got {len(statements)})", "run them one at a time")
    if statements[0].type not in READ_ONLY:
        raise QueryError(None, f"{statements[0].type.name} statements are not allowed: cim query is read-only",
                         "use SELECT; to export, use --format csv|json|parquet --output FILE")
    return sql


def run_query(store: Store, sql: str) -> duckdb.DuckDBPyRelation:
    check_read_only(sql)
    con = connect(store)
    try:
        return con.sql(sql)
    except duckdb.Error as exc:
        raise QueryError(None, f"query failed: {str(exc).splitlines()[0]}",
                         "list the tables with `cim tables`; geometry columns are GEOMETRY (use ST_ functions)",
                         ) from exc


def open_store_for_query(path: str | Path) -> Store:
    store = Store(path, create=False)
    if "models" not in store.table_names():
        raise StoreError(path, "the store has no models table", "run `make run` or `cim ingest` first")
    return store
