"""BCF topics for changed elements (``cim diff --bcf FILE``), written with cim.clash.bcf's BCF 2.1 writer.

One topic per changed element, titled with its change classes; the topic GUID is uuid5 of the model, the two
versions and the element, so writing the same diff again gives the same file. Cameras are in the city CRS
(cim.clash.bcf's convention when no map conversion is applied).
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from datetime import UTC, datetime
from pathlib import Path

from cim.clash.bcf import BcfComponent, BcfTopic, write_bcfzip
from cim.diff.model import Diff

HALF_SIZE_M = 1.0  # focus box around an element's centre


def _summary(rows: list[dict]) -> str:
    parts = []
    for row in rows:
        if row["change"] == "moved":
            parts.append(f"moved {row['moved_m']:.3f} m, rotated {row['rotation_deg']:.1f} deg")
        elif row["change"] == "properties_changed":
            parts.append(f"{row['pset']}.{row['property']}: {row['old_value']} -> {row['new_value']}")
        elif row["change"] == "reclassified":
            parts.append(f"{row['property']}: {row['old_value']} -> {row['new_value']}")
        else:
            parts.append(row["change"])
    return "; ".join(parts)


def diff_topics(diff: Diff, now: datetime | None = None) -> list[BcfTopic]:
    """One topic per changed element that has a position (the camera needs one)."""
    now = now or datetime.now(UTC).replace(microsecond=0)
    by_element: dict[str, list[dict]] = defaultdict(list)
    for row in diff.changes:
        by_element[row["global_id"]].append(row)
    topics = []
    for gid, rows in sorted(by_element.items()):
        first = rows[0]
        if first["x"] is None:
            continue
        point = (first["x"], first["y"], first["z"])
        kinds = sorted({r["change"] for r in rows})
        guid = str(uuid.uuid5(uuid.NAMESPACE_URL, f"cim-diff/{diff.model_id}/{diff.from_version}/"
                                                  f"{diff.to_version}/{gid}"))
        topics.append(BcfTopic(
            guid=guid, title=f"{', '.join(kinds)}: {first['ifc_class']} {first['name'] or gid}"[:250],
            description=f"{diff.model_id} version {diff.from_version} -> {diff.to_version}: {_summary(rows)}"[:4000],
            status="new", priority=None, topic_type="Issue", labels=["cim diff", *kinds], creation_date=now,
            modified_date=None, author="cim diff", selected=[BcfComponent(gid)], camera_point=point,
            focus_bounds=tuple(c - HALF_SIZE_M for c in point) + tuple(c + HALF_SIZE_M for c in point),
            snapshot_png=None))
    return topics


def write_diff_bcf(diff: Diff, path: Path) -> Path:
    return write_bcfzip(Path(path), diff_topics(diff), f"cim diff {diff.model_id}",
                        str(uuid.uuid5(uuid.NAMESPACE_URL, f"cim-diff/{diff.model_id}")))
