"""The site plan of a review as one self-contained SVG: parcel, setbacks, red lines, the submission, the city
around it and numbered clash markers, in city CRS metres (EPSG:4549 easting/northing).

Matplotlib draws it on a bare Figure with the SVG canvas (no pyplot, no global backend); the hash salt and metadata
are fixed so the same plan gives the same bytes, and text stays ``<text>`` (``svg.fonttype = none``) so the plan is
searchable.
"""

from __future__ import annotations

import io
import math
import re

import matplotlib
import numpy as np
import shapely
from matplotlib.backends.backend_svg import FigureCanvasSVG
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch, PathPatch
from matplotlib.path import Path as MplPath
from matplotlib.ticker import FuncFormatter
from mpl_toolkits.axes_grid1.anchored_artists import AnchoredSizeBar
from shapely.geometry.base import BaseGeometry

from cim.review.model import SitePlan

NEAR_M = 60.0  # a tunnel zone this close to the parcel is pulled into the view
DPI = 100
AXES_BOX = (0.09, 0.08, 0.66, 0.88)  # left, bottom, width, height (figure fraction); the legend sits right of it
RC = {"svg.hashsalt": "cim-review-siteplan", "svg.fonttype": "none", "svg.id": "site-plan-svg",
      "font.family": "sans-serif", "font.sans-serif": ["DejaVu Sans", "Arial", "Helvetica"]}
MARKER_ID = "plan-marker-{n}"  # SVG id of clash marker n; the HTML clash list links to it
CLUSTER_ID = "plan-cluster-{n}"  # SVG id of the count at a spot where clashes n, n+1... coincide
CLUSTER_PX = 16.0  # clash markers whose centres are closer than this on screen would hide each other
RING_PT = 17.0  # radius step of the rings coincident markers are fanned out on

STYLE = {
    "parcel": {"facecolor": "none", "edgecolor": "#1a1a1a", "linewidth": 2.0},
    "setback": {"facecolor": "none", "edgecolor": "#6a3d9a", "linewidth": 1.4, "linestyle": (0, (6, 4))},
    "red_line": {"facecolor": "#fbe3e3", "edgecolor": "#d62728", "linewidth": 1.2, "hatch": "/"},
    "footprint": {"facecolor": "#4a90d9", "edgecolor": "#1f4e79", "linewidth": 1.2, "alpha": 0.85},
    "basement": {"facecolor": "none", "edgecolor": "#1f4e79", "linewidth": 1.4, "linestyle": (0, (3, 3))},
    "neighbour": {"facecolor": "#bdbdbd", "edgecolor": "#7f7f7f", "linewidth": 0.8},
    "tunnel": {"facecolor": "none", "edgecolor": "#8c564b", "linewidth": 1.6},
    "zone": {"facecolor": "#ff7f0e", "edgecolor": "#d95f02", "linewidth": 0.8, "alpha": 0.35},
    "pipeline": {"color": "#17becf", "linewidth": 1.8},
}
LEGEND_LABELS = {
    "parcel": "Parcel", "setback": "Setback line", "red_line": "Road red line", "footprint": "Submission footprint",
    "basement": "Basement outline", "neighbour": "Existing building", "tunnel": "Utility tunnel",
    "zone": "Tunnel protection zone", "pipeline": "Pipeline",
}


def load_wkb(data: bytes | None) -> BaseGeometry | None:
    """Decode one WKB blob; empty or missing geometry is None so callers skip it."""
    if not data:
        return None
    geom = shapely.from_wkb(data)
    return None if geom is None or geom.is_empty else geom


def _polygon_path(geom: BaseGeometry) -> MplPath | None:
    """A compound path of every polygon ring (holes included) in a geometry, or None if it has no area."""
    polys = [g for g in getattr(geom, "geoms", [geom]) if g.geom_type == "Polygon" and not g.is_empty]
    nested = [p for g in getattr(geom, "geoms", []) if g.geom_type in ("MultiPolygon", "GeometryCollection")
              for p in getattr(g, "geoms", []) if p.geom_type == "Polygon"]
    rings = [ring for p in polys + nested for ring in (p.exterior, *p.interiors)]
    if not rings:
        return None
    return MplPath.make_compound_path(*[MplPath([(x, y) for x, y, *_ in ring.coords], closed=True) for ring in rings])


