"""Writing a query result as a table, CSV, JSON or Parquet; geometry becomes WKT in text formats.

Result files are written here, by cim, after the query has run (never by DuckDB, whose query
connection cannot write): the whole result is fetched first, so a failing query leaves no file,
and the file appears at once (``write_atomic``). A result file may not be written inside the store.

Without ``--output`` every format goes to stdout; Parquet (binary) only when stdout is not a
terminal (``cim query ... -f parquet > result.parquet`` or a pipe), as the file would be unreadable
on screen. pyarrow.parquet and Rich load only for the format that needs them; pandas never.
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
    from rich.console import Console

    from cim.query_result import QueryResult
    from cim.store import Store


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


def write_result(result: QueryResult, fmt: str, output: Path | None, limit: int,
                 console: Console | None) -> None:
    """Fetch and write the result; a DuckDB error while fetching becomes one QueryError line.

    ``console`` prints the table format (a stdout Console is made when it is None).
    """
    check_format(fmt, output)
    try:
        _write(result, fmt, output, limit, console)
    except duckdb.Error as exc:
        raise query_failed(exc) from exc


def _write(result: QueryResult, fmt: str, output: Path | None, limit: int, console: Console) -> None:
    if fmt == "parquet":
        _emit_parquet(result.run("ST_AsWKB").to_arrow_table(), output)
        return
    if fmt == "csv":
        _emit(_csv_payload(result.columns, result.run("ST_AsText").fetchall()), output)
    elif fmt == "json":
        _emit(json.dumps([dict(zip(result.columns, row, strict=True)) for row in result.run("ST_AsText").fetchall()],
                         default=str, ensure_ascii=False, indent=1) + "\n", output)
    else:
        from rich.console import Console
        from rich.text import Text

        console = console or Console()
        if result.explain:
            for _, plan in result.run().fetchall():
                console.print(Text(str(plan)))
        else:
            _print_table(result, limit, console)


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


def _csv_payload(columns: list[str], rows: list[tuple]) -> str:
    """CSV that a spreadsheet opens without running a formula from the data.

    Written with the csv module rather than pandas: importing pandas alone costs about half a second, a
    third of a typical `cim query`. Empty for NULL; values as Python prints them.
    """
    import csv

    rows = [[csv_text(v) for v in row] for row in rows]
    # A bare carriage return inside an unquoted field starts a new row in a spreadsheet (and a formula
    # after it would run); with RFC 4180 line ends the csv writer quotes every field holding one.
    has_cr = any(isinstance(v, str) and "\r" in v for row in rows for v in row)
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n" if has_cr else "\n")
    writer.writerow(columns)
    writer.writerows(rows)
    return buffer.getvalue()


def _emit(payload: str, output: Path | None) -> None:
    if output is None:
        sys.stdout.write(payload)
    else:
        write_atomic(output, payload, what="query result")


def _print_table(result: QueryResult, limit: int, console: Console) -> None:
    from rich.table import Column, Table
    from rich.text import Text

    rows = result.run("ST_AsText", limit + 1 if limit else None).fetchall()  # one more: are there others?
    table = Table(*[Column(Text(c)) for c in result.columns])  # values shown as they are, never as rich markup
    for row in rows[: limit or None]:
        table.add_row(*[Text(_cell(v)) for v in row])
    console.print(table)
    if limit and len(rows) > limit:
        console.print(f"[dim](first {limit} rows; use --limit 0 for all or --format csv)[/]")


def _cell(value) -> str:
    if value is None:
        return ""
    text = str(value)
    return text if len(text) <= 80 else text[:77] + "..."
