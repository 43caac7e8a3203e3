"""Planning conditions of the site: parcel, setbacks, red lines, height, FAR, coverage, neighbours.

Plain functions over shapely geometry and GeoDataFrames of the city layers (city CRS, metres), so the
review, the tests and a notebook all measure the same way. Distances are rounded to 0.01 m and ratios
to 4 decimals before they are compared, so the verdict always agrees with the number a planner reads.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from shapely.geometry import LineString
from shapely.geometry.base import BaseGeometry

from cim.errors import InputError
from cim.review.model import FAIL, NOT_APPLICABLE, PASS, CheckResult

M = 2  # decimals for metres and square metres
RATIO = 4  # decimals for FAR and coverage
_COMPASS = ("east", "north-east", "north", "north-west", "west", "south-west", "south", "south-east")


class SiteError(InputError):
    """The submission cannot be placed on a parcel: the review cannot measure it (exit 2)."""

    stage = "site"


def _missing(limit: float | None) -> bool:
    return limit is None or (isinstance(limit, float) and math.isnan(limit))


def _verdict(ok: bool) -> str:
    return PASS if ok else FAIL


def _not_applicable(check_id: str, title: str, unit: str, why: str) -> CheckResult:
    return CheckResult(check_id=check_id, title=title, status=NOT_APPLICABLE, unit=unit, message=why)


# --------------------------------------------------------------------------- parcel


def find_parcel(footprint: BaseGeometry, parcels: gpd.GeoDataFrame, parcel_id: str | None = None, *,
                path: str | Path | None = None) -> pd.Series:
    """The parcel row: the one named, else the one the footprint overlaps most."""
    if parcel_id is not None:
        match = parcels[parcels["parcel_id"].astype(str) == str(parcel_id)]
        if match.empty:
            known = ", ".join(sorted(parcels["parcel_id"].astype(str))[:20])
            raise SiteError(path, f"parcel {parcel_id!r} is not in the city's parcels layer",
                            f"give one of: {known}")
        return match.iloc[0]
    overlap = parcels.geometry.intersection(footprint).area
    if overlap.empty or float(overlap.max()) <= 0.0:
        centre = footprint.centroid
        raise SiteError(path, f"the building footprint (centre E {centre.x:,.1f}, N {centre.y:,.1f}) lies outside "
                              "every parcel of the city",
                        "check the model's georeferencing, or name the parcel with PARCEL=<id>")
    return parcels.loc[overlap.idxmax()]


def check_inside_parcel(footprint: BaseGeometry, parcel_geom: BaseGeometry) -> CheckResult:
    """Area of the above-ground footprint outside the parcel (0 m2 allowed)."""
    outside = round(float(footprint.difference(parcel_geom).area), M)
    ok = outside <= 0.0
    message = ("The above-ground footprint lies entirely within the parcel." if ok else
               f"{outside:,.2f} m2 of the above-ground footprint lies outside the parcel.")
    return CheckResult(check_id="inside_parcel", title="Building within its parcel", status=_verdict(ok),
                       measured=outside, allowed=0.0, unit="m2", comparison="<=", message=message)


# --------------------------------------------------------------------------- setbacks


def _side_name(dx: float, dy: float) -> str:
    """Compass name of the outward normal of an edge running (dx, dy) along a counter-clockwise ring."""
    angle = math.degrees(math.atan2(-dx, dy))  # outward normal of a CCW ring is (dy, -dx)
    return _COMPASS[int(((angle % 360.0) + 22.5) // 45.0) % 8]


def parcel_sides(parcel_geom: BaseGeometry) -> list[dict]:
    """The parcel's boundary edges (collinear runs merged) with the compass side they face."""
    sides: list[dict] = []
    for part in shapely.get_parts(shapely.orient_polygons(parcel_geom.simplify(0.01))):
        coords = np.asarray(part.exterior.coords)
        for (x0, y0), (x1, y1) in zip(coords[:-1, :2], coords[1:, :2], strict=True):
            sides.append({"side": _side_name(x1 - x0, y1 - y0), "edge": LineString([(x0, y0), (x1, y1)]),
                          "length_m": round(math.hypot(x1 - x0, y1 - y0), M)})
    return sides


