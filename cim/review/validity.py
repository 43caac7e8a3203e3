"""Is the submission fit to review? Its information content (IDS) and its georeferencing.

A model that lacks storey names, space uses, materials or a map conversion cannot be judged fairly
against the city, so these checks come before any measurement.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import ifcopenshell
import numpy as np
import shapely
from ifctester import ids as idslib
from shapely.geometry.base import BaseGeometry

from cim.errors import ConfigError
from cim.georef import crs as crsmod
from cim.georef.resolve import SITE_TOLERANCE_M
from cim.review.model import FAIL, NOT_APPLICABLE, PASS, CheckResult

MAX_IDS_IDS = 10  # failing GlobalIds listed per specification
MAX_IDS_REASONS = 3  # distinct failure reasons listed per specification
REQUIRED_GEOREF_LEVEL = 50
SCHEMAS_DIR = Path(__file__).resolve().parents[2] / "schemas"
IDS_SCHEMAS = ("IFC2X3", "IFC4", "IFC4X3")
IDS_FILES = {schema: f"review_requirements_{schema.lower()}.ids" for schema in IDS_SCHEMAS}
_LEVEL_TEXT = {
    50: "a map conversion to a projected CRS",
    40: "absolute coordinates in the world coordinate system",
    30: "absolute coordinates in the site placement",
    20: "only IfcSite latitude/longitude",
    10: "only a postal address",
    0: "no georeferencing",
}


# --------------------------------------------------------------------------- IDS


def ids_file_for(schema: str, folder: Path = SCHEMAS_DIR, stem: str = "review_requirements") -> Path:
    """The requirements file ``<stem>_<schema>.ids`` for one IFC schema (IFC4X3_ADD2 -> the IFC4X3 file).

    One file per schema, each holding only specifications for that schema, so the official checker
    (``python -m ifctester <file> <model>``, which does not skip specifications of other versions) gives the
    same verdict as cim. A schema with no file of its own (e.g. IFC4X1) gets the nearest older one.
    """
    name = schema.upper()
    key = next((k for k in ("IFC4X3", "IFC2X3") if name.startswith(k)), "IFC4")
    return Path(folder) / f"{stem}_{key.lower()}.ids"


def load_ids(ids_path: Path) -> idslib.Ids:
    """Open and XSD-validate the authority's IDS file; a broken file is a configuration error, not the model's."""
    ids_path = Path(ids_path)
    if not ids_path.is_file():
        raise ConfigError(ids_path, "IDS requirements file not found",
                          "restore schemas/review_requirements_<schema>.ids")
    try:
        return idslib.open(str(ids_path), validate=True)
    except idslib.IdsXmlValidationError as exc:
        raise ConfigError(ids_path, f"not a valid IDS 1.0 file: {exc.xml_error.reason}",
                          "fix the file against ifctester's ids.xsd") from exc
    except Exception as exc:  # noqa: BLE001 - xml parse errors come in several classes
        raise ConfigError(ids_path, f"IDS file could not be read: {exc}", "fix the XML syntax") from exc


def _label(entity: ifcopenshell.entity_instance) -> str:
    """GlobalId for rooted entities; '#id IfcClass' for the rest (IfcMapConversion has no GlobalId)."""
    gid = getattr(entity, "GlobalId", None)
    return gid if gid else f"#{entity.id()} {entity.is_a()}"


def _failing_spec(spec: idslib.Specification) -> dict[str, Any]:
    failed = sorted(spec.failed_entities, key=lambda e: e.id())
    reasons: list[str] = []
    for facet in spec.requirements:
        for failure in facet.failures:
            if failure["reason"] not in reasons:
                reasons.append(failure["reason"])
    if not spec.applicable_entities and spec.minOccurs != 0:
        reasons.append("required, but the model has nothing it applies to")
    return {
        "specification": spec.name,
        "description": spec.description,
        "instructions": spec.instructions,
        "n_applicable": len(spec.applicable_entities),
        "n_failed": len(failed),
        "failing_global_ids": [_label(e) for e in failed[:MAX_IDS_IDS]],
        "reasons": reasons[:MAX_IDS_REASONS],
    }


def check_ids(ifc_file: ifcopenshell.file, ids_path: Path) -> CheckResult:
    """Validate the model against the IDS; specifications for other IFC versions do not apply to it."""
    spec_set = load_ids(ids_path)
    spec_set.validate(ifc_file, should_filter_version=True)
    used = [s for s in spec_set.specifications if s.is_ifc_version]
    failing = [_failing_spec(s) for s in used if s.status is False]
    title = "Information requirements (IDS)"
    base = dict(check_id="ids", title=title, measured=len(failing), allowed=0, unit="count", comparison="<=")
    if not used:
        return CheckResult(**{**base, "measured": None}, status=NOT_APPLICABLE,
                           message=f"No requirement in {Path(ids_path).name} applies to {ifc_file.schema_identifier}.")
    if not failing:
        return CheckResult(**base, status=PASS,
                           message=f"The model meets all {len(used)} information requirements that apply to it.")
    names = "; ".join(f"{f['specification']} ({f['n_failed'] or 'none present'})" for f in failing)
    return CheckResult(**base, status=FAIL, details=failing,
                       message=f"{len(failing)} of {len(used)} information requirements are not met: {names}.")


# --------------------------------------------------------------------------- georeferencing


def georef_level(georef_info: dict[str, Any]) -> int | None:
    """The LoGeoRef level: the models row's ``georef_level`` column when given, else the JSON's ``level``."""
    level = georef_info.get("georef_level", georef_info.get("level"))
    return int(level) if level is not None else None


def model_origin(georef_info: dict[str, Any]) -> tuple[float, float] | None:
    """Where the model's engineering origin lands in the city CRS (placement Eastings/Northings)."""
    placement = georef_info.get("placement") or {}
    e, n = placement.get("eastings"), placement.get("northings")
    if e is None or n is None:
        return None
    source = georef_info.get("source_crs") or georef_info.get("city_crs")
    city = georef_info.get("city_crs") or source
    if not source:
        return float(e), float(n)
    to_crs_units = float(georef_info.get("map_unit_scale") or 1.0) / crsmod.crs_unit_scale(source)
    e, n = float(e) * to_crs_units, float(n) * to_crs_units
    if city and not crsmod.same_crs(source, city):
        e, n = crsmod.transformer(source, city).transform(e, n)
    return float(e), float(n)


