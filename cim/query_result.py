"""A checked query's answer, run only through ``execute``, so DuckDB may use every core.

The sandbox reads the store's files through Python (``cim.query_files.ReadOnlyFiles``), so each DuckDB
worker thread that reads a file needs the GIL. ``DuckDBPyConnection.execute`` releases the GIL while it
binds and runs a statement; the relation API (``con.sql(...)``, ``rel.dtypes``, ``rel.project``) does not,
and with more than one thread a relation that starts its scans waits, holding the GIL, for workers that
wait for it: a deadlock. So nothing here builds a relation: the columns come from ``DESCRIBE`` and the
rows from one ``execute`` of the statement (wrapped in a projection when geometry must become text or WKB).
"""

from __future__ import annotations

import duckdb


class QueryResult:
    """The statement ``sql`` on ``con``: its columns at once, its rows when fetched (run once)."""

    def __init__(self, con: duckdb.DuckDBPyConnection, sql: str, *, explain: bool = False) -> None:
        self._con = con
        self.sql = sql
        self.explain = explain
        if explain:  # EXPLAIN's two columns; DESCRIBE cannot wrap it
            self.columns, self.types = ["explain_key", "explain_value"], ["VARCHAR", "VARCHAR"]
        else:  # binds the statement: a missing column or function fails here, before anything runs
            self.columns, self.types = self._describe(sql)
        self._ran = False

    def _describe(self, sql: str) -> tuple[list[str], list[str]]:
        """Names and types of the statement's columns; DESCRIBE and SUMMARIZE are described as subqueries."""
        try:
            described = self._con.execute(f"DESCRIBE {sql}").fetchall()
        except duckdb.ParserException:
            described = self._con.execute(f"DESCRIBE SELECT * FROM ({sql})").fetchall()
        return [row[0] for row in described], [str(row[1]) for row in described]

    def geometry_columns(self) -> list[str]:
        return [c for c, t in zip(self.columns, self.types, strict=True) if t == "GEOMETRY"]

    def run(self, geometry_as: str | None = None, limit: int | None = None) -> duckdb.DuckDBPyConnection:
        """Execute the statement; ``geometry_as`` ("ST_AsText", "ST_AsWKB") converts its geometry columns,
        ``limit`` stops it after that many rows (DuckDB then reads no more than it needs)."""
        if self._ran:
            raise RuntimeError("a QueryResult is fetched once")
        self._ran = True
        sql = self.sql
        if geometry_as and self.geometry_columns():
            # by position: a statement may repeat a column name, which a subquery would rename apart
            cols = ", ".join(f"{geometry_as}(#{n}) AS {_quote(c)}" if t == "GEOMETRY" else f"#{n} AS {_quote(c)}"
                             for n, (c, t) in enumerate(zip(self.columns, self.types, strict=True), start=1))
            sql = f"SELECT {cols} FROM {_subquery(sql)}"
        if limit is not None:
            sql = f"SELECT * FROM {_subquery(sql)} LIMIT {int(limit)}"
        return self._con.execute(sql)

    def fetchone(self) -> tuple | None:
        """The first row. The statement runs with LIMIT 1 and is read to its end: a result left half read
        keeps scans running, and the connection closing later (with the GIL, in its destructor) waits for
        worker threads that wait for the GIL to read the store's files: a hang seen in CI."""
        rows = self.run(limit=None if self.explain else 1).fetchall()
        return rows[0] if rows else None

    def fetchall(self) -> list[tuple]:
        return self.run().fetchall()


def _subquery(sql: str) -> str:
    """The statement as a subquery: without its closing ';', on lines of its own so that a trailing
    ``-- comment`` ends before the closing parenthesis."""
    tokens = duckdb.tokenize(sql)  # comments are not tokens; a ';' inside a string is part of one
    if tokens and sql[tokens[-1][0]] == ";":
        sql = sql[:tokens[-1][0]]
    return f"(\n{sql}\n)"


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'