def _lines(geom: BaseGeometry) -> list[list[tuple[float, float]]]:
    """Every line (or polygon boundary when ``geom`` is areal and drawn as a line) as a list of (x, y)."""
    parts = list(getattr(geom, "geoms", [geom]))
    out: list[list[tuple[float, float]]] = []
    for part in parts:
        if part.geom_type in ("LineString", "LinearRing"):
            out.append([(c[0], c[1]) for c in part.coords])
        elif part.geom_type in ("MultiLineString", "GeometryCollection"):
            out.extend(_lines(part))
    return out


def _draw(ax, geom: BaseGeometry | None, style_key: str, zorder: float) -> bool:
    """Draw a geometry in one layer style: areas as patches, lines as lines. True when something was drawn."""
    if geom is None:
        return False
    style = dict(STYLE[style_key])
    drawn = False
    path = _polygon_path(geom)
    if path is not None:
        ax.add_patch(PathPatch(path, zorder=zorder, **style))
        drawn = True
    line_style = {"color": style.get("edgecolor", style.get("color")), "linewidth": style.get("linewidth", 1.0),
                  "linestyle": style.get("linestyle", "-")}
    for line in _lines(geom):
        xs, ys = zip(*line, strict=True)
        ax.plot(xs, ys, zorder=zorder, solid_capstyle="butt", **line_style)
        drawn = True
    points = [p for p in getattr(geom, "geoms", [geom]) if p.geom_type == "Point"]
    for p in points:
        ax.plot([p.x], [p.y], marker="o", color=line_style["color"], zorder=zorder)
        drawn = True
    return drawn


def view_bounds(plan: SitePlan) -> tuple[float, float, float, float] | None:
    """The parcel (or, without one, the submission) plus a margin, widened to the tunnel zone when it is near."""
    parcel = load_wkb(plan.parcel)
    own = [g for g in (parcel, load_wkb(plan.footprint), load_wkb(plan.basement)) if g is not None]
    if not own:
        others = [load_wkb(b) for b in (plan.tunnel, plan.protection_zone, *plan.red_lines, *plan.neighbours,
                                        *plan.pipelines)]
        own = [g for g in others if g is not None]
    if not own and plan.clash_points:
        own = [shapely.MultiPoint([(x, y) for x, y, _ in plan.clash_points])]
    if not own:
        return None
    core = shapely.union_all(own)
    x0, y0, x1, y1 = core.bounds
    margin = max(20.0, 0.15 * max(x1 - x0, y1 - y0))
    window = shapely.box(x0 - margin, y0 - margin, x1 + margin, y1 + margin)
    for zone in (load_wkb(plan.protection_zone), load_wkb(plan.tunnel)):
        if zone is not None and zone.distance(core) <= NEAR_M:
            near = zone.intersection(core.buffer(NEAR_M, join_style="mitre").envelope)
            if not near.is_empty:
                nx0, ny0, nx1, ny1 = near.bounds
                window = shapely.union_all([window, shapely.box(nx0 - 5, ny0 - 5, nx1 + 5, ny1 + 5)]).envelope
    for x, y, _ in plan.clash_points:
        if shapely.Point(x, y).distance(core) <= NEAR_M:
            window = shapely.union_all([window, shapely.box(x - 5, y - 5, x + 5, y + 5)]).envelope
    return window.bounds


def _nice_length(span: float) -> float:
    """A 1-2-5 length close to a fifth of the view width, for the scale bar."""
    target = max(span / 5.0, 1e-6)
    power = 10 ** math.floor(math.log10(target))
    return max((m * power for m in (1, 2, 5, 10) if m * power <= target), default=power)


def _scale_bar(ax, length: float) -> None:
    """A labelled scale bar in the lower-left corner, on a white box so it reads over any layer."""
    bar = AnchoredSizeBar(ax.transData, length, f"{length:g} m", loc="lower left", pad=0.5, borderpad=0.8, sep=4,
                          frameon=True, size_vertical=0, fontproperties={"size": 9})
    bar.size_bar.get_children()[0].set_linewidth(3)
    bar.patch.set_alpha(0.85)
    bar.patch.set_edgecolor("#999999")
    bar.set_zorder(25)
    ax.add_artist(bar)


