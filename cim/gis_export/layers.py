"""The store's tables as GIS layers: one geometry column, column types every GIS reads, no meshes.

GeoPackage and FlatGeobuf hold one geometry per layer and only flat columns, so each table is shaped here once
for both writers (and for the QGIS project, which styles what these layers hold):

- the main geometry is the table's first WKB column in its schema (``elements.footprint``,
  ``buildings.footprint``, ``clashes.point``, ``tunnel_assets.geometry``, a GIS layer's ``geometry``); any
  further WKB column becomes WKT text under its own name, so nothing is lost;
- lists, structs and maps become JSON text (QGIS shows Arrow lists as nothing useful);
- binary columns that are not geometry are left out, and so is the ``meshes`` table (triangle meshes are not
  GIS features: the GeoParquet export and ``cim query`` keep them);
- a table without a geometry column is an attribute-only layer (a GeoPackage attribute table; FlatGeobuf
  cannot hold one and skips it with a note).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa
import shapely

from cim.query import geometry_columns
from cim.store import Store

# The layer type of an empty table (a city not yet clash-checked), so QGIS styles it as what it will hold.
EMPTY_TYPES = {"clashes": "Point Z", "tunnel_axis": "LineString", "protection_zones": "MultiPolygon",
               "buildings": "MultiPolygon", "elements": "MultiPolygon"}
SKIPPED_TABLES = {"meshes": "3-D triangle meshes are not GIS features (use --geoparquet or cim query)"}
_MULTI = {"Point": "MultiPoint", "LineString": "MultiLineString", "Polygon": "MultiPolygon"}


@dataclass
class Layer:
    """One table (or derived layer) ready for an OGR writer: Arrow columns, geometry as WKB."""

    name: str
    table: pa.Table
    geometry: str | None  # the WKB column written as the layer's geometry; None: attribute-only
    geometry_type: str | None = None  # OGR name: "MultiPolygon", "Point Z", "Unknown"...
    notes: list[str] = field(default_factory=list)

    @property
    def rows(self) -> int:
        return self.table.num_rows


def geometry_type(wkb: pa.Array) -> tuple[str, pa.Array]:
    """The OGR layer type for these WKB values, and the values with single parts promoted to multi when both
    occur (GeoPackage and QGIS want one type per layer). Mixed kinds (points and polygons) give "Unknown"."""
    geoms = shapely.from_wkb(wkb.to_numpy(zero_copy_only=False))
    present = geoms[~shapely.is_missing(geoms)]
    kinds = {g.geom_type for g in present}
    bases = {k.removeprefix("Multi") for k in kinds}
    if len(kinds) == 2 and len(bases) == 1 and bases <= set(_MULTI):
        geoms = np.array([_as_multi(g) for g in geoms], dtype=object)
        kinds = {_MULTI[bases.pop()]}
        wkb = pa.array(shapely.to_wkb(geoms), pa.binary())
    name = kinds.pop() if len(kinds) == 1 else "Unknown"
    if name != "Unknown" and bool(shapely.has_z(present).any()):
        name += " Z"
    return name, wkb


def _as_multi(g):
    if g is None or g.geom_type not in _MULTI:
        return g
    return getattr(shapely.geometry, _MULTI[g.geom_type])([g])


def flat_column(column: pa.ChunkedArray) -> pa.Array | None:
    """The column as a type QGIS and GDAL read; None to leave it out (binary that is not geometry)."""
    kind = column.type
    if pa.types.is_dictionary(kind):
        return flat_column(column.cast(kind.value_type))
    if pa.types.is_binary(kind) or pa.types.is_large_binary(kind) or pa.types.is_fixed_size_binary(kind):
        return None
    if pa.types.is_list(kind) or pa.types.is_large_list(kind) or pa.types.is_fixed_size_list(kind) or \
            pa.types.is_struct(kind) or pa.types.is_map(kind):
        values = column.to_pylist()
        return pa.array([None if v is None else json.dumps(v, ensure_ascii=False, default=str) for v in values],
                        pa.string())
    if pa.types.is_large_string(kind):
        return column.combine_chunks().cast(pa.string())
    return column.combine_chunks()


def as_layer(name: str, table: pa.Table, geoms: list[str]) -> Layer:
    """``table`` shaped for GeoPackage/FlatGeobuf; ``geoms`` are its WKB columns, the first one the geometry."""
    main = geoms[0] if geoms else None
    notes: list[str] = []
    names, arrays = [], []
    gtype = None
    for column_name, column in zip(table.column_names, table.columns, strict=True):
        if column_name == main:
            gtype, array = geometry_type(column.combine_chunks())
        elif column_name in geoms:
            parsed = shapely.from_wkb(column.to_numpy(zero_copy_only=False))
            array = pa.array(shapely.to_wkt(parsed, rounding_precision=-1), pa.string())
            notes.append(f"{column_name}: second geometry, written as WKT text")
        else:
            array = flat_column(column)
            if array is None:
                notes.append(f"{column_name}: binary column left out")
                continue
        names.append(column_name)
        arrays.append(array)
    out = pa.table(arrays, names=names) if names else table
    if main is not None and out.num_rows == 0:
        gtype = EMPTY_TYPES.get(name, "Unknown")
    return Layer(name, out, main, gtype, notes)


def store_layers(store: Store) -> tuple[list[Layer], list[str]]:
    """Every table of the store (current versions, as `cim query` shows them) as a layer, and one note per
    table left out."""
    layers, notes = [], []
    for name in store.table_names():
        if name in SKIPPED_TABLES:
            notes.append(f"{name}: left out: {SKIPPED_TABLES[name]}")
            continue
        table = store.read_current(name)
        geoms = [g for g in geometry_columns(store, name) if g in table.column_names]
        layer = as_layer(name, table, geoms)
        notes += [f"{name}.{note}" for note in layer.notes]
        layers.append(layer)
    return layers, notes

