"""The completion report's element diff: what changed between the approved plan and the as-built version.

The diff is ``cim.diff.compare_versions``: matched from stored rows and meshes, nothing tessellated again.
The completion gate reports it next to the re-measured indicators; it does not decide the gate (the
indicators and zones do), because a building may legitimately differ in detail from its plan.
"""

from __future__ import annotations

from cim.diff import compare_versions
from cim.store import Store


def element_diff_section(store: Store, model_id: str, approved_version: int, as_built_version: int) -> dict:
    """Counts, changes, quantity and clash deltas from the approved plan version to the as-built one."""
    diff = compare_versions(store, model_id, from_version=approved_version, to_version=as_built_version)
    return {"from_version": approved_version, "to_version": as_built_version, "counts": dict(diff.counts),
            "changes": list(diff.changes), "quantity_deltas": list(diff.quantity_deltas),
            "clash_deltas": dict(diff.clash_deltas), "notes": list(diff.notes)}