def _north_arrow(ax) -> None:
    """Grid north (EPSG:4549 northing axis) in the upper-right corner."""
    ax.annotate("", xy=(0.95, 0.95), xytext=(0.95, 0.86), xycoords="axes fraction",
                arrowprops={"arrowstyle": "-|>,head_width=0.5,head_length=0.9", "color": "black", "linewidth": 2},
                zorder=22)
    ax.text(0.95, 0.965, "N", transform=ax.transAxes, ha="center", va="bottom", fontsize=13, fontweight="bold",
            zorder=22)


def _thousands(value: float, _pos: int) -> str:
    return f"{value:,.0f}"


def spread_markers(pixels: np.ndarray) -> list[tuple[tuple[float, float], int, int]]:
    """Where each clash marker goes so that none hides another: (dx, dy) in points from its clash point, the index
    of the first point of its group, and the group's size.

    Points closer than CLUSTER_PX on screen form a group (greedily, in list order); a group of one keeps its spot,
    the members of a larger group are fanned out on rings around the first one (6, 12, 18... per ring).
    """
    anchors: list[int] = []
    group_of: list[int] = []
    pts = np.asarray(pixels, dtype=float).reshape(-1, 2)
    for i, (px, py) in enumerate(pts):
        home = next((a for a in anchors if math.hypot(px - pts[a][0], py - pts[a][1]) < CLUSTER_PX), None)
        if home is None:
            anchors.append(i)
            home = i
        group_of.append(home)
    sizes = {a: group_of.count(a) for a in anchors}
    seen: dict[int, int] = {}
    out = []
    for home in group_of:
        k = seen.get(home, 0)
        seen[home] = k + 1
        if sizes[home] == 1:
            out.append(((0.0, 0.0), home, 1))
            continue
        ring, slot = 1, k
        while slot >= 6 * ring:
            slot -= 6 * ring
            ring += 1
        slots = min(6 * ring, sizes[home] - sum(6 * r for r in range(1, ring)))
        angle = math.pi / 2 - 2 * math.pi * (slot + 0.5 * (ring - 1)) / slots  # outer rings: between the inner
        radius = RING_PT * ring
        out.append(((radius * math.cos(angle), radius * math.sin(angle)), home, sizes[home]))
    return out


def _clash_markers(ax, plan: SitePlan) -> bool:
    """One numbered circle per clash point, each with an SVG id the HTML clash list links to. Clashes at one spot
    are fanned out around it with a leader line, and a dark badge at the spot carries how many there are.
    True when some clashes were fanned out (the legend then explains the badge)."""
    if not plan.clash_points:
        return False
    xy = np.array([(x, y) for x, y, _ in plan.clash_points], dtype=float)
    layout = spread_markers(ax.transData.transform(xy))  # display pixels
    for n, ((x, y), ((dx, dy), home, size)) in enumerate(zip(xy, layout, strict=True), start=1):
        fanned = size > 1
        if fanned:  # the leader line, under every marker so that it never crosses a number
            ax.annotate("", xy=(x, y), xytext=(dx, dy), textcoords="offset points", zorder=29,
                        arrowprops={"arrowstyle": "-", "color": "#c00000", "linewidth": 0.8, "shrinkA": 0,
                                    "shrinkB": 0})
        marker = ax.annotate(str(n), xy=(x, y), xytext=(dx, dy), textcoords="offset points", ha="center",
                             va="center", fontsize=8, fontweight="bold", color="white", zorder=30,
                             bbox={"boxstyle": "circle,pad=0.25", "facecolor": "#c00000", "edgecolor": "white",
                                   "linewidth": 1.2})
        marker.set_gid(MARKER_ID.format(n=n))
        if fanned and home == n - 1:
            count = ax.annotate(str(size), xy=(x, y), ha="center", va="center", fontsize=7, fontweight="bold",
                                color="white", zorder=31,
                                bbox={"boxstyle": "round,pad=0.2", "facecolor": "#1a1a1a", "edgecolor": "white",
                                      "linewidth": 0.8})
            count.set_gid(CLUSTER_ID.format(n=n))
    return any(size > 1 for _offset, _home, size in layout)


