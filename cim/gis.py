"""Read GIS layers, check and repair their geometry, and reproject them into the city CRS.

One bad feature must not sink a whole layer: features are read with invalid geometry tolerated,
repaired when shapely can do it without changing the geometry family, and otherwise rejected
with a reason the user can act on. Whole-file problems (missing, empty, unknown format, no CRS)
raise :class:`cim.errors.GisError`.
"""

from __future__ import annotations

import json
import re
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pyogrio
import pyogrio.raw
import shapely
from pyproj import CRS, Transformer
from pyproj.exceptions import CRSError

from cim.errors import GisError
from cim.georef.crs import area_problem
from cim.gis_columns import geometry_mix_note, storable_names, storable_values, typed_table
from cim.gis_features import Rejected, check_features, repair  # noqa: F401 - repair is public here too
from cim.gis_files import GIS_SUFFIXES, is_gis_file  # noqa: F401 - public here too
from cim.gis_files import gis_suffix as _suffix
from cim.store.names import layer_table_name

PARQUET_SUFFIXES = (".parquet", ".geoparquet")
ID_COLUMNS = ("feature_id", "id", "fid", "objectid", "gid")
FORMATS_HINT = "export it as GeoPackage, GeoJSON, zipped Shapefile, FlatGeobuf or GeoParquet"
_DECLARED_CRS = re.compile(  # a GeoJSON "crs" member: {"type": "name", "properties": {"name": "..."}}
    rb'"crs"\s*:\s*\{\s*"type"\s*:\s*"name"\s*,\s*"properties"\s*:\s*\{\s*"name"\s*:\s*"([^"]*)"')


@dataclass
class Layer:
    name: str
    source: str
    source_layer: str
    source_crs: str
    frame: gpd.GeoDataFrame
    repaired: list[str] = field(default_factory=list)
    rejected: list[Rejected] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    renamed: str | None = None  # why the table name is not the layer's own (it would shadow a store name)


def _check_file(path: Path) -> None:
    if not path.exists():
        raise GisError(path, "file not found", hint="check the path in cim.toml or the ingest folder")
    if path.is_dir():
        raise GisError(path, "is a directory, not a GIS file", hint=f"point to the file itself; {FORMATS_HINT}")
    if path.stat().st_size == 0:
        raise GisError(path, "file is empty (0 bytes)", hint="copy or export the file again; it was probably truncated")


def _stem(path: Path) -> str:
    name = path.name
    suffix = _suffix(path)
    return name[: -len(suffix)] if suffix and name.lower().endswith(suffix) else path.stem


def list_layers(path: str | Path) -> list[str]:
    """Layer names inside the file; a GeoParquet file has one layer named after the file."""
    path = Path(path)
    _check_file(path)
    if _suffix(path) in PARQUET_SUFFIXES:
        return [_stem(path)]
    try:
        return [str(row[0]) for row in pyogrio.list_layers(path)]
    except Exception as exc:  # pyogrio raises DataSourceError and plain RuntimeErrors from GDAL
        raise GisError(path, f"not a readable GIS file ({exc})", hint=FORMATS_HINT) from exc


def _parse_crs(value: str, path: Path, what: str, hint: str) -> CRS:
    try:
        return CRS.from_user_input(value)
    except CRSError as exc:
        raise GisError(path, f"{what} {value!r} is not a CRS pyproj knows ({exc})", hint=hint) from exc


def crs_label(crs: CRS) -> str:
    """'EPSG:2263' when pyproj can name the CRS, else its WKT."""
    auth = crs.to_authority(min_confidence=90)
    return f"{auth[0]}:{auth[1]}" if auth else crs.to_wkt()


def table_name(layer_name: str) -> tuple[str, str | None]:
    """The table name a layer is stored under, and a warning when it had to be changed (the store decides)."""
    return layer_table_name(layer_name)


