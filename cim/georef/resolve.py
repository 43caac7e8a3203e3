"""Decide how a model is georeferenced, check it against reality, or refuse it.

Order: the file's map conversion (LoGeoRef 50) wins; otherwise the city config's placement;
otherwise the model is refused, because a guessed position would silently corrupt the city model.
"""

from __future__ import annotations

import math
from dataclasses import replace
from pathlib import Path

import ifcopenshell
import ifcopenshell.util.unit
import numpy as np
from pyproj.exceptions import CRSError

from cim.errors import CimError, ConfigError, GeorefError
from cim.georef import crs as crsmod
from cim.georef.ifcread import (
    ABSOLUTE_OFFSET_M,
    RawConversion,
    SiteFacts,
    detect_level,
    has_unsupported_operation,
    read_conversion,
    read_site,
    true_north_deg,
)
from cim.georef.model import Georef

SITE_TOLERANCE_M = 50.0  # lat/lon are rounded and often typed by hand; beyond this they tell a different story
TRUE_NORTH_TOLERANCE_DEG = 1.0
SCALE_TOLERANCE = 0.05  # combined scale factors stay within 0.1%; anything past 5% is a unit mistake
PLACEMENT_KEYS = {"eastings", "northings", "height", "rotation_deg", "scale", "crs"}


def _placement_hint(path: str | Path) -> str:
    name = Path(path).name
    return (
        f'add [models."{name}"] placement = {{eastings=..., northings=...}} to cim.toml, '
        "or georeference the model (IfcMapConversion + IfcProjectedCRS)"
    )


def _parse_or_refuse(text: str, path: str | Path, what: str, *, config: bool = False) -> str:
    """Return the CRS text if pyproj knows it and it is projected; refuse otherwise."""
    err = ConfigError if config else GeorefError
    try:
        crs = crsmod.parse_crs(text)
    except CRSError:
        hint = "use an EPSG code such as 'EPSG:4549' or a WKT definition"
        raise err(path, f"{what} {text!r} is not a CRS pyproj knows", hint) from None
    if not crs.is_projected:
        raise err(path, f"{what} {text!r} is not a projected CRS ({crs.name})", "use a projected CRS (metres or feet)")
    return text


def _source_crs(raw: RawConversion, path: str | Path) -> str:
    """The CRS text to use: a Name pyproj knows, else the WKT, else refuse naming what was found."""
    if raw.crs_name and crsmod.try_parse_crs(raw.crs_name) is not None:
        return _parse_or_refuse(raw.crs_name, path, "the model's CRS")
    wkt = raw.wkt_candidate()
    if wkt and crsmod.try_parse_crs(wkt) is not None:
        return _parse_or_refuse(wkt, path, "the model's WKT CRS")
    return _parse_or_refuse(raw.crs_name or "", path, "the model's CRS")


def _rotation(abscissa: float | None, ordinate: float | None) -> tuple[float, float]:
    """Normalised (cos, sin) of the grid rotation; both missing or zero means no rotation."""
    a, b = abscissa or 0.0, ordinate or 0.0
    norm = math.hypot(a, b)
    return (1.0, 0.0) if norm == 0 else (a / norm, b / norm)


def _scale(given: float | None, unit_scale: float, map_unit_scale: float, what: str) -> tuple[float, list[str]]:
    """Scale project unit -> map unit: as given, or derived from the units (the 1000x pitfall) with a warning."""
    ratio = unit_scale / map_unit_scale
    if given is not None and given > 0:
        notes = []
        if abs(given / ratio - 1.0) > SCALE_TOLERANCE:
            notes.append(
                f"{what} Scale {given:g} differs from the unit ratio {ratio:g} (project unit {unit_scale:g} m, "
                f"map unit {map_unit_scale:g} m): positions may be off by that factor; used {given:g} as given"
            )
        return float(given), notes
    if given is not None:
        return ratio, [f"{what} Scale {given:g} is not positive; derived {ratio:g} from the units"]
    if ratio != 1.0:
        return ratio, [
            f"{what} Scale missing while the project unit ({unit_scale:g} m) differs from the map unit "
            f"({map_unit_scale:g} m): derived Scale = {ratio:g} from the units"
        ]
    return 1.0, []


