"""One small picture per clash for the report's clash list: the same view the BCF snapshot shows.

Drawn with :func:`cim.clash.snapshot.clash_picture`, as the BCF snapshot is, from the meshes the review
already read for the BCF file, at a thumbnail size, and embedded in report.html as ``data:`` URIs so the
page still opens from disk as one file.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping

from cim.clash.snapshot import clash_picture

SIZE = (320, 240)  # px: readable in a table cell, about 10-30 kB of PNG each
MAX_SNAPSHOTS = 200  # beyond this the list says "in clashes.bcfzip" instead of making the page huge


def clash_snapshot(row: Mapping, meshes: Mapping[str, tuple]) -> bytes | None:
    """PNG of element A (red) and B (blue; absent for a zone) around the clash point, or None without A's mesh."""
    return clash_picture(row, meshes, size=SIZE)


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
