"""CityJSON 2.0 of the city's LoD1 blocks, for cjio and other CityJSON tools.

Each IFC building or facility (a row of the ``buildings`` table: footprint, base and top elevation) becomes
a ``Building`` (``Tunnel``, ``Bridge``, or ``GenericCityObject`` for other facilities) with an LoD1 ``Solid``
(a ``MultiSolid`` when the footprint has several parts); each existing building of the GIS layer
``buildings_existing`` not already shown by an IFC model becomes a ``Building`` extruded from the ground
by its ``height_m``. Coordinates stay in the city CRS (``metadata.referenceSystem``), stored as integers
in millimetres (``transform``); shared vertices are stored once.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import shapely
from pyproj import CRS
from shapely.geometry import Polygon
from shapely.geometry.polygon import orient

from cim.errors import CimError
from cim.store import Store
from cim.tiles.features import select_models

SCALE = 0.001
CITY_OBJECT_TYPES = {"building": "Building", "tunnel": "Tunnel", "bridge": "Bridge"}


class _Vertices:
    """Integer vertices in millimetres, each stored once."""

    def __init__(self, origin: np.ndarray):
        self.origin = origin
        self.index: dict[tuple[int, int, int], int] = {}

    def ring(self, coords, z: float) -> list[int]:
        out = []
        for x, y in np.asarray(coords)[:-1, :2]:
            key = (round((x - self.origin[0]) / SCALE), round((y - self.origin[1]) / SCALE),
                   round((z - self.origin[2]) / SCALE))
            idx = self.index.setdefault(key, len(self.index))
            if not out or out[-1] != idx:
                out.append(idx)
        return out

    def as_list(self) -> list[list[int]]:
        return [list(k) for k in self.index]


def export_cityjson(store: Store, target: Path | str, *, models: list[str] | None = None,
                    version: int | None = None, phase: str | None = None,
                    ground_z: float | None = None) -> tuple[Path, int]:
    """Write the CityJSON file; returns its path and the number of city objects."""
    from cim.gis_export.staging import staged_file
    from cim.tiles.context import ground_elevation

    target = Path(target)
    epsg = CRS.from_user_input(store.crs).to_epsg()
    if epsg is None:
        raise CimError(store.root, f"the city CRS {store.crs} has no EPSG code, which CityJSON needs",
                       "use a store whose [city] crs is an EPSG code", stage="export")
    selection = select_models(store, models, version, phase)
    blocks = _ifc_blocks(store, selection.models)
    ifc_ids = {m for m, r in selection.models.items() if r["kind"] == "ifc"}
    for name, row in selection.models.items():
        if name == "buildings_existing":
            z = ground_elevation(store) if ground_z is None else ground_z
            blocks += _context_blocks(store, row, z, ifc_ids)
    if not blocks:
        raise CimError(store.root, "nothing to export: the chosen models have no LoD1 building footprints",
                       "choose models with buildings (`cim query \"SELECT model_id, kind FROM buildings\"`)",
                       stage="export")
    lows = np.array([[*b["geom"].bounds[:2], b["base"]] for b in blocks]).min(axis=0)
    verts = _Vertices(np.floor(lows))
    objects = {}
    for b in blocks:
        objects[b["id"]] = {"type": b["type"], "attributes": b["attributes"],
                            "geometry": [_solid(b["geom"], b["base"], b["top"], verts)]}
    highs = np.array([[*b["geom"].bounds[2:], b["top"]] for b in blocks]).max(axis=0)
    doc = {"type": "CityJSON", "version": "2.0",
           "transform": {"scale": [SCALE] * 3, "translate": [float(v) for v in verts.origin]},
           "metadata": {"referenceSystem": f"https://www.opengis.net/def/crs/EPSG/0/{epsg}",
                        "geographicalExtent": [float(v) for v in (*lows, *highs)],
                        "title": "cim city model: LoD1 buildings"},
           "CityObjects": objects, "vertices": verts.as_list()}
    with staged_file(target, "CityJSON file") as tmp:
        tmp.write_text(json.dumps(doc, separators=(",", ":")), encoding="utf-8")
    return target, len(objects)


def _ifc_blocks(store: Store, chosen: dict[str, dict]) -> list[dict]:
    out = []
    for model_id, row in chosen.items():
        if row["kind"] != "ifc":
            continue
        table = store.read("buildings", filters=[("model_id", "=", model_id), ("version", "=", row["version"])])
        for b in table.to_pylist():
            if b["footprint"] is None or b["base_elevation_m"] is None or b["top_elevation_m"] is None:
                continue
            geom = shapely.from_wkb(b["footprint"])
            if geom.is_empty or geom.area <= 0 or b["top_elevation_m"] <= b["base_elevation_m"]:
                continue
            attrs = {"model_id": model_id, "version": row["version"], "phase": row["phase"],
                     "global_id": b["global_id"], "name": b["name"], "ifc_class": b["ifc_class"],
                     "kind": b["kind"], "measuredHeight": b["height_m"], "storeysAboveGround":
                     b["storeys_above_ground"], "element_key": f"{model_id}/{row['version']}/{b['global_id']}"}
            out.append({"id": f"{model_id}/{b['global_id']}", "type": CITY_OBJECT_TYPES.get(b["kind"],
                        "GenericCityObject"), "attributes": attrs, "geom": geom,
                        "base": b["base_elevation_m"], "top": b["top_elevation_m"]})
    return out


def _context_blocks(store: Store, row: dict, ground_z: float, shown: set[str]) -> list[dict]:
    out = []
    for f in store.read(row["model_id"]).to_pylist():
        height = f.get("height_m")
        if f.get("building_id") in shown or not height or height <= 0 or not f.get("geometry"):
            continue
        geom = shapely.from_wkb(f["geometry"])
        if geom.is_empty or geom.area <= 0:
            continue
        attrs = {"model_id": row["model_id"], "version": row["version"], "feature_id": str(f["feature_id"]),
                 "name": f.get("name"), "use": f.get("use"), "measuredHeight": height,
                 "storeysAboveGround": f.get("storeys"), "source": f.get("source"),
                 "element_key": f"{row['model_id']}/{row['version']}/{f['feature_id']}"}
        out.append({"id": f"{row['model_id']}/{f['feature_id']}", "type": "Building", "attributes": attrs,
                    "geom": geom, "base": ground_z, "top": ground_z + float(height)})
    return out


def _solid(geom, base: float, top: float, verts: _Vertices) -> dict:
    parts = [orient(p, 1.0) for p in (geom.geoms if hasattr(geom, "geoms") else [geom])
             if isinstance(p, Polygon) and p.area > 0]
    shells = [[_shell(p, base, top, verts)] for p in parts]
    if len(shells) == 1:
        return {"type": "Solid", "lod": "1", "boundaries": shells[0]}
    return {"type": "MultiSolid", "lod": "1", "boundaries": shells}


def _shell(poly: Polygon, base: float, top: float, verts: _Vertices) -> list:
    """Outward-facing surfaces: bottom (seen from below counter-clockwise), top, one wall per edge."""
    rings = [poly.exterior, *poly.interiors]
    bottom = [verts.ring(r.coords, base)[::-1] for r in rings]
    roof = [verts.ring(r.coords, top) for r in rings]
    walls = []
    for ring in rings:
        coords = np.asarray(ring.coords)[:, :2]
        for (ax, ay), (bx, by) in zip(coords[:-1], coords[1:], strict=True):
            if ax == bx and ay == by:
                continue
            low = verts.ring([(ax, ay), (bx, by), (ax, ay)], base)
            high = verts.ring([(bx, by), (ax, ay), (bx, by)], top)
            walls.append([[*low, *high]])
    return [bottom, roof, *walls]
