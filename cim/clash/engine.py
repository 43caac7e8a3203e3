"""Run clash rules over an ElementSet (and protection zones): broad phase, intent, narrow phase, findings.

All geometry is shifted into one local frame (``origin``) before any test, so the checks behave the same at
the CRS origin and 500 km from it. Findings carry world coordinates again.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING

import numpy as np

from cim.clash import split
from cim.clash.broad import candidate_pairs
from cim.clash.kernel import SolidCache, clearance_contact, containment_contact, duplicate_contact, hard_contact
from cim.clash.rules import Rule, RuleSet
from cim.clash.source import ElementSet
from cim.clash.suppress import Intent, build_intent
from cim.clash.types import Contact, Solid

if TYPE_CHECKING:
    from cim.clash.tiles import Tile


@dataclass
class Zone:
    """A protection zone solid (local frame) and what it protects."""

    solid: Solid
    model: str  # "zone:<model_id>" or "layer:<table>"
    global_id: str  # feature id, or the protected model's id
    ifc_class: str  # e.g. "ProtectionZone" or "pipelines:gas"
    name: str | None
    hash: str  # changes when the zone's geometry changes
    axis_loader: Callable[[], object | None] | None = None  # reads a tunnel's alignment axis when first needed

    @cached_property
    def axis(self):
        """cim.tunnel.chainage.Axis of a tunnel zone (clashes get a chainage), read only if a clash needs it."""
        return self.axis_loader() if self.axis_loader else None


@dataclass
class Finding:
    rule: Rule
    mode: str
    a: str  # element key
    b: str  # element key or zone key
    contact: Contact
    point: tuple[float, float, float]  # world


Work = tuple[int, Rule, tuple[str, str, Solid | None]]  # (index in the check, rule, (a key, b key, zone solid))


@dataclass
class CheckStats:
    candidates: int = 0
    tested: int = 0
    suppressed: int = 0
    carried: int = 0
    per_rule: dict[str, int] = field(default_factory=dict)


def local_origin(bounds: np.ndarray) -> np.ndarray:
    """A round point near the middle of everything checked: the local frame's origin."""
    if len(bounds) == 0:
        return np.zeros(3)
    lo, hi = bounds[:, :3].min(axis=0), bounds[:, 3:].max(axis=0)
    return np.round((lo + hi) / 2.0, -1)


