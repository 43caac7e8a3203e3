"""The nightly flow's stage inbox: one folder per stage under ``[lifecycle] inbox``, one file per model.

``<inbox>/design/<model_id>.ifc`` runs the design gate on that file, ``<inbox>/as_built/<model_id>.ifc`` the
completion gate, and any file named ``<model_id>`` (e.g. ``<model_id>.ready``) in ``<inbox>/handover/`` the
handover gate on the version that passed completion. A file a gate already judged is skipped quietly; a gate
that may not run says why in the run summary. The stage inbox is never ingested as a city model.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from cim.config import CityConfig
from cim.errors import CimError
from cim.lifecycle.record import AlreadyDecided
from cim.store import Store

STAGE_GATES = {"design": "design", "as_built": "completion", "handover": "handover"}


@dataclass(frozen=True)
class GateJob:
    gate: str
    model_id: str
    path: Path


def pending(config: CityConfig) -> list[GateJob]:
    """The stage files in the config's stage inbox, in stage order (design before as-built before handover)."""
    root = config.lifecycle.inbox
    if root is None or not root.is_dir():
        return []
    jobs = []
    for folder, gate in STAGE_GATES.items():
        where = root / folder
        if where.is_dir():
            jobs += [GateJob(gate, p.stem, p) for p in sorted(where.iterdir())
                     if p.is_file() and not p.name.startswith(".")]
    return jobs


def run_job(store: Store, config: CityConfig, job: GateJob) -> str | None:
    """Run one gate; the summary line, or None when the gate already judged this file or version."""
    from cim.lifecycle.completion import completion_gate
    from cim.lifecycle.design import design_gate
    from cim.lifecycle.handover import handover_gate

    reports = Path(store.root) / "gates"  # evidence beside the store, whatever the flow's working folder
    try:
        if job.gate == "design":
            result = design_gate(store, config, job.model_id, ifc=job.path, reports=reports)
        elif job.gate == "completion":
            result = completion_gate(store, config, job.model_id, ifc=job.path, reports=reports)
        else:
            result = handover_gate(store, config, job.model_id, reports=reports)
    except AlreadyDecided:
        return None
    except CimError as exc:
        return f"gate {job.gate} {job.model_id}: not run: {exc.one_line()}"
    except Exception as exc:  # noqa: BLE001 - one bad stage file never stops the night
        return f"gate {job.gate} {job.model_id}: crashed: {type(exc).__name__}: {exc}"
    verdict = "pass" if result.passed else "fail"
    return f"gate {job.gate} {job.model_id} v{result.version}: {verdict} ({result.row['note']}); {result.report_path}"


def is_stage_file(config: CityConfig, path: Path) -> bool:
    """True for a file under the stage inbox: the gates take it in, not the city ingest."""
    root = config.lifecycle.inbox
    if root is None:
        return False
    try:
        path.resolve().relative_to(root.resolve())
    except ValueError:
        return False
    return True
