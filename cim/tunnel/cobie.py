"""COBie 2.4-style handover workbook of a utility tunnel, built from ``tunnel_assets`` and ``tunnel_compartments``.

IfcOpenShell's COBie exporter keeps only typed equipment; a tunnel's handover is mostly pipes, cables and untyped
sensors, so every ``tunnel_assets`` row becomes a Component here, and an untyped asset gets a Type named after its
class, predefined type and size. Spaces are the compartments and fire compartments (a component's Space is its fire
compartment, else its compartment); Zones are the fire compartments. COBie columns come first in COBie order (missing
text is ``n/a`` as COBie asks); tunnel columns (chainage, offsets, utility) follow on the right.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import date
from pathlib import Path

from cim.errors import CimError
from cim.files import append_row
from cim.store import Store
from cim.tunnel.chainage import chainage_label

NA = "n/a"
EXT_SYSTEM = "cim"
COMPONENT_COLS = ("Name", "TypeName", "Space", "Description", "ExtSystem", "ExtObject", "ExtIdentifier",
                  "SerialNumber", "InstallationDate", "WarrantyStartDate", "TagNumber", "BarCode", "AssetIdentifier",
                  "AssetKind", "UtilityType", "Compartment", "FireCompartment", "ChainageStart", "ChainageEnd",
                  "LateralOffset", "Elevation")
TYPE_COLS = ("Name", "Category", "Description", "AssetType", "Manufacturer", "ModelNumber", "WarrantyDurationParts",
             "WarrantyDurationUnit", "ExpectedLife", "DurationUnit", "NominalDiameter", "ComponentCount")
SYSTEM_COLS = ("Name", "Category", "ComponentNames", "ExtSystem", "ExtObject", "ExtIdentifier", "Description")
SPACE_COLS = ("Name", "Category", "FloorName", "Description", "ExtSystem", "ExtObject", "ExtIdentifier", "RoomTag",
              "UsableHeight", "CompartmentType", "ChainageStart", "ChainageEnd", "Length", "Width", "ComponentCount")
ZONE_COLS = ("Name", "Category", "SpaceNames", "ExtSystem", "ExtObject", "ExtIdentifier", "Description")


class CobieError(CimError):
    stage = "tunnel"


def export_cobie(store: Store, model_id: str, path: str | Path) -> Path:
    """Write the Component, Type, System, Space and Zone sheets of one analysed tunnel model to ``path``."""
    from openpyxl import Workbook

    assets, comps = _rows(store, "tunnel_assets", model_id), _rows(store, "tunnel_compartments", model_id)
    if not assets and not comps:
        raise CobieError(store.root, f"model {model_id!r} has no tunnel_assets or tunnel_compartments rows",
                         f"run `cim tunnel {model_id} <ifc>` first")
    names = _unique_names(assets)
    components = [_component(a, names[a["global_id"]]) for a in assets]
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    book = Workbook()
    book.remove(book.active)
    for title, cols, rows in (("Component", COMPONENT_COLS, components), ("Type", TYPE_COLS, _types(assets)),
                              ("System", SYSTEM_COLS, _systems(assets, names)), ("Space", SPACE_COLS, _spaces(comps)),
                              ("Zone", ZONE_COLS, _zones(comps))):
        sheet = book.create_sheet(title)
        append_row(sheet, cols)
        for r in rows:
            append_row(sheet, [r.get(c) for c in cols])  # text from the model is never a live formula
        sheet.freeze_panes = "A2"
    book.save(path)
    return path


def _rows(store: Store, table: str, model_id: str) -> list[dict]:
    if not store.has_table(table):
        return []
    rows = store.read(table, filters=[("model_id", "=", model_id)]).to_pylist()
    latest = max((r["version"] for r in rows), default=None)
    return [r for r in rows if r["version"] == latest]


def _text(value) -> str:
    return NA if value in (None, "") else str(value)




def _unique_names(assets: list[dict]) -> dict[str, str]:
    """COBie names must be unique: repeated asset names get the GlobalId appended."""
    counts: dict[str, int] = defaultdict(int)
    for a in assets:
        counts[a["name"] or a["global_id"]] += 1
    return {a["global_id"]: (a["name"] or a["global_id"]) if counts[a["name"] or a["global_id"]] == 1
            else f"{a['name']} [{a['global_id']}]" for a in assets}


def type_name(asset: dict) -> str:
    """The IFC type's name, else one made of class, predefined type and size so untyped assets still group."""
    if asset.get("type_name"):
        return asset["type_name"]
    parts = [asset["ifc_class"]]
    if asset.get("predefined_type") and asset["predefined_type"] not in ("NOTDEFINED", "USERDEFINED"):
        parts.append(asset["predefined_type"])
    if asset.get("nominal_diameter_mm"):
        parts.append(f"DN{asset['nominal_diameter_mm']:g}")
    if asset.get("voltage_kv"):
        parts.append(f"{asset['voltage_kv']:g} kV")
    return " ".join(parts)


def _description(a: dict) -> str:
    where = chainage_label(a.get("chainage_start_m"))
    if a.get("chainage_end_m") is not None and a["chainage_end_m"] != a.get("chainage_start_m"):
        where += f"–{chainage_label(a['chainage_end_m'])}"
    side = "" if a.get("lateral_offset_m") is None else f", offset {a['lateral_offset_m']:+.2f} m"
    return f"{a.get('utility_type') or ''} {a.get('asset_kind') or ''} at {where}{side}".strip()


