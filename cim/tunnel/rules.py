"""Load the rule book (schemas/tunnel_rules.toml) and run every rule over the register."""

from __future__ import annotations

import tomllib
from collections.abc import Callable
from pathlib import Path

import pyarrow as pa

from cim.errors import ConfigError

RULES_FILE = Path(__file__).resolve().parents[2] / "schemas" / "tunnel_rules.toml"
NEEDED = ("clause", "severity", "text")


def load_rules(path: Path | None = None) -> dict:
    """The parsed rule book; refuses a rule without clause, severity or text."""
    path = path or RULES_FILE
    try:
        with Path(path).open("rb") as fh:
            doc = tomllib.load(fh)
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(path, f"cannot read the tunnel rule book: {exc}", "fix the TOML or pass rules_path") from exc
    for rid, rule in doc.get("rules", {}).items():
        missing = [k for k in NEEDED if k not in rule]
        if missing or rule.get("severity") not in ("error", "warning"):
            raise ConfigError(path, f"rule {rid!r} lacks {missing or ['a severity of error or warning']}",
                              "every rule needs clause, severity (error|warning) and text")
    return doc


class Context:
    """What checks read: assets, zones (compartment rows) and the rule book, and where findings go."""

    def __init__(self, assets: list[dict], zones: list[dict], book: dict):
        self.assets, self.zones, self.book = assets, zones, book
        self.standard = book.get("standard", {}).get("name", "GB 50838-2015")
        self.findings: list[dict] = []

    def compartments(self) -> list[dict]:
        return [z for z in self.zones if z["kind"] == "compartment"]

    def fire_compartments(self, comp: dict | None = None) -> list[dict]:
        out = [z for z in self.zones if z["kind"] == "fire_compartment"]
        return [z for z in out if comp is None or z["compartment_global_id"] == comp["global_id"]]

    def in_zone(self, zone: dict) -> list[dict]:
        key = "compartment_global_id" if zone["kind"] == "compartment" else "fire_compartment_global_id"
        return [a for a in self.assets if a[key] == zone["global_id"]]

    def add(self, rule_id: str, message: str, *, compartment: str | None = None, fire: str | None = None,
            start: float | None = None, end: float | None = None, assets: list[str] | None = None,
            measured: float | None = None, allowed: float | None = None) -> None:
        rule = self.book["rules"][rule_id]
        self.findings.append({
            "rule_id": rule_id, "standard": self.standard, "clause": str(rule["clause"]),
            "severity": rule["severity"], "compartment": compartment, "fire_compartment": fire,
            "chainage_start_m": start, "chainage_end_m": end, "assets": sorted(assets or []),
            "measured": None if measured is None else float(measured),
            "allowed": None if allowed is None else float(allowed),
            "message": f"{message} (GB 50838-2015 {rule['clause']})",
        })


def run_rules(assets: list[dict], zones: list[dict], book: dict) -> list[dict]:
    """Every rule of the book that has a check; findings sorted by compartment and chainage."""
    from cim.tunnel.checks_layout import LAYOUT_CHECKS
    from cim.tunnel.checks_spacing import SPACING_CHECKS

    checks: dict[str, Callable[[Context, dict], None]] = {**LAYOUT_CHECKS, **SPACING_CHECKS}
    ctx = Context(assets, zones, book)
    for rid, rule in book.get("rules", {}).items():
        if rid in checks:
            checks[rid](ctx, rule)
    return sorted(ctx.findings, key=lambda f: (f["compartment"] or "", f["chainage_start_m"] or 0.0, f["rule_id"]))


def findings_table(findings: list[dict]) -> pa.Table:
    if not findings:
        return pa.table({"rule_id": pa.array([], pa.string())})
    return pa.table({k: [f[k] for f in findings] for k in findings[0]})
