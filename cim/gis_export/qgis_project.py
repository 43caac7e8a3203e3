"""`cim export --qgis city.qgz`: a QGIS project of the city's layers, styled and labelled, over the GeoPackage.

Why the XML is written here: PyQGIS is not installable from PyPI (it ships with QGIS itself, e.g. Debian's
python3-qgis), so cim cannot depend on it. A .qgz is a zip holding one .qgs XML file; this module writes a
minimal but complete one: the project CRS (the city's, with its EPSG code), the layer tree, one `maplayer`
per layer with an `ogr` datasource ``./city.gpkg|layername=...`` (relative, so the folder can be moved; QGIS
resolves ``./`` against the project's own folder), a renderer (categorized by status for clashes, by height
for LoD1 buildings, which also get a 3D renderer extruding them by height_m) and labels. The tests open it
with QGIS's own Python API and with qgis_process when they are installed.

A layer whose table is missing from the GeoPackage (a city without a pipelines layer) is left out of the
project with a note, so every layer in the project resolves.
"""

from __future__ import annotations

import hashlib
import io
import os
import warnings
import xml.etree.ElementTree as ET
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pyarrow.compute as pc
import shapely
from pyproj import CRS

from cim.files import write_atomic
from cim.gis_export import qgis_style as qs
from cim.gis_export.layers import Layer

QGIS_VERSION = "3.22.0"
CLASH_STATUS = [("new", "new", "#e31a1c"), ("active", "active", "#ff7f00"), ("approved", "approved", "#1f78b4"),
                ("resolved", "resolved", "#33a02c")]
PIPE_TYPES = [("water", "water", "#1f78b4"), ("gas", "gas", "#e6b800"), ("sewer", "sewer", "#8c510a"),
              ("heat", "heat", "#e31a1c"), ("power", "power", "#ff7f00"), ("telecom", "telecom", "#33a02c")]
HEIGHTS = [(0, 12, "< 12 m", "#fee5d9"), (12, 24, "12 - 24 m", "#fcae91"), (24, 50, "24 - 50 m", "#fb6a4a"),
           (50, 100, "50 - 100 m", "#de2d26"), (100, 1000, ">= 100 m", "#a50f15")]
Renderer = Callable[[str], ET.Element]  # symbol kind (fill, line, marker) -> renderer-v2


@dataclass(frozen=True)
class MapLayer:
    """One layer of the project: a GeoPackage table (optionally a subset of it), a style and labels."""

    key: str
    title: str
    table: str
    renderer: Renderer
    label: str | None = None
    label_is_expression: bool = False
    subset: str | None = None
    extrude: tuple[str, str] | None = None  # (height field, base field): a 3-D renderer for QGIS's 3D view
    mixed_as: str = "Polygon"  # the geometry QGIS shows when the table mixes kinds (tunnel_assets)


def _one(color: str, **style) -> Renderer:
    return lambda kind: qs.single(qs.symbol(kind, "0", color, **style))


# Top of the layer tree first (drawn last).
PROJECT_LAYERS: tuple[MapLayer, ...] = (
    MapLayer("clashes", "Clash points (by status)", "clashes",
             lambda kind: qs.categorized("status", kind, CLASH_STATUS, size=3.2)),
    MapLayer("tunnel_axis", "Tunnel axis", "tunnel_axis", _one("#6a3d9a", width=0.8, dashed=True), label="name"),
    MapLayer("protection_zones", "Protection zones", "protection_zones",
             _one("#e31a1c20", outline="#e31a1c", width=0.25, dashed=True),
             label="CASE WHEN \"zone_kind\" = 'model' THEN \"description\" END", label_is_expression=True),
    MapLayer("pipelines", "Pipelines", "pipelines",
             lambda kind: qs.categorized("type", kind, PIPE_TYPES, width=0.9), label="pipeline_id"),
    MapLayer("tunnel_pipes", "Tunnel pipes, fittings and valves (IFC)", "tunnel_assets",
             lambda kind: qs.categorized("utility_type", kind, PIPE_TYPES, outline="#252525", width=0.1),
             subset="\"asset_kind\" IN ('pipe', 'pipe_fitting', 'valve')"),
    MapLayer("lod1", "LoD1 buildings (height_m)", "buildings",
             lambda kind: qs.graduated("height_m", kind, HEIGHTS, outline="#67000d", width=0.3),
             label="coalesce(\"name\", '') || ' (' || format_number(\"height_m\", 1) || ' m)'",
             label_is_expression=True, subset="\"kind\" = 'building' AND \"height_m\" IS NOT NULL",
             extrude=("height_m", "base_elevation_m")),
    MapLayer("footprints", "Building footprints", "buildings", _one("#ffffff", outline="#000000", fill=False,
                                                                     width=0.5),
             label="CASE WHEN \"kind\" <> 'building' OR \"height_m\" IS NULL THEN \"name\" END",
             label_is_expression=True),
    MapLayer("buildings_existing", "Surveyed buildings", "buildings_existing",
             _one("#d9d9d9", outline="#737373", width=0.2), label="name"),
    MapLayer("road_redlines", "Road red lines", "road_redlines", _one("#ffffff", outline="#e31a1c", fill=False,
                                                                      width=0.6)),
    MapLayer("roads", "Roads", "roads", _one("#969696", width=1.2), label="name"),
    MapLayer("parcels", "Parcels", "parcels", _one("#f7fcb9", outline="#78c679", width=0.4), label="parcel_id"),
)


