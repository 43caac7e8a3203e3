"""pyproj helpers: parse CRS names, their units, areas of use and cached transformers.

Kept apart so the math in :mod:`cim.georef.model` stays pure numpy and these lookups are cached
per process (CRS parsing and transformer creation cost milliseconds; per-point work must not).
"""

from __future__ import annotations

import math
from functools import lru_cache

import numpy as np
from pyproj import CRS, Transformer
from pyproj.exceptions import CRSError

# Degrees of slack around a CRS's published area of use: areas are often "onshore" polygons, and a
# coastal or border project may sit just outside them. Real mistakes (mm Eastings, another
# continent) land thousands of kilometres away.
AREA_MARGIN_DEG = 0.25


@lru_cache(maxsize=64)
def parse_crs(text: str) -> CRS:
    """Parse an EPSG code, URN, name or WKT; raises pyproj's CRSError when unknown."""
    if not text or not text.strip():
        raise CRSError("empty CRS name")
    return CRS.from_user_input(text.strip())


def try_parse_crs(text: str | None) -> CRS | None:
    """Like :func:`parse_crs` but returns None for missing or unknown names."""
    if not text:
        return None
    try:
        return parse_crs(text)
    except CRSError:
        return None


@lru_cache(maxsize=64)
def crs_unit_scale(text: str) -> float:
    """Metres per unit of the CRS's first (easting) axis."""
    axes = parse_crs(text).axis_info
    if not axes:
        return 1.0
    return float(axes[0].unit_conversion_factor or 1.0)


@lru_cache(maxsize=64)
def same_crs(a: str, b: str) -> bool:
    """True when no pyproj transformation is needed between the two CRSs."""
    if a == b:
        return True
    return parse_crs(a) == parse_crs(b)


@lru_cache(maxsize=64)
def transformer(source: str, target: str) -> Transformer:
    """Cached always_xy transformer: EPSG:4549 declares north/east axes, and we always want x = easting."""
    return Transformer.from_crs(parse_crs(source), parse_crs(target), always_xy=True)


@lru_cache(maxsize=64)
def _to_lonlat(source: str) -> Transformer:
    return Transformer.from_crs(parse_crs(source), parse_crs(source).geodetic_crs, always_xy=True)


@lru_cache(maxsize=64)
def _from_lonlat(target: str) -> Transformer:
    return Transformer.from_crs(parse_crs(target).geodetic_crs, parse_crs(target), always_xy=True)


def to_lonlat(source: str, easting: float, northing: float) -> tuple[float, float]:
    """(lon, lat) degrees of a point in ``source`` (CRS units); inf when it is nowhere on Earth."""
    lon, lat = _to_lonlat(source).transform(easting, northing)
    return float(lon), float(lat)


def lonlat_to(target: str, lon: float, lat: float) -> tuple[float, float]:
    """(E, N) in ``target`` of a geographic point given in degrees on the target's own datum."""
    e, n = _from_lonlat(target).transform(lon, lat)
    return float(e), float(n)


def wgs84_to(target: str, lon: float, lat: float) -> tuple[float, float]:
    """(E, N) in ``target`` of a WGS 84 (EPSG:4326) point: IfcSite lat/lon carry no datum."""
    e, n = transformer("EPSG:4326", target).transform(lon, lat)
    return float(e), float(n)


def area_problem(crs_text: str, lon: float, lat: float, role: str = "") -> str | None:
    """Why (lon, lat) is outside the CRS's area of use, or None when it is inside (or unknown)."""
    crs = parse_crs(crs_text)
    name = f"{role} {crs.name}".strip()
    area = crs.area_of_use
    if area is None:
        if math.isfinite(lon) and math.isfinite(lat):
            return None
        return f"does not correspond to any point on Earth in {name} (which declares no area of use)"
    west, south, east, north = area.bounds
    described = f"{area.name.rstrip('.')}: lon {west:g}..{east:g}, lat {south:g}..{north:g}"
    if not (math.isfinite(lon) and math.isfinite(lat)):
        return f"does not correspond to any point on Earth, far outside the area of use of {name} ({described})"
    m = AREA_MARGIN_DEG
    lat_ok = south - m <= lat <= north + m
    # west > east: the area crosses the antimeridian
    lon_ok = west - m <= lon <= east + m if west <= east else lon >= west - m or lon <= east + m
    if lat_ok and lon_ok:
        return None
    return f"lands at lat {lat:.5f}, lon {lon:.5f}, outside the area of use of {name} ({described})"