def signed_clearance(footprint: BaseGeometry, parcel_geom: BaseGeometry) -> float:
    """Distance from the footprint to the parcel boundary; negative (how far past it) when it pokes out."""
    if parcel_geom.covers(footprint):
        return float(parcel_geom.boundary.distance(footprint))
    outside = shapely.points(shapely.get_coordinates(footprint.difference(parcel_geom)))
    return -float(shapely.distance(parcel_geom, outside).max()) if len(outside) else 0.0


def check_setback(footprint: BaseGeometry, parcel_geom: BaseGeometry, min_setback: float | None) -> CheckResult:
    """Smallest distance from the above-ground footprint to the parcel boundary, per side in the details."""
    title = "Setback from the parcel boundary"
    if _missing(min_setback):
        return _not_applicable("setback", title, "m", "The parcel sets no minimum setback.")
    details = sorted(({"side": s["side"], "distance_m": round(float(s["edge"].distance(footprint)), M),
                       "edge_length_m": s["length_m"]} for s in parcel_sides(parcel_geom)),
                     key=lambda d: d["distance_m"])
    measured = round(signed_clearance(footprint, parcel_geom), M)
    nearest = details[0]["side"] if details else "boundary"
    ok = measured >= float(min_setback)
    if measured < 0:
        message = (f"The building extends {-measured:,.2f} m beyond the parcel boundary; "
                   f"a {min_setback:g} m setback applies.")
    elif ok:
        message = (f"The building is {measured:,.2f} m from the parcel boundary at its closest ({nearest} side), "
                   f"at least the required {min_setback:g} m.")
    else:
        message = (f"The building comes within {measured:,.2f} m of the parcel boundary ({nearest} side), "
                   f"closer than the required {min_setback:g} m setback.")
    return CheckResult(check_id="setback", title=title, status=_verdict(ok), measured=measured,
                       allowed=float(min_setback), unit="m", comparison=">=", message=message, details=details)


def _road_label(row: pd.Series) -> str:
    for key in ("name", "road_name", "road_id"):
        value = row.get(key)
        if isinstance(value, str) and value:
            return value
    return f"road {row.name}"


def check_red_line_setback(footprint: BaseGeometry, red_lines: gpd.GeoDataFrame,
                           min_setback: float | None) -> CheckResult:
    """Distance from the footprint to the nearest road red line (the road reserve), with the road's name."""
    title = "Setback from road red lines"
    if red_lines is None or red_lines.empty:
        return _not_applicable("red_line_setback", title, "m", "The city has no road red lines to measure against.")
    distances = red_lines.geometry.distance(footprint)
    details = sorted(({"road_id": r.get("road_id"), "road": _road_label(r), "distance_m": round(float(d), M)}
                      for (_, r), d in zip(red_lines.iterrows(), distances, strict=True)),
                     key=lambda d: d["distance_m"])
    nearest = details[0]
    if red_lines.geometry.intersection(footprint).area.sum() > 0.005:
        nearest = {**nearest, "distance_m": 0.0}
        return CheckResult(check_id="red_line_setback", title=title, status=FAIL, measured=0.0,
                           allowed=None if _missing(min_setback) else float(min_setback), unit="m", comparison=">=",
                           message=f"The building stands inside the red line of {nearest['road']}.", details=details)
    if _missing(min_setback):
        return CheckResult(check_id="red_line_setback", title=title, status=PASS, measured=nearest["distance_m"],
                           unit="m", comparison="none", details=details,
                           message=f"The building is {nearest['distance_m']:,.2f} m from the {nearest['road']} red "
                                   "line; no minimum distance is set.")
    ok = nearest["distance_m"] >= float(min_setback)
    verb = "at least" if ok else "less than"
    return CheckResult(check_id="red_line_setback", title=title, status=_verdict(ok), measured=nearest["distance_m"],
                       allowed=float(min_setback), unit="m", comparison=">=", details=details,
                       message=f"The building is {nearest['distance_m']:,.2f} m from the {nearest['road']} red line, "
                               f"{verb} the required {min_setback:g} m.")


def setback_line(parcel_geom: BaseGeometry, min_setback: float) -> BaseGeometry:
    """The parcel shrunk by the setback (square corners kept): where above-ground building may stand."""
    return parcel_geom.buffer(-float(min_setback), join_style="mitre")


# --------------------------------------------------------------------------- bulk


