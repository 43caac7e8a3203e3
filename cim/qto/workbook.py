"""The quantity workbook for estimators: what each quantity is of, next to it, and totals per storey.

Sheets: "Quantities" (one row per element quantity: element name, IFC class, type, storey, building, material,
classification, system, then the value in the column of its unit: "Length [m]", "Area [m2]", "Volume [m3]",
"Count [pcs]", "Mass [kg]"), "All storeys" and one sheet per storey (the additive computed quantities summed per
class, type, material, classification and system, one column per quantity, e.g. "NetVolume [m3]"), and
"Disagreements" (computed vs declared beyond the tolerance). Internal columns (geometry_hash, model_id, version)
are left out; the GlobalId stays as the last column so an element can be found in any IFC viewer. Everything
comes from the store: the quantities table and the elements table of the same model version.
"""

from __future__ import annotations

import re
from collections import defaultdict
from pathlib import Path

from cim.errors import CimError
from cim.files import xlsx_target
from cim.qto.aggregate import NOT_ADDITIVE

UNIT_COLUMNS = {"m": "Length [m]", "m2": "Area [m2]", "m3": "Volume [m3]", "count": "Count [pcs]", "kg": "Mass [kg]"}
UNIT_LABEL = {"count": "pcs"}
ELEMENT_COLUMNS = ("Element", "IFC class", "Type", "Storey", "Building", "Material", "Classification", "System")
GROUP_COLUMNS = ("IFC class", "Type", "Material", "Classification", "System")
NO_STOREY = "(no storey)"


class QtoWorkbookError(CimError):
    stage = "qto"


def describe(el: dict | None) -> dict:
    """The estimator's view of an element: names, never keys."""
    el = el or {}
    return {"Element": el.get("name") or el.get("global_id"), "IFC class": el.get("ifc_class"),
            "Type": el.get("type_name"), "Storey": el.get("storey"), "Building": el.get("building"),
            "Material": " + ".join(sorted(el.get("materials") or [])) or None,
            "Classification": ", ".join(el.get("classification") or []) or None,
            "System": ", ".join(sorted(set(el.get("systems") or []))) or None}


def _unit_value(row: dict, value) -> dict:
    return {UNIT_COLUMNS.get(row["unit"], f"[{row['unit']}]"): value}


def quantity_rows(quantities: list[dict], elements: dict[str, dict]) -> list[dict]:
    out = []
    for r in quantities:
        declared = r.get("declared_value")
        diff = r.get("difference")
        out.append({**describe(elements.get(r["global_id"])), "IFC class": r["ifc_class"], "Quantity set": r["qset"],
                    "Quantity": r["name"], **_unit_value(r, _round(r.get("value"))),
                    "Declared (same unit)": _round(declared), "Difference [%]": _percent(diff), "Method": r["method"],
                    "Reliable": "yes" if r["reliable"] else "no", "Note": r.get("note"), "GlobalId": r["global_id"]})
    return out


def _percent(diff: float | None):
    if diff is None:
        return None
    if diff in (float("inf"), float("-inf")):
        return str(diff)
    return round(diff * 100, 2)


def summary_rows(quantities: list[dict], elements: dict[str, dict], storey: str | None) -> list[dict]:
    """Additive computed quantities summed per class, type, material, classification and system (one storey, or
    all when ``storey`` is None); one column per quantity, its unit in the header."""
    totals: dict[tuple, dict] = {}
    members: dict[tuple, set] = defaultdict(set)
    for r in quantities:
        if r["method"] != "computed" or r["value"] is None or r["name"] in NOT_ADDITIVE:
            continue
        view = describe(elements.get(r["global_id"]))
        if storey is not None and (view["Storey"] or NO_STOREY) != storey:
            continue
        key = (r["ifc_class"], *(view[c] for c in GROUP_COLUMNS[1:]))
        row = totals.setdefault(key, dict(zip(GROUP_COLUMNS, key, strict=True)))
        header = f"{r['name']} [{UNIT_LABEL.get(r['unit'], r['unit'])}]"
        row[header] = row.get(header, 0.0) + r["value"]
        row["Unreliable values"] = row.get("Unreliable values", 0) + (0 if r["reliable"] else 1)
        members[key].add(r["global_id"])
    for key, row in totals.items():
        row.update({k: _round(v) for k, v in row.items() if isinstance(v, float)})
        row["Elements"] = len(members[key])
    return [totals[k] for k in sorted(totals, key=lambda k: tuple(str(x) for x in k))]


def sheet_title(name: str, taken: set[str]) -> str:
    """An Excel sheet name (31 characters, none of []:*?/\\) that no other sheet has."""
    base = re.sub(r"[\[\]:*?/\\]", "_", name).strip("'") or "storey"
    title, n = base[:31], 1
    while title.lower() in taken:
        n += 1
        title = f"{base[:31 - len(str(n)) - 1]}~{n}"
    taken.add(title.lower())
    return title


def _columns(rows: list[dict], first: tuple[str, ...], last: tuple[str, ...] = ()) -> list[str]:
    middle = sorted({k for r in rows for k in r} - set(first) - set(last))
    return [*first, *middle, *last]


def check_target(path: str | Path) -> Path:
    """Refuse an output path that is a folder or not .xlsx, before any work is done."""
    return xlsx_target(path, "quantity workbook", "takeoff.xlsx", QtoWorkbookError)


def write_workbook(path: str | Path, quantities: list[dict], elements: list[dict], flagged: list[dict]) -> Path:
    from openpyxl import Workbook

    from cim.files import append_row, write_atomic

    path = check_target(path)
    by_gid = {e["global_id"]: e for e in elements}
    book = Workbook()
    book.remove(book.active)
    tail = ("Declared (same unit)", "Difference [%]", "Method", "Reliable", "Note", "GlobalId")
    units = tuple(UNIT_COLUMNS.values())
    sheets = [("Quantities", quantity_rows(quantities, by_gid), (*ELEMENT_COLUMNS, "Quantity set", "Quantity", *units),
               tail)]
    sheets.append(("All storeys", summary_rows(quantities, by_gid, None), GROUP_COLUMNS, ("Elements",
                                                                                          "Unreliable values")))
    storeys = sorted({describe(by_gid.get(r["global_id"]))["Storey"] or NO_STOREY for r in quantities},
                     key=lambda s: (s == NO_STOREY, s))
    taken = {"quantities", "all storeys", "disagreements"}
    for storey in storeys:
        sheets.append((sheet_title(storey, taken), summary_rows(quantities, by_gid, storey), GROUP_COLUMNS,
                       ("Elements", "Unreliable values")))
    sheets.append(("Disagreements", quantity_rows(flagged, by_gid), (*ELEMENT_COLUMNS, "Quantity set", "Quantity",
                                                                     *units), tail))
    for title, rows, first, last in sheets:
        ws = book.create_sheet(title)
        header = _columns(rows, first, last)
        append_row(ws, header)
        for r in rows:
            append_row(ws, [r.get(c) for c in header])  # model text is never a live formula
        ws.freeze_panes = "A2"
    return write_atomic(path, book.save, what="quantity workbook")


def _round(value):
    """Sub-micrometre float noise from the meshes is not information an estimator needs."""
    return round(value, 6) if isinstance(value, float) and value not in (float("inf"), float("-inf")) else value