def city_extent_from(*geometries: BaseGeometry | np.ndarray | Any, buffer_m: float = 300.0) -> BaseGeometry:
    """The area the city knows about: convex hull of the given layers' geometries grown by ``buffer_m``.

    Pass GeoSeries/GeoDataFrames (parcels, road red lines...) or shapely geometries.
    """
    parts: list[BaseGeometry] = []
    for item in geometries:
        geoms = getattr(item, "geometry", item)
        parts.extend(np.atleast_1d(np.asarray(geoms, dtype=object)).tolist())
    parts = [g for g in parts if g is not None and not g.is_empty]
    if not parts:
        raise ConfigError(None, "the city has no layer geometry to take its extent from",
                          "ingest the city's GIS layers (parcels, road_redlines) before reviewing")
    hull = shapely.convex_hull(shapely.geometrycollections(parts))
    return hull.buffer(buffer_m)


def _check_level(georef_info: dict[str, Any]) -> CheckResult:
    level = georef_level(georef_info)
    method = georef_info.get("method") or "unknown method"
    crs = georef_info.get("source_crs") or "an unknown CRS"
    base = dict(check_id="georef", title="Georeferencing (LoGeoRef 50)", measured=level,
                allowed=REQUIRED_GEOREF_LEVEL, unit="LoGeoRef", comparison=">=",
                details=[{k: georef_info.get(k) for k in ("method", "source_crs", "placement", "rotation_deg",
                                                           "scale", "vertical_datum", "warnings")}])
    if level is not None and level >= REQUIRED_GEOREF_LEVEL:
        return CheckResult(**base, status=PASS,
                           message=f"The model is georeferenced with {method} to {crs} (LoGeoRef {level}).")
    found = _LEVEL_TEXT.get(level if level is not None else 0, f"LoGeoRef {level}")
    how = " and was placed from the city config" if method == "config placement" else ""
    return CheckResult(**base, status=FAIL,
                       message=f"The model carries {found} (LoGeoRef {level if level is not None else 0}){how}; "
                               "a submission needs an IfcMapConversion to a projected CRS (LoGeoRef 50).")


