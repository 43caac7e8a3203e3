"""Rules along the chainage: fire compartment length, opening and sump spacing, monitoring per fire compartment."""

from __future__ import annotations

from cim.tunnel.chainage import chainage_label
from cim.tunnel.rules import Context


def _has(ctx: Context, comp: dict, utility: str) -> bool:
    kinds = ("pipe", "pipe_fitting", "valve", "cable")
    return comp["compartment_type"] == utility or any(
        a["utility_type"] == utility and a["asset_kind"] in kinds for a in ctx.in_zone(comp))


def fire_compartment_length(ctx: Context, rule: dict) -> None:
    limit, tol = float(rule["max_length_m"]), float(rule.get("tolerance_m", 0.0))
    for comp in ctx.compartments():
        if not any(_has(ctx, comp, u) for u in rule.get("applies_to", ["gas", "power"])):
            continue
        for fc in ctx.fire_compartments(comp):
            if fc["length_m"] is not None and fc["length_m"] > limit + tol:
                ctx.add("fire_compartment_length", f"{fc['name']} in {comp['name']} is {fc['length_m']:.1f} m long "
                        f"({chainage_label(fc['chainage_start_m'])}..{chainage_label(fc['chainage_end_m'])}), "
                        f"more than {limit:g} m",
                        compartment=comp["name"], fire=fc["name"], start=fc["chainage_start_m"],
                        end=fc["chainage_end_m"], measured=fc["length_m"], allowed=limit)


def _gaps(ctx: Context, rid: str, comp: dict, points: list[tuple[float, str]], limit: float, tol: float,
          what: str) -> None:
    """Report every stretch between consecutive points (compartment ends included) longer than the limit."""
    a0, a1 = comp["chainage_start_m"], comp["chainage_end_m"]
    if a0 is None:
        return
    stops = [(a0, None), *sorted(points), (a1, None)]
    for (s, g0), (e, g1) in zip(stops[:-1], stops[1:], strict=True):
        if e - s > limit + tol:
            ctx.add(rid, f"{comp['name']}: {what} {e - s:.1f} m apart between chainage {s:.1f} and {e:.1f} m, "
                    f"more than {limit:g} m", compartment=comp["name"], start=s, end=e,
                    assets=[g for g in (g0, g1) if g], measured=e - s, allowed=limit)


def _opening_points(ctx: Context, comp: dict, kind: str) -> list[tuple[float, str]]:
    return [(a["chainage_start_m"], a["global_id"]) for a in ctx.in_zone(comp)
            if a["asset_kind"] == kind and a["chainage_start_m"] is not None]


def escape_spacing(ctx: Context, rule: dict) -> None:
    limits, tol = rule["max_spacing_m"], float(rule.get("tolerance_m", 0.0))
    for comp in ctx.compartments():
        steam = any("steam" in (a["medium"] or "").lower() for a in ctx.in_zone(comp) if a["utility_type"] == "heat")
        keys = [k for k in ("power", "gas", "heat") if _has(ctx, comp, k)] + (["steam"] if steam else [])
        limit = min([float(limits[k]) for k in keys] or [float(limits["other"])])
        _gaps(ctx, "escape_spacing", comp, _opening_points(ctx, comp, "escape_opening"), limit, tol,
              "escape openings")


def hoisting_spacing(ctx: Context, rule: dict) -> None:
    for comp in ctx.compartments():
        _gaps(ctx, "hoisting_spacing", comp, _opening_points(ctx, comp, "hoisting_opening"),
              float(rule["max_spacing_m"]), float(rule.get("tolerance_m", 0.0)), "hoisting openings")


def _sumps(ctx: Context, comp: dict) -> list[tuple[float, str]]:
    """One point per sump: pumps, sump chambers and sump level sensors within 5 m are the same sump."""
    pts = sorted((a["chainage_start_m"], a["global_id"]) for a in ctx.in_zone(comp)
                 if a["chainage_start_m"] is not None and (a["asset_kind"] in ("pump", "sump")
                 or a["measured_quantity"] == "water_level"))
    out: list[tuple[float, str]] = []
    for s, g in pts:
        if not out or s - out[-1][0] > 5.0:
            out.append((s, g))
    return out


def sump_per_drainage_zone(ctx: Context, rule: dict) -> None:
    limit, tol = float(rule["max_spacing_m"]), float(rule.get("tolerance_m", 0.0))
    for comp in ctx.compartments():
        sumps = _sumps(ctx, comp)
        if not sumps:
            ctx.add("sump_per_drainage_zone", f"{comp['name']} has no sump (pump or level sensor)",
                    compartment=comp["name"], start=comp["chainage_start_m"], end=comp["chainage_end_m"],
                    measured=0, allowed=1)
            continue
        for (s, g0), (e, g1) in zip(sumps[:-1], sumps[1:], strict=True):
            if e - s > limit + tol:
                ctx.add("sump_per_drainage_zone", f"{comp['name']}: sumps {e - s:.1f} m apart between chainage "
                        f"{s:.1f} and {e:.1f} m, more than {limit:g} m", compartment=comp["name"], start=s, end=e,
                        assets=[g0, g1], measured=e - s, allowed=limit)


def monitoring(ctx: Context, rule: dict) -> None:
    """Required environmental sensors and cameras in every fire compartment (one finding per missing quantity)."""
    for comp in ctx.compartments():
        need = list(rule.get("required_all", []))
        for ctype, extra in rule.get("required_by_type", {}).items():
            if _has(ctx, comp, ctype):
                need += [q for q in extra if q not in need]
        for fc in ctx.fire_compartments(comp):
            inside = ctx.in_zone(fc)
            have = {a["measured_quantity"] for a in inside if a["asset_kind"] == "sensor"}
            where = dict(compartment=comp["name"], fire=fc["name"], start=fc["chainage_start_m"],
                         end=fc["chainage_end_m"])
            for q in need:
                if q not in have:
                    ctx.add("monitoring", f"{fc['name']} has no {q} sensor", measured=0, allowed=1, **where)
            cams = [a for a in inside if a["asset_kind"] == "camera"]
            if len(cams) < int(rule.get("min_cameras", 1)):
                ctx.add("monitoring", f"{fc['name']} has {len(cams)} camera(s), needs {rule.get('min_cameras', 1)}",
                        measured=len(cams), allowed=rule.get("min_cameras", 1), **where)


SPACING_CHECKS = {"fire_compartment_length": fire_compartment_length, "escape_spacing": escape_spacing,
                  "hoisting_spacing": hoisting_spacing, "sump_per_drainage_zone": sump_per_drainage_zone,
                  "monitoring": monitoring}