def check_height(top_z: float, ground_z: float, limit: float | None) -> CheckResult:
    """Top of the building above the city's ground datum against the parcel's height limit."""
    title = "Building height"
    measured = round(float(top_z) - float(ground_z), M)
    details = [{"top_elevation_m": round(float(top_z), M), "ground_elevation_m": round(float(ground_z), M)}]
    if _missing(limit):
        return CheckResult(check_id="height", title=title, status=NOT_APPLICABLE, measured=measured, unit="m",
                           comparison="<=", details=details, message="The parcel sets no height limit.")
    ok = measured <= float(limit)
    verb = "is within" if ok else "exceeds"
    return CheckResult(check_id="height", title=title, status=_verdict(ok), measured=measured, allowed=float(limit),
                       unit="m", comparison="<=", details=details,
                       message=f"Height {measured:,.2f} m above ground {verb} the {limit:g} m limit.")


def _ratio_check(check_id: str, title: str, label: str, numerator: float, what: str, parcel_area: float,
                 limit: float | None) -> CheckResult:
    details = [{what: round(float(numerator), M), "parcel_area_m2": round(float(parcel_area), M)}]
    if parcel_area <= 0:
        return _not_applicable(check_id, title, "ratio", "The parcel has no area to relate to.")
    measured = round(float(numerator) / float(parcel_area), RATIO)
    if _missing(limit):
        return CheckResult(check_id=check_id, title=title, status=NOT_APPLICABLE, measured=measured, unit="ratio",
                           comparison="<=", details=details, message=f"The parcel sets no {label} limit.")
    ok = measured <= float(limit)
    verb = "is within" if ok else "exceeds"
    return CheckResult(check_id=check_id, title=title, status=_verdict(ok), measured=measured, allowed=float(limit),
                       unit="ratio", comparison="<=", details=details,
                       message=f"{label[0].upper()}{label[1:]} {measured:.4f} {verb} the {limit:g} limit.")


def check_far(gross_floor_area: float, parcel_area: float, max_far: float | None) -> CheckResult:
    """Floor area ratio: above-ground gross floor area over parcel area."""
    return _ratio_check("far", "Floor area ratio", "floor area ratio", gross_floor_area, "gross_floor_area_m2",
                        parcel_area, max_far)


def check_coverage(footprint_area: float, parcel_area: float, max_coverage: float | None) -> CheckResult:
    """Site coverage: above-ground footprint area over parcel area."""
    return _ratio_check("coverage", "Site coverage", "site coverage", footprint_area, "footprint_area_m2",
                        parcel_area, max_coverage)


# --------------------------------------------------------------------------- neighbours


def check_neighbours(footprint: BaseGeometry, buildings_existing: gpd.GeoDataFrame,
                     exclude_ids: Iterable[str] = ()) -> CheckResult:
    """Overlap with existing buildings (0 m2 allowed), and how far the nearest one is."""
    title = "No overlap with existing buildings"
    base = dict(check_id="overlap_existing", title=title, allowed=0.0, unit="m2", comparison="<=")
    excluded = {str(x) for x in exclude_ids}
    others = buildings_existing
    if excluded and "building_id" in others.columns:
        others = others[~others["building_id"].astype(str).isin(excluded)]
    if others is None or others.empty:
        return CheckResult(**base, measured=0.0, status=PASS, message="There are no existing buildings nearby.")
    overlap = others.geometry.intersection(footprint).area
    distance = others.geometry.distance(footprint)
    details = []
    for (_, row), area, dist in zip(others.iterrows(), overlap, distance, strict=True):
        details.append({"building_id": row.get("building_id"), "name": row.get("name"),
                        "overlap_m2": round(float(area), M), "distance_m": round(float(dist), M)})
    details.sort(key=lambda d: (-d["overlap_m2"], d["distance_m"]))
    measured = round(float(overlap.sum()), M)
    nearest = min(details, key=lambda d: d["distance_m"])
    name = nearest["name"] or nearest["building_id"]
    if measured <= 0.0:
        message = (f"The building overlaps no existing building; the nearest, {name}, "
                   f"is {nearest['distance_m']:,.2f} m away.")
    else:
        hit = [d["name"] or d["building_id"] for d in details if d["overlap_m2"] > 0]
        message = f"The building overlaps {measured:,.2f} m2 of existing buildings ({', '.join(map(str, hit))})."
    keep = max(5, sum(1 for d in details if d["overlap_m2"] > 0))  # every overlap, else the five nearest
    return CheckResult(**base, measured=measured, status=_verdict(measured <= 0.0), message=message,
                       details=details[:keep])
