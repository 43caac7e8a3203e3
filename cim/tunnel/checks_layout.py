"""Cross-section rules: which utilities may share a compartment, sides and levels, clear height, aisle width."""

from __future__ import annotations

from cim.tunnel.rules import Context

NETWORK = ("pipe", "pipe_fitting", "valve", "cable", "cable_fitting")


def _network(ctx: Context, comp: dict, utility: str | None = None) -> list[dict]:
    return [a for a in ctx.in_zone(comp) if a["asset_kind"] in NETWORK
            and (utility is None or a["utility_type"] == utility)]


def _span(assets: list[dict]) -> tuple[float | None, float | None]:
    st = [v for a in assets for v in (a["chainage_start_m"], a["chainage_end_m"]) if v is not None]
    return (min(st), max(st)) if st else (None, None)


def _report(ctx: Context, rid: str, comp: dict, assets: list[dict], message: str) -> None:
    a, b = _span(assets)
    ctx.add(rid, message, compartment=comp["name"], start=a, end=b, assets=[x["global_id"] for x in assets])


def gas_alone(ctx: Context, rule: dict) -> None:
    services = set(rule.get("service_types", []))
    for comp in ctx.compartments():
        gas = _network(ctx, comp, "gas")
        others = [a for a in _network(ctx, comp) if a["utility_type"] not in services | {"gas"}]
        if gas and others:
            kinds = sorted({a["utility_type"] for a in others})
            _report(ctx, "gas_alone", comp, others, f"{comp['name']}: gas pipes share the compartment with {kinds}")
        stray = [a for a in ctx.assets if a["utility_type"] == "gas" and a["asset_kind"] in NETWORK
                 and a["compartment_global_id"] == comp["global_id"] and comp["compartment_type"] not in ("gas", None)]
        if stray:
            _report(ctx, "gas_alone", comp, stray, f"{comp['name']} ({comp['compartment_type']}) holds gas pipes")


def steam_alone(ctx: Context, rule: dict) -> None:
    words = [w.lower() for w in rule.get("steam_words", ["steam"])]
    for comp in ctx.compartments():
        net = _network(ctx, comp)
        steam = [a for a in net if a["utility_type"] == "heat" and any(w in (a["medium"] or "").lower() for w in words)]
        others = [a for a in net if a not in steam and a["utility_type"] != "heat"]
        if steam and others:
            _report(ctx, "steam_alone", comp, others, f"{comp['name']}: steam pipes share the compartment with "
                    f"{sorted({a['utility_type'] for a in others})}")


def heat_not_with_power(ctx: Context, rule: dict) -> None:
    for comp in ctx.compartments():
        heat, power = _network(ctx, comp, "heat"), _network(ctx, comp, "power")
        if heat and power:
            _report(ctx, "heat_not_with_power", comp, heat + power, f"{comp['name']}: heat pipes and power cables")


def _side(a: dict, comp: dict) -> int:
    """-1 right, +1 left of the compartment's centre line (0 when unknown)."""
    if a["lateral_offset_m"] is None or comp["lateral_min_m"] is None:
        return 0
    mid = (comp["lateral_min_m"] + comp["lateral_max_m"]) / 2
    return 1 if a["lateral_offset_m"] > mid else -1


def hv_not_with_telecom_side(ctx: Context, rule: dict) -> None:
    kv = float(rule.get("min_voltage_kv", 110.0))
    for comp in ctx.compartments():
        hv = [a for a in _network(ctx, comp, "power") if (a["voltage_kv"] or 0.0) >= kv - 1e-6]
        tel = _network(ctx, comp, "telecom")
        for side in (-1, 1):
            h = [a for a in hv if _side(a, comp) == side]
            t = [a for a in tel if _side(a, comp) == side]
            if h and t:
                _report(ctx, "hv_not_with_telecom_side", comp, h + t,
                        f"{comp['name']}: {kv:g} kV+ power cables on the same side as telecom cables")


def water_below_heat(ctx: Context, rule: dict) -> None:
    for comp in ctx.compartments():
        water, heat = _network(ctx, comp, "water"), _network(ctx, comp, "heat")
        for side in (-1, 1):
            w = [a for a in water if _side(a, comp) == side and a["elevation_m"] is not None]
            h = [a for a in heat if _side(a, comp) == side and a["elevation_m"] is not None]
            if w and h and max(a["elevation_m"] for a in w) > min(a["elevation_m"] for a in h):
                _report(ctx, "water_below_heat", comp, w + h, f"{comp['name']}: a water pipe is above a heat pipe "
                        "on the same side")


def clear_height(ctx: Context, rule: dict) -> None:
    limit = float(rule["min_m"])
    for comp in ctx.compartments():
        h = comp["clear_height_m"]
        if h is not None and h < limit - 1e-6:
            ctx.add("clear_height", f"{comp['name']}: clear height {h:.2f} m < {limit} m", compartment=comp["name"],
                    start=comp["chainage_start_m"], end=comp["chainage_end_m"], measured=h, allowed=limit)


def aisle_width(ctx: Context, rule: dict) -> None:
    """Widest free strip across the compartment between the pipes, cables and trays that run along it."""
    for comp in ctx.compartments():
        lo, hi = comp["lateral_min_m"], comp["lateral_max_m"]
        runs = [a for a in ctx.in_zone(comp) if a["asset_kind"] in ("pipe", "cable", "cable_tray")
                and a["lateral_min_m"] is not None]
        if lo is None or not runs:
            continue
        spans = sorted((max(lo, a["lateral_min_m"]), min(hi, a["lateral_max_m"])) for a in runs)
        gaps, edge = [], lo
        for a, b in spans:
            gaps.append((a - edge, edge, a))
            edge = max(edge, b)
        gaps.append((hi - edge, edge, hi))
        width, g0, g1 = max(gaps)
        both = g0 > lo + 1e-6 and g1 < hi - 1e-6
        limit = float(rule["both_sides_m"] if both else rule["one_side_m"])
        if width < limit - 1e-6:
            ctx.add("aisle_width", f"{comp['name']}: widest aisle {width:.2f} m < {limit} m "
                    f"({'pipes or supports on both sides' if both else 'on one side'})", compartment=comp["name"],
                    start=comp["chainage_start_m"], end=comp["chainage_end_m"], measured=round(width, 3),
                    allowed=limit)


LAYOUT_CHECKS = {"gas_alone": gas_alone, "steam_alone": steam_alone, "heat_not_with_power": heat_not_with_power,
                 "hv_not_with_telecom_side": hv_not_with_telecom_side, "water_below_heat": water_below_heat,
                 "clear_height": clear_height, "aisle_width": aisle_width}
