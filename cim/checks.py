"""Checks that run on a model once it is in the store: derived tables a model's users query next."""

from __future__ import annotations

import logging
import traceback
from dataclasses import dataclass, field
from pathlib import Path

from cim.errors import CimError
from cim.files import safe_child
from cim.store import Store
from cim.store.delta import now_utc

log = logging.getLogger(__name__)


@dataclass
class CheckOutcome:
    check: str
    model_id: str
    ok: bool
    summary: dict = field(default_factory=dict)
    message: str | None = None


def model_checks(store: Store, model_id: str, ifc_path: str | Path, *, placement: dict | None = None,
                 run_id: str | None = None, exports: Path | None = None) -> list[CheckOutcome]:
    """Run every check that applies to the model; a failing check is recorded, never raised.

    With ``exports``, the takeoff is also written there as CSV and XLSX for estimators.
    """
    from cim.qto.run import export_csv, export_xlsx, takeoff
    from cim.tunnel.run import analyse_tunnel, is_tunnel_model

    def quantities() -> dict:
        summary = takeoff(store, model_id, ifc_path=Path(ifc_path))
        if exports is not None:
            exports.mkdir(parents=True, exist_ok=True)
            export_csv(store, model_id, exports)
            export_xlsx(store, model_id, safe_child(exports, f"{model_id}_quantities.xlsx", what="export file name"))
        return summary

    outcomes = [_guarded(store, "qto", model_id, ifc_path, run_id, quantities)]
    elements = store.read_model("elements", model_id)
    if is_tunnel_model(elements):
        outcomes.append(_guarded(store, "tunnel", model_id, ifc_path, run_id,
                                 lambda: analyse_tunnel(store, model_id, Path(ifc_path), placement=placement)))
    return outcomes


def model_checks_at(store_root: str, crs: str, model_id: str, ifc_path: str, *, placement: dict | None = None,
                    run_id: str | None = None, exports: str | None = None) -> list[CheckOutcome]:
    """``model_checks`` by store path, for a worker process (the store's write lock orders the writers)."""
    try:
        store = Store(store_root, crs, create=False)
        return model_checks(store, model_id, ifc_path, placement=placement, run_id=run_id,
                            exports=Path(exports) if exports else None)
    except Exception as exc:  # noqa: BLE001 - reported as a failed check, never raised into the run
        message = exc.one_line() if isinstance(exc, CimError) else f"{ifc_path}: checks failed: {exc!r}"
        log.error("%s\n%s", message, "".join(traceback.format_exception(exc)))
        return [CheckOutcome("checks", model_id, False, message=message)]


def _guarded(store: Store, check: str, model_id: str, ifc_path, run_id, fn) -> CheckOutcome:
    try:
        return CheckOutcome(check, model_id, True, fn())
    except Exception as exc:  # noqa: BLE001 - one failing check must not stop the run
        message = exc.one_line() if isinstance(exc, CimError) else f"{ifc_path}: {check} check failed: {exc!r}"
        if not isinstance(exc, CimError):
            log.error("%s\n%s", message, "".join(traceback.format_exception(exc)))
        try:
            store.append_rows("ingest_errors", [{"run_id": run_id, "at": now_utc(), "source_path": str(ifc_path),
                                                 "sha256": None, "stage": check, "error_type": type(exc).__name__,
                                                 "feature_id": None, "message": message}])
        except Exception as record_exc:  # noqa: BLE001 - the outcome still carries the message
            log.error("%s: could not record the failed %s check: %r", ifc_path, check, record_exc)
        return CheckOutcome(check, model_id, False, message=message)


def describe(outcome: CheckOutcome) -> str:
    """A check's result as a sentence for logs and alerts (summaries are dicts; operators read sentences)."""
    if not outcome.ok:
        return f"{outcome.check} failed: {outcome.message}"
    s = outcome.summary or {}
    took = f" in {s['seconds']:.1f} s" if isinstance(s.get("seconds"), int | float) else ""
    if outcome.check == "qto":
        return (f"quantities: {s.get('n_quantities', 0):,} for {s.get('n_elements', 0):,} elements "
                f"({s.get('n_computed', 0):,} computed, {s.get('n_unreliable', 0)} unreliable, "
                f"{s.get('n_disagreements', 0)} disagreements with the file), "
                f"{s.get('n_summary', 0):,} summary rows{took}")
    if outcome.check == "tunnel":
        return (f"tunnel: {s.get('assets', 0):,} assets in {s.get('compartments', 0)} compartments and "
                f"{s.get('fire_compartments', 0)} fire compartments, {s.get('findings', 0)} findings, "
                f"{s.get('errors', 0)} errors{took}")
    if outcome.check == "clash":
        statuses = ", ".join(f"{n} {status}" for status, n in sorted((s.get("statuses") or {}).items()))
        return (f"clashes: {s.get('found', 0)} found{f' ({statuses})' if statuses else ''} from "
                f"{s.get('tested', 0):,} pairs tested of {s.get('candidates', 0):,} candidates "
                f"({s.get('suppressed', 0):,} suppressed, {'incremental' if s.get('incremental') else 'full'})"
                f"{took}")
    plain = ", ".join(f"{k.replace('_', ' ')} {v}" for k, v in s.items() if isinstance(v, int | float | str))
    return f"{outcome.check}: {plain or 'done'}"


def city_clash_check(store: Store, *, ground_z: float | None, base: Path | None, run_id: str | None = None,
                     exports: Path | None = None, tile_size: float | None = None) -> CheckOutcome:
    """Re-check the city's clash rules after ingest (only pairs touching changed elements); never raises.

    With ``exports``, clashes.json and clashes.bcfzip are written there for coordinators.
    """
    from cim.clash.run import check_city

    def clashes() -> dict:
        summary = check_city(store, ground_z=ground_z, base=base, run_id=run_id, tile_size=tile_size)
        if exports is not None:
            from cim.clash.export import export_store

            export_store(store, store.read("clashes").to_pylist(), exports, summary)
        return summary

    return _guarded(store, "clash", "city", store.root, run_id, clashes)