def _unreadable_reasons(path: Path, layer: str, fids: list[int]) -> dict[int, str]:
    """For features read back without geometry, tell 'no geometry' from 'geometry GEOS cannot parse'."""
    if not fids:
        return {}
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            _, got_fids, wkbs, _ = pyogrio.raw.read(path, layer=layer, fids=fids, columns=[], return_fids=True)
    except Exception:  # the driver cannot read by FID: fall back to a generic reason
        return {}
    reasons = {}
    for fid, wkb in zip(got_fids, wkbs, strict=False):
        if wkb is None:
            continue
        try:
            shapely.from_wkb(wkb)
            reasons[int(fid)] = "unreadable geometry"
        except shapely.errors.GEOSException as exc:
            reasons[int(fid)] = f"unreadable geometry: {exc}"
    return reasons


def _read_ogr(path: Path, layer: str) -> tuple[gpd.GeoDataFrame, dict[int, str], list[str]]:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            frame = pyogrio.read_dataframe(path, layer=layer, fid_as_index=True, on_invalid="ignore")
        except Exception as exc:
            raise GisError(path, f"layer {layer!r} could not be read ({exc})", hint=FORMATS_HINT) from exc
    notes = sorted({f"GDAL: {w.message}" for w in caught if issubclass(w.category, RuntimeWarning)})
    if not isinstance(frame, gpd.GeoDataFrame):
        raise GisError(path, f"layer {layer!r} has no geometry column", hint="load attribute-only tables another way")
    frame = _source_types(path, layer, frame, notes)
    missing = frame.index[frame.geometry.isna()].tolist()
    by_fid = _unreadable_reasons(path, layer, [int(f) for f in missing])
    positions = {i: by_fid[int(f)] for i, f in enumerate(frame.index) if int(f) in by_fid}
    return frame, positions, notes


def _source_types(path: Path, layer: str, frame: gpd.GeoDataFrame, notes: list[str]) -> gpd.GeoDataFrame:
    """What pandas loses of the source's fields: booleans with nulls (read as floats) and a property named
    'geometry' (hidden behind the geometry column), which is read again and kept as 'geometry_src'."""
    try:
        info = pyogrio.read_info(path, layer=layer)
    except Exception:  # noqa: BLE001 - the frame was read; without field info it is stored as read
        return frame
    for name, dtype in zip(info["fields"], info["dtypes"], strict=False):
        if dtype == "bool" and name in frame.columns and frame[name].dtype.kind == "f":
            frame[name] = frame[name].astype("boolean")
    if "geometry" in list(info["fields"]):
        hidden = pyogrio.read_dataframe(path, layer=layer, columns=["geometry"], read_geometry=False,
                                        fid_as_index=True)
        frame["geometry_src"] = hidden["geometry"].reindex(frame.index).to_numpy()
        notes.append("source column 'geometry' is a column the store writes itself; stored as 'geometry_src'")
    return frame


def _declared_crs_problem(path: Path, read_as: CRS | None) -> str | None:
    """GDAL reads a GeoJSON whose "crs" member it cannot resolve as WGS 84 without a word: say so instead."""
    if _suffix(path) not in (".geojson", ".json") or read_as is None:
        return None
    if not read_as.equals("OGC:CRS84", ignore_axis_order=True):
        return None  # GDAL understood the declared CRS
    with path.open("rb") as fh:
        found = _DECLARED_CRS.search(fh.read(65536))
    if not found:
        return None
    name = found.group(1).decode("utf-8", "replace")
    try:
        CRS.from_user_input(name)
    except CRSError:
        return f"declares the CRS {name!r}, which pyproj does not know"
    return None


def _read_parquet(path: Path) -> tuple[gpd.GeoDataFrame, dict[int, str], list[str]]:
    try:
        return gpd.read_parquet(path), {}, []
    except shapely.errors.GEOSException:
        pass  # an invalid WKB value: decode it ourselves, tolerating bad rows
    except Exception as exc:
        raise GisError(path, f"not a readable GeoParquet file ({exc})", hint=FORMATS_HINT) from exc
    table = pq.read_table(path)
    geo = json.loads(table.schema.metadata[b"geo"])
    column = geo["primary_column"]
    meta = geo["columns"][column]
    wkbs = np.asarray(table.column(column).to_pylist(), dtype=object)
    geoms = shapely.from_wkb(wkbs, on_invalid="ignore")
    reasons = {}
    for i in np.flatnonzero(pd.isna(geoms) & pd.notna(wkbs)):
        try:
            shapely.from_wkb(wkbs[i])
        except shapely.errors.GEOSException as exc:
            reasons[int(i)] = f"unreadable geometry: {exc}"
    crs = meta.get("crs", "OGC:CRS84")  # GeoParquet: absent means CRS84, null means unknown
    frame = table.drop_columns([column]).to_pandas()
    return gpd.GeoDataFrame(frame, geometry=gpd.GeoSeries(geoms), crs=crs), reasons, []


