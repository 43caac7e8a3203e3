"""The completion report's element diff: what changed between the approved plan and the as-built version.

The diff itself belongs to ``cim.diff`` (``compare_versions``); this is the one seam the completion gate
uses, so the gate works (and says the section is unavailable) in a build without that package.
"""

from __future__ import annotations

from cim.store import Store


def element_diff_section(store: Store, model_id: str, approved_version: int, as_built_version: int) -> dict:
    """Counts, changes and quantity deltas from approved to as-built; ``{"available": False}`` without cim.diff."""
    try:
        from cim.diff import compare_versions
    except ImportError:
        return {"available": False}
    diff = compare_versions(store, model_id, from_version=approved_version, to_version=as_built_version)
    return {"available": True, "from_version": approved_version, "to_version": as_built_version,
            "counts": dict(diff.counts), "changes": list(diff.changes),
            "quantity_deltas": list(diff.quantity_deltas)}
