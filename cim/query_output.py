"""Writing a query result as a table, CSV, JSON or Parquet; geometry becomes WKT in text formats."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import duckdb
import pandas as pd
import pyarrow.parquet as pq
from rich.console import Console
from rich.table import Table

from cim.errors import CimError
from cim.files import csv_text


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
        for col in frame.columns:  # a spreadsheet opening the file never runs a formula from the data
            if pd.api.types.is_object_dtype(frame[col]) or pd.api.types.is_string_dtype(frame[col]):
                frame[col] = frame[col].map(csv_text)
        # A bare carriage return inside an unquoted field starts a new row in a spreadsheet (and a formula
        # after it would run); with RFC 4180 line ends the csv writer quotes every field holding one.
        has_cr = any(frame[c].astype(str).str.contains("\r", regex=False).any() for c in frame.columns
                     if pd.api.types.is_object_dtype(frame[c]) or pd.api.types.is_string_dtype(frame[c]))
        frame.to_csv(output or sys.stdout, index=False, lineterminator="\r\n" if has_cr else "\n")
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