def _feature_ids(frame: pd.DataFrame) -> pd.Series:
    """Prefer a unique id-like column, else the OGR FID / row number."""
    lower = {str(c).lower(): c for c in frame.columns if c != frame.geometry.name}
    for key in ID_COLUMNS:
        col = lower.get(key)
        if col is None or frame[col].isna().any() or not frame[col].is_unique:
            continue
        values = frame[col]
        if pd.api.types.is_float_dtype(values) and np.all(np.mod(values, 1) == 0):
            values = values.astype("int64")
        return values.astype(str).reset_index(drop=True)
    return pd.Series([str(i) for i in frame.index], dtype=object)


def _check_area(frame: gpd.GeoDataFrame, target: CRS, path: Path, layer: str) -> None:
    """A layer from another part of the world would reproject to plausible-looking nonsense: refuse it."""
    if frame.crs is None or len(frame) == 0:
        return
    west, south, east, north = frame.total_bounds
    if not np.isfinite([west, south, east, north]).all():
        return
    lon, lat = Transformer.from_crs(frame.crs, "EPSG:4326", always_xy=True).transform((west + east) / 2,
                                                                                     (south + north) / 2)
    problem = area_problem(target.to_string(), float(lon), float(lat), "the city CRS")
    if problem:
        raise GisError(path, f"layer {layer!r} {problem}",
                       hint="this layer belongs to another city: ingest it into a store with a CRS that covers it")


def _reproject(frame: gpd.GeoDataFrame, target: CRS, path: Path, layer: str) -> gpd.GeoDataFrame:
    _check_area(frame, target, path, layer)
    try:
        out = frame.to_crs(target)
    except Exception as exc:
        raise GisError(path, f"layer {layer!r} cannot be reprojected to {crs_label(target)} ({exc})",
                       hint="check the layer's CRS and the city CRS in cim.toml") from exc
    coords, index = shapely.get_coordinates(out.geometry.to_numpy(), return_index=True)
    bad = np.unique(index[~np.isfinite(coords).all(axis=1)])
    if len(bad):
        first = out["feature_id"].iloc[int(bad[0])]
        raise GisError(path, f"layer {layer!r}: reprojection from {crs_label(frame.crs)} to {crs_label(target)} "
                             f"gives non-finite coordinates for {len(bad)} feature(s), first id {first}",
                       hint="the coordinates are probably not in that CRS; set crs = \"EPSG:NNNN\" for this file "
                            f"under [gis.\"{path.name}\"] in cim.toml")
    return out


