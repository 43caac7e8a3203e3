"""The plan gate (规划审查): ``cim review MODEL.ifc --accept`` records the planning review's outcome.

A review that passes and is accepted is ``plan_approved``; one that fails is stored (``--accept`` ingests it)
but only ``plan_submitted``, until a planner approves it with a reason (``cim gate plan MODEL_ID --override
REASON``), which records ``plan_approved`` with decision ``override``. The review's report.json is the evidence.
"""

from __future__ import annotations

from pathlib import Path

from cim.lifecycle import order
from cim.lifecycle.record import Decision, GateRefused, append
from cim.store import Store


def accepted_version(store: Store, review) -> int | None:
    """The version ``--accept`` stored (or found unchanged), None when nothing was accepted."""
    accepted = (review.quantities or {}).get("accepted")
    if not accepted or review.model_id is None or accepted.get("action") not in ("ingested", "unchanged"):
        return None
    if accepted.get("versions"):
        return int(accepted["versions"][0])
    latest = store.latest(review.model_id)
    return None if latest is None else int(latest["version"])


def record_review(store: Store, review, report: Path, by: str | None = None) -> dict | None:
    """The plan row for an accepted review (exit 0 or 1); None when the review was not accepted or not run."""
    if review.exit_code not in (0, 1):
        return None
    version = accepted_version(store, review)
    if version is None:
        return None
    order.require(store, review.model_id, "plan", version)
    failed = [c.check_id for c in review.checks if c.status == "fail"]
    note = ("planning review passed" if not failed else "planning review failed: " + ", ".join(failed))
    return append(store, Decision(review.model_id, version, "plan", not failed, report, note=note, by=by))


def override(store: Store, model_id: str, reason: str, *, version: int | None = None, by: str | None = None,
             report: Path | None = None) -> dict:
    """Approve a plan whose review failed, with the planner's reason; the review's report stays the evidence."""
    if not reason.strip():
        raise GateRefused(None, "an override needs a reason", 'pass --override "why the plan is approved"')
    rows = order.require(store, model_id, "plan")
    submitted = [r for r in rows if r["gate"] == "plan" and (version is None or r["version"] == version)]
    if not submitted:
        raise GateRefused(None, f"no planning review of {model_id!r} on record", f"run `{order.REVIEW}` first")
    last = submitted[-1]
    if last["stage"] == "plan_approved":
        raise GateRefused(None, f"v{last['version']} of {model_id!r} is already approved ({last['decision']})",
                          f"see `cim lifecycle {model_id}`")
    evidence = Path(report) if report is not None else Path(last["evidence_path"])
    if not evidence.is_file():
        raise GateRefused(evidence, "the review report is gone", "pass --report path/to/report.json")
    return append(store, Decision(model_id, last["version"], "plan", False, evidence, note=f"override: {reason}",
                                  by=by, override=True))