def _component(a: dict, name: str) -> dict:
    return {
        "Name": name, "TypeName": type_name(a), "Space": _text(a.get("fire_compartment") or a.get("compartment")),
        "Description": _description(a), "ExtSystem": EXT_SYSTEM, "ExtObject": a["ifc_class"],
        "ExtIdentifier": a["global_id"], "SerialNumber": _text(a.get("serial_number")),
        "InstallationDate": _text(a.get("installation_date")), "WarrantyStartDate": _text(a.get("warranty_start")),
        "TagNumber": _text(a.get("tag")), "BarCode": _text(a.get("barcode")),
        "AssetIdentifier": _text(a.get("monitoring_point_id") or a.get("tag")), "AssetKind": a.get("asset_kind"),
        "UtilityType": a.get("utility_type"), "Compartment": a.get("compartment"),
        "FireCompartment": a.get("fire_compartment"), "ChainageStart": _mm(a.get("chainage_start_m")),
        "ChainageEnd": _mm(a.get("chainage_end_m")), "LateralOffset": _mm(a.get("lateral_offset_m")),
        "Elevation": _mm(a.get("elevation_m")),
    }


def _mm(value: float | None) -> float | None:
    """Metres to the millimetre: float noise from georeferencing is not information."""
    return None if value is None else round(float(value), 3)


def _years_between(start: str | None, end: str | None) -> float | None:
    if not start or not end:
        return None
    return round((date.fromisoformat(end) - date.fromisoformat(start)).days / 365.25, 2)


def _first(rows: list[dict], key: str):
    return next((r[key] for r in rows if r.get(key) not in (None, "")), None)


def _types(assets: list[dict]) -> list[dict]:
    groups: dict[str, list[dict]] = defaultdict(list)
    for a in assets:
        groups[type_name(a)].append(a)
    out = []
    for name, rows in sorted(groups.items()):
        code = _first(rows, "classification_code")
        category = f"{_first(rows, 'classification_system') or ''}:{code}".lstrip(":") if code else rows[0]["ifc_class"]
        warranty = next((y for y in (_years_between(r.get("warranty_start"), r.get("warranty_end")) for r in rows)
                         if y is not None), None)
        out.append({
            "Name": name, "Category": category, "Description": f"{rows[0].get('asset_kind')} ({rows[0]['ifc_class']})",
            "AssetType": "Fixed", "Manufacturer": _text(_first(rows, "manufacturer")),
            "ModelNumber": _text(_first(rows, "model_number")), "WarrantyDurationParts": warranty,
            "WarrantyDurationUnit": "year", "ExpectedLife": _first(rows, "expected_life_years"), "DurationUnit": "year",
            "NominalDiameter": _first(rows, "nominal_diameter_mm"), "ComponentCount": len(rows),
        })
    return out


def _systems(assets: list[dict], names: dict[str, str]) -> list[dict]:
    groups: dict[str, list[dict]] = defaultdict(list)
    for a in assets:
        if a.get("system"):
            groups[a["system"]].append(a)
    return [{"Name": system, "Category": _text(_first(rows, "utility_type")),
             "ComponentNames": ",".join(names[r["global_id"]] for r in rows), "ExtSystem": EXT_SYSTEM,
             "ExtObject": "IfcDistributionSystem", "ExtIdentifier": system,
             "Description": f"{len(rows)} components, owner {_text(_first(rows, 'owner'))}"}
            for system, rows in sorted(groups.items())]


def _spaces(comps: list[dict]) -> list[dict]:
    out = []
    for c in comps:
        fire = c["kind"] == "fire_compartment"
        out.append({
            "Name": c["name"], "Category": "Fire compartment" if fire else "Compartment",
            "FloorName": _text(c.get("compartment") if fire else c.get("tunnel")),
            "Description": f"{c.get('compartment_type') or 'untyped'} {c['kind'].replace('_', ' ')} "
                           f"{chainage_label(c.get('chainage_start_m'))}–{chainage_label(c.get('chainage_end_m'))}",
            "ExtSystem": EXT_SYSTEM, "ExtObject": c.get("pattern"), "ExtIdentifier": c["global_id"],
            "RoomTag": NA, "UsableHeight": c.get("clear_height_m"), "CompartmentType": c.get("compartment_type"),
            "ChainageStart": c.get("chainage_start_m"), "ChainageEnd": c.get("chainage_end_m"),
            "Length": c.get("length_m"), "Width": c.get("width_m"), "ComponentCount": c.get("n_assets"),
        })
    return out


def _zones(comps: list[dict]) -> list[dict]:
    """One Zone per fire compartment, holding its own Space row (COBie zones group spaces)."""
    return [{"Name": c["name"], "Category": "Fire compartment", "SpaceNames": c["name"], "ExtSystem": EXT_SYSTEM,
             "ExtObject": c.get("pattern"), "ExtIdentifier": c["global_id"],
             "Description": f"fire compartment of {_text(c.get('compartment'))}"}
            for c in comps if c["kind"] == "fire_compartment"]
