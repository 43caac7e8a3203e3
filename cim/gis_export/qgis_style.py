"""QGIS 3 renderer and labeling XML (the `renderer-v2` and `labeling` elements of a .qgs map layer).

Written by hand because PyQGIS is not installable from PyPI (see qgis_project). Only what the city project
uses: simple fill, line and marker symbols, and single, categorized and graduated renderers. Each symbol layer
carries its properties twice, as QGIS >= 3.22 (`Option` map) and older 3.x (`prop`) read them.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET

KIND = {"Polygon": "fill", "Line": "line", "Point": "marker"}
_CLASS = {"fill": "SimpleFill", "line": "SimpleLine", "marker": "SimpleMarker"}


def _rgba(color: str) -> str:
    """'#rrggbb' or '#rrggbbaa' -> QGIS 'r,g,b,a'."""
    h = color.lstrip("#")
    r, g, b = (int(h[i:i + 2], 16) for i in (0, 2, 4))
    a = int(h[6:8], 16) if len(h) == 8 else 255
    return f"{r},{g},{b},{a}"


def symbol(kind: str, name: str, color: str, *, outline: str = "#323232", width: float = 0.4,
           fill: bool = True, dashed: bool = False, size: float = 2.6) -> ET.Element:
    """A one-layer symbol: ``kind`` is fill, line or marker; colours as '#rrggbb[aa]'."""
    if kind == "fill":
        props = {"color": _rgba(color), "style": "solid" if fill else "no", "outline_color": _rgba(outline),
                 "outline_style": "dash" if dashed else "solid", "outline_width": f"{width:g}",
                 "outline_width_unit": "MM", "joinstyle": "miter"}
    elif kind == "line":
        props = {"line_color": _rgba(color), "line_width": f"{width:g}", "line_width_unit": "MM",
                 "line_style": "dash" if dashed else "solid", "capstyle": "round", "joinstyle": "round"}
    else:
        props = {"name": "circle", "color": _rgba(color), "outline_color": _rgba(outline), "outline_style": "solid",
                 "outline_width": "0.2", "outline_width_unit": "MM", "size": f"{size:g}", "size_unit": "MM",
                 "scale_method": "diameter"}
    sym = ET.Element("symbol", {"type": kind, "name": name, "alpha": "1", "clip_to_extent": "1",
                                "force_rhr": "0"})
    layer = ET.SubElement(sym, "layer", {"class": _CLASS[kind], "enabled": "1", "locked": "0", "pass": "0"})
    options = ET.SubElement(layer, "Option", {"type": "Map"})
    for key, value in props.items():
        ET.SubElement(options, "Option", {"name": key, "value": value, "type": "QString"})
    for key, value in props.items():
        ET.SubElement(layer, "prop", {"k": key, "v": value})
    return sym


def _renderer(kind: str, **attrs: str) -> ET.Element:
    return ET.Element("renderer-v2", {"type": kind, "symbollevels": "0", "enableorderby": "0", "forceraster": "0",
                                      **attrs})


def single(sym: ET.Element) -> ET.Element:
    renderer = _renderer("singleSymbol")
    ET.SubElement(renderer, "symbols").append(sym)
    return renderer


def categorized(field: str, kind: str, categories: list[tuple[str, str, str]], **style) -> ET.Element:
    """One symbol per (value, label, colour); values not listed are drawn by a grey 'other' category."""
    renderer = _renderer("categorizedSymbol", attr=field)
    cats = ET.SubElement(renderer, "categories")
    symbols = ET.SubElement(renderer, "symbols")
    for i, (value, label, color) in enumerate([*categories, ("", "other", "#9e9e9e")]):
        ET.SubElement(cats, "category", {"render": "true", "symbol": str(i), "value": value, "label": label})
        symbols.append(symbol(kind, str(i), color, **style))
    return renderer


def graduated(field: str, kind: str, ranges: list[tuple[float, float, str, str]], **style) -> ET.Element:
    """One symbol per (lower, upper, label, colour) range of a numeric field."""
    renderer = _renderer("graduatedSymbol", attr=field, graduatedMethod="GraduatedColor")
    ranges_el = ET.SubElement(renderer, "ranges")
    symbols = ET.SubElement(renderer, "symbols")
    for i, (lower, upper, label, color) in enumerate(ranges):
        ET.SubElement(ranges_el, "range", {"render": "true", "symbol": str(i), "lower": f"{lower:.6f}",
                                           "upper": f"{upper:.6f}", "label": label})
        symbols.append(symbol(kind, str(i), color, **style))
    ET.SubElement(renderer, "mode", {"name": "manual"})
    return renderer


def labeling(text: str, *, expression: bool = False, on_line: bool = False, size: float = 8.0) -> ET.Element:
    """Simple labels from a field (or an expression), with a white buffer so they read over any fill."""
    root = ET.Element("labeling", {"type": "simple"})
    settings = ET.SubElement(root, "settings", {"calloutType": "simple"})
    style = ET.SubElement(settings, "text-style", {
        "fieldName": text, "isExpression": "1" if expression else "0", "fontFamily": "DejaVu Sans",
        "fontSize": f"{size:g}", "fontSizeUnit": "Point", "textColor": "0,0,0,255", "textOpacity": "1",
        "fontWeight": "50", "fontItalic": "0", "namedStyle": "Book", "multilineHeight": "1"})
    ET.SubElement(style, "text-buffer", {"bufferDraw": "1", "bufferSize": "0.8", "bufferSizeUnits": "MM",
                                         "bufferColor": "255,255,255,255", "bufferOpacity": "0.8",
                                         "bufferJoinStyle": "128"})
    ET.SubElement(settings, "text-format", {"wrapChar": "", "multilineAlign": "3", "autoWrapLength": "0"})
    # placement: 0 around point, 1 over point (polygons: centroid), 2 parallel to a line
    ET.SubElement(settings, "placement", {"placement": "2" if on_line else "1", "dist": "0",
                                          "placementFlags": "10", "overrunDistance": "0"})
    # obstacle 0: a parcel or zone must not push the buildings' labels off the map
    ET.SubElement(settings, "rendering", {"scaleVisibility": "0", "obstacle": "0", "displayAll": "0",
                                          "labelPerPart": "0", "mergeLines": "1" if on_line else "0"})
    return root


def extruded(height_field: str, base_field: str, color: str, layer_id: str) -> ET.Element:
    """A 3-D renderer for QGIS's 3D map view: polygons extruded by ``height_field`` from ``base_field`` (both
    metres above the city datum): LoD1 blocks."""
    root = ET.Element("renderer-3d", {"type": "vector", "layer": layer_id})
    ET.SubElement(root, "vector-layer-3d-tiling", {"show-bounding-boxes": "0", "zoom-levels-count": "3"})
    sym = ET.SubElement(root, "symbol", {"type": "polygon", "material_type": "phong"})
    ET.SubElement(sym, "data", {"height": "0", "extrusion-height": "0", "alt-clamping": "absolute",
                                "alt-binding": "centroid", "culling-mode": "no-culling", "rendered-facade": "3",
                                "invert-normals": "0", "add-back-faces": "0"})
    ET.SubElement(sym, "material", {"diffuse": _rgba(color), "ambient": "26,26,26,255",
                                    "specular": "255,255,255,255", "shininess": "0"})
    defined = ET.SubElement(sym, "data-defined-properties")
    collection = ET.SubElement(defined, "Option", {"type": "Map"})
    ET.SubElement(collection, "Option", {"name": "name", "type": "QString", "value": ""})
    props = ET.SubElement(collection, "Option", {"name": "properties", "type": "Map"})
    for key, field in (("extrusionHeight", height_field), ("height", base_field)):
        prop = ET.SubElement(props, "Option", {"name": key, "type": "Map"})
        ET.SubElement(prop, "Option", {"name": "active", "type": "bool", "value": "true"})
        ET.SubElement(prop, "Option", {"name": "expression", "type": "QString", "value": f'"{field}"'})
        ET.SubElement(prop, "Option", {"name": "type", "type": "int", "value": "3"})  # 3: expression
    ET.SubElement(collection, "Option", {"name": "type", "type": "QString", "value": "collection"})
    ET.SubElement(sym, "edges", {"enabled": "1", "width": "1", "color": "40,40,40,255"})
    return root