def _from_conversion(raw: RawConversion, path: str | Path, city_crs: str, unit_scale: float) -> Georef:
    """A Georef from the file's own map conversion (LoGeoRef 50)."""
    source = _source_crs(raw, path)
    crs_unit = crsmod.crs_unit_scale(source)
    notes = list(raw.notes)
    map_unit = raw.map_unit_scale
    if map_unit is None:
        unit_name = crsmod.parse_crs(source).axis_info[0].unit_name if crsmod.parse_crs(source).axis_info else "?"
        said = f"MapUnit {raw.map_unit_label!r} not understood" if raw.map_unit_label else "MapUnit missing"
        notes.append(f"{said}: assumed the CRS's unit ({unit_name}, {crs_unit:g} m)")
        map_unit = crs_unit
    scale, scale_notes = _scale(raw.scale, unit_scale, map_unit, raw.method)
    notes += scale_notes
    if raw.eastings is None or raw.northings is None:
        notes.append(f"{raw.method} lacks Eastings or Northings: taken as 0")
    a, b = _rotation(raw.x_axis_abscissa, raw.x_axis_ordinate)
    fx, fy, fz = (float(f) for f in raw.factors)
    return Georef(
        level=50,
        method=raw.method,
        source_crs=source,
        city_crs=city_crs,
        eastings=raw.eastings or 0.0,
        northings=raw.northings or 0.0,
        orthogonal_height=raw.orthogonal_height or 0.0,
        x_axis_abscissa=a,
        x_axis_ordinate=b,
        scale=scale,
        factor_x=fx,
        factor_y=fy,
        factor_z=fz,
        unit_scale=unit_scale,
        map_unit_scale=map_unit,
        vertical_datum=raw.vertical_datum,
        site_reference=None,
        site_offset_m=None,
        warnings=tuple(notes),
    )


def _num_field(placement: dict, key: str, path: str | Path, default: float | None = None) -> float | None:
    value = placement.get(key, default)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise ConfigError(path, f"placement {key} = {value!r} is not a number", _placement_hint(path))
    return float(value)


def placement_georef(placement: dict, path: str | Path, city_crs: str, unit_scale: float) -> Georef:
    """A Georef from the city config's per-model placement (used when the file has no LoGeoRef 50)."""
    unknown = sorted(set(placement) - PLACEMENT_KEYS)
    if unknown:
        raise ConfigError(path, f"placement has unknown keys {unknown}", f"allowed: {sorted(PLACEMENT_KEYS)}")
    if "eastings" not in placement or "northings" not in placement:
        raise ConfigError(path, "placement needs eastings and northings", _placement_hint(path))
    _parse_or_refuse(city_crs, path, "the city CRS", config=True)
    source = str(placement.get("crs") or city_crs)
    _parse_or_refuse(source, path, "the placement CRS", config=True)
    map_unit = crsmod.crs_unit_scale(source)
    scale, notes = _scale(_num_field(placement, "scale", path), unit_scale, map_unit, "placement")
    angle = math.radians(_num_field(placement, "rotation_deg", path, 0.0) or 0.0)
    geo = Georef(
        level=0,
        method="config placement",
        source_crs=source,
        city_crs=city_crs,
        eastings=_num_field(placement, "eastings", path) or 0.0,
        northings=_num_field(placement, "northings", path) or 0.0,
        orthogonal_height=_num_field(placement, "height", path, 0.0) or 0.0,
        x_axis_abscissa=math.cos(angle),
        x_axis_ordinate=math.sin(angle),
        scale=scale,
        factor_x=1.0,
        factor_y=1.0,
        factor_z=1.0,
        unit_scale=unit_scale,
        map_unit_scale=map_unit,
        vertical_datum=None,
        site_reference=None,
        site_offset_m=None,
        warnings=tuple(notes),
    )
    _probe_area(geo, path, (0.0, 0.0, 0.0))
    return geo


