"""Read the georeferencing facts an IFC file carries, without judging them.

IFC4+ stores the map conversion as entities, IFC2X3 as ePSet_* property sets on IfcProject;
both end up in one :class:`RawConversion` so the resolver does not care which schema it saw.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import ifcopenshell
import ifcopenshell.util.element
import ifcopenshell.util.placement
import ifcopenshell.util.unit

from cim.ifc.attribute import attribute

ABSOLUTE_OFFSET_M = 1000.0  # a WCS or site origin this far out is taken as "absolute coordinates" (LoGeoRef 30/40)

_LENGTH_NAMES = {
    "METRE": 1.0,
    "M": 1.0,
    "MM": 0.001,
    "CM": 0.01,
    "KM": 1000.0,
    "FOOT": 0.3048,
    "FEET": 0.3048,
    "FT": 0.3048,
    "INCH": 0.0254,
    "YARD": 0.9144,
}
_PREFIXES = {"MILLI": 0.001, "CENTI": 0.01, "DECI": 0.1, "KILO": 1000.0}
_WKT_STARTS = ("PROJCS", "PROJCRS", "PROJECTEDCRS", "COMPD_CS", "COMPOUNDCRS", "GEOGCS", "GEOGCRS", "BOUNDCRS")


@dataclass
class RawConversion:
    """Map conversion parameters exactly as the file gives them (None = attribute missing)."""

    method: str
    crs_name: str | None
    crs_description: str | None
    crs_wkt: str | None
    eastings: float | None
    northings: float | None
    orthogonal_height: float | None
    x_axis_abscissa: float | None
    x_axis_ordinate: float | None
    scale: float | None
    factors: tuple[float, float, float] = (1.0, 1.0, 1.0)
    map_unit_scale: float | None = None
    map_unit_label: str | None = None
    vertical_datum: str | None = None
    notes: list[str] = field(default_factory=list)

    def wkt_candidate(self) -> str | None:
        """The WKT text: IfcWellKnownText first, else a Description that is WKT (seen in real exports)."""
        if self.crs_wkt:
            return self.crs_wkt
        desc = (self.crs_description or "").lstrip().upper()
        return self.crs_description if desc.startswith(_WKT_STARTS) else None


@dataclass
class SiteFacts:
    """IfcSite lat/lon (decimal degrees), elevation (project units) and local origin (project units)."""

    latitude: float | None
    longitude: float | None
    elevation: float | None
    origin: tuple[float, float, float]
    has_address: bool


def _num(value: object) -> float | None:
    """Property and attribute values may come wrapped (IfcLengthMeasure) or as plain numbers."""
    if value is None:
        return None
    value = getattr(value, "wrappedValue", value)
    try:
        out = float(value)
    except (TypeError, ValueError):
        return None
    return out if math.isfinite(out) else None


def unit_label_scale(unit: object) -> tuple[float | None, str | None]:
    """Metres per map unit for an IfcNamedUnit or an IFC2X3 ePSet string such as 'METRE' or 'MILLIMETRE'."""
    if unit is None:
        return None, None
    if isinstance(unit, ifcopenshell.entity_instance):
        if getattr(unit, "UnitType", "LENGTHUNIT") != "LENGTHUNIT":
            return None, f"{unit.is_a()} {getattr(unit, 'UnitType', '')}"
        label = ifcopenshell.util.unit.get_full_unit_name(unit) if unit.is_a("IfcSIUnit") else unit.Name
        return float(ifcopenshell.util.unit.get_named_unit_scale(unit)), label
    text = str(getattr(unit, "wrappedValue", unit)).strip()
    key = text.upper().replace("METER", "METRE").replace("_", " ").replace(".", "")
    if "SURVEY" in key and ("FOOT" in key or "FEET" in key or "FT" in key):
        return 1200.0 / 3937.0, text
    if key in _LENGTH_NAMES:
        return _LENGTH_NAMES[key], text
    for prefix, factor in _PREFIXES.items():
        if key == prefix + "METRE":
            return factor, text
    return None, text


def _from_entity(op: ifcopenshell.entity_instance) -> RawConversion:
    crs = op.TargetCRS
    wkt = None
    for item in attribute(crs, "WellKnownText") or ():
        wkt = item.WellKnownText
        break
    scaled = op.is_a("IfcMapConversionScaled")
    unit_scale, unit_label = unit_label_scale(attribute(crs, "MapUnit"))
    return RawConversion(
        method="IfcMapConversionScaled" if scaled else "IfcMapConversion",
        crs_name=crs.Name,
        crs_description=crs.Description,
        crs_wkt=wkt,
        eastings=_num(op.Eastings),
        northings=_num(op.Northings),
        orthogonal_height=_num(op.OrthogonalHeight),
        x_axis_abscissa=_num(op.XAxisAbscissa),
        x_axis_ordinate=_num(op.XAxisOrdinate),
        scale=_num(op.Scale),
        factors=(_num(op.FactorX) or 1.0, _num(op.FactorY) or 1.0, _num(op.FactorZ) or 1.0) if scaled else (1, 1, 1),
        map_unit_scale=unit_scale,
        map_unit_label=unit_label,
        vertical_datum=attribute(crs, "VerticalDatum"),
    )


def _is_model_context(ctx: object) -> bool:
    return (
        isinstance(ctx, ifcopenshell.entity_instance)
        and ctx.is_a() == "IfcGeometricRepresentationContext"
        and ctx.ContextType == "Model"
    )


def _entity_conversion(ifc_file: ifcopenshell.file) -> RawConversion | None:
    try:
        ops = ifc_file.by_type("IfcMapConversion")
    except RuntimeError:  # IFC2X3 has no such entity
        return None
    if not ops:
        return None
    ops = sorted(ops, key=lambda op: 0 if _is_model_context(op.SourceCRS) else 1)
    raw = _from_entity(ops[0])
    others = {(o.Eastings, o.Northings, o.XAxisAbscissa, o.XAxisOrdinate, o.Scale, o.TargetCRS.Name) for o in ops}
    if len(others) > 1:
        raw.notes.append(
            f"the file has {len(ops)} map conversions with different parameters; "
            f"used #{ops[0].id()} (the one on the 3D Model context)"
        )
    return raw


def _pset_conversion(ifc_file: ifcopenshell.file) -> RawConversion | None:
    projects = ifc_file.by_type("IfcProject")
    if not projects:
        return None
    conv = ifcopenshell.util.element.get_pset(projects[0], "ePSet_MapConversion")
    if not conv:
        return None
    crs = ifcopenshell.util.element.get_pset(projects[0], "ePSet_ProjectedCRS") or {}
    unit_scale, unit_label = unit_label_scale(crs.get("MapUnit"))
    return RawConversion(
        method="ePSet_MapConversion",
        crs_name=crs.get("Name"),
        crs_description=crs.get("Description"),
        crs_wkt=None,
        eastings=_num(conv.get("Eastings")),
        northings=_num(conv.get("Northings")),
        orthogonal_height=_num(conv.get("OrthogonalHeight")),
        x_axis_abscissa=_num(conv.get("XAxisAbscissa")),
        x_axis_ordinate=_num(conv.get("XAxisOrdinate")),
        scale=_num(conv.get("Scale")),
        map_unit_scale=unit_scale,
        map_unit_label=unit_label,
        vertical_datum=crs.get("VerticalDatum"),
    )


def read_conversion(ifc_file: ifcopenshell.file) -> RawConversion | None:
    """The model's map conversion (LoGeoRef 50): entities first, then ePSet_* (IFC2X3, some IFC4 exports)."""
    return _entity_conversion(ifc_file) or _pset_conversion(ifc_file)


