"""The clash check by spatial tiles: each tile a task of its own (a Dask worker can map over them), the elements
that straddle tile edges tested once.

A tile takes every element whose box (grown by the rule's margin) reaches it, but reports a candidate pair only
when the pair's *anchor* lies in it: the point (max of the two xmin, max of the two ymin), the low corner of
the boxes' overlap in plan. Two boxes within the margin of each other both reach the tile holding their anchor,
and the anchor lies in exactly one tile (tiles are half-open), so the union of the tiles' findings is the
untiled check's, each pair once.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from cim.clash.engine import Checker, Finding
from cim.clash.rules import RuleSet


@dataclass(frozen=True)
class Tile:
    """A half-open square of the city plan, [x0, x1) x [y0, y1), in city CRS metres."""

    x0: float
    y0: float
    x1: float
    y1: float

    def reaches(self, bounds: np.ndarray, margin: float = 0.0) -> np.ndarray:
        """Row-wise: box (xmin, ymin, zmin, xmax, ymax, zmax) grown by ``margin`` meets the tile."""
        return ((bounds[:, 0] - margin < self.x1) & (bounds[:, 3] + margin >= self.x0)
                & (bounds[:, 1] - margin < self.y1) & (bounds[:, 4] + margin >= self.y0))

    def holds(self, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        """Row-wise: the plan point lies in the tile."""
        return (x >= self.x0) & (x < self.x1) & (y >= self.y0) & (y < self.y1)


def tiles(bounds: np.ndarray, size: float, margin: float = 0.0) -> list[Tile]:
    """The tiles of a ``size`` metre grid (aligned on multiples of ``size``) that any box grown by ``margin``
    reaches: every pair's anchor lies in one of them (pass the largest margin of the rules)."""
    if size <= 0:
        raise ValueError(f"tile size must be > 0, got {size}")
    if len(bounds) == 0:
        return []
    lo = np.floor((bounds[:, :2] - margin) / size).astype(np.int64)
    hi = np.floor((bounds[:, 3:5] + margin) / size).astype(np.int64)
    keys: set[tuple[int, int]] = set()
    for (i0, j0), (i1, j1) in zip(lo.tolist(), hi.tolist(), strict=True):
        keys.update((i, j) for i in range(i0, i1 + 1) for j in range(j0, j1 + 1))
    return [Tile(i * size, j * size, (i + 1) * size, (j + 1) * size) for i, j in sorted(keys)]


def tile_size(bounds: np.ndarray, n_tiles: int) -> float:
    """A round grid size (1, 2 or 5 times a power of ten metres) giving at most about ``n_tiles`` tiles over the
    boxes' plan extent."""
    if len(bounds) == 0:
        return 1.0
    span = np.maximum(bounds[:, 3:5].max(axis=0) - bounds[:, :2].min(axis=0), 1.0)
    raw = math.sqrt(float(span[0] * span[1]) / max(n_tiles, 1))
    if raw <= 1:
        return 1.0
    power = 10 ** math.floor(math.log10(raw))
    return float(next(step * power for step in (1, 2, 5, 10) if step * power >= raw))


def check_tile(checker: Checker, rules: RuleSet, tile: Tile, changed: set[str] | None = None,
               progress: Callable[[str, int, int], None] | None = None) -> list[Finding]:
    """The findings of ``rules`` whose pair is anchored in ``tile`` (see the module docstring)."""
    return checker.run(rules, changed, progress, tile=tile)


def check_tiled(checker: Checker, rules: RuleSet, size: float, changed: set[str] | None = None) -> list[Finding]:
    """All tiles one after the other: the same findings as ``checker.run(rules, changed)``, tile by tile."""
    boxes = checker.elements.bounds
    zone_boxes = [z.solid.bounds + np.r_[checker.origin, checker.origin] for zs in checker.zones.values() for z in zs]
    if zone_boxes:
        boxes = np.vstack([boxes, np.array(zone_boxes).reshape(-1, 6)])
    margin = max((rule.margin for rule in rules.rules), default=0.0)
    found: list[Finding] = []
    for tile in tiles(boxes, size, margin):
        found.extend(check_tile(checker, rules, tile, changed))
    return found
