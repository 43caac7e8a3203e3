"""The tunnel's COBie 2.4 handover workbook: the model-generic export (cim.cobie) with the tunnel register on top.

IfcOpenShell's COBie class list keeps only equipment; a tunnel's handover is mostly pipes, cables and untyped
sensors, so every ``tunnel_assets`` row becomes a Component here, and an untyped asset gets a Type named after its
class, predefined type and size. The Floor is the tunnel facility; Spaces are the compartments and fire
compartments (a component's Space is its fire compartment, else its compartment); Zones are the fire compartments
and the compartments (each holding its fire compartments); Issues are the GB 50838 findings (tunnel_findings).
Tunnel columns (chainage, offsets, utility) follow the COBie columns on the right.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import date
from pathlib import Path

from cim.cobie.spatial import row_name, unique_names
from cim.cobie.workbook import Build, check_target
from cim.cobie.workbook import export_cobie as export_model
from cim.errors import CimError
from cim.store import Store
from cim.tunnel.chainage import chainage_label

NA = "n/a"
EXT_SYSTEM = "cim"


class CobieError(CimError):
    stage = "tunnel"


def export_cobie(store: Store, model_id: str, path: str | Path) -> Path:
    """Write the COBie 2.4 workbook of one analysed tunnel model to ``path`` (see cim.cobie for the sheets)."""
    check_target(path)
    assets, comps = _rows(store, "tunnel_assets", model_id), _rows(store, "tunnel_compartments", model_id)
    if not assets and not comps:
        raise CobieError(getattr(store, "root", None), f"model {model_id!r} has no tunnel_assets or "
                         "tunnel_compartments rows", f"run `cim tunnel {model_id} <ifc>` first")
    findings = _rows(store, "tunnel_findings", model_id)
    return export_model(store, model_id, path, lambda _s, _m, build: add_tunnel(build, assets, comps, findings))


def add_tunnel(b: Build, assets: list[dict], comps: list[dict], findings: list[dict]) -> None:
    """Replace the generic Space, Zone, Component, Type and System choices with the tunnel register's."""
    floors = b.sheets["Floor"]
    for f in floors:
        f["Category"] = "Tunnel" if not b.floor_names or f["ExtObject"] != "IfcBuildingStorey" else f["Category"]
    floor = floors[0]["Name"] if floors else NA
    b.sheets["Space"] = _spaces(b.base, comps, {f["Name"] for f in floors}, floor)
    b.space_names = {c["global_id"]: row_name(c["name"]) for c in comps}
    b.space_elements = []
    b.sheets["Zone"] = _zones(b.base, comps)
    by_gid = {e["global_id"]: e for e in b.src.elements}
    names = _unique_names(assets)
    spaces = {s["Name"] for s in b.sheets["Space"]}
    asset_of = {a["global_id"]: a for a in assets}
    b.components = [{**by_gid.get(a["global_id"], {}), **{k: a.get(k) for k in
                     ("global_id", "name", "ifc_class", "tag", "type_name", "predefined_type")}} for a in assets]
    b.component_names = names
    b.type_of = lambda el: type_name(asset_of[el["global_id"]])
    b.space_of = lambda el: _space(asset_of[el["global_id"]], spaces)
    b.component_extra = {a["global_id"]: _component(a) for a in assets}
    b.type_rows = [{**b.base, **t} for t in _types(assets)]
    b.system_rows = [{**b.base, **s} for s in _systems(assets, names)]
    b.sheets["Issue"] = _issues(b, findings, spaces)


def _space(row: dict, spaces: set[str]) -> str | None:
    """The row's fire compartment, else its compartment, as a Space name that exists."""
    names = (row_name(n) for n in (row.get("fire_compartment"), row.get("compartment")) if n)
    return next((n for n in names if n in spaces), None)


def has_register(store: Store, model_id: str) -> bool:
    """True when `cim tunnel` has analysed ``model_id`` (its workbook then carries the register)."""
    return bool(_rows(store, "tunnel_assets", model_id) or _rows(store, "tunnel_compartments", model_id))


def _rows(store: Store, table: str, model_id: str) -> list[dict]:
    if not store.has_table(table):
        return []
    rows = store.read(table, filters=[("model_id", "=", model_id)]).to_pylist()
    latest = max((r["version"] for r in rows), default=None)
    return [r for r in rows if r["version"] == latest]


def _text(value) -> str:
    return NA if value in (None, "") else str(value)


def _unique_names(assets: list[dict]) -> dict[str, str]:
    """COBie names must be unique: repeated asset names get the GlobalId appended (commas become semicolons)."""
    return unique_names(assets, lambda a: a["name"] or a["global_id"])


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


