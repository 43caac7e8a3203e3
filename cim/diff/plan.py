"""A plan view (SVG) of what changed: footprints of changed elements, points for those without, by change class.

Plain SVG written here (no plotting library): it opens from disk in any browser and inlines into the report.
Removed elements are drawn where they were, everything else where it is now; a dashed line leads from where a
moved element was.
"""

from __future__ import annotations

from html import escape

import shapely
from shapely.geometry.base import BaseGeometry

from cim.diff.model import CHANGE_CLASSES, Diff

COLOURS = {"added": "#2e7d32", "removed": "#c62828", "moved": "#1565c0", "reshaped": "#ef6c00",
           "reclassified": "#6a1b9a", "properties_changed": "#f9a825"}
PRIORITY = ("added", "removed", "moved", "reshaped", "reclassified", "properties_changed")


def primary_change(diff: Diff) -> dict[str, str]:
    """global_id -> the change class it is drawn in (the first of PRIORITY it has)."""
    out: dict[str, str] = {}
    for row in diff.changes:
        current = out.get(row["global_id"])
        if current is None or PRIORITY.index(row["change"]) < PRIORITY.index(current):
            out[row["global_id"]] = row["change"]
    return out


def _polygons(geom: BaseGeometry) -> list:
    if geom.geom_type == "Polygon":
        return [geom]
    return [g for part in getattr(geom, "geoms", []) for g in _polygons(part)]


def render_plan(diff: Diff, width: int = 900, height: int = 640) -> str:
    """The SVG text; a short note instead when no changed element has a position."""
    kinds = primary_change(diff)
    shapes = {g: shapely.from_wkb(w) for g, w in diff.shapes.items() if g in kinds}
    points = {}
    for row in diff.changes:
        if row["global_id"] not in shapes and row["x"] is not None:
            points[row["global_id"]] = (row["x"], row["y"])
    xs = [c for s in shapes.values() for c in (s.bounds[0], s.bounds[2])] + [p[0] for p in points.values()]
    ys = [c for s in shapes.values() for c in (s.bounds[1], s.bounds[3])] + [p[1] for p in points.values()]
    if not xs:
        return "<p>No changed element has a position to draw.</p>"
    pad, legend = 24.0, 170.0
    span_x, span_y = max(max(xs) - min(xs), 1.0), max(max(ys) - min(ys), 1.0)
    scale = min((width - legend - 2 * pad) / span_x, (height - 2 * pad) / span_y)
    x0 = min(xs) - ((width - legend - 2 * pad) / scale - (max(xs) - min(xs))) / 2  # centred in the drawing area
    y0 = min(ys) - ((height - 2 * pad) / scale - (max(ys) - min(ys))) / 2
    span = max(span_x, span_y)

    def xy(x: float, y: float) -> str:
        return f"{pad + (x - x0) * scale:.2f},{height - pad - (y - y0) * scale:.2f}"

    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
             f'viewBox="0 0 {width} {height}" font-family="sans-serif" font-size="12">',
             f'<rect width="{width}" height="{height}" fill="#fafafa"/>']
    for gid, geom in sorted(shapes.items()):
        colour = COLOURS[kinds[gid]]
        for poly in _polygons(geom):
            rings = [poly.exterior, *poly.interiors]
            d = " ".join("M " + " L ".join(xy(x, y) for x, y, *_ in ring.coords) + " Z" for ring in rings)
            parts.append(f'<path d="{d}" fill="{colour}" fill-opacity="0.45" stroke="{colour}" '
                         f'fill-rule="evenodd"><title>{escape(kinds[gid])}: {escape(gid)}</title></path>')
    for gid, (x, y) in sorted(points.items()):
        cx, cy = xy(x, y).split(",")
        parts.append(f'<circle cx="{cx}" cy="{cy}" r="4" fill="{COLOURS[kinds[gid]]}">'
                     f'<title>{escape(kinds[gid])}: {escape(gid)}</title></circle>')
    for row in diff.changes:  # where a moved element came from
        if row["change"] == "moved" and row["x"] is not None and row["dx"] is not None:
            ax, ay = xy(row["x"] - row["dx"], row["y"] - row["dy"]).split(",")
            bx, by = xy(row["x"], row["y"]).split(",")
            parts.append(f'<line x1="{ax}" y1="{ay}" x2="{bx}" y2="{by}" stroke="{COLOURS["moved"]}" '
                         f'stroke-dasharray="4 3"/><circle cx="{ax}" cy="{ay}" r="2.5" fill="none" '
                         f'stroke="{COLOURS["moved"]}"/>')
    for i, kind in enumerate(k for k in CHANGE_CLASSES if diff.counts.get(k)):
        y = 24 + 20 * i
        parts.append(f'<rect x="{width - legend + 10}" y="{y - 10}" width="12" height="12" fill="{COLOURS[kind]}"/>'
                     f'<text x="{width - legend + 28}" y="{y}">{escape(kind)} ({diff.counts[kind]})</text>')
    bar = _nice(span / 5)
    parts.append(f'<line x1="{pad}" y1="{height - 8}" x2="{pad + bar * scale:.2f}" y2="{height - 8}" '
                 f'stroke="#333" stroke-width="2"/><text x="{pad + bar * scale + 6:.2f}" y="{height - 4}">'
                 f'{bar:g} m</text>')
    parts.append(f'<text x="{width - legend + 10}" y="{height - 24}">N ↑ ({escape(diff.crs or "city CRS")})</text>')
    parts.append("</svg>")
    return "\n".join(parts)


def _nice(length: float) -> float:
    """A round scale-bar length (1, 2 or 5 times a power of ten) not above ``length``."""
    import math

    power = 10 ** math.floor(math.log10(max(length, 1e-3)))
    return max(m * power for m in (1, 2, 5) if m * power <= max(length, power))