def has_unsupported_operation(ifc_file: ifcopenshell.file) -> str | None:
    """Name of a coordinate operation we do not apply (IfcRigidOperation), so the refusal can say so."""
    try:
        ops = ifc_file.by_type("IfcCoordinateOperation")
    except RuntimeError:
        return None
    kinds = sorted({op.is_a() for op in ops if not op.is_a("IfcMapConversion")})
    return ", ".join(kinds) or None


def compound_to_degrees(value: object) -> float | None:
    """IfcCompoundPlaneAngleMeasure (deg, min, sec[, millionths]) -> decimal degrees.

    All parts should share one sign; some writers sign only the degrees, so the sign is taken from
    the first non-zero part and applied to the magnitudes.
    """
    if not value:
        return None
    parts = [float(v) for v in value]
    if len(parts) < 3:
        parts += [0.0] * (3 - len(parts))
    sign = next((math.copysign(1.0, p) for p in parts if p != 0), 1.0)
    d, m, s = (abs(p) for p in parts[:3])
    us = abs(parts[3]) if len(parts) > 3 else 0.0
    return sign * (d + m / 60.0 + s / 3600.0 + us / 3.6e9)


def read_site(ifc_file: ifcopenshell.file) -> SiteFacts | None:
    """Facts from the first IfcSite (the one directly under the project when there are several)."""
    sites = ifc_file.by_type("IfcSite")
    if not sites:
        return None
    site = sites[0]
    origin = (0.0, 0.0, 0.0)
    if site.ObjectPlacement is not None:
        try:
            matrix = ifcopenshell.util.placement.get_local_placement(site.ObjectPlacement)
            origin = tuple(float(v) for v in matrix[:3, 3])
        except Exception:  # exotic placements (linear, grid) give no usable origin
            origin = (0.0, 0.0, 0.0)
    return SiteFacts(
        latitude=compound_to_degrees(site.RefLatitude),
        longitude=compound_to_degrees(site.RefLongitude),
        elevation=_num(site.RefElevation),
        origin=origin,
        has_address=attribute(site, "SiteAddress") is not None,
    )


