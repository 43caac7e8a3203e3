"""One small picture per clash for the report's clash list: the same view the BCF snapshot shows.

Drawn with :func:`cim.clash.snapshot.render_pair` from the meshes the review already read for the BCF file, at a
thumbnail size, and embedded in report.html as ``data:`` URIs so the page still opens from disk as one file.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping

import numpy as np

from cim.clash.snapshot import render_pair
from cim.errors import CimError

SIZE = (320, 240)  # px: readable in a table cell, about 10-30 kB of PNG each
MAX_SNAPSHOTS = 200  # beyond this the list says "in clashes.bcfzip" instead of making the page huge


def _key(row: Mapping, side: str) -> str:
    return f"{row[side + '_model']}/{row[side + '_global_id']}"


def clash_snapshot(row: Mapping, meshes: Mapping[str, tuple]) -> bytes | None:
    """PNG of element A (red) and B (blue; absent for a zone) around the clash point, or None without A's mesh."""
    found_a = meshes.get(_key(row, "a"))
    if found_a is None:
        return None
    point = np.array([row["x"], row["y"], row["z"]], dtype=np.float64)
    origin = np.round(point, 0)  # a local frame keeps millimetres in float32 rendering
    found_b = meshes.get(_key(row, "b"))
    vb, fb = (found_b[0] - origin, found_b[1]) if found_b is not None else (None, None)
    try:
        return render_pair(found_a[0] - origin, found_a[1], vb, fb, point - origin, size=SIZE)
    except (CimError, ValueError):
        return None


def clash_snapshots(rows: list[dict], meshes: Mapping[str, tuple] | None,
                    limit: int = MAX_SNAPSHOTS) -> dict[str, bytes]:
    """clash_id -> PNG for the first ``limit`` clashes that have a mesh."""
    if not meshes:
        return {}
    out: dict[str, bytes] = {}
    for row in rows[:limit]:
        png = clash_snapshot(row, meshes)
        if png is not None:
            out[row["clash_id"]] = png
    return out


def data_uri(png: bytes) -> str:
    """A PNG as a data: URI for an <img src>."""
    return "data:image/png;base64," + base64.b64encode(png).decode("ascii")