def _component(a: dict) -> dict:
    """The register's values over the generic ones, and the tunnel columns after COBie's."""
    return {
        "Description": _description(a), "SerialNumber": _text(a.get("serial_number")),
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
            "ModelNumber": _text(_first(rows, "model_number")), "WarrantyGuarantorParts": NA,
            "WarrantyDurationParts": _text(warranty), "WarrantyGuarantorLabor": NA, "WarrantyDurationLabor": NA,
            "WarrantyDurationUnit": "year", "ExtObject": rows[0]["ifc_class"],
            "ExtIdentifier": _text(_first(rows, "type_global_id")),
            "ExpectedLife": _text(_first(rows, "expected_life_years")), "DurationUnit": "year",
            "NominalLength": NA, "NominalWidth": NA, "NominalHeight": NA,
            "NominalDiameter": _first(rows, "nominal_diameter_mm"), "ComponentCount": len(rows),
        })
    return out


def _systems(assets: list[dict], names: dict[str, str]) -> list[dict]:
    groups: dict[str, list[dict]] = defaultdict(list)
    for a in assets:
        if a.get("system"):
            groups[a["system"]].append(a)
    return [{"Name": system, "Category": _text(_first(rows, "utility_type")),
             "ComponentNames": ",".join(names[r["global_id"]] for r in rows),
             "ExtObject": "IfcDistributionSystem", "ExtIdentifier": system,
             "Description": f"{len(rows)} components, owner {_text(_first(rows, 'owner'))}"}
            for system, rows in sorted(groups.items())]


def _spaces(base: dict, comps: list[dict], floors: set[str], default_floor: str) -> list[dict]:
    out = []
    for c in comps:
        fire = c["kind"] == "fire_compartment"
        out.append({
            **base, "Name": row_name(c["name"]), "Category": "Fire compartment" if fire else "Compartment",
            "FloorName": c.get("tunnel") if c.get("tunnel") in floors else default_floor,
            "Description": f"{c.get('compartment_type') or 'untyped'} {c['kind'].replace('_', ' ')} "
                           f"{chainage_label(c.get('chainage_start_m'))}–{chainage_label(c.get('chainage_end_m'))}",
            "ExtObject": c.get("pattern"), "ExtIdentifier": c["global_id"],
            "RoomTag": NA, "UsableHeight": _text(c.get("clear_height_m")), "GrossArea": NA, "NetArea": NA,
            "CompartmentType": c.get("compartment_type"), "ChainageStart": c.get("chainage_start_m"),
            "ChainageEnd": c.get("chainage_end_m"), "Length": c.get("length_m"), "Width": c.get("width_m"),
            "ComponentCount": c.get("n_assets"),
        })
    return out


def _zones(base: dict, comps: list[dict]) -> list[dict]:
    """A Zone per fire compartment (its own Space) and per compartment (its fire compartments' Spaces)."""
    fires = defaultdict(list)
    for c in comps:
        if c["kind"] == "fire_compartment":
            fires[c.get("compartment")].append(row_name(c["name"]))
    zones = [{**base, "Name": row_name(c["name"]), "Category": "Fire compartment", "SpaceNames": row_name(c["name"]),
              "ExtObject": c.get("pattern"), "ExtIdentifier": c["global_id"],
              "Description": f"fire compartment of {_text(c.get('compartment'))}"}
             for c in comps if c["kind"] == "fire_compartment"]
    zones += [{**base, "Name": c["name"], "Category": "Compartment",
               "SpaceNames": ",".join(fires.get(c["name"]) or [row_name(c["name"])]), "ExtObject": c.get("pattern"),
               "ExtIdentifier": c["global_id"], "Description": f"{_text(c.get('compartment_type'))} compartment"}
              for c in comps if c["kind"] == "compartment"]
    return zones


def _issues(b: Build, findings: list[dict], spaces: set[str]) -> list[dict]:
    """One Issue per GB 50838 finding, on its fire compartment's (else compartment's, else the facility's) row."""
    facility = b.sheets["Facility"][0]["Name"] if b.sheets["Facility"] else NA
    out, seen = [], defaultdict(int)
    for f in findings:
        where = _space(f, spaces)
        name = f"{f['rule_id']} {where or facility}"
        seen[name] += 1
        if seen[name] > 1:
            name = f"{name} ({seen[name]})"
        level = "High" if f["severity"] == "error" else "Moderate"
        out.append({**b.base, "Name": name, "Type": "Design rule", "Risk": level, "Chance": "Has Occurred",
                    "Impact": level, "SheetName1": "Space" if where else "Facility", "RowName1": where or facility,
                    "SheetName2": NA, "RowName2": NA, "Description": f["message"], "Owner": b.base["CreatedBy"],
                    "Mitigation": f"meet {f['standard']} clause {f['clause']}", "ExtObject": "tunnel_findings",
                    "ExtIdentifier": f["rule_id"]})
    return out