def _probe_area(geo: Georef, path: str | Path, origin_m: tuple[float, float, float]) -> None:
    """Area-of-use check on the model's representative point (its site origin, in metres).

    Zero offsets with a site at the origin mean the coordinates are already map coordinates, so the
    origin says nothing about where the model is; callers can check real geometry with check_area_of_use.
    """
    probe = np.array([origin_m], dtype=np.float64)
    if geo.eastings or geo.northings or np.hypot(*probe[0, :2]) >= 1.0:
        check_area_of_use(geo, path, probe)


def check_area_of_use(geo: Georef, path: str | Path, xyz_m: np.ndarray) -> None:
    """Refuse when any of the given engineering points (metres) lands outside the model's or the city's CRS."""
    enh = geo.to_map(np.asarray(xyz_m, dtype=np.float64).reshape(-1, 3))
    for e, n, _h in enh:
        lon, lat = crsmod.to_lonlat(geo.source_crs, float(e), float(n))
        where = f"the georeferenced position E {e:,.3f}, N {n:,.3f} ({geo.method})"
        problem = crsmod.area_problem(geo.source_crs, lon, lat, "the model's CRS")
        if problem:
            hint = (
                "check Eastings/Northings and their unit (millimetres against a metre CRS put the model "
                "1000x too far), the CRS name and MapUnit"
            )
            raise GeorefError(path, f"{where} {problem}", hint)
        problem = crsmod.area_problem(geo.city_crs, lon, lat, "the city CRS")
        if problem:
            hint = "the model is georeferenced elsewhere: use a city whose CRS covers it, or fix its georeferencing"
            raise GeorefError(path, f"{where} {problem}", hint)


def _site_check(geo: Georef, site: SiteFacts) -> tuple[tuple[float, float, float], float | None, list[str]]:
    """Distance between the IfcSite lat/lon and where the georef puts the site origin (cross-check only)."""
    elevation_m = (site.elevation or 0.0) * geo.unit_scale
    reference = (float(site.latitude), float(site.longitude), elevation_m)
    origin_m = np.array([site.origin], dtype=np.float64) * geo.unit_scale
    mapped = geo.to_city(origin_m)[0]
    ref_e, ref_n = crsmod.wgs84_to(geo.city_crs, site.longitude, site.latitude)
    offset = crsmod.horizontal_distance((ref_e, ref_n), (float(mapped[0]), float(mapped[1])))
    if not math.isfinite(offset):
        return reference, None, ["IfcSite RefLatitude/RefLongitude cannot be expressed in the city CRS"]
    notes = []
    if offset > SITE_TOLERANCE_M:
        against = "the config placement" if geo.method == "config placement" else "the map conversion"
        notes.append(f"IfcSite RefLatitude/RefLongitude disagree with {against} by {offset:,.0f} m")
    return reference, offset, notes


def _true_north_check(geo: Georef, true_north: float) -> list[str]:
    """Warn when TrueNorth contradicts the grid rotation plus meridian convergence (never used as rotation)."""
    e, n, _h = geo.to_map(np.zeros((1, 3)))[0]
    lon, lat = crsmod.to_lonlat(geo.source_crs, float(e), float(n))
    if not (math.isfinite(lon) and math.isfinite(lat)):
        return []
    grid_north_of_true = crsmod.grid_angle_of_true_north(geo.source_crs, lon, lat)
    expected = grid_north_of_true - geo.rotation_deg
    diff = (true_north - expected + 180.0) % 360.0 - 180.0
    if abs(diff) <= TRUE_NORTH_TOLERANCE_DEG:
        return []
    return [
        f"TrueNorth ({true_north:.2f} deg from project +x) disagrees by {diff:.2f} deg with the grid rotation "
        f"({geo.rotation_deg:.2f} deg) plus meridian convergence ({grid_north_of_true - 90.0:.3f} deg); "
        "TrueNorth was not used"
    ]


