"""Protection zones from city data: a model's outline grown by the rule's width, and buried lines of a GIS layer.

Zones are solids like any element, so every clash mode works against them. A zone's hash changes exactly when
its source geometry or the rule's width changes, so the incremental check re-tests it only then.
"""

from __future__ import annotations

import functools
import hashlib
import json
import logging
from pathlib import Path

import numpy as np
import pyarrow.compute as pc
import shapely

from cim.clash.engine import Zone
from cim.clash.rules import Rule, RuleSet
from cim.clash.selectors import _globs, is_a
from cim.clash.zones import buffer_prism
from cim.errors import CimError, ConfigError
from cim.store import Store

log = logging.getLogger(__name__)


def build_zones(rules: RuleSet, store: Store, origin: np.ndarray, ground_z: float | None,
                base: Path | None = None) -> dict[str, list[Zone]]:
    """rule name -> zones, for every rule whose side b is a zone (empty when the city lacks the data).
    ``base``: the folder stored source paths are relative to (the city config's folder)."""
    out: dict[str, list[Zone]] = {}
    for rule in rules.rules:
        if rule.zone is None:
            continue
        if rule.zone.kind == "model":
            out[rule.name] = _model_zones(rule, store, origin, base)
        else:
            out[rule.name] = _layer_zones(rule, store, origin, ground_z)
    return out


def _digest(*parts) -> str:
    return hashlib.sha1(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()[:16]


def model_outlines(store: Store, spec) -> list[tuple[dict, shapely.Geometry, float, float, list[str]]]:
    """(model row, 2-D outline, zmin, zmax, geometry hashes) of every current model a model zone protects."""
    out = []
    for model in store.current_models().to_pylist():
        if model["kind"] != "ifc" or not _globs((spec.model,), model["model_id"]):
            continue
        elements = store.read_model("elements", model["model_id"], model["version"]).select(
            ["ifc_class", "footprint", "zmin", "zmax", "geometry_hash"])
        elements = elements.filter(pc.is_valid(elements["footprint"]))
        rows = [r for r in elements.to_pylist() if not spec.classes or is_a(r["ifc_class"], spec.classes)]
        if not rows:
            log.warning("model %s has no %s with a footprint: no zone", model["model_id"], ", ".join(spec.classes))
            continue
        outline = shapely.union_all(shapely.from_wkb([r["footprint"] for r in rows]), grid_size=0.001)
        out.append((model, outline, min(r["zmin"] for r in rows), max(r["zmax"] for r in rows),
                    sorted(r["geometry_hash"] or "" for r in rows)))
    return out


def _model_zones(rule: Rule, store: Store, origin: np.ndarray, base: Path | None) -> list[Zone]:
    spec = rule.zone
    zones = []
    for model, outline, zmin, zmax, hashes in model_outlines(store, spec):
        key = f"zone:{rule.name}:{model['model_id']}"
        solid = buffer_prism(outline, spec.width_m, zmin - spec.width_m, zmax + spec.width_m, origin, key)
        zones.append(Zone(solid, f"zone:{model['model_id']}", model["model_id"], "ProtectionZone",
                          f"{spec.width_m:g} m protection zone of {model['model_id']}",
                          _digest(hashes, spec.width_m), functools.partial(_axis, model, base)))
    return zones


def _layer_zones(rule: Rule, store: Store, origin: np.ndarray, ground_z: float | None) -> list[Zone]:
    spec = rule.zone
    if spec.layer not in store.layer_names():
        log.warning("rule %s: no layer %r in the store: no zones", rule.name, spec.layer)
        return []
    if ground_z is None:
        raise ConfigError(None, f"rule {rule.name}: buried-line zones need the city's ground elevation",
                          "pass the city config (cim.toml with [city] ground_elevation_m)")
    table = store.read(spec.layer).to_pylist()
    zones = []
    for row in table:
        if any(str(row.get(k)) != str(v) for k, v in spec.where.items()):
            continue
        line = shapely.from_wkb(row["geometry"])
        dia = float(row.get(spec.diameter_column) or 0.0) / 1000.0 if spec.diameter_column else 0.0
        cover = float(row.get(spec.depth_column) or 0.0) if spec.depth_column else 0.0
        top = ground_z - cover
        key = f"zone:{rule.name}:{row['feature_id']}"
        try:
            solid = buffer_prism(line, dia / 2 + spec.width_m, top - dia - spec.width_m, top + spec.width_m,
                                 origin, key)
        except (CimError, ValueError) as exc:
            log.warning("rule %s: feature %s of %s gives no zone: %s", rule.name, row["feature_id"], spec.layer, exc)
            continue
        kind = row.get("type") or spec.layer
        zones.append(Zone(solid, f"layer:{spec.layer}", str(row["feature_id"]), f"{spec.layer}:{kind}",
                          f"{row['feature_id']} ({kind}, {dia * 1000:.0f} mm, {spec.width_m:g} m clearance)",
                          _digest(row["geometry"].hex(), dia, cover, spec.width_m, ground_z)))
    return zones


def _axis(model: dict, base: Path | None):
    """The alignment axis of a tunnel model (for chainages), read from its source file; None when unavailable."""
    from cim.geometry.gross import georef_from_record, open_model
    from cim.tunnel.chainage import alignment_axes

    try:
        path = Path(model["source_path"])
        if not path.is_absolute() and base is not None:
            path = base / path
        if not path.exists():
            return None
        ifc = open_model(path)
        import ifcopenshell.util.unit as units

        unit = float(units.calculate_unit_scale(ifc))
        angle = float(units.calculate_unit_scale(ifc, "PLANEANGLEUNIT") or 1.0)
        axes = alignment_axes(ifc, georef_from_record(json.loads(model["georef"])), unit, angle)
    except (CimError, OSError, ValueError, KeyError, TypeError) as exc:
        log.info("no alignment axis for %s: %s", model["model_id"], exc)
        return None
    return axes[0] if axes else None
