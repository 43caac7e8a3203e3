"""Which SQL `cim query` may run, decided by DuckDB's own parser (never by looking at string prefixes).

A query is one SELECT (DESCRIBE and SUMMARIZE of a query or view are SELECTs too), or EXPLAIN
[ANALYZE] of one. The SELECT's syntax tree (``json_serialize_sql``) is walked: it may read only the
store's views and the names of its own CTEs, and only the pure table functions in
``ALLOWED_TABLE_FUNCTIONS``; every file reader, catalog function and SQL-running function is
refused. EXPLAIN is never run as the user wrote it: its inner statement is parsed and checked on its
own, and cim builds the EXPLAIN around the checked text, so EXPLAIN cannot wrap COPY, ATTACH or SET.

``duckdb_settings()`` and the other ``duckdb_*()`` catalog functions are refused like any table
function outside the allow-list. The scalar ``current_setting()`` stays allowed: the query connection
has no temp directory and no allowed directories, so the settings it shows name no store path beyond
the one the user gave; at most the user's own home folder (``secret_directory``).
"""

from __future__ import annotations

import difflib
import json
from collections.abc import Iterator
from dataclasses import dataclass

import duckdb

from cim.errors import CimError

# Pure generators over values: they read no file and no catalog state.
ALLOWED_TABLE_FUNCTIONS = frozenset({"range", "generate_series", "unnest", "json_each", "json_tree"})
# Scalar functions with side effects beyond the query's result.
REFUSED_SCALAR_FUNCTIONS = frozenset({"write_log"})
# Views and Arrow scans the sandbox registers for itself; user SQL may not name them.
INTERNAL_PREFIX = "cim_internal_"
_SCHEMAS = {"", "main"}
_CATALOGS = {"", "memory"}
_ANALYZE = {"analyze", "analyse"}
_HINT = ("cim query runs one read-only SELECT over the store's tables; "
         "to export, use --format csv|json|parquet --output FILE")


class QueryError(CimError):
    """The query failed while running: a syntax, binding or runtime error reported by DuckDB."""

    stage = "query"


class RefusedQuery(QueryError):
    """The query was refused before running: it would write, read outside the store, or change settings."""


@dataclass(frozen=True)
class CheckedQuery:
    """The SQL cim will execute: the user's SELECT, or an EXPLAIN that cim built around it.

    ``tables`` are the store's views the statement names (lower case): the only ones cim needs to open.
    """

    sql: str
    explain: bool = False
    tables: frozenset[str] = frozenset()
    # Whether the statement may touch geometry (a geometry column, a spatial function or type, ``*``,
    # DESCRIBE/SUMMARIZE): only then does cim query load DuckDB's spatial extension.
    spatial: bool = True


def check_query(sql: str, views: set[str]) -> CheckedQuery:
    """Return the statement to run for ``sql``, or raise RefusedQuery with one line saying why."""
    statement = _one_statement(sql)
    if statement.type == duckdb.StatementType.SELECT:
        tables, spatial = _check_select(statement.query, views)
        return CheckedQuery(statement.query, tables=tables, spatial=spatial)
    if statement.type == duckdb.StatementType.EXPLAIN:
        analyze, inner = _explained(statement.query)
        inner_statement = _one_statement(inner)
        if inner_statement.type != duckdb.StatementType.SELECT:
            raise RefusedQuery(None, f"EXPLAIN may only wrap a SELECT, not {inner_statement.type.name}", _HINT)
        tables, spatial = _check_select(inner_statement.query, views)
        return CheckedQuery(f"EXPLAIN {'ANALYZE ' if analyze else ''}{inner_statement.query}", explain=True,
                            tables=tables, spatial=spatial)
    raise RefusedQuery(None, f"{statement.type.name} statements are not allowed: cim query is read-only", _HINT)


def _one_statement(sql: str) -> duckdb.Statement:
    try:
        statements = duckdb.extract_statements(sql)
    except duckdb.Error as exc:
        raise QueryError(None, f"SQL syntax error: {_first_line(exc)}", "check the SQL") from exc
    if len(statements) != 1:
        raise RefusedQuery(None, f"give exactly one statement (got {len(statements)})", "run them one at a time")
    return statements[0]


def _explained(sql: str) -> tuple[bool, str]:
    """(ANALYZE given?, the text after EXPLAIN [ANALYZE]) located with DuckDB's tokenizer."""
    starts = [start for start, _ in duckdb.tokenize(sql)]
    words = [(sql[a:b].split() or [""])[0].lower() for a, b in zip(starts, [*starts[1:], len(sql)], strict=True)]
    if not words or words[0] != "explain":
        raise RefusedQuery(None, "EXPLAIN must come first in the statement", _HINT)
    analyze = len(words) > 1 and words[1] in _ANALYZE
    rest = 2 if analyze else 1
    if rest >= len(starts):
        raise RefusedQuery(None, "EXPLAIN needs a SELECT to explain", _HINT)
    return analyze, sql[starts[rest]:]


