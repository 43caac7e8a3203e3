"""Spatial tiling: a quadtree over feature centres on a fixed grid of the city CRS.

Cells are squares of 2^k metres aligned on multiples of their size, so a cell's address (k, ix, iy) does not
depend on the rest of the city: a change in one district leaves the other districts' tiles (and their
content hashes) as they were, which is what makes incremental export work. A cell is split while it holds
more than ``max_features`` features or ``max_triangles`` triangles; cells with one non-empty child are
skipped (the tree stays shallow); a cell at the smallest size that is still too full is cut into parts in
feature-key order. Every feature lives in exactly one leaf (by its centre); leaves carry content, inner
tiles only bounds (refine ADD).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from cim.tiles.features import Feature

MAX_FEATURES = 2000
MAX_TRIANGLES = 120_000
MIN_LEVEL = 4  # 16 m cells: below this a full cell is cut into parts
MAX_LEVEL = 26  # 67,000 km: beyond any city


@dataclass
class Node:
    """A quadtree cell: its address, the features of a leaf or the children of an inner cell."""

    k: int
    ix: int
    iy: int
    part: int = 0
    features: list[Feature] = field(default_factory=list)
    children: list[Node] = field(default_factory=list)

    @property
    def name(self) -> str:
        base = f"{self.k}_{self.ix}_{self.iy}"
        return f"{base}_p{self.part}" if self.part else base

    def leaves(self):
        if not self.children:
            yield self
        for child in self.children:
            yield from child.leaves()

    def bounds(self) -> tuple[np.ndarray, np.ndarray]:
        """Min and max corner of every vertex below this cell, city CRS."""
        lows, highs = zip(*(f_bounds(f) for leaf in self.leaves() for f in leaf.features), strict=True)
        return np.min(lows, axis=0), np.max(highs, axis=0)


def f_bounds(feature: Feature) -> tuple[np.ndarray, np.ndarray]:
    return feature.vertices.min(axis=0), feature.vertices.max(axis=0)


def build_tree(features: list[Feature], max_features: int = MAX_FEATURES,
               max_triangles: int = MAX_TRIANGLES) -> Node:
    """The quadtree of ``features`` (at least one)."""
    centres = np.array([f.centre[:2] for f in features])
    k = _root_level(centres)
    ix, iy = (int(v) for v in np.floor(centres[0] / 2.0 ** k))
    return _grow(Node(k, ix, iy), features, centres, max_features, max_triangles)


def _root_level(centres: np.ndarray) -> int:
    for k in range(MIN_LEVEL, MAX_LEVEL + 1):
        cells = np.floor(centres / 2.0 ** k)
        if (cells == cells[0]).all():
            return k
    return MAX_LEVEL


def _grow(node: Node, features: list[Feature], centres: np.ndarray, max_features: int,
          max_triangles: int) -> Node:
    triangles = sum(f.n_triangles for f in features)
    if len(features) <= max_features and triangles <= max_triangles:
        node.features = features
        return node
    if node.k <= MIN_LEVEL:
        return _parts(node, features, max_features, max_triangles)
    k = node.k - 1
    cells = np.floor(centres / 2.0 ** k).astype(np.int64)
    groups: dict[tuple[int, int], list[int]] = {}
    for i, (cx, cy) in enumerate(cells.tolist()):
        groups.setdefault((cx, cy), []).append(i)
    children = []
    for (cx, cy), idx in sorted(groups.items()):
        child = Node(k, cx, cy)
        children.append(_grow(child, [features[i] for i in idx], centres[idx], max_features, max_triangles))
    if len(children) == 1:
        return children[0]
    node.children = children
    return node


def _parts(node: Node, features: list[Feature], max_features: int, max_triangles: int) -> Node:
    """A smallest cell still too full: consecutive runs of features (by key) that fit the limits."""
    ordered = sorted(features, key=lambda f: f.props["element_key"])
    part, current, tris = 1, [], 0
    for f in ordered:
        if current and (len(current) >= max_features or tris + f.n_triangles > max_triangles):
            node.children.append(Node(node.k, node.ix, node.iy, part, current))
            part, current, tris = part + 1, [], 0
        current.append(f)
        tris += f.n_triangles
    node.children.append(Node(node.k, node.ix, node.iy, part, current))
    return node


def geometric_error(lo: np.ndarray, hi: np.ndarray) -> float:
    """An inner tile's error: its diagonal, so a client refines it from city-wide viewing distances."""
    return float(math.ceil(np.linalg.norm(hi - lo) + 1.0))