def model_context(ifc_file: ifcopenshell.file) -> ifcopenshell.entity_instance | None:
    """The 3D 'Model' representation context (not a sub-context)."""
    contexts = ifc_file.by_type("IfcGeometricRepresentationContext", include_subtypes=False)
    for ctx in contexts:
        if ctx.ContextType == "Model":
            return ctx
    return contexts[0] if contexts else None


def true_north_deg(ifc_file: ifcopenshell.file) -> float | None:
    """TrueNorth of the model context as an angle from project +x (CCW), or None when absent."""
    ctx = model_context(ifc_file)
    tn = attribute(ctx, "TrueNorth")
    if tn is None:
        return None
    x, y = (float(v) for v in tn.DirectionRatios[:2])
    if x == 0 and y == 0:
        return None
    return math.degrees(math.atan2(y, x))


def wcs_origin(ifc_file: ifcopenshell.file) -> tuple[float, float, float]:
    """Origin of the model context's WorldCoordinateSystem, in project units."""
    ctx = model_context(ifc_file)
    wcs = getattr(ctx, "WorldCoordinateSystem", None) if ctx is not None else None
    location = getattr(wcs, "Location", None)
    coords = [float(c) for c in (getattr(location, "Coordinates", None) or ())] + [0.0, 0.0, 0.0]
    return coords[0], coords[1], coords[2]


def detect_level(ifc_file: ifcopenshell.file, unit_scale: float, has_conversion: bool) -> int:
    """LoGeoRef the file carries: 50 map conversion, 40 absolute WCS, 30 absolute site origin,
    20 site lat/lon, 10 postal address, 0 nothing. TrueNorth alone does not count."""
    if has_conversion:
        return 50
    far = ABSOLUTE_OFFSET_M / unit_scale
    if math.hypot(*wcs_origin(ifc_file)[:2]) >= far:
        return 40
    site = read_site(ifc_file)
    if site is not None and math.hypot(*site.origin[:2]) >= far:
        return 30
    if site is not None and site.latitude is not None and site.longitude is not None:
        return 20
    buildings = ifc_file.by_type("IfcBuilding")
    if (site is not None and site.has_address) or any(b.BuildingAddress is not None for b in buildings):
        return 10
    return 0