def grid_angle_of_true_north(crs_text: str, lon: float, lat: float) -> float:
    """Direction of true north in the CRS grid, degrees counter-clockwise from grid east.

    90 minus this is the meridian convergence. Measured numerically (a small step north) so no
    sign convention has to be trusted.
    """
    step = 1e-5 if lat < 89.0 else -1e-5
    e0, n0 = lonlat_to(crs_text, lon, lat)
    e1, n1 = lonlat_to(crs_text, lon, lat + step)
    angle = math.degrees(math.atan2(n1 - n0, e1 - e0))
    return angle if step > 0 else angle + 180.0


def horizontal_distance(a: tuple[float, float], b: tuple[float, float]) -> float:
    """Plain Euclidean distance in the plane of a projected CRS."""
    return float(np.hypot(a[0] - b[0], a[1] - b[1]))


def metre_twin(text: str) -> str | None:
    """The authority code of the same projection in metres (EPSG:2263 ftUS -> EPSG:32118), if one exists."""
    import re
    import warnings

    if not parse_crs(text).is_projected:
        return None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # PROJ strings lose datum detail; the match below is only a suggestion
        proj = parse_crs(text).to_proj4()
        if not proj:
            return None
        proj = re.sub(r"\+units=\S+", "+units=m", proj)
        proj = re.sub(r"\+vunits=\S+", "+vunits=m", proj)
        try:
            found = CRS(proj).to_authority(min_confidence=70)
        except CRSError:
            return None
    if not found:
        return None
    twin = f"{found[0]}:{found[1]}"
    return twin if parse_crs(twin).is_projected and crs_unit_scale(twin) == 1.0 else None


def city_crs_problem(text: str) -> tuple[str, str] | None:
    """(reason, fix) when ``text`` cannot be a city CRS, else None.

    The store keeps coordinates, bounds, heights and every derived measure (areas, volumes, clash depths,
    setbacks, chainages) in metres, and its checks' tolerances are metres. A city CRS whose axes are in feet
    (US State Plane ftUS CRSs such as EPSG:2263) would store x/y in feet beside metres everywhere else, so
    it is refused when a store or config is created, with the metre CRS of the same zone as the fix. GIS
    layers and IFC models in feet are still read: they are transformed into the metre city CRS.
    """
    try:
        crs = parse_crs(text)
    except CRSError:
        return None  # an unknown CRS is reported where it is first used
    axes = crs.axis_info
    if not axes or abs(float(axes[0].unit_conversion_factor or 1.0) - 1.0) < 1e-12:
        return None
    twin = metre_twin(text)
    unit = axes[0].unit_name
    reason = (f"the city CRS {text} ({crs.name}) has its axes in {unit}, but the city model stores coordinates, "
              "heights and measures in metres")
    fix = (f"use {twin}, the same projection in metres, as the city CRS (files in {unit} are still converted)"
           if twin else f"choose a projected CRS in metres for the city (files in {unit} are still converted)")
    return reason, fix


MAX_ABS_HEIGHT_M = 20_000.0  # deeper than any mine, higher than any structure: beyond it a value is absurd


@lru_cache(maxsize=64)
def projected_bounds(crs_text: str) -> tuple[float, float, float, float] | None:
    """(xmin, ymin, xmax, ymax) of the CRS's area of use (with the usual margin) in its own x = easting
    coordinates; None when the CRS declares no area or the area crosses the antimeridian."""
    crs = parse_crs(crs_text)
    area = crs.area_of_use
    if area is None or area.west > area.east:
        return None
    m = AREA_MARGIN_DEG
    to_crs = Transformer.from_crs(crs.geodetic_crs, crs, always_xy=True)
    bounds = to_crs.transform_bounds(area.west - m, max(area.south - m, -90.0), area.east + m,
                                     min(area.north + m, 90.0), densify_pts=21)
    return tuple(float(b) for b in bounds) if all(math.isfinite(b) for b in bounds) else None


def outside_bounds(crs_text: str, points: np.ndarray) -> np.ndarray:
    """Per (n, 3) city point: True when it is not finite, outside the CRS's area of use, or absurdly high/deep."""
    p = np.asarray(points, dtype=np.float64).reshape(-1, 3)
    with np.errstate(invalid="ignore"):
        bad = ~np.isfinite(p).all(axis=1) | (np.abs(p[:, 2]) > MAX_ABS_HEIGHT_M)
        bounds = projected_bounds(crs_text)
        if bounds is not None:
            xmin, ymin, xmax, ymax = bounds
            bad |= (p[:, 0] < xmin) | (p[:, 0] > xmax) | (p[:, 1] < ymin) | (p[:, 1] > ymax)
    return bad
