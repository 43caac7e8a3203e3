"""Which gate may run now: the order plan -> design -> completion -> handover, checked before any work.

Every refusal is a ``GateRefused``: one line that says what is missing and what to run first; the CLI
exits 2 and nothing is written (no ingest, no report, no lifecycle row).
"""

from __future__ import annotations

from cim.lifecycle.record import AlreadyDecided, GateRefused, history
from cim.store import Store

REVIEW = "cim review PLAN.ifc --accept"


def model_versions(store: Store, model_id: str) -> list[dict]:
    """The model's ``models`` rows, oldest first; a refusal when the store has none."""
    rows = store.read("models", filters=[("model_id", "=", model_id)]).to_pylist()
    if not rows:
        raise GateRefused(None, f"no model {model_id!r} in the store", f"run `{REVIEW}` first")
    if rows[0]["kind"] != "ifc":
        raise GateRefused(None, f"{model_id!r} is a GIS layer, not an IFC model", "name an IFC model")
    return sorted(rows, key=lambda r: r["version"])


def pick_version(store: Store, model_id: str, version: int | None) -> dict:
    """The ``models`` row of ``version`` (default: the latest); a refusal naming the versions there are."""
    rows = model_versions(store, model_id)
    if version is None:
        return rows[-1]
    for row in rows:
        if row["version"] == version:
            return row
    have = ", ".join(str(r["version"]) for r in rows)
    raise GateRefused(None, f"{model_id!r} has no version {version} (versions: {have})",
                      "pass --version with one of them, or ingest the file with --ifc")


def _decided(rows: list[dict], gate: str, version: int) -> dict | None:
    return next((r for r in reversed(rows) if r["gate"] == gate and r["version"] == version), None)


def _latest(rows: list[dict], gate: str) -> dict | None:
    return next((r for r in reversed(rows) if r["gate"] == gate), None)


def _passed(rows: list[dict], model_id: str, gate: str, previous: str, what: str, file: str, fix: str) -> dict:
    """The latest decision of the ``previous`` gate, refusing ``gate`` when there is none or it failed."""
    done = _latest(rows, previous)
    if done is None:
        raise GateRefused(None, f"the {gate} gate of {model_id!r}: no {what} on record",
                          f"run `cim gate {previous} {model_id} --ifc {file}` first")
    if done["decision"] != "pass":
        raise GateRefused(None, f"{model_id!r} failed its {what} (v{done['version']})",
                          f"pass `cim gate {previous} {model_id} --ifc {file}` with a corrected {fix} first")
    return done


def approved_plan(rows: list[dict], model_id: str, what: str) -> dict:
    plan = next((r for r in reversed(rows) if r["stage"] == "plan_approved"), None)
    if plan is None:
        raise GateRefused(None, f"{what} of {model_id!r}: no approved plan on record",
                          f"run `{REVIEW}` (model id {model_id}) first")
    return plan


def require(store: Store, model_id: str, gate: str, version: int | None = None) -> list[dict]:
    """Refuse unless ``gate`` may judge ``version`` of ``model_id`` now; returns the model's history."""
    rows = history(store, model_id)
    if version is not None:
        done = _decided(rows, gate, version)
        if done is not None:
            raise AlreadyDecided(None, f"the {gate} gate already decided v{version} of {model_id!r} "
                                    f"({done['stage']}, {done['decision']}, {done['at']:%Y-%m-%d %H:%M} UTC)",
                              f"see `cim lifecycle {model_id}`; a changed model is judged as a new version (--ifc)")
    current = rows[-1]["stage"] if rows else None
    if current in ("handed_over", "in_operation") and gate != "plan":
        raise AlreadyDecided(None, f"{model_id!r} is already handed over (stage {current})",
                          f"see `cim lifecycle {model_id}`")
    if gate == "plan":
        return rows
    approved_plan(rows, model_id, f"the {gate} gate")
    if gate == "design":
        return rows
    _passed(rows, model_id, gate, "design", "design review", "DESIGN.ifc", "model")
    if gate == "completion":
        return rows
    completion = _passed(rows, model_id, gate, "completion", "completion check", "AS_BUILT.ifc", "as-built")
    if version is not None and version != completion["version"]:
        raise GateRefused(None, f"v{version} of {model_id!r} is not the version that passed completion "
                                f"(v{completion['version']})", f"run the handover gate on v{completion['version']}")
    return rows
