"""Export a model's takeoff as CSV files or one XLSX workbook (quantities, summary, disagreements)."""

from __future__ import annotations

import csv
from pathlib import Path

from cim.errors import StoreError
from cim.files import csv_text, safe_child
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
    """The estimators' workbook (cim.qto.workbook): one row per element quantity with the element's name, class,
    type, storey, material, classification and system; a summary sheet for all storeys and one per storey;
    the disagreements with the declared quantities. Written atomically; nothing is written on a refusal."""
    from cim.qto.workbook import write_workbook

    quantities = _rows(store, "quantities", model_id)
    version = max(r["version"] for r in quantities)
    quantities = [r for r in quantities if r["version"] == version]
    elements = store.read_model("elements", model_id, version).to_pylist()
    flat = [r for items in disagreements(quantities, tolerance).values() for r in items]
    return write_workbook(path, quantities, elements, flat)