def _refusal(ifc_file: ifcopenshell.file, path: str | Path, city_crs: str, level: int, site: SiteFacts | None):
    """The GeorefError for a model with no map conversion and no placement, with the best hint we can give."""
    hint = _placement_hint(path)
    found = {
        40: "absolute coordinates in the WorldCoordinateSystem (LoGeoRef 40)",
        30: "absolute coordinates in the IfcSite placement (LoGeoRef 30)",
        20: "only IfcSite RefLatitude/RefLongitude (LoGeoRef 20)",
        10: "only a postal address (LoGeoRef 10)",
    }.get(level, "no georeferencing at all")
    reason = f"no map conversion (LoGeoRef 50) and no placement in cim.toml; the file carries {found}"
    if other := has_unsupported_operation(ifc_file):
        reason += f" and {other}, which cim does not apply"
    if site is not None and site.latitude is not None and site.longitude is not None:
        inside = crsmod.area_problem(city_crs, site.longitude, site.latitude) is None
        if inside:
            e, n = crsmod.wgs84_to(city_crs, site.longitude, site.latitude)
            hint += f" (the IfcSite lat/lon is near eastings={e:.1f}, northings={n:.1f} in {city_crs})"
    return GeorefError(path, reason, hint)


def resolve_georef(
    ifc_file: ifcopenshell.file, path: str | Path, city_crs: str, placement: dict | None = None
) -> Georef:
    """Georeferencing of one model into the city CRS; raises GeorefError (or ConfigError) instead of guessing."""
    _parse_or_refuse(city_crs, path, "the city CRS", config=True)
    unit_scale = float(ifcopenshell.util.unit.calculate_unit_scale(ifc_file))
    raw = read_conversion(ifc_file)
    level = detect_level(ifc_file, unit_scale, raw is not None)
    site = read_site(ifc_file)
    notes: list[str] = []
    if raw is not None:
        geo = _from_conversion(raw, path, city_crs, unit_scale)
        if placement:
            notes.append(f"placement in cim.toml ignored: the file carries {raw.method}")
        far = ABSOLUTE_OFFSET_M / unit_scale
        if site is not None and (geo.eastings or geo.northings) and math.hypot(*site.origin[:2]) >= far:
            notes.append(
                f"IfcSite is placed at absolute coordinates ({site.origin[0]:,.1f}, {site.origin[1]:,.1f}) and the "
                "map conversion adds Eastings/Northings too: the model may be offset twice"
            )
    elif placement is not None:
        geo = placement_georef(placement, path, city_crs, unit_scale)
    else:
        raise _refusal(ifc_file, path, city_crs, level, site)
    geo = replace(geo, level=level)
    origin = site.origin if site is not None else (0.0, 0.0, 0.0)
    _probe_area(geo, path, (origin[0] * unit_scale, origin[1] * unit_scale, origin[2] * unit_scale))
    reference, offset = None, None
    if site is not None and site.latitude is not None and site.longitude is not None:
        reference, offset, site_notes = _site_check(geo, site)
        notes += site_notes
    if (true_north := true_north_deg(ifc_file)) is not None:
        notes += _true_north_check(geo, true_north)
    return replace(geo, site_reference=reference, site_offset_m=offset, warnings=geo.warnings + tuple(notes))


def declared_crs(ifc_file: ifcopenshell.file, path: str | Path) -> str | None:
    """The projected CRS the model's map conversion names (Name, else WKT), or None when it declares none."""
    raw = read_conversion(ifc_file)
    if raw is None:
        return None
    try:
        return _source_crs(raw, path)
    except CimError:
        return None
