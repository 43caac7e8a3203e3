"""Export a model's takeoff as CSV files or one XLSX workbook (quantities, summary, disagreements)."""

from __future__ import annotations

import csv
from pathlib import Path

from cim.errors import StoreError
from cim.files import append_row, csv_text, safe_child
from cim.qto.crosscheck import TOLERANCE, disagreements
from cim.store import Store

SHEETS = ("quantities", "quantity_summary")


def _rows(store: Store, table: str, model_id: str) -> list[dict]:
    if not store.has_table(table):
        raise StoreError(store.root, f"no {table} table yet", f"run the takeoff of {model_id!r} first")
    rows = store.read(table, filters=[("model_id", "=", model_id)]).to_pylist()
    if not rows and table == "quantities":
        raise StoreError(store.root, f"no quantities for {model_id!r}", "run the takeoff first")
    return rows


def _write_csv(path: Path, rows: list[dict], columns: list[str]) -> None:
    with path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=columns)
        writer.writeheader()
        writer.writerows({k: csv_text(v) for k, v in r.items()} for r in rows)


def export_csv(store: Store, model_id: str, folder: str | Path) -> list[Path]:
    """<model_id>_quantities.csv and <model_id>_quantity_summary.csv in ``folder``; returns the paths.

    Text a spreadsheet would run as a formula (a material named ``=cmd|...``) is written with a leading apostrophe.
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    paths = [safe_child(folder, f"{model_id}_{table}.csv", what="export file name") for table in SHEETS]
    for table, path in zip(SHEETS, paths, strict=True):
        _write_csv(path, _rows(store, table, model_id), store.read(table).schema.names)
    return paths


def export_xlsx(store: Store, model_id: str, path: str | Path, tolerance: float = TOLERANCE) -> Path:
    """One workbook: a sheet per table plus 'disagreements' (computed vs declared beyond ``tolerance``)."""
    from openpyxl import Workbook

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    book = Workbook()
    book.remove(book.active)
    quantities = _rows(store, "quantities", model_id)
    summary = _rows(store, "quantity_summary", model_id)
    for table, rows in (("quantities", quantities), ("quantity_summary", summary)):
        _sheet(book, table, rows, store.read(table).schema.names)
    flat = [r for items in disagreements(quantities, tolerance).values() for r in items]
    _sheet(book, "disagreements", flat, store.read("quantities").schema.names)
    book.save(path)
    return path


def _sheet(book, title: str, rows: list[dict], columns: list[str]) -> None:
    sheet = book.create_sheet(title)
    append_row(sheet, columns)
    for r in rows:
        append_row(sheet, [_cell(r.get(c)) for c in columns])
    sheet.freeze_panes = "A2"


def _cell(value):
    if isinstance(value, float) and value in (float("inf"), float("-inf")):
        return str(value)
    return value
