"""Broad phase: which pairs of axis-aligned boxes are close enough to be worth a narrow-phase test.

Strips and sweeps, fully vectorised. The boxes are cut into strips along one axis (each box goes
into every strip it spans), and inside each strip a sweep and prune along a second axis finds the
boxes starting inside each box's interval (``searchsorted`` on a strip-major sort key). A pair met in
several strips is kept only in the strip holding the larger of the two box minima, so every pair
comes out once. A city (boxes spread in plan) then costs about n x (boxes per strip that overlap
in x) instead of the n^2 x (share of the span) of a plain one-axis sweep.
"""

from __future__ import annotations

import numpy as np

_CHUNK = 2_000_000  # candidate pairs expanded at once: bounds memory to ~100 MB


def candidate_pairs(bounds_a: np.ndarray, bounds_b: np.ndarray | None = None, margin: float = 0.0) -> np.ndarray:
    """Index pairs (i, j) whose boxes overlap once box i is grown by ``margin`` on every side.

    Rows are (xmin, ymin, zmin, xmax, ymax, zmax); touching boxes count. Equivalently the gap
    between the boxes is at most ``margin`` on every axis, which is what a clearance test needs.
    Without ``bounds_b`` the boxes are tested against each other and only i < j is returned.
    The result is (k, 2) int64, sorted by i then j, each pair once.
    """
    a = _as_bounds(bounds_a)
    if margin < 0:
        raise ValueError(f"margin must be >= 0, got {margin}")
    b = None if bounds_b is None else _as_bounds(bounds_b)
    if not len(a) or (b is not None and not len(b)):
        return np.empty((0, 2), dtype=np.int64)
    pairs = _pairs(a, b, float(margin))
    if len(pairs):
        pairs = pairs[np.lexsort((pairs[:, 1], pairs[:, 0]))]
    return pairs


def _as_bounds(bounds: np.ndarray) -> np.ndarray:
    b = np.asarray(bounds, dtype=np.float64)
    if b.ndim != 2 or b.shape[1] != 6:
        raise ValueError(f"bounds must have shape (n, 6), got {b.shape}")
    return b


def _axes(boxes: np.ndarray, margin: float) -> tuple[int, int]:
    """Strip axis and sweep axis: the two along which boxes cover the smallest share of the span."""
    span = boxes[:, 3:].max(axis=0) - boxes[:, :3].min(axis=0)
    extent = (boxes[:, 3:] - boxes[:, :3]).mean(axis=0) + margin
    share = extent / np.maximum(span, 1e-300)
    order = np.argsort(share, kind="stable")
    return int(order[0]), int(order[1])


class _Strips:
    """Every box copied into each strip of width ``width`` its interval [min, max + margin] reaches."""

    def __init__(self, boxes: np.ndarray, axis: int, origin: float, width: float, margin: float):
        first = np.floor((boxes[:, axis] - origin) / width).astype(np.int64)
        last = np.floor((boxes[:, axis + 3] + margin - origin) / width).astype(np.int64)
        counts = last - first + 1
        self.box = np.repeat(np.arange(len(boxes), dtype=np.int64), counts)
        offset = np.arange(len(self.box), dtype=np.int64) - np.repeat(np.cumsum(counts) - counts, counts)
        self.strip = np.repeat(first, counts) + offset


def _pairs(a: np.ndarray, b: np.ndarray | None, margin: float) -> np.ndarray:
    both = a if b is None else np.concatenate([a, b])
    strip_axis, sweep_axis = _axes(both, margin)
    s0 = both[:, strip_axis].min()
    ext = both[:, strip_axis + 3] - both[:, strip_axis]
    span = both[:, strip_axis + 3].max() + margin - s0
    # about two mean extents per strip keeps copies few and strips short; at most ~4 strips per box on average
    width = max(2.0 * (float(ext.mean()) + margin), span / max(len(both), 1), 1e-9)
    x0 = both[:, sweep_axis].min() - margin - 1.0
    stride = both[:, sweep_axis + 3].max() + margin - x0 + 1.0  # key = strip * stride + (x - x0)
    geo = (strip_axis, sweep_axis, s0, width, x0, stride)
    sa = _Strips(a, strip_axis, s0, width, margin)
    if b is None:
        return _sweep(a, sa, a, sa, margin, geo, self_pairs=True)
    sb = _Strips(b, strip_axis, s0, width, margin)
    first = _sweep(a, sa, b, sb, margin, geo, self_pairs=False)
    second = _sweep(b, sb, a, sa, margin, geo, self_pairs=False, strict=True)
    return np.concatenate([first, second[:, ::-1]])