def datasource(gpkg: Path, project: Path, layer: MapLayer, mixed: bool = False) -> str:
    """``./city.gpkg|layername=...``: the GeoPackage relative to the project's folder; ``mixed``: the table
    holds several kinds of geometry, and QGIS is told which one this layer shows."""
    rel = Path(os.path.relpath(gpkg.resolve(), project.resolve().parent)).as_posix()
    rel = rel if rel.startswith("../") else f"./{rel}"
    source = f"{rel}|layername={layer.table}"
    if mixed:
        source += f"|geometrytype={layer.mixed_as}"
    return f"{source}|subset={layer.subset}" if layer.subset else source


def _geometry(layer: Layer, mixed_as: str) -> tuple[str, str, str]:
    """(QGIS geometry family, wkbType name, symbol kind) of a layer's OGR geometry type."""
    name = layer.geometry_type if layer.geometry_type not in (None, "Unknown") else mixed_as
    base = name.removesuffix(" Z").removeprefix("Multi")
    family = {"Polygon": "Polygon", "LineString": "Line", "Point": "Point"}.get(base, "Unknown")
    wkb = name.replace(" Z", "Z") if family != "Unknown" else "Unknown"
    return family, wkb, qs.KIND.get(family, "fill")


def spatialrefsys(crs: str) -> ET.Element:
    parsed = CRS.from_user_input(crs)
    auth = parsed.to_authority() or ("", "")
    with warnings.catch_warnings():  # "you will likely lose information": the WKT beside it keeps it
        warnings.simplefilter("ignore", UserWarning)
        proj4 = parsed.to_proj4()
    srs = ET.Element("spatialrefsys")
    for tag, text in (("wkt", parsed.to_wkt()), ("proj4", proj4), ("srid", auth[1]),
                      ("authid", ":".join(auth) if auth[0] else ""), ("description", parsed.name),
                      ("projectionacronym", "tmerc" if "Transverse Mercator" in parsed.to_wkt() else ""),
                      ("geographicflag", "true" if parsed.is_geographic else "false")):
        ET.SubElement(srs, tag).text = text
    return srs


def _authid(crs: str) -> str:
    auth = CRS.from_user_input(crs).to_authority()
    return ":".join(auth) if auth else crs


def _layer_id(layer: MapLayer) -> str:
    return f"{layer.key}_{hashlib.sha1(layer.title.encode()).hexdigest()[:12]}"


def _maplayer(spec: MapLayer, data: Layer, source: str, crs: str) -> ET.Element:
    family, wkb, kind = _geometry(data, spec.mixed_as)
    el = ET.Element("maplayer", {"type": "vector", "geometry": family, "wkbType": wkb,
                                 "labelsEnabled": "1" if spec.label else "0", "readOnly": "0",
                                 "hasScaleBasedVisibilityFlag": "0", "minScale": "100000000", "maxScale": "0",
                                 "styleCategories": "AllStyleCategories"})
    ET.SubElement(el, "id").text = _layer_id(spec)
    ET.SubElement(el, "datasource").text = source
    ET.SubElement(el, "layername").text = spec.title
    ET.SubElement(el, "srs").append(spatialrefsys(crs))
    ET.SubElement(el, "provider", {"encoding": "UTF-8"}).text = "ogr"
    el.append(spec.renderer(kind))
    if spec.label:
        el.append(qs.labeling(spec.label, expression=spec.label_is_expression, on_line=family == "Line"))
    if spec.extrude:
        el.append(qs.extruded(*spec.extrude, "#fcae91", _layer_id(spec)))
    ET.SubElement(el, "blendMode").text = "0"
    ET.SubElement(el, "featureBlendMode").text = "0"
    ET.SubElement(el, "layerOpacity").text = "1"
    return el


