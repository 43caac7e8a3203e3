"""Two planning submissions for the empty parcel north of the avenue, and what a review must find in them.

``compliant.ifc`` passes every check; ``violating.ifc`` breaks exactly four: height, setback, the utility
tunnel's protection zone (basement) and one internal clash. ``expected.toml`` records the measured values,
computed here from the same specs the models are built from.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from shapely.geometry import Polygon

from cim.samples import building_ifc, gis, layout
from cim.samples.grid_building import BASEMENT_SLAB, Basement, BuildingSpec, Clash

_E0, _N0, _E1, _N1 = layout.PARCELS[layout.SUBMISSION_PARCEL][1]
TUNNEL_OUTER_WALL_N = layout.TUNNEL_AXIS_N + layout.TUNNEL_OUTER_WIDTH / 2  # N 2,865,718
PROTECTION_LIMIT_N = TUNNEL_OUTER_WALL_N + layout.TUNNEL_PROTECTION_ZONE_M  # N 2,865,721
_COMMON: dict[str, Any] = dict(parcel_id=layout.SUBMISSION_PARCEL, use="office", phase="plan", nx=6, ny=3,
                               bay_x=8.0, bay_y=8.0, storey_height=3.6,
                               usages=("Open-plan office", "Meeting room", "Open-plan office"),
                               ground_usages=("Lobby", "Retail", "Lobby"))

COMPLIANT = BuildingSpec(
    model_id="submission-compliant", file_name="submissions/compliant.ifc",
    title="Binhai Innovation Centre (scheme A)", origin_e=464_600.0, origin_n=2_865_740.0, storeys=10,
    basement=Basement(0.0, 0.0, 48.5, 24.5, 4.0), description="Planning submission that passes every check",
    **_COMMON)

VIOLATING = BuildingSpec(
    model_id="submission-violating", file_name="submissions/violating.ifc",
    title="Binhai Innovation Centre (scheme B)", origin_e=_E1 - 5.0 - 48.5, origin_n=2_865_740.0, storeys=14,
    basement=Basement(0.0, 2_865_720.5 - 2_865_740.0, 48.5, 24.5, 4.0), clashes=(Clash("duct-beam", 3),),
    description="Planning submission that is too tall, over the setback line, in the tunnel protection zone and "
                "with an internal clash", **_COMMON)

SUBMISSIONS = {"compliant": COMPLIANT, "violating": VIOLATING}


def measure(spec: BuildingSpec) -> dict[str, float]:
    """What a review measures, computed from the spec geometry (metres, ratios)."""
    site = gis.parcel(spec.parcel_id)
    footprint = Polygon(spec.footprint())
    basement = Polygon(spec.basement_footprint() or spec.footprint())
    redline = gis.road_redlines().set_index("road_id").geometry["R-BA"]
    mall = gis.buildings_existing(()).set_index("name").geometry["Binhai Mall"]
    return {
        "height_m": round(spec.height, 3),
        "min_setback_m": round(site.exterior.distance(footprint), 3),
        "distance_to_avenue_red_line_m": round(footprint.distance(redline), 3),
        "footprint_area_m2": round(footprint.area, 3),
        "coverage": round(footprint.area / site.area, 4),
        "gross_floor_area_m2": round(spec.gross_floor_area, 3),
        "far": round(spec.gross_floor_area / site.area, 4),
        "basement_min_northing": round(basement.bounds[1], 3),
        "basement_to_tunnel_outer_wall_m": round(basement.bounds[1] - TUNNEL_OUTER_WALL_N, 3),
        "basement_bottom_z": round(layout.GROUND_Z - (spec.basement.height if spec.basement else 0) - BASEMENT_SLAB, 3),
        "distance_to_nearest_existing_building_m": round(footprint.distance(mall), 3),
    }


def expected(clashes: dict[str, list[dict[str, str]]]) -> dict[str, dict[str, Any]]:
    """The review's expected outcome per submission (the content of expected.toml)."""
    use, _bounds, max_height, max_far, max_coverage, min_setback = layout.PARCELS[layout.SUBMISSION_PARCEL]
    limits = {"max_height_m": max_height, "max_far": max_far, "max_coverage": max_coverage,
              "min_setback_m": min_setback, "tunnel_protection_zone_m": layout.TUNNEL_PROTECTION_ZONE_M,
              "tunnel_outer_wall_n": TUNNEL_OUTER_WALL_N, "protection_limit_n": PROTECTION_LIMIT_N}
    out: dict[str, dict[str, Any]] = {}
    for key, spec in SUBMISSIONS.items():
        measured = measure(spec)
        fails = []
        if measured["height_m"] > max_height:
            fails.append("height")
        if measured["min_setback_m"] < min_setback:
            fails.append("setback")
        if measured["basement_to_tunnel_outer_wall_m"] < layout.TUNNEL_PROTECTION_ZONE_M:
            fails.append("tunnel_protection")
        if clashes.get(spec.model_id):
            fails.append("internal_clash")
        out[key] = {"file": Path(spec.file_name).name, "model_id": spec.model_id, "parcel_id": spec.parcel_id,
                    "land_use": use, "storeys": spec.storeys, "fails": fails,
                    "passes": [c for c in CHECKS if c not in fails], "limits": limits, "measured": measured,
                    "clashes": clashes.get(spec.model_id, [])}
    return out


CHECKS = ("inside_parcel", "height", "setback", "far", "coverage", "overlap_existing", "tunnel_protection",
          "pipelines", "internal_clash")


def to_toml(data: dict[str, dict[str, Any]]) -> str:
    """A small TOML writer for this one shape (tomllib reads it back; no extra dependency)."""
    lines = ["# Expected planning-review outcome for the two submissions on parcel "
             f"{layout.SUBMISSION_PARCEL}. Generated by cim.samples.submissions; do not edit.",
             "# Setback and coverage use the above-ground footprint; the basement is judged by "
             "tunnel_protection and pipelines.", ""]
    for key, entry in data.items():
        lines.append(f"[{key}]")
        for name in ("file", "model_id", "parcel_id", "land_use", "storeys", "fails", "passes"):
            lines.append(f"{name} = {_value(entry[name])}")
        for table in ("limits", "measured"):
            lines += ["", f"[{key}.{table}]"]
            lines += [f"{k} = {_value(v)}" for k, v in entry[table].items()]
        for clash in entry["clashes"]:
            lines += ["", f"[[{key}.clashes]]"]
            lines += [f"{k} = {_value(v)}" for k, v in clash.items()]
        lines.append("")
    return "\n".join(lines)


def _value(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int | float):
        return repr(float(v)) if isinstance(v, float) else str(v)
    if isinstance(v, list | tuple):
        return "[" + ", ".join(_value(x) for x in v) + "]"
    return '"' + str(v).replace("\\", "\\\\").replace('"', '\\"') + '"'


def write_submissions(out_dir: Path) -> tuple[list[Path], dict[str, dict[str, Any]]]:
    """Write both submission models and expected.toml under ``out_dir``/submissions; return paths and outcome."""
    clashes = {spec.model_id: building_ifc.write(spec, out_dir / spec.file_name) for spec in SUBMISSIONS.values()}
    outcome = expected(clashes)
    toml_path = out_dir / "submissions" / "expected.toml"
    toml_path.write_text(to_toml(outcome), encoding="utf-8")
    return [out_dir / spec.file_name for spec in SUBMISSIONS.values()] + [toml_path], outcome