def _check_select(sql: str, views: set[str]) -> tuple[frozenset[str], bool]:
    """Refuse what may not run; return the store views the statement names and whether it may touch
    geometry."""
    tree = _syntax_tree(sql)
    named: set[str] = set()
    ctes = {name.lower() for name in _cte_names(tree)}
    for name in ctes:
        if name.startswith(INTERNAL_PREFIX):
            raise RefusedQuery(None, f"the name {name!r} is reserved", "choose another name for the CTE")
    for node in _dicts(tree):
        kind = node.get("type")
        if kind == "TABLE_FUNCTION":
            _check_table_function(node)
        elif kind == "BASE_TABLE":
            _check_table(node, views, ctes)
            named.add(str(node.get("table_name", "")).lower())
        elif kind == "SHOW_REF" and node.get("query") is None:
            raise RefusedQuery(None, "SHOW of the catalog is not available", "list the tables with `cim tables`")
        elif node.get("class") == "FUNCTION" and str(node.get("function_name", "")).lower() in REFUSED_SCALAR_FUNCTIONS:
            raise RefusedQuery(None, f"the function {node['function_name']}() is not allowed in cim query", _HINT)
    # a CTE named like a view may read that view: open it too
    return frozenset(named & views), _may_touch_geometry(tree)


def _may_touch_geometry(tree: dict) -> bool:
    """True unless the statement surely reads no geometry column and calls nothing of spatial's.

    Errs towards True: a ``*`` or COLUMNS(...), DESCRIBE/SUMMARIZE, a cast to a type DuckDB does not have
    built in, an ST_ function or a column named like any geometry column of the store. (A miss is caught
    anyway: cim.query runs the statement again with spatial when DuckDB reports a missing function.)
    """
    from cim.store.schema import documented_tables

    names = {"geometry"} | {c["name"] for t in documented_tables()["tables"].values()
                            for c in t["columns"] if c["type"] == "wkb"}
    for node in _dicts(tree):
        cls, kind = node.get("class"), node.get("type")
        if cls == "STAR" or kind == "SHOW_REF":
            return True
        if cls == "FUNCTION" and str(node.get("function_name", "")).lower().startswith("st_"):
            return True
        cast = node.get("cast_type") or {} if cls == "CAST" else {}
        if cast and (cast.get("id") == "USER" or (cast.get("type_info") or {}).get("alias")):
            return True  # an extension's type (GEOMETRY is an alias DuckDB gives to what spatial defines)
        if cls == "COLUMN_REF" and str((node.get("column_names") or [""])[-1]).lower() in names:
            return True
    return False


def _syntax_tree(sql: str) -> dict:
    from cim.query_files import sql_string

    if "\x00" in sql:
        raise RefusedQuery(None, "the statement contains a NUL character", "remove it")
    try:
        with duckdb.connect() as parser:  # a literal, not a bound parameter: see cim.query_files.sql_string
            raw = parser.execute(f"SELECT json_serialize_sql({sql_string(sql)})").fetchone()[0]
        tree = json.loads(raw)
    except (duckdb.Error, RecursionError) as exc:
        raise RefusedQuery(None, f"cannot check this statement: {_first_line(exc)}", "simplify the query") from exc
    if tree.get("error"):
        reason = tree.get("error_message") or "DuckDB could not read it back"
        raise RefusedQuery(None, f"cannot check this statement: {reason}", _HINT)
    return tree


def _check_table_function(node: dict) -> None:
    function = node.get("function") or {}
    name = str(function.get("function_name", "")).lower()
    qualified = function.get("schema") or function.get("catalog")
    if function.get("class") != "FUNCTION" or qualified or name not in ALLOWED_TABLE_FUNCTIONS:
        allowed = ", ".join(sorted(ALLOWED_TABLE_FUNCTIONS))
        raise RefusedQuery(None, f"the table function {name or '?'}() is not allowed: cim query reads only the "
                                 f"store's tables", f"table functions allowed: {allowed}; list the tables with "
                                                    "`cim tables`")


def _check_table(node: dict, views: set[str], ctes: set[str]) -> None:
    name = str(node.get("table_name", ""))
    schema, catalog = str(node.get("schema_name", "")).lower(), str(node.get("catalog_name", "")).lower()
    if name.lower().startswith(INTERNAL_PREFIX) or schema.startswith(INTERNAL_PREFIX):
        raise RefusedQuery(None, f"{name!r} is internal to cim query", "list the tables with `cim tables`")
    if schema in _SCHEMAS and catalog in _CATALOGS:
        if name.lower() in ctes and not schema and not catalog:
            return
        if name.lower() in views:
            return
    shown = ".".join(part for part in (catalog, schema, name) if part)
    close = difflib.get_close_matches(name.lower(), sorted(views), n=1)
    guess = f"did you mean {close[0]!r}? " if close else ""
    raise RefusedQuery(None, f"no table {shown!r} in the store: cim query reads only the store's tables",
                       f"{guess}tables: {', '.join(sorted(views)) or 'none'} (see `cim tables`)")


def _cte_names(tree) -> Iterator[str]:
    for node in _dicts(tree):
        cte_map = node.get("cte_map")
        if isinstance(cte_map, dict):
            for entry in cte_map.get("map", []):
                yield str(entry.get("key", ""))


def _dicts(tree) -> Iterator[dict]:
    """Every JSON object in the tree, depth first (an explicit stack: deep queries cannot overflow it)."""
    stack = [tree]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            yield item
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)


def _first_line(exc: BaseException) -> str:
    lines = [line for line in str(exc).splitlines() if line.strip()]
    return lines[0] if lines else type(exc).__name__
