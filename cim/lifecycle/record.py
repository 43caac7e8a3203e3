"""The lifecycle record: one row per gate decision, with the report it rests on, appended atomically.

A gate decides in three steps: ``require`` (is this gate allowed now? a refusal writes nothing), the check
itself (it writes its report), then ``append`` (one row with the report's sha256). The row is appended
inside ``Store.derived`` (the store's lock and journal), so a crash leaves either the whole row or none, and
earlier rows are never rewritten: the table keeps every decision ever taken.
"""

from __future__ import annotations

import getpass
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa

from cim.errors import CimError
from cim.ingest.ifc import file_sha256 as sha256_file  # the evidence hash is the ingest's file hash
from cim.store import Store
from cim.store.delta import now_utc
from cim.store.schema import table_schema

TABLE = "lifecycle"
STAGES = ("plan_submitted", "plan_approved", "design_reviewed", "as_built_filed", "completion_passed",
          "completion_failed", "handed_over", "handover_failed", "in_operation")
GATES = ("plan", "design", "completion", "handover")
PHASE_OF = {"plan": "plan", "design": "build", "completion": "build", "handover": "build"}


class GateRefused(CimError):
    """A gate that may not run now (wrong order, run twice, missing version): exit 2, nothing written."""

    stage = "lifecycle"


class AlreadyDecided(GateRefused):
    """The gate already judged this version or file: the nightly flow skips it quietly."""


@dataclass(frozen=True)
class Decision:
    """What a gate concluded about one model version; ``append`` turns it into a row."""

    model_id: str
    version: int
    gate: str
    passed: bool
    report: Path
    note: str | None = None
    by: str | None = None
    against_version: int | None = None
    override: bool = False

    @property
    def stage(self) -> str:
        if self.gate == "plan":
            return "plan_approved" if self.passed or self.override else "plan_submitted"
        if self.gate == "design":
            return "design_reviewed"
        if self.gate == "completion":
            return "completion_passed" if self.passed else "completion_failed"
        return "handed_over" if self.passed else "handover_failed"

    @property
    def decision(self) -> str:
        return "override" if self.override and not self.passed else ("pass" if self.passed else "fail")

    @property
    def phase(self) -> str:
        return "manage" if self.gate == "handover" and self.passed else PHASE_OF[self.gate]


def history(store: Store, model_id: str | None = None) -> list[dict]:
    """Rows of one model (or all), oldest first; none when the store has no lifecycle table yet."""
    if not store.has_table(TABLE):
        return []
    filters = [("model_id", "=", model_id)] if model_id is not None else None
    rows = store.read(TABLE, filters=filters).to_pylist()
    return sorted(rows, key=lambda r: (r["model_id"], r["seq"]))


def current(store: Store, model_id: str) -> dict | None:
    """The model's latest row: its current stage (one per model)."""
    rows = history(store, model_id)
    return rows[-1] if rows else None


def _user(by: str | None) -> str:
    if by:
        return by
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "unknown"


def append(store: Store, decision: Decision) -> dict:
    """Append the decision's row (evidence hashed now); returns the row. All or nothing."""
    report = Path(decision.report).resolve()
    row = {"model_id": decision.model_id, "version": decision.version, "stage": decision.stage,
           "gate": decision.gate, "decision": decision.decision, "phase": decision.phase,
           "against_version": decision.against_version, "by": _user(decision.by), "at": now_utc(),
           "evidence_path": str(report), "evidence_sha256": sha256_file(report), "note": decision.note}
    with store.derived(decision.model_id) as tx:  # the lock is held: seq and the table cannot move under us
        existing = store.read(TABLE) if store.has_table(TABLE) else table_schema(TABLE, store.crs).empty_table()
        seqs = [r["seq"] for r in existing.select(["model_id", "seq"]).to_pylist()
                if r["model_id"] == decision.model_id]
        row["seq"] = max(seqs, default=0) + 1
        new = pa.Table.from_pylist([row], schema=table_schema(TABLE, store.crs))
        tx.replace_table(TABLE, pa.concat_tables([existing.select(new.schema.names).cast(new.schema), new]))
    return row


def verify_evidence(row: dict) -> bool:
    """True when the report a row names still has the bytes it had when the decision was recorded."""
    path = Path(row["evidence_path"])
    return path.is_file() and sha256_file(path) == row["evidence_sha256"]
