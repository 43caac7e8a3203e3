"""The COBie 2.4 sheet/column contract (schemas/cobie_2_4.toml) and the check of a workbook against it.

The exporter checks its own sheets with :func:`problems` before it writes anything, so a workbook whose
references do not resolve is never handed over; tests read the written file back and run the same check.
"""

from __future__ import annotations

import re
import tomllib
from functools import cache
from pathlib import Path

SPEC_FILE = Path(__file__).resolve().parents[2] / "schemas" / "cobie_2_4.toml"
ISO_DATETIME = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}$")
Sheets = dict[str, list[dict]]


@cache
def spec() -> dict:
    """The parsed specification (sheets in COBie order, pick lists, reference rules)."""
    with SPEC_FILE.open("rb") as fh:
        return tomllib.load(fh)


def sheet_names() -> list[str]:
    return list(spec()["sheets"])


def columns(sheet: str) -> list[str]:
    return list(spec()["sheets"][sheet]["columns"])


def _key_column(sheet: str) -> str:
    return "Email" if sheet == "Contact" else "Name"


def _names(value, is_list: bool) -> list[str]:
    text = str(value)
    return text.split(",") if is_list else [text]  # lists are written joined by "," alone


def problems(sheets: Sheets, headers: dict[str, list[str]] | None = None, limit: int = 20) -> list[str]:
    """What breaks the COBie 2.4 rules in ``sheets`` (sheet -> rows as dicts), at most ``limit`` lines.

    ``headers`` (sheet -> header row as written) also checks the column order; without it the rows' keys are used.
    """
    sp, na, out = spec(), spec()["na"], []
    if list(sheets) != list(sp["sheets"]):
        out.append(f"sheets {list(sheets)} are not the COBie 2.4 sheets {list(sp['sheets'])} in order")
    for sheet, rule in sp["sheets"].items():
        rows = sheets.get(sheet, [])
        header = (headers or {}).get(sheet) or (list(rows[0]) if rows else rule["columns"])
        if header[:len(rule["columns"])] != rule["columns"]:
            out.append(f"{sheet}: columns {header[:len(rule['columns'])]} are not {rule['columns']}")
        keys = set()
        for i, row in enumerate(rows, start=2):
            out.extend(f"{sheet} row {i}: {col} is empty" for col in rule["required"] if row.get(col) in (None, ""))
            if "CreatedOn" in row and not ISO_DATETIME.match(str(row["CreatedOn"])):
                out.append(f"{sheet} row {i}: CreatedOn {row['CreatedOn']!r} is not an ISO date-time")
            key = tuple(str(row.get(k)) for k in rule["key"])
            if rule["key"] and key in keys:
                out.append(f"{sheet} row {i}: {'/'.join(rule['key'])} {key} is repeated")
            keys.add(key)
    out.extend(_reference_problems(sheets, na))
    out.extend(_picklist_problems(sheets, na))
    return out[:limit]


def _reference_problems(sheets: Sheets, na: str) -> list[str]:
    out = []
    index = {s: {str(r.get(_key_column(s))) for r in rows} for s, rows in sheets.items()}
    for ref in spec()["references"]:
        for sheet in (list(sheets) if ref["sheet"] == "*" else [ref["sheet"]]):
            for i, row in enumerate(sheets.get(sheet, []), start=2):
                value = row.get(ref["column"])
                if value in (None, "") or (ref["column"] not in row):
                    continue
                target = ref.get("target") or row.get(ref["sheet_column"])
                if str(value) == na and (ref.get("allow_na") or target == na):
                    continue
                missing = [v for v in _names(value, ref.get("list", False)) if v not in index.get(target, set())]
                if missing:
                    out.append(f"{sheet} row {i}: {ref['column']} {missing[0]!r} names no {target} row")
    return out


def _picklist_problems(sheets: Sheets, na: str) -> list[str]:
    lists: dict[str, set[str]] = {}
    for row in sheets.get("PickLists", []):
        for col, value in row.items():
            if value not in (None, ""):
                lists.setdefault(col, set()).add(str(value))
    out = []
    for where, picklist in spec()["picklist_columns"].items():
        sheet, col = where.split(".")
        for i, row in enumerate(sheets.get(sheet, []), start=2):
            value = row.get(col)
            if value not in (None, "", na) and str(value) not in lists.get(picklist, set()):
                out.append(f"{sheet} row {i}: {col} {value!r} is not in the {picklist} pick list")
    return out


def read_workbook(path: str | Path) -> tuple[Sheets, dict[str, list[str]]]:
    """(sheet -> rows as dicts, sheet -> header) of a written workbook, for checks and tests."""
    from openpyxl import load_workbook

    book = load_workbook(path, read_only=True)
    sheets, headers = {}, {}
    for ws in book.worksheets:
        header, *rows = list(ws.iter_rows(values_only=True)) or [()]
        headers[ws.title] = list(header)
        sheets[ws.title] = [{h: v for h, v in zip(header, r, strict=False) if v is not None or h} for r in rows]
    book.close()
    return sheets, headers