def _build_layer(path: Path, layer: str, frame: gpd.GeoDataFrame, unreadable: dict[int, str],
                 target: CRS, override: CRS | None, notes: list[str]) -> Layer:
    source = frame.crs
    if override is not None:
        if source is not None and not CRS(source).equals(override):
            notes.append(f"file CRS {crs_label(CRS(source))} replaced by configured {crs_label(override)}")
        source = override
    declared = None if override is not None else _declared_crs_problem(path, CRS(source) if source else None)
    if declared:
        raise GisError(path, f"layer {layer!r} {declared}",
                       hint=f"fix the file's crs, or set crs = \"EPSG:NNNN\" for this file under [gis.\"{path.name}\"] "
                            "in cim.toml")
    if source is None:
        raise GisError(path, f"layer {layer!r} has no CRS",
                       hint=f"set crs = \"EPSG:NNNN\" for this file under [gis.\"{path.name}\"] in cim.toml, "
                            "or add a .prj")
    source = CRS(source)
    ids = _feature_ids(frame)
    frame = frame.reset_index(drop=True)
    attrs = pd.DataFrame(frame.drop(columns=[frame.geometry.name]))
    if "feature_id" in attrs.columns:
        if ids.equals(attrs["feature_id"].astype(str)):
            attrs = attrs.drop(columns=["feature_id"])  # it is the id: stored once, as feature_id
        else:
            notes.append("source column 'feature_id' is not a unique id; kept as 'feature_id_src'")
    names, renamed = storable_names(list(attrs.columns))
    attrs.columns = names
    notes.extend(n for n in renamed if not n.startswith("source column 'feature_id' "))
    geoms, keep, repaired, rejected = check_features(frame.geometry.to_numpy(), ids, unreadable)
    if len(frame) and not keep.any():
        first = rejected[0]
        error = GisError(path, f"layer {layer!r}: all {len(frame)} features rejected (e.g. id {first.feature_id}: "
                               f"{first.reason})",
                         hint="fix the geometries (e.g. QGIS 'Fix geometries') and export the layer again")
        error.rejected = rejected  # so callers can quarantine each feature
        raise error
    attrs.insert(0, "feature_id", ids.astype(object).to_numpy())
    out = gpd.GeoDataFrame(attrs, geometry=gpd.GeoSeries(geoms), crs=source)[keep].reset_index(drop=True)
    out = _reproject(out, target, path, layer)
    if not len(frame):
        notes.append(f"layer {layer!r} has no features (stored as an empty table with its columns)")
    mix = geometry_mix_note(out.geometry.to_numpy())
    if mix:
        notes.append(mix)
    name, warning = table_name(layer)
    return Layer(name=name, source=str(path), source_layer=layer, source_crs=crs_label(source),
                 frame=storable_values(out), repaired=repaired, rejected=rejected,
                 warnings=notes, renamed=warning)


def read_gis(path: str | Path, city_crs: str, *, crs: str | None = None,
             layers: list[str] | None = None) -> list[Layer]:
    """Read every (or the chosen) layer of a GIS file, repaired and reprojected to ``city_crs``."""
    path = Path(path)
    _check_file(path)
    target = _parse_crs(city_crs, path, "city CRS", hint="set a valid crs under [city] in cim.toml")
    config_hint = f"fix crs under [gis.\"{path.name}\"] in cim.toml, e.g. \"EPSG:2263\""
    override = _parse_crs(crs, path, "configured CRS", hint=config_hint) if crs else None
    available = list_layers(path)
    for name in layers or []:
        if name not in available:
            raise GisError(path, f"layer {name!r} is not in the file (it has {', '.join(available)})",
                           hint=f"fix the layers list under [gis.\"{path.name}\"] in cim.toml")
    parquet = _suffix(path) in PARQUET_SUFFIXES
    out: list[Layer] = []
    used: set[str] = set()
    for name in layers or available:
        frame, unreadable, notes = _read_parquet(path) if parquet else _read_ogr(path, name)
        layer = _build_layer(path, name, frame, unreadable, target, override, list(notes))
        base, n = layer.name, 1
        while layer.name in used:
            n += 1
            layer.name = f"{base}_{n}"
        if layer.name != base:
            layer.warnings.append(f"table name {base!r} is used by another layer of this file; using {layer.name!r}")
        used.add(layer.name)
        out.append(layer)
    return out


def frame_to_arrow(layer: Layer) -> pa.Table:
    """Attributes as Arrow columns, geometry as WKB (2-D or 3-D as read) in a binary 'geometry' column."""
    frame = layer.frame
    attrs = pd.DataFrame(frame.drop(columns=["geometry"]))
    attrs["feature_id"] = attrs["feature_id"].astype(object)
    schema = pa.Schema.from_pandas(attrs, preserve_index=False)
    schema = schema.set(schema.get_field_index("feature_id"), pa.field("feature_id", pa.string()))
    table = typed_table(pa.Table.from_pandas(attrs, schema=schema, preserve_index=False))
    wkb = shapely.to_wkb(frame.geometry.to_numpy(), output_dimension=3)
    return table.append_column("geometry", pa.array(wkb, type=pa.binary()))


def arrow_to_frame(table: pa.Table, crs: str | CRS) -> gpd.GeoDataFrame:
    """Inverse of :func:`frame_to_arrow`."""
    wkb = np.asarray(table.column("geometry").to_pylist(), dtype=object)
    attrs = table.drop_columns(["geometry"]).to_pandas()
    return gpd.GeoDataFrame(attrs, geometry=gpd.GeoSeries(shapely.from_wkb(wkb)), crs=crs)
