"""Read the clash rule file (schemas/clash_rules.toml) into typed rules and refuse what it cannot mean."""

from __future__ import annotations

import hashlib
import json
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cim.clash.selectors import Selector
from cim.clash.types import MODES
from cim.errors import ConfigError

RULES_FILE = Path(__file__).resolve().parents[2] / "schemas" / "clash_rules.toml"
SEVERITIES = ("critical", "major", "minor", "info")
SCOPES = ("all", "within_model", "across_models")
ZONE_KINDS = ("model", "layer")


@dataclass(frozen=True)
class ZoneSpec:
    """A protection zone built from city data instead of elements (rule side b)."""

    kind: str  # model | layer
    width_m: float
    model: str | None = None  # zone = model: glob of the model ids
    classes: tuple[str, ...] = ()
    layer: str | None = None  # zone = layer: the GIS layer table
    where: dict[str, Any] = field(default_factory=dict)
    diameter_column: str | None = None
    depth_column: str | None = None


@dataclass(frozen=True)
class Rule:
    name: str
    mode: str
    severity: str
    scope: str
    a: Selector
    b: Selector | None  # None: b is a zone
    zone: ZoneSpec | None
    tolerance_m: float
    distance_m: float
    exclude_same_system: bool = False

    @property
    def symmetric(self) -> bool:
        """a and b select the same elements, so each unordered pair is tested once."""
        return self.b is not None and self.a == self.b

    @property
    def margin(self) -> float:
        """How far apart two bounding boxes may be and still hold a clash under this rule."""
        return self.distance_m if self.mode == "clearance" else 0.0


@dataclass(frozen=True)
class RuleSet:
    """The rules of one rule file (or the ``--rule`` subset of them).

    ``name`` identifies the rule set in the clashes table: a clash belongs to (rule set, rule, pair), and a
    check only resolves clashes of its own rule set (and, for a subset, of its own rules).
    """

    path: str
    rules: tuple[Rule, ...]
    digest: str  # changes when the name, a selected rule or the defaults change: a changed set re-checks everything
    name: str = "clash_rules"  # the file's top-level name = "...", else its file name without .toml
    subset: bool = False  # only some of the file's rules were selected (--rule)

    def by_name(self, name: str) -> Rule:
        for rule in self.rules:
            if rule.name == name:
                return rule
        raise KeyError(name)


def load_rules(path: str | Path | None = None, only: list[str] | None = None) -> RuleSet:
    """The rule set in ``path`` (default: the shipped schemas/clash_rules.toml), optionally just ``only``.

    The digest covers the selected rules only, so a subset check does not pass for a full one next time.
    """
    path = Path(path or RULES_FILE)
    try:
        doc = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise ConfigError(path, "clash rule file not found",
                          f"pass an existing file; the default is {RULES_FILE}") from exc
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(path, f"cannot read the clash rule file: {exc}", "fix the TOML syntax") from exc
    defaults = doc.get("defaults", {})
    name = doc.get("name", path.stem)
    if not isinstance(name, str) or not name.strip():
        raise ConfigError(path, "the rule set's name is empty or not text", 'set name = "..." at the top of the file')
    raw = doc.get("rules", [])
    if not isinstance(raw, list) or not raw:
        raise ConfigError(path, "the rule file has no [[rules]]",
                          "add at least one [[rules]] table (see the file's header)")
    rules = [_rule(path, i, r, defaults) for i, r in enumerate(raw)]
    names = [r.name for r in rules]
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise ConfigError(path, f"rule names repeat: {', '.join(dupes)}", "give every rule a unique name")
    if only:
        unknown = sorted(set(only) - set(names))
        if unknown:
            raise ConfigError(path, f"no rule named {', '.join(unknown)}", f"rules here: {', '.join(names)}")
        raw = [r for r in raw if r.get("name") in only]
        rules = [r for r in rules if r.name in only]
    digest = hashlib.sha1(json.dumps(raw, sort_keys=True, default=str).encode() +
                          json.dumps(defaults, sort_keys=True).encode() + name.encode()).hexdigest()[:16]
    return RuleSet(str(path), tuple(rules), digest, name.strip(), bool(only) and len(rules) < len(names))


def _rule(path: Path, i: int, raw: dict, defaults: dict) -> Rule:
    name = raw.get("name")
    where = f"rule {name or f'#{i + 1}'}"
    if not name or not isinstance(name, str):
        raise ConfigError(path, f"{where} has no name", "add name = \"...\"")
    mode = raw.get("mode")
    if mode not in MODES:
        raise ConfigError(path, f"{where}: mode {mode!r} is not one of {', '.join(MODES)}", "set mode")
    severity = raw.get("severity", "major")
    if severity not in SEVERITIES:
        raise ConfigError(path, f"{where}: severity {severity!r}", f"use one of {', '.join(SEVERITIES)}")
    scope = raw.get("scope", "all")
    if scope not in SCOPES:
        raise ConfigError(path, f"{where}: scope {scope!r}", f"use one of {', '.join(SCOPES)}")
    distance = float(raw.get("distance_m", 0.0))
    if mode == "clearance" and distance <= 0:
        raise ConfigError(path, f"{where}: a clearance rule needs distance_m > 0", "add distance_m = 0.5")
    tolerance = float(raw.get("tolerance_m", defaults.get("tolerance_m", 0.01)))
    if tolerance < 0:
        raise ConfigError(path, f"{where}: tolerance_m is negative", "use 0 or more")
    if "a" not in raw:
        raise ConfigError(path, f"{where} has no selector a", "add a = { classes = [...] }")
    a = Selector.parse(raw["a"], path, f"{where}.a")
    b_raw = raw.get("b")
    zone = _zone(path, where, b_raw) if isinstance(b_raw, dict) and "zone" in b_raw else None
    b = None if zone else (Selector.parse(b_raw, path, f"{where}.b") if b_raw is not None else a)
    return Rule(name, mode, severity, scope, a, b, zone, tolerance, distance, bool(raw.get("exclude_same_system")))


def _zone(path: Path, where: str, raw: dict) -> ZoneSpec:
    kind = raw["zone"]
    if kind not in ZONE_KINDS:
        raise ConfigError(path, f"{where}.b: zone {kind!r}", "use zone = \"model\" or zone = \"layer\"")
    width = float(raw.get("width_m", 0.0))
    if width < 0:
        raise ConfigError(path, f"{where}.b: width_m is negative", "use 0 or more")
    if kind == "model" and not raw.get("model"):
        raise ConfigError(path, f"{where}.b: a model zone needs model = \"<model id glob>\"", "add model")
    if kind == "layer" and not raw.get("layer"):
        raise ConfigError(path, f"{where}.b: a layer zone needs layer = \"<table>\"", "add layer = \"pipelines\"")
    return ZoneSpec(kind, width, raw.get("model"), tuple(raw.get("classes", ())), raw.get("layer"),
                    dict(raw.get("where", {})), raw.get("diameter_column"), raw.get("depth_column"))