def _extent(layers: list[Layer]) -> tuple[float, float, float, float] | None:
    bounds = []
    for layer in layers:
        if layer.geometry and layer.rows:
            wkb = layer.table[layer.geometry].filter(pc.is_valid(layer.table[layer.geometry]))
            geoms = shapely.from_wkb(wkb.to_numpy(zero_copy_only=False))
            if len(geoms):
                bounds.append(shapely.total_bounds(geoms))
    if not bounds:
        return None
    return (min(b[0] for b in bounds), min(b[1] for b in bounds), max(b[2] for b in bounds),
            max(b[3] for b in bounds))


def project_xml(layers: list[Layer], crs: str, gpkg: Path, project: Path, title: str) -> tuple[bytes, list[str]]:
    """The .qgs document, and notes on project layers left out because the GeoPackage lacks their table."""
    by_name = {layer.name: layer for layer in layers if layer.geometry is not None}
    root = ET.Element("qgis", {"projectname": title, "version": QGIS_VERSION})
    ET.SubElement(root, "homePath", {"path": ""})
    ET.SubElement(root, "title").text = title
    ET.SubElement(root, "projectCrs").append(spatialrefsys(crs))
    tree = ET.SubElement(root, "layer-tree-group")
    ET.SubElement(tree, "customproperties")
    maplayers = ET.SubElement(root, "projectlayers")
    notes, used = [], []
    for spec in PROJECT_LAYERS:
        data = by_name.get(spec.table)
        if data is None:
            notes.append(f"QGIS project: {spec.title} left out: no {spec.table!r} layer in the GeoPackage")
            continue
        used.append(data)
        source = datasource(gpkg, project, spec, mixed=data.geometry_type == "Unknown")
        node = ET.SubElement(tree, "layer-tree-layer", {"id": _layer_id(spec), "name": spec.title, "source": source,
                                                        "providerKey": "ogr", "checked": "Qt::Checked",
                                                        "expanded": "1"})
        ET.SubElement(node, "customproperties")
        maplayers.append(_maplayer(spec, data, source, crs))
    extent = _extent(used)
    if extent:
        canvas = ET.SubElement(root, "mapcanvas", {"name": "theMapCanvas"})
        ET.SubElement(canvas, "units").text = "meters"
        box = ET.SubElement(canvas, "extent")
        for tag, value in zip(("xmin", "ymin", "xmax", "ymax"), extent, strict=True):
            ET.SubElement(box, tag).text = f"{value:.3f}"
        ET.SubElement(canvas, "destinationsrs").append(spatialrefsys(crs))
    props = ET.SubElement(root, "properties")
    paths = ET.SubElement(props, "Paths")
    ET.SubElement(paths, "Absolute", {"type": "bool"}).text = "false"
    # Without ProjectionsEnabled QGIS ignores projectCrs and opens the project with no CRS at all.
    srs = ET.SubElement(props, "SpatialRefSys")
    ET.SubElement(srs, "ProjectionsEnabled", {"type": "int"}).text = "1"
    ET.SubElement(srs, "ProjectCrs", {"type": "QString"}).text = _authid(crs)
    ET.indent(root)
    body = ET.tostring(root, encoding="unicode")
    return ("<!DOCTYPE qgis PUBLIC 'http://mrcc.com/qgis.dtd' 'SYSTEM'>\n" + body + "\n").encode("utf-8"), notes


def write_qgis_project(layers: list[Layer], crs: str, gpkg: Path, target: str | Path,
                       title: str = "City information model") -> tuple[Path, list[str]]:
    """The .qgz at ``target`` (a zip of ``<stem>.qgs``), referencing ``gpkg`` by a relative path; written
    atomically."""
    target = Path(target)
    xml, notes = project_xml(layers, crs, Path(gpkg), target, title)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        info = zipfile.ZipInfo(f"{target.stem}.qgs", date_time=(2020, 1, 1, 0, 0, 0))
        info.compress_type = zipfile.ZIP_DEFLATED
        archive.writestr(info, xml)
    write_atomic(target, buffer.getvalue(), what="QGIS project")
    return target, notes