def _legend(ax, drawn: list[str], has_clashes: bool, crowded: bool = False) -> None:
    handles = []
    for key in drawn:
        style = STYLE[key]
        if key == "pipeline":
            handles.append(Line2D([], [], label=LEGEND_LABELS[key], **style))
        elif key in ("setback", "basement", "tunnel", "parcel") and style.get("facecolor") == "none":
            handles.append(Line2D([], [], label=LEGEND_LABELS[key], color=style["edgecolor"],
                                  linewidth=style["linewidth"], linestyle=style.get("linestyle", "-")))
        else:
            handles.append(Patch(label=LEGEND_LABELS[key], **style))
    if has_clashes:
        handles.append(Line2D([], [], marker="o", linestyle="none", markersize=10, markerfacecolor="#c00000",
                              markeredgecolor="white", label="Clash point (number = clash list #)"))
    if crowded:
        handles.append(Line2D([], [], marker="s", linestyle="none", markersize=9, markerfacecolor="#1a1a1a",
                              markeredgecolor="white", label="Clashes at one spot (count)"))
    if handles:
        ax.legend(handles=handles, loc="upper left", bbox_to_anchor=(1.02, 1.0), fontsize=9, frameon=False,
                  borderaxespad=0.0)


LAYERS = (  # (style key, SitePlan attribute, z order), drawn bottom to top
    ("red_line", "red_lines", 2), ("zone", "protection_zone", 3), ("neighbour", "neighbours", 4),
    ("tunnel", "tunnel", 5), ("pipeline", "pipelines", 6), ("parcel", "parcel", 7), ("setback", "setback_line", 8),
    ("footprint", "footprint", 9), ("basement", "basement", 10),
)


def _fit_aspect(bounds: tuple[float, float, float, float], width_px: float,
                height_px: float) -> tuple[float, float, float, float]:
    """Widen the view in one direction so metres per pixel are equal on both axes and the axes box is filled."""
    x0, y0, x1, y1 = bounds
    w, h = x1 - x0, y1 - y0
    if w / h < width_px / height_px:
        extra = (h * width_px / height_px - w) / 2
        return x0 - extra, y0, x1 + extra, y1
    extra = (w * height_px / width_px - h) / 2
    return x0, y0 - extra, x1, y1 + extra


def _figure(plan: SitePlan, size_px: tuple[int, int]) -> Figure:
    fig = Figure(figsize=(size_px[0] / DPI, size_px[1] / DPI), dpi=DPI)
    ax = fig.add_axes(AXES_BOX)
    bounds = view_bounds(plan)
    if bounds is None:
        ax.text(0.5, 0.5, "No site-plan geometry", transform=ax.transAxes, ha="center", va="center", fontsize=14)
        ax.set_xticks([])
        ax.set_yticks([])
        return fig
    drawn: list[str] = []
    for key, attr, z in LAYERS:
        value = getattr(plan, attr)
        blobs = value if isinstance(value, list) else [value]
        if any([_draw(ax, load_wkb(b), key, z) for b in blobs]):
            drawn.append(key)
    view = _fit_aspect(bounds, AXES_BOX[2] * size_px[0], AXES_BOX[3] * size_px[1])
    ax.set_xlim(view[0], view[2])
    ax.set_ylim(view[1], view[3])
    ax.set_aspect("equal", adjustable="box")
    ax.apply_aspect()
    crowded = _clash_markers(ax, plan)  # after the view is fixed: grouping needs screen distances
    _scale_bar(ax, _nice_length(view[2] - view[0]))
    _north_arrow(ax)
    ax.xaxis.set_major_formatter(FuncFormatter(_thousands))
    ax.yaxis.set_major_formatter(FuncFormatter(_thousands))
    ax.tick_params(labelsize=8)
    ax.set_xlabel("Easting (m, EPSG:4549)")
    ax.set_ylabel("Northing (m, EPSG:4549)")
    ax.grid(True, color="#e0e0e0", linewidth=0.5, zorder=0)
    ax.set_axisbelow(True)
    _legend(ax, [key for key in LEGEND_LABELS if key in drawn], bool(plan.clash_points), crowded)
    return fig


def render_site_plan(plan: SitePlan, size_px: tuple[int, int] = (1200, 900)) -> str:
    """The site plan as an SVG document string (deterministic bytes for the same plan and size)."""
    buf = io.StringIO()
    with matplotlib.rc_context(RC):
        fig = _figure(plan, size_px)
        FigureCanvasSVG(fig).print_svg(buf, metadata={"Date": None, "Creator": "cim review"})
    return buf.getvalue()


def inline_svg(svg: str) -> str:
    """The SVG element alone (no XML declaration or DOCTYPE), ready to embed in an HTML page."""
    start = svg.find("<svg")
    return re.sub(r"\s+$", "", svg[start:]) if start >= 0 else svg
