"""Writing a query result as a table, CSV, JSON or Parquet; geometry becomes WKT in text formats.

Result files are written here, by cim, after the query has run (never by DuckDB, whose query
connection cannot write): the whole result is fetched first, so a failing query leaves no file,
and the file appears at once (``write_atomic``). A result file may not be written inside the store.

Without ``--output`` every format goes to stdout; Parquet (binary) only when stdout is not a
terminal (``cim query ... -f parquet > result.parquet`` or a pipe), as the file would be unreadable
on screen. Pandas, pyarrow.parquet and Rich load only for the format that needs them.
"""

from __future__ import annotations

import io
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import duckdb

from cim.errors import CimError
from cim.files import csv_text, write_atomic
from cim.query import query_failed

if TYPE_CHECKING:
    import pandas as pd
    from rich.console import Console

    from cim.store import Store

_EXPLAIN_COLUMNS = ["explain_key", "explain_value"]


def check_output(output: Path | None, store: Store | str | Path) -> None:
    """Refuse an output file inside the store: a query must never replace a table's file or log."""
    if output is None:
        return
    folder = Path(store) if isinstance(store, (str, Path)) else store.root
    target, root = output.resolve(), folder.resolve()
    if target == root or root in target.parents:
        raise CimError(output, "--output points inside the store; a query result may not be written there",
                       "write it to a file outside the store folder", stage="query")
    if target.is_dir():
        raise CimError(output, "--output is a folder", "give a file name", stage="query")


def check_format(fmt: str, output: Path | None) -> None:
    """Refuse a format/output pair that cannot work, before the query runs."""
    if fmt == "table" and output is not None:
        raise CimError(output, "--output needs --format csv, json or parquet", stage="query")
    if fmt == "parquet" and output is None and _stdout_is_terminal():
        raise CimError(None, "--format parquet is binary and stdout is a terminal",
                       "pass --output FILE.parquet, or redirect: cim query ... -f parquet > result.parquet",
                       stage="query")


def _stdout_is_terminal() -> bool:
    return sys.stdout.isatty()


def write_result(rel: duckdb.DuckDBPyRelation, fmt: str, output: Path | None, limit: int,
                 console: Console | None) -> None:
    """Fetch and write the result; a DuckDB error while fetching becomes one QueryError line.

    ``console`` prints the table format (a stdout Console is made when it is None).
    """
    check_format(fmt, output)
    try:
        _write(rel, fmt, output, limit, console)
    except duckdb.Error as exc:
        raise query_failed(exc) from exc


def _write(rel: duckdb.DuckDBPyRelation, fmt: str, output: Path | None, limit: int, console: Console) -> None:
    if fmt == "parquet":
        rel = rel.project(", ".join(
            f'ST_AsWKB({_quote(c)}) AS {_quote(c)}' if str(t) == "GEOMETRY" else _quote(c)
            for c, t in zip(rel.columns, rel.dtypes, strict=True)))
        _emit_parquet(rel.to_arrow_table(), output)
        return
    text = _text_relation(rel)
    if fmt == "csv":
        _emit(_csv_payload(text.df()), output)
    elif fmt == "json":
        rows = [dict(zip(text.columns, row, strict=True)) for row in text.fetchall()]
        _emit(json.dumps(rows, default=str, ensure_ascii=False, indent=1) + "\n", output)
    else:
        from rich.console import Console
        from rich.text import Text

        console = console or Console()
        if text.columns == _EXPLAIN_COLUMNS:
            for _, plan in text.fetchall():
                console.print(Text(str(plan)))
        else:
            _print_table(text, limit, console)


def _emit_parquet(table, output: Path | None) -> None:
    """The whole file is made in memory first: a failure leaves no file and writes nothing to stdout."""
    import pyarrow.parquet as pq

    if output is not None:
        write_atomic(output, lambda fh: pq.write_table(table, fh), what="query result")
        return
    buffer = io.BytesIO()
    pq.write_table(table, buffer)
    sys.stdout.flush()
    sys.stdout.buffer.write(buffer.getvalue())
    sys.stdout.buffer.flush()


def _csv_payload(frame: pd.DataFrame) -> str:
    """CSV that a spreadsheet opens without running a formula from the data."""
    import pandas as pd

    texts = [c for c in frame.columns
             if pd.api.types.is_object_dtype(frame[c]) or pd.api.types.is_string_dtype(frame[c])]
    for col in texts:
        frame[col] = frame[col].map(csv_text)
    # A bare carriage return inside an unquoted field starts a new row in a spreadsheet (and a formula
    # after it would run); with RFC 4180 line ends the csv writer quotes every field holding one.
    has_cr = any(frame[c].astype(str).str.contains("\r", regex=False).any() for c in texts)
    return frame.to_csv(index=False, lineterminator="\r\n" if has_cr else "\n")


def _emit(payload: str, output: Path | None) -> None:
    if output is None:
        sys.stdout.write(payload)
    else:
        write_atomic(output, payload, what="query result")


def _print_table(text: duckdb.DuckDBPyRelation, limit: int, console: Console) -> None:
    from rich.table import Column, Table
    from rich.text import Text

    rows = text.fetchall() if not limit else text.limit(limit + 1).fetchall()
    table = Table(*[Column(Text(c)) for c in text.columns])  # values are shown as they are, never as rich markup
    for row in rows[: limit or None]:
        table.add_row(*[Text(_cell(v)) for v in row])
    console.print(table)
    if limit and len(rows) > limit:
        console.print(f"[dim](first {limit} rows; use --limit 0 for all or --format csv)[/]")


def _text_relation(rel: duckdb.DuckDBPyRelation) -> duckdb.DuckDBPyRelation:
    cols = []
    for name, dtype in zip(rel.columns, rel.dtypes, strict=True):
        quoted = _quote(name)
        cols.append(f"ST_AsText({quoted}) AS {quoted}" if str(dtype) == "GEOMETRY" else quoted)
    return rel.project(", ".join(cols))


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _cell(value) -> str:
    if value is None:
        return ""
    text = str(value)
    return text if len(text) <= 80 else text[:77] + "..."