def _sweep(lead, lead_strips, other, other_strips, margin, geo, self_pairs: bool, strict: bool = False) -> np.ndarray:
    """Pairs (lead box, other box) where the other box starts inside the lead box's sweep interval.

    With ``strict`` the other box must start after lead's min + margin: the second half of a cross
    sweep, so that pairs already found with the roles swapped are not found again.
    """
    strip_axis, sweep_axis, s0, width, x0, stride = geo
    okey = other_strips.strip * stride + (other[other_strips.box, sweep_axis] - x0)
    order = np.argsort(okey, kind="stable")
    okey, obox = okey[order], other_strips.box[order]
    lstrip, lbox = lead_strips.strip, lead_strips.box
    lbase = lstrip * stride
    if self_pairs:
        # lead and other are the same sorted copies: later entries in the same strip start no earlier
        lbox, lstrip = obox, other_strips.strip[order]
        lbase = lstrip * stride
        starts = np.arange(1, len(okey) + 1, dtype=np.int64)
    elif strict:
        starts = np.searchsorted(okey, lbase + (lead[lbox, sweep_axis] + margin - x0), side="right")
    else:
        starts = np.searchsorted(okey, lbase + (lead[lbox, sweep_axis] - margin - x0), side="left")
    stops = np.searchsorted(okey, lbase + (lead[lbox, sweep_axis + 3] + margin - x0), side="right")
    out = []
    for lo, hi in _chunks(starts, stops):
        owner, pos = _expand(starts[lo:hi], stops[lo:hi])
        i, j = lbox[lo + owner], obox[pos]
        keep = _overlap(lead, i, other, j, margin)
        # report a pair only in the strip holding the larger of the two minima on the strip axis
        top = np.maximum(lead[i, strip_axis], other[j, strip_axis])
        keep &= np.floor((top - s0) / width).astype(np.int64) == lstrip[lo + owner]
        i, j = i[keep], j[keep]
        out.append(np.stack([np.minimum(i, j), np.maximum(i, j)], axis=1) if self_pairs else np.stack([i, j], axis=1))
    return np.concatenate(out) if out else np.empty((0, 2), dtype=np.int64)


def _overlap(a: np.ndarray, i: np.ndarray, b: np.ndarray, j: np.ndarray, margin: float) -> np.ndarray:
    """Row-wise: box a[i] grown by margin meets box b[j] (touching counts), all three axes."""
    keep = np.ones(len(i), dtype=bool)
    for ax in range(3):
        keep &= (a[i, ax] - margin <= b[j, ax + 3]) & (b[j, ax] <= a[i, ax + 3] + margin)
    return keep


def _expand(starts: np.ndarray, stops: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For every run [starts[k], stops[k]) yield (k, position) pairs, without a Python loop."""
    counts = np.maximum(stops - starts, 0)
    total = int(counts.sum())
    owner = np.repeat(np.arange(len(starts), dtype=np.int64), counts)
    first = np.repeat(np.cumsum(counts) - counts, counts)
    pos = np.arange(total, dtype=np.int64) - first + np.repeat(starts, counts)
    return owner, pos


def _chunks(starts: np.ndarray, stops: np.ndarray):
    """Split the entries into consecutive groups whose runs add up to about ``_CHUNK`` pairs."""
    cum = np.cumsum(np.maximum(stops - starts, 0))
    lo = 0
    while lo < len(starts):
        base = cum[lo - 1] if lo else 0
        hi = max(int(np.searchsorted(cum, base + _CHUNK, side="right")), lo + 1)
        yield lo, hi
        lo = hi