class Checker:
    """Runs a rule set; ``changed`` keys (element or zone keys) restrict narrow tests to pairs touching them."""

    def __init__(self, elements: ElementSet, zones: dict[str, list[Zone]] | None = None,
                 origin: np.ndarray | None = None):
        self.elements = elements
        self.zones = zones or {}
        self.origin = local_origin(elements.bounds) if origin is None else np.asarray(origin, dtype=np.float64)
        self.intent: Intent = build_intent(elements)
        self.cache = SolidCache()
        self._solids: dict[str, Solid] = {}
        self.stats = CheckStats()

    # ---- solids ---------------------------------------------------------------------------------------------
    def _load(self, keys: Iterable[str]) -> None:
        missing = [k for k in keys if k not in self._solids]
        for key, (verts, faces, closed) in self.elements.meshes(missing).items():
            self._solids[key] = Solid(key, verts - self.origin, faces, closed)

    def solid(self, key: str) -> Solid:
        if key not in self._solids:
            self._load([key])
        return self._solids[key]

    # ---- rules ----------------------------------------------------------------------------------------------
    def run(self, rules: RuleSet, changed: set[str] | None = None,
            progress: Callable[[str, int, int], None] | None = None, tile: Tile | None = None,
            processes: int = 1) -> list[Finding]:
        """Findings of every rule; with a ``tile`` only the pairs anchored in it (``cim.clash.tiles``). With
        ``processes`` > 1 and enough pairs, a forked child tests every other pair (``cim.clash.split``)."""
        plans = [(rule, self._pairs_to_test(rule, changed, tile)) for rule in rules.rules]
        # every rule's meshes in one read: a mesh scan costs about the same for 1 element as for 1,000
        self._load({k for _, todo in plans for k in _meshed(todo)})
        work = [(i, rule, pair) for i, (rule, pair) in enumerate((r, p) for r, todo in plans for p in todo)]
        if processes > 1 and len(work) >= split.SPLIT_FROM:
            findings = split.test_in_two(self, work, progress)
        else:
            findings = [finding for _, finding in self.test_pairs(work, progress)]
        for rule, _ in plans:
            found = sum(1 for f in findings if f.rule is rule)
            self.stats.per_rule[rule.name] = self.stats.per_rule.get(rule.name, 0) + found
        return findings

    def test_pairs(self, work: list[Work], progress: Callable[[str, int, int], None] | None = None,
                   step: int = 1) -> list[tuple[int, Finding]]:
        """(index, finding) of the pairs of ``work`` that clash. ``step``: this is every step-th pair of the
        check, for the progress counts."""
        totals: dict[str, int] = {}
        for _, rule, _ in work:
            totals[rule.name] = totals.get(rule.name, 0) + step
        done: dict[str, int] = {}
        out: list[tuple[int, Finding]] = []
        for i, rule, (a_key, b_key, zone) in work:
            finding = self._test(rule, a_key, b_key, zone)
            if finding is not None:
                out.append((i, finding))
            n = done.get(rule.name, 0)
            done[rule.name] = n + step
            if progress and n % 200 < step:
                progress(rule.name, n, totals[rule.name])
        return out

    def _pairs_to_test(self, rule: Rule, changed: set[str] | None,
                       tile: Tile | None) -> list[tuple[str, str, Solid | None]]:
        """(a key, b key, zone solid or None) of the rule's candidate pairs that intent does not clear."""
        if changed is not None and not changed:
            return []
        rows = self.elements.rows
        a_idx = _select(rule.a, rows)
        if tile is not None and len(a_idx):  # only what reaches the tile: the task's own share of the city
            a_idx = a_idx[tile.reaches(self.elements.bounds[a_idx], rule.margin)]
        if rule.zone is not None:
            zones = self.zones.get(rule.name, [])
            b_keys = [z.solid.key for z in zones]
            b_bounds = np.array([z.solid.bounds + np.r_[self.origin, self.origin] for z in zones]).reshape(-1, 6)
            b_idx = np.arange(len(zones))
            if tile is not None:
                b_idx = b_idx[tile.reaches(b_bounds, rule.margin)]
                b_bounds = b_bounds[b_idx]
        else:
            b_idx = a_idx if rule.symmetric else _select(rule.b, rows)
            if tile is not None and len(b_idx) and not rule.symmetric:
                b_idx = b_idx[tile.reaches(self.elements.bounds[b_idx], rule.margin)]
            b_keys = None
            b_bounds = self.elements.bounds[b_idx] if len(b_idx) else np.zeros((0, 6))
        if len(a_idx) == 0 or len(b_idx) == 0:
            return []
        a_bounds = self.elements.bounds[a_idx]
        same = rule.symmetric and rule.zone is None
        if changed is None:
            pairs = candidate_pairs(a_bounds, None if same else b_bounds, rule.margin)
        else:
            a_keys = [rows[i]["key"] for i in a_idx]
            b_all = b_keys if b_keys is not None else [rows[i]["key"] for i in b_idx]
            pairs = _pairs_touching(a_bounds, b_bounds, [k in changed for k in a_keys],
                                    [k in changed for k in b_all], rule.margin, same)
        pairs = self._prefilter(rule, pairs, a_bounds, b_bounds)
        if tile is not None:
            pairs = _anchored(pairs, a_bounds, a_bounds if same else b_bounds, tile)
        todo: list[tuple[str, str, Solid | None]] = []
        for i, j in pairs:
            a_key = rows[a_idx[i]]["key"]
            b_key = b_keys[b_idx[j]] if b_keys is not None else rows[b_idx[j]]["key"]
            if a_key == b_key or not self._in_scope(rule, a_key, b_key):
                continue
            self.stats.candidates += 1
            if rule.exclude_same_system and self._share_system(a_key, b_key):
                continue
            if rule.zone is None and self.intent.declared(a_key, b_key):
                self.stats.suppressed += 1
                continue
            todo.append((a_key, b_key, self.zones[rule.name][b_idx[j]].solid if b_keys is not None else None))
        return todo

    def _prefilter(self, rule: Rule, pairs: np.ndarray, a_bounds: np.ndarray, b_bounds: np.ndarray) -> np.ndarray:
        """Drop pairs whose boxes overlap by no more than the tolerance on some axis: they can only touch."""
        if len(pairs) == 0 or rule.mode == "clearance":
            return pairs
        a, b = a_bounds[pairs[:, 0]], (a_bounds if rule.symmetric and rule.zone is None else b_bounds)[pairs[:, 1]]
        overlap = np.minimum(a[:, 3:], b[:, 3:]) - np.maximum(a[:, :3], b[:, :3])
        return pairs[np.all(overlap > rule.tolerance_m, axis=1)]

    def _in_scope(self, rule: Rule, a_key: str, b_key: str) -> bool:
        if rule.scope == "all" or rule.zone is not None:
            return True
        same_model = a_key.partition("/")[0] == b_key.partition("/")[0]
        return same_model if rule.scope == "within_model" else not same_model

    def _test(self, rule: Rule, a_key: str, b_key: str, zone: Solid | None) -> Finding | None:
        self.stats.tested += 1
        a = self.solid(a_key)
        b = zone if zone is not None else self.solid(b_key)
        same_class = zone is None and self._class(a_key) == self._class(b_key)
        contact = self._contact(rule, a, b, same_class)
        if contact is None:
            return None
        point = tuple(float(v) for v in np.asarray(contact.point) + self.origin)
        if zone is None and self.intent.through_sleeve(a_key, b_key, np.asarray(point)):
            self.stats.suppressed += 1
            return None
        return Finding(rule, contact.mode, a_key, b_key, contact, point)

    def _contact(self, rule: Rule, a: Solid, b: Solid, same_class: bool) -> Contact | None:
        tol, cache = rule.tolerance_m, self.cache
        if rule.mode == "clearance":
            return clearance_contact(a, b, rule.distance_m, cache)
        if rule.mode == "duplicate":
            return duplicate_contact(a, b, tol, cache) if same_class else None
        if rule.mode == "containment":
            return containment_contact(a, b, tol, cache)
        hard = hard_contact(a, b, tol, cache)
        if hard is None:
            return None
        if same_class:
            dup = duplicate_contact(a, b, max(tol, 0.001), cache)
            if dup is not None:
                return dup
            if np.all(np.abs(a.bounds - b.bounds) <= max(tol, 0.005)):
                # same class, same extents, overlapping: a copy (one may lack the other's openings)
                return Contact("duplicate", hard.point, depth=hard.depth, volume=hard.volume,
                               depth_method=hard.depth_method)
        return containment_contact(a, b, tol, cache) or hard

    def _share_system(self, a_key: str, b_key: str) -> bool:
        rows, index = self.elements.rows, self.elements.index
        if b_key not in self.elements:
            return False
        systems = set(rows[index(a_key)].get("systems") or ())
        return bool(systems & set(rows[index(b_key)].get("systems") or ()))

    def _class(self, key: str) -> str:
        return self.elements.rows[self.elements.index(key)]["ifc_class"]