def _check_inside(georef_info: dict[str, Any], extent: BaseGeometry,
                  footprint: BaseGeometry | None) -> CheckResult:
    base = dict(check_id="georef_inside_city", title="Model lies within the city", allowed=0.0, unit="m",
                comparison="<=")
    if footprint is not None and not footprint.is_empty:
        probe, what = footprint, "footprint"
    elif (origin := model_origin(georef_info)) is not None:
        probe, what = shapely.Point(origin), "origin"
    else:
        return CheckResult(**base, status=NOT_APPLICABLE, message="The model has no position to compare.")
    coords = shapely.get_coordinates(probe)
    outside = round(float(shapely.distance(extent, shapely.points(coords)).max()), 2)
    centre = probe.centroid
    details = [{"probe": what, "centroid_e": round(centre.x, 2), "centroid_n": round(centre.y, 2),
                "city_bounds": [round(v, 2) for v in extent.bounds]}]
    if outside <= 0.0:
        return CheckResult(**base, measured=0.0, status=PASS, details=details,
                           message=f"The model's {what} lies within the city's extent.")
    return CheckResult(**base, measured=outside, status=FAIL, details=details,
                       message=f"The model's {what} reaches {outside:,.2f} m outside the city's extent: "
                               "its map conversion (Eastings/Northings, CRS) is probably wrong.")


def _check_site_latlon(georef_info: dict[str, Any], offset: float | None) -> CheckResult:
    base = dict(check_id="georef_site_latlon", title="IfcSite latitude/longitude agree", allowed=SITE_TOLERANCE_M,
                unit="m", comparison="<=")
    has_latlon = bool(georef_info.get("site_reference"))
    if offset is None and has_latlon:
        offset = georef_info.get("site_offset_m")
    if offset is None or not math.isfinite(offset):
        if has_latlon:  # the ingest could not express them in the city CRS: they point nowhere near it
            return CheckResult(**base, status=FAIL, details=[{"site_reference": georef_info.get("site_reference")}],
                               message="The IfcSite latitude/longitude cannot be placed in the city CRS.")
        return CheckResult(**base, status=NOT_APPLICABLE,
                           message="The IfcSite carries no latitude/longitude to cross-check.")
    measured = round(float(offset), 2)
    details = [{"site_reference": georef_info.get("site_reference")}]
    if measured <= SITE_TOLERANCE_M:
        return CheckResult(**base, measured=measured, status=PASS, details=details,
                           message=f"The IfcSite latitude/longitude lie {measured:.2f} m from where the map "
                                   f"conversion puts the site (within {SITE_TOLERANCE_M:g} m).")
    return CheckResult(**base, measured=measured, status=FAIL, details=details,
                       message=f"The IfcSite latitude/longitude lie {measured:,.2f} m from where the map conversion "
                               f"puts the site (more than {SITE_TOLERANCE_M:g} m): one of them is wrong.")


def georef_checks(georef_info: dict[str, Any], city_extent: BaseGeometry, site_latlon_offset_m: float | None = None,
                  *, footprint: BaseGeometry | None = None) -> list[CheckResult]:
    """The three georeferencing checks: LoGeoRef 50, inside the city, IfcSite lat/lon consistent.

    ``georef_info``: the models row's ``georef`` JSON (decoded) plus its ``georef_level`` column.
    ``site_latlon_offset_m``: None takes ``site_offset_m`` from the JSON (not applicable without a site lat/lon).
    ``footprint``: the model's footprint in the city CRS; without it the placement origin is checked.
    """
    return [_check_level(georef_info), _check_inside(georef_info, city_extent, footprint),
            _check_site_latlon(georef_info, site_latlon_offset_m)]
