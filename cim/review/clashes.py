"""The review's clash checks: the submission against the tunnel's protection zone, the buried pipelines'
clearance zones (both from the city store), and its own elements under the default rules."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import shapely

from cim.clash.adhoc import check_elements
from cim.clash.engine import Checker
from cim.clash.rules import RuleSet
from cim.clash.source import ElementSet
from cim.clash.zone_build import model_outlines
from cim.review.model import FAIL, NOT_APPLICABLE, PASS, CheckResult, ClashItem
from cim.store import Store


@dataclass
class ClashOutcome:
    checks: list[CheckResult] = field(default_factory=list)
    items: list[ClashItem] = field(default_factory=list)
    rows: list[dict] = field(default_factory=list)  # clashes-table-like rows, for BCF
    tunnel_outline: bytes | None = None
    protection_zone: bytes | None = None
    pipelines: list[bytes] = field(default_factory=list)


def _check_for(rule) -> str:
    if rule.zone is None:
        return "internal_clash"
    return "tunnel_protection" if rule.zone.kind == "model" else "pipelines"


def run_clash_checks(submission: ElementSet, city: Store, rules: RuleSet, ground_z: float | None,
                     base: Path | None, now) -> ClashOutcome:
    out = ClashOutcome()
    checker, rows = check_elements(submission, rules, city, ground_z, base, now)
    check_of = {r.name: _check_for(r) for r in rules.rules}
    out.rows = sorted(rows, key=lambda r: (check_of[r["rule"]], r["clash_id"]))
    out.items = [_item(r, check_of[r["rule"]]) for r in out.rows]
    zone_rules = [r for r in rules.rules if r.zone is not None]
    out.checks.append(_tunnel_check(submission, city, [r for r in zone_rules if r.zone.kind == "model"], out))
    out.checks.append(_pipeline_check(checker, [r for r in zone_rules if r.zone.kind == "layer"], out))
    internal = [i for i in out.items if i.check_id == "internal_clash"]
    out.checks.append(CheckResult(
        "internal_clash", "Internal clashes (default rules)", FAIL if internal else PASS, len(internal), 0, "count",
        "<=", f"{len(internal)} clash(es) between the model's own elements" if internal else
        "No clashes between the model's own elements",
        [{"clash_id": i.clash_id, "rule": i.rule, "mode": i.mode, "a": f"{i.a_class} {i.a_name}",
          "b": f"{i.b_class} {i.b_name}", "depth_m": i.depth_m, "distance_m": i.distance_m} for i in internal]))
    return out


def _item(row: dict, check_id: str) -> ClashItem:
    zone = row["b_model"].startswith(("zone:", "layer:"))
    return ClashItem(row["clash_id"], row["rule"], row["mode"], row["severity"], row["a_global_id"], row["a_class"],
                     row["a_name"], None if zone else row["b_global_id"], row["b_class"], row["b_name"],
                     row["b_model"], row["a_storey"] or row["b_storey"], row["depth_m"], row["distance_m"],
                     row["x"], row["y"], row["z"], row["chainage"], check_id)


def _footprint(submission: ElementSet) -> shapely.Geometry | None:
    rows = [r for r in submission.rows if r.get("xmin") is not None]
    if not rows:
        return None
    return shapely.union_all([shapely.box(r["xmin"], r["ymin"], r["xmax"], r["ymax"]) for r in rows])


def _tunnel_check(submission: ElementSet, city: Store, rules: list, out: ClashOutcome) -> CheckResult:
    title = "Utility tunnel protection zone"
    if not rules:
        return CheckResult("tunnel_protection", title, NOT_APPLICABLE, message="No tunnel protection rule")
    rule = rules[0]
    outlines = model_outlines(city, rule.zone)
    if not outlines:
        return CheckResult("tunnel_protection", title, NOT_APPLICABLE, allowed=rule.zone.width_m, unit="m",
                           message="The city store holds no utility tunnel")
    tunnel = shapely.union_all([o[1] for o in outlines])
    out.tunnel_outline = shapely.to_wkb(tunnel)
    out.protection_zone = shapely.to_wkb(tunnel.buffer(rule.zone.width_m, join_style="mitre"))
    hits = [i for i in out.items if i.check_id == "tunnel_protection"]
    fp = _footprint(submission)
    distance = round(float(fp.distance(tunnel)), 2) if fp is not None else None
    width = rule.zone.width_m
    details = [{"global_id": i.a_global_id, "element": f"{i.a_class} {i.a_name}", "storey": i.storey,
                "chainage": i.chainage, "depth_into_zone_m": i.depth_m} for i in hits]
    if hits:
        where = ", ".join(sorted({i.chainage for i in hits if i.chainage})) or "along the tunnel"
        message = (f"{len(hits)} element(s) inside the tunnel's {width:g} m protection zone at {where}; "
                   f"nearest {distance} m from the tunnel's outer wall")
    else:
        message = f"Nearest element {distance} m from the tunnel's outer wall (protection zone {width:g} m)"
    return CheckResult("tunnel_protection", title, FAIL if hits else PASS, distance, width, "m", ">=", message,
                       details)


def _pipeline_check(checker: Checker, rules: list, out: ClashOutcome) -> CheckResult:
    title = "Buried pipelines clearance"
    if not rules:
        return CheckResult("pipelines", title, NOT_APPLICABLE, message="No pipeline clearance rule")
    zones = [z for r in rules for z in checker.zones.get(r.name, [])]
    out.pipelines = []
    hits = [i for i in out.items if i.check_id == "pipelines"]
    width = rules[0].zone.width_m
    details = [{"global_id": i.a_global_id, "element": f"{i.a_class} {i.a_name}", "pipeline": i.b_name,
                "depth_into_zone_m": i.depth_m} for i in hits]
    message = (f"{len(hits)} element(s) within the clearance of buried pipelines: "
               f"{', '.join(sorted({i.b_name or '' for i in hits}))}" if hits else
               f"No element within {width:g} m of the {len(zones)} buried pipelines")
    return CheckResult("pipelines", title, FAIL if hits else PASS, len(hits), 0, "count", "<=", message, details)


def pipeline_lines(city: Store, layer: str = "pipelines") -> list[bytes]:
    """The buried lines for the site plan."""
    if layer not in city.layer_names():
        return []
    return [bytes(g) for g in city.read(layer, columns=["geometry"]).column("geometry").to_pylist()]
