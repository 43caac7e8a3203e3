"""Layers a GIS user needs that no table holds as such: the utility tunnel's axis and the protection zones.

Both are computed the way the checks compute them, so the map shows what the checks test:

- ``tunnel_axis``: each IfcAlignment of a tunnel model (``buildings.kind = 'tunnel'`` or a model with
  ``tunnel_assets``) as a line in the city CRS, with its start and end chainage (``cim.tunnel.chainage``);
  the alignment is read from the model's source file, as `cim tunnel` does.
- ``protection_zones``: the plan outline of every zone of the clash rules (``cim.clash.zone_build``): a
  tunnel's outline grown by the rule's width, and each buried pipeline's corridor (diameter / 2 + width).
  ``zmin_m`` / ``zmax_m`` give the vertical extent of model zones (null for pipeline corridors, whose depth
  depends on the city's ground elevation in cim.toml).
"""

from __future__ import annotations

import json
import logging

import pyarrow as pa
import pyarrow.compute as pc
import shapely

from cim.errors import CimError
from cim.gis_export.layers import Layer, as_layer
from cim.store import Store

log = logging.getLogger(__name__)
_QUAD_SEGS = 8  # as cim.clash.zones: 0.8 % chord error at most


def derived_layers(store: Store, rules_path: str | None = None) -> tuple[list[Layer], list[str]]:
    """The derived layers (present even when empty, so a project always finds them) and notes on what is
    missing from them."""
    notes: list[str] = []
    axis = _axis_table(store, notes)
    zones = _zone_table(store, rules_path, notes)
    return [as_layer("tunnel_axis", axis, ["geometry"]), as_layer("protection_zones", zones, ["geometry"])], notes


def _tunnel_models(store: Store) -> list[dict]:
    ids: set[str] = set()
    if store.has_table("buildings"):
        b = store.read_current("buildings").select(["model_id", "kind"])
        ids |= set(b.filter(pc.equal(b["kind"], "tunnel"))["model_id"].to_pylist())
    if store.has_table("tunnel_assets"):
        ids |= set(store.read("tunnel_assets", columns=["model_id"])["model_id"].to_pylist())
    return [m for m in store.current_models().to_pylist() if m["model_id"] in ids and m["kind"] == "ifc"]


def _axis_table(store: Store, notes: list[str]) -> pa.Table:
    from cim.config import resolve_source
    from cim.geometry.gross import georef_from_record, open_model
    from cim.tunnel.chainage import alignment_axes

    rows = []
    for model in _tunnel_models(store):
        path = resolve_source(model["source_path"], model.get("source_root"))
        try:
            import ifcopenshell.util.unit as units

            ifc = open_model(path)
            unit = float(units.calculate_unit_scale(ifc))
            angle = float(units.calculate_unit_scale(ifc, "PLANEANGLEUNIT") or 1.0)
            axes = alignment_axes(ifc, georef_from_record(json.loads(model["georef"])), unit, angle)
        except (CimError, OSError, ValueError, KeyError, TypeError) as exc:
            notes.append(f"tunnel_axis: no axis for {model['model_id']}: {exc}")
            continue
        if not axes:
            notes.append(f"tunnel_axis: {model['model_id']} has no IfcAlignment with horizontal segments")
        for axis in axes:
            rows.append({"model_id": model["model_id"], "version": model["version"], "name": axis.name,
                         "chainage_start_m": float(axis.stations[0]), "chainage_end_m": float(axis.stations[-1]),
                         "length_m": float(shapely.LineString(axis.xy).length),
                         "geometry": shapely.to_wkb(shapely.LineString(axis.xy))})
    schema = pa.schema([("model_id", pa.string()), ("version", pa.int64()), ("name", pa.string()),
                        ("chainage_start_m", pa.float64()), ("chainage_end_m", pa.float64()),
                        ("length_m", pa.float64()), ("geometry", pa.binary())])
    return pa.Table.from_pylist(rows, schema=schema)


def _zone_table(store: Store, rules_path: str | None, notes: list[str]) -> pa.Table:
    from cim.clash.rules import load_rules

    rows = []
    for rule in load_rules(rules_path).rules:
        spec = rule.zone
        if spec is None:
            continue
        if spec.kind == "model":
            rows += _model_zone_rows(store, rule.name, spec)
        elif spec.layer in store.layer_names():
            rows += _layer_zone_rows(store, rule.name, spec)
        else:
            notes.append(f"protection_zones: rule {rule.name}: no layer {spec.layer!r} in the store")
    schema = pa.schema([("rule", pa.string()), ("zone_kind", pa.string()), ("source", pa.string()),
                        ("feature_id", pa.string()), ("description", pa.string()), ("width_m", pa.float64()),
                        ("zmin_m", pa.float64()), ("zmax_m", pa.float64()), ("geometry", pa.binary())])
    return pa.Table.from_pylist(rows, schema=schema)


def _model_zone_rows(store: Store, rule: str, spec) -> list[dict]:
    from cim.clash.zone_build import model_outlines

    rows = []
    for model, outline, zmin, zmax, _ in model_outlines(store, spec):
        grown = outline.buffer(spec.width_m, quad_segs=_QUAD_SEGS) if spec.width_m > 0 else outline
        rows.append({"rule": rule, "zone_kind": "model", "source": model["model_id"], "feature_id": None,
                     "description": f"{spec.width_m:g} m protection zone of {model['model_id']}",
                     "width_m": spec.width_m, "zmin_m": zmin - spec.width_m, "zmax_m": zmax + spec.width_m,
                     "geometry": shapely.to_wkb(grown)})
    return rows


def _layer_zone_rows(store: Store, rule: str, spec) -> list[dict]:
    rows = []
    for row in store.read(spec.layer).to_pylist():
        if any(str(row.get(k)) != str(v) for k, v in spec.where.items()):
            continue
        dia = float(row.get(spec.diameter_column) or 0.0) / 1000.0 if spec.diameter_column else 0.0
        grown = shapely.from_wkb(row["geometry"]).buffer(dia / 2 + spec.width_m, quad_segs=_QUAD_SEGS)
        kind = row.get("type") or spec.layer
        rows.append({"rule": rule, "zone_kind": "layer", "source": spec.layer, "feature_id": str(row["feature_id"]),
                     "description": f"{row['feature_id']} ({kind}, {dia * 1000:.0f} mm, {spec.width_m:g} m clearance)",
                     "width_m": spec.width_m, "zmin_m": None, "zmax_m": None, "geometry": shapely.to_wkb(grown)})
    return rows