def _meshed(todo: list[tuple[str, str, Solid | None]]) -> set[str]:
    """The element keys whose meshes the pairs to test need (a zone is its own solid)."""
    return {k for a_key, b_key, zone in todo for k in ((a_key,) if zone is not None else (a_key, b_key))}


def _anchored(pairs: np.ndarray, a_bounds: np.ndarray, b_bounds: np.ndarray, tile: Tile) -> np.ndarray:
    """The pairs whose anchor (max of the two xmin, max of the two ymin) lies in the tile: each pair in one tile."""
    if len(pairs) == 0:
        return pairs
    a, b = a_bounds[pairs[:, 0]], b_bounds[pairs[:, 1]]
    return pairs[tile.holds(np.maximum(a[:, 0], b[:, 0]), np.maximum(a[:, 1], b[:, 1]))]


def _pairs_touching(a_bounds: np.ndarray, b_bounds: np.ndarray, a_changed: list[bool], b_changed: list[bool],
                    margin: float, same: bool) -> np.ndarray:
    """Candidate pairs with at least one changed side: changed boxes against everything, not all against all."""
    ai, bi = np.flatnonzero(a_changed), np.flatnonzero(b_changed)
    parts = []
    if len(ai):
        p = candidate_pairs(a_bounds[ai], b_bounds, margin)
        parts.append(np.column_stack([ai[p[:, 0]], p[:, 1]]))
    if len(bi):
        p = candidate_pairs(a_bounds, b_bounds[bi], margin)
        parts.append(np.column_stack([p[:, 0], bi[p[:, 1]]]))
    if not parts:
        return np.zeros((0, 2), dtype=np.int64)
    pairs = np.concatenate(parts).astype(np.int64)
    if same:  # one symmetric set: keep each unordered pair once, never an element with itself
        pairs = np.sort(pairs, axis=1)
        pairs = pairs[pairs[:, 0] != pairs[:, 1]]
    return np.unique(pairs, axis=0) if len(pairs) else pairs


def _select(selector, rows: list[dict]) -> np.ndarray:
    """Indices of the rows a selector matches, deciding once per distinct combination of the fields it reads."""
    if selector.properties:
        return np.array([i for i, r in enumerate(rows) if selector.matches(r)], dtype=np.int64)
    memo: dict[tuple, bool] = {}
    out = []
    for i, r in enumerate(rows):
        key = (r["ifc_class"], r["model_id"], r.get("phase"),
               tuple(r.get("systems") or ()) if selector.systems else None,
               r.get("name") if selector.names else None,
               r.get("predefined_type") if selector.predefined_types else None)
        hit = memo.get(key)
        if hit is None:
            hit = memo[key] = selector.matches(r)
        if hit:
            out.append(i)
    return np.array(out, dtype=np.int64)
