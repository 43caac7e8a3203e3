"""Group clashes for people: by shared element (one pipe crossing ten joists is one group) and by place."""

from __future__ import annotations

from collections import Counter

import numpy as np

CLUSTER_M = 5.0


def element_groups(rows: list[dict]) -> dict[str, str]:
    """clash_id -> group: 'rule:key' of the element the clash shares with most others under its rule."""
    counts = Counter()
    for r in rows:
        counts[(r["rule"], _a(r))] += 1
        counts[(r["rule"], _b(r))] += 1
    out = {}
    for r in rows:
        best = max(((counts[(r["rule"], k)], k) for k in (_a(r), _b(r))), key=lambda t: (t[0], t[1]))
        out[r["clash_id"]] = f"{r['rule']}:{best[1]}" if best[0] > 1 else r["clash_id"]
    return out


def location_groups(rows: list[dict], radius: float = CLUSTER_M) -> dict[str, str]:
    """clash_id -> '<storey>#<n>': single-linkage clusters of clash points within ``radius`` on one storey."""
    by_storey: dict[str, list[dict]] = {}
    for r in rows:
        by_storey.setdefault(r.get("a_storey") or r.get("b_storey") or "site", []).append(r)
    out = {}
    for storey, items in sorted(by_storey.items()):
        items = sorted(items, key=lambda r: (r["x"], r["y"], r["z"], r["clash_id"]))
        pts = np.array([[r["x"], r["y"], r["z"]] for r in items])
        labels = _clusters(pts, radius)
        for r, label in zip(items, labels, strict=True):
            out[r["clash_id"]] = f"{storey}#{label + 1}"
    return out


def _clusters(pts: np.ndarray, radius: float) -> list[int]:
    parent = list(range(len(pts)))

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    cells: dict[tuple[int, ...], list[int]] = {}
    for i, p in enumerate(pts):
        cells.setdefault(tuple(np.floor(p / radius).astype(int)), []).append(i)
    offsets = [(dx, dy, dz) for dx in (-1, 0, 1) for dy in (-1, 0, 1) for dz in (-1, 0, 1)]
    for cell, members in cells.items():
        for off in offsets:
            for j in cells.get(tuple(c + o for c, o in zip(cell, off, strict=True)), ()):
                for i in members:
                    if i < j and np.linalg.norm(pts[i] - pts[j]) <= radius:
                        parent[find(i)] = find(j)
    roots: dict[int, int] = {}
    return [roots.setdefault(find(i), len(roots)) for i in range(len(pts))]


def _a(r: dict) -> str:
    return f"{r['a_model']}/{r['a_global_id']}"


def _b(r: dict) -> str:
    return f"{r['b_model']}/{r['b_global_id']}"
