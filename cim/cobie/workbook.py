"""Assemble the 19 COBie 2.4 sheets of one model, check them, and write the workbook atomically.

Why not IfcOpenShell's ifcfm (0.9.0, COBie 2.4 preset), which was tried first on the sample city: it has no
Impact, Issue or PickLists sheet; its Coordinate extraction fails on IFC4 files (``list + tuple`` in
``get_coordinate_elements``); it keeps only typed equipment as Components (the sample school gave 0 Components,
0 Types, 0 Contacts; a tunnel's pipes and cables are lost); it knows IfcBuilding only, so a tunnel
(IfcFacility) has no Facility, Floor or Space; and without an IfcOwnerHistory (most IFC4 exports) CreatedBy is
"n/a" and CreatedOn 1900-12-31, so no CreatedBy names a Contact. It also names every column ExternalSystem
where the COBie 2.4 template has ExtSystem. So the sheets are built here from the store (which already has each
element's storey, type, systems, materials, classification, property sets and city-CRS bounds) plus the source
IFC for what the store does not keep, using ifcopenshell.util.fm's COBie class lists; the column contract is
schemas/cobie_2_4.toml, transcribed from the COBie 2.4 template and ifcfm's preset.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from cim.cobie import assets, spatial
from cim.cobie.source import CobieError, Source, contacts, created_on, creator_email, load
from cim.cobie.spec import columns, problems, sheet_names, spec
from cim.files import xlsx_target

NA = spatial.NA
STAGE = {"plan": "Design", "build": "Construction", "manage": "As Built"}


@dataclass
class Build:
    """The rows being assembled; an add-on (the tunnel's) may change any of them before the sheets are made."""

    src: Source
    base: dict
    sheets: dict[str, list[dict]]
    floor_names: dict[str, str]
    space_names: dict[str, str]  # element global_id -> Space name
    space_elements: list[dict]
    components: list[dict]  # the elements that are Components
    component_names: dict[str, str] = field(default_factory=dict)
    type_of: Callable[[dict], str] = assets.fallback_type_name
    space_of: Callable[[dict], str | None] = lambda el: None
    component_extra: dict[str, dict] = field(default_factory=dict)  # global_id -> columns after COBie's
    type_rows: list[dict] | None = None  # set by an add-on to replace the generic Type rows
    system_rows: list[dict] | None = None


def _floor_areas(b: Build) -> None:
    """Components in no Space go to their floor's "(floor area)" Space row, created when needed."""
    gid_of_floor = {name: gid for gid, name in b.floor_names.items()}
    placed = b.space_of

    def space_of(el: dict) -> str | None:
        name = placed(el)
        if name is not None:
            return name
        floor = spatial.floor_of(el, b.floor_names)
        if floor is None:
            return None
        row = spatial.floor_area_space(b.base, floor, gid_of_floor[floor])
        if row["Name"] not in {s["Name"] for s in b.sheets["Space"]}:
            b.sheets["Space"].append(row)
        return row["Name"]

    b.space_of = space_of


def start(src: Source) -> Build:
    """Contacts, Facility, Floor, Space, Zone rows and the generic component choice of any building model."""
    people = contacts(src)
    base = {"CreatedBy": creator_email(src, people), "CreatedOn": created_on(src),
            "ExtSystem": src.model.get("authoring_application") or "cim"}
    sheets = {name: [] for name in sheet_names()}
    sheets["Contact"] = [{**base, "Category": "n/a", "Phone": NA, "ExtSystem": base["ExtSystem"], **c}
                         for c in people]
    sheets["Facility"] = spatial.facilities(src, base)
    sheets["Floor"], floor_names = spatial.floors(src, base, sheets["Facility"])
    sheets["Space"], space_names = spatial.spaces(src, base, floor_names)
    sheets["Zone"] = spatial.zones(src, base, space_names)
    space_elements = [e for e in src.elements if e["global_id"] in space_names]
    items = assets.component_elements(src)
    b = Build(src, base, sheets, floor_names, space_names, space_elements, items,
              component_names=assets.component_names(items),
              type_of=lambda el: el.get("type_name") or assets.fallback_type_name(el),
              space_of=lambda el: spatial.space_of(el, space_names, space_elements))
    return b


def finish(b: Build) -> dict[str, list[dict]]:
    """Component, Type, System, Assembly, Connection, Attribute, Coordinate and PickLists rows from ``b``."""
    _floor_areas(b)
    s, base, names = b.sheets, b.base, b.component_names
    s["Component"] = assets.components(base, b.components, names, b.type_of, b.space_of)
    for row in s["Component"]:
        row.update(b.component_extra.get(row["ExtIdentifier"], {}))
    s["Type"] = b.type_rows if b.type_rows is not None else assets.types(b.src, base, b.components, b.type_of)
    s["System"] = b.system_rows if b.system_rows is not None else assets.systems(b.src, base, b.components, names)
    s["Assembly"] = assets.assemblies(b.src, base, names)
    s["Connection"] = assets.connections(b.src, base, names)
    by_gid = {e["global_id"]: e for e in b.src.elements}
    placed = {
        "Facility": [(r["Name"], by_gid[r["ExternalFacilityIdentifier"]]) for r in s["Facility"]
                     if r["ExternalFacilityIdentifier"] in by_gid],
        "Floor": [(r["Name"], by_gid[r["ExtIdentifier"]]) for r in s["Floor"] if r["ExtIdentifier"] in by_gid],
        "Space": [(r["Name"], by_gid[r["ExtIdentifier"]]) for r in s["Space"]
                  if r["ExtIdentifier"] in by_gid and r["Category"] != "Floor area"],
        "Component": [(r["Name"], by_gid[r["ExtIdentifier"]]) for r in s["Component"] if r["ExtIdentifier"] in by_gid],
    }
    stage = STAGE.get(b.src.model.get("phase"), "As Built")
    s["Attribute"] = assets.attributes(base, placed, stage)
    rows_of = {el["global_id"]: (sheet, name) for sheet, items in placed.items() for name, el in items}
    rows_of.update({t["ExtIdentifier"]: ("Type", t["Name"]) for t in s["Type"] if t.get("ExtIdentifier") != NA})
    s["Document"] = assets.documents(b.src, base, rows_of, stage)
    s["Coordinate"] = assets.coordinates(base, {k: v for k, v in placed.items() if k in ("Space", "Component")},
                                         str(b.src.model["crs"]))
    s["PickLists"] = picklists(s)
    return {name: [_complete(name, r) for r in s[name]] if name != "PickLists" else s[name] for name in s}


def _complete(sheet: str, row: dict) -> dict:
    """COBie columns first in template order, "n/a" for any left empty; cim's own columns after them."""
    out = {c: (NA if row.get(c) in (None, "") else row[c]) for c in columns(sheet)}
    out.update({k: v for k, v in row.items() if k not in out})
    return out


def picklists(sheets: dict[str, list[dict]]) -> list[dict]:
    """The pick lists of the spec, extended with the Category and ZoneType values this workbook uses."""
    lists = {name: list(values) for name, values in spec()["picklists"].items()}
    for where, name in spec()["picklist_columns"].items():
        if name.startswith("Category-") or name == "ZoneType":
            sheet, col = where.split(".")
            for row in sheets.get(sheet, []):
                value = row.get(col)
                if value not in (None, "", NA) and str(value) not in lists.setdefault(name, []):
                    lists[name].append(str(value))
    cols = columns("PickLists")
    depth = max((len(lists.get(c, [])) for c in cols), default=0)
    return [{c: (lists.get(c, [])[i] if i < len(lists.get(c, [])) else None) for c in cols} for i in range(depth)]


def write(sheets: dict[str, list[dict]], path: str | Path) -> Path:
    """Check the sheets against schemas/cobie_2_4.toml, then write them (nothing is written when they fail)."""
    from openpyxl import Workbook

    from cim.files import append_row, write_atomic

    found = problems(sheets)
    if found:
        raise CobieError(path, f"the COBie sheets break the COBie 2.4 rules ({len(found)} problem(s)), first: "
                         f"{found[0]}", "report it with the model; nothing was written")
    book = Workbook()
    book.remove(book.active)
    for name, rows in sheets.items():
        cobie_columns = columns(name)
        header = list(dict.fromkeys(cobie_columns + [k for r in rows for k in r]))  # cim's own columns after
        ws = book.create_sheet(name)
        append_row(ws, header)
        for r in rows:
            append_row(ws, [r.get(c) for c in header])  # text from the model is never a live formula
        ws.freeze_panes = "A2"
    return write_atomic(path, book.save, what="COBie workbook")


def check_target(path: str | Path) -> Path:
    """Refuse an output path that is a folder or has no .xlsx suffix before any work is done."""
    return xlsx_target(path, "COBie workbook", "handover.xlsx", CobieError)


def export_cobie(store, model_id: str, path: str | Path,
                 addon: Callable[[object, str, Build], None] | None = None) -> Path:
    """Write the COBie 2.4 workbook of the current version of ``model_id`` to ``path``; returns the path.

    ``addon(store, model_id, build)`` may add or replace rows (the tunnel's register) before the check."""
    path = check_target(path)
    build = start(load(store, model_id))
    if addon is not None:
        addon(store, model_id, build)
    return write(finish(build), path)
