"""Writing a query result as a table, CSV, JSON or Parquet; geometry becomes WKT in text formats."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import duckdb
import pyarrow.parquet as pq
from rich.console import Console
from rich.table import Table

from cim.errors import CimError


def _text_relation(rel: duckdb.DuckDBPyRelation) -> duckdb.DuckDBPyRelation:
    cols = []
    for name, dtype in zip(rel.columns, rel.dtypes, strict=True):
        quoted = '"' + name.replace('"', '""') + '"'
        cols.append(f"ST_AsText({quoted}) AS {quoted}" if str(dtype) == "GEOMETRY" else quoted)
    return rel.project(", ".join(cols))


def write_result(rel: duckdb.DuckDBPyRelation, fmt: str, output: Path | None, limit: int, console: Console) -> None:
    if fmt == "parquet":
        if output is None:
            raise CimError(None, "--format parquet needs --output FILE")
        rel = rel.project(", ".join(
            f'ST_AsWKB("{c}") AS "{c}"' if str(t) == "GEOMETRY" else f'"{c}"'
            for c, t in zip(rel.columns, rel.dtypes, strict=True)))
        pq.write_table(rel.arrow(), output)
        return
    text = _text_relation(rel)
    if fmt == "csv":
        frame = text.df()
        frame.to_csv(output or sys.stdout, index=False)
    elif fmt == "json":
        rows = [dict(zip(text.columns, row, strict=True)) for row in text.fetchall()]
        payload = json.dumps(rows, default=str, ensure_ascii=False, indent=1)
        if output:
            output.write_text(payload)
        else:
            print(payload)
    else:
        rows = text.fetchall() if not limit else text.limit(limit + 1).fetchall()
        table = Table(*text.columns)
        for row in rows[: limit or None]:
            table.add_row(*[_cell(v) for v in row])
        console.print(table)
        if limit and len(rows) > limit:
            console.print(f"[dim](first {limit} rows; use --limit 0 for all or --format csv)[/]")


def _cell(value) -> str:
    if value is None:
        return ""
    text = str(value)
    return text if len(text) <= 80 else text[:77] + "..."
