"""Build the tunnel tables for one model and write them: ``analyse_tunnel`` is the entry point for flows and the CLI."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa

from cim.errors import CimError
from cim.georef import resolve_georef
from cim.ifc.reader import open_ifc
from cim.isolated import call_in_child
from cim.store import Store
from cim.store.schema import table_schema
from cim.tunnel.compartments import compartment_records, compartments_table, finish_zones
from cim.tunnel.ifcfacts import read_facts
from cim.tunnel.patterns import find_zones
from cim.tunnel.register import assets_table, build_assets
from cim.tunnel.rules import findings_table, load_rules, run_rules


class TunnelError(CimError):
    stage = "tunnel"


RECOGNISED = ("an IfcFacility whose name or ObjectType says tunnel; compartments as IfcFacilityPart, "
              "IfcBuildingStorey, IfcSpace, IfcSpatialZone or IfcBuildingElementProxy named or typed like a "
              "compartment (TunnelCompartment, compartment, 舱) or fire compartment (FireCompartment, 防火分区)")


def is_tunnel_model(elements: pa.Table) -> bool:
    """True when the model has tunnel compartments (any recognised pattern) or a facility typed as a tunnel."""
    cols = [c for c in ("global_id", "ifc_class", "name", "object_type", "predefined_type", "description", "psets",
                        "parent_global_id", "container_global_id", "xmin", "ymin", "zmin", "xmax", "ymax", "zmax")
            if c in elements.column_names]
    rows = elements.select(cols).to_pylist()
    if any(r["ifc_class"] == "IfcFacility" and "tunnel" in f"{r.get('object_type')} {r.get('name')}".lower()
           for r in rows):
        return True
    return any(z.kind == "compartment" for z in find_zones(rows).values())


def _with_columns(name: str, table: pa.Table) -> pa.Table:
    """An empty result (a tunnel without compartments or findings) still carries the documented columns."""
    if table.num_rows:
        return table
    fields = [f for f in table_schema(name, "EPSG:4326") if f.name not in ("model_id", "version")]
    return pa.schema(fields).empty_table()


def build_tables(rows: list[dict], ifc_file, georef, phase: str, rules_path: Path | None = None):
    """(assets, compartments, findings) as lists of dicts."""
    facts = read_facts(ifc_file, georef)
    zones = find_zones(rows)
    assets = build_assets(rows, facts, zones, phase)
    finish_zones(zones, assets, facts)
    for a in assets:  # compartment types inferred from contents
        if a["compartment_global_id"] and a["compartment_type"] is None:
            a["compartment_type"] = zones[a["compartment_global_id"]].ctype
    tunnel = assets[0]["tunnel"] if assets else None
    comps = compartment_records(zones, facts, tunnel)
    findings = run_rules(assets, comps, load_rules(rules_path))
    return assets, comps, findings


def _tables_from_file(rows: list[dict], ifc_path: Path, crs: str, placement: dict | None, phase: str,
                      rules_path: Path | None) -> tuple[list, list, list]:
    opened = open_ifc(ifc_path)
    georef = resolve_georef(opened.file, ifc_path, crs, placement)
    return build_tables(rows, opened.file, georef, phase, rules_path)


def analyse_tunnel(store: Store, model_id: str, ifc_path: Path, rules_path: Path | None = None,
                   placement: dict | None = None) -> dict:
    """Build tunnel_assets, tunnel_compartments and tunnel_findings from the current version and write them."""
    latest = store.latest(model_id)
    if latest is None:
        raise TunnelError(ifc_path, f"model {model_id!r} is not in the store", "ingest the IFC first (cim ingest)")
    elements = store.read_model("elements", model_id)
    if not is_tunnel_model(elements):
        raise TunnelError(ifc_path, f"no tunnel found: model {model_id!r} has no tunnel facility and no tunnel "
                          "compartments, so nothing was written", f"recognised patterns are {RECOGNISED}")
    rows = elements.to_pylist()
    # read in a child process: IfcOpenShell never frees a parsed file (cim.isolated)
    assets, comps, findings = call_in_child(_tables_from_file, rows, ifc_path, store.crs, placement,
                                            latest.get("phase") or "manage", rules_path, path=ifc_path)
    version = int(latest["version"])
    with store.derived(model_id, version) as tx:  # the three tables or none
        tx.replace_model_rows("tunnel_assets", _with_columns("tunnel_assets", assets_table(assets)))
        tx.replace_model_rows("tunnel_compartments", _with_columns("tunnel_compartments", compartments_table(comps)))
        tx.replace_model_rows("tunnel_findings", _with_columns("tunnel_findings", findings_table(findings)))
    return {"model_id": model_id, "version": version, "assets": len(assets),
            "compartments": sum(c["kind"] == "compartment" for c in comps),
            "fire_compartments": sum(c["kind"] == "fire_compartment" for c in comps), "findings": len(findings),
            "errors": sum(f["severity"] == "error" for f in findings)}
