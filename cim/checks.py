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


def _guarded(store: Store, check: str, model_id: str, ifc_path, run_id, fn) -> CheckOutcome:
    try:
        return CheckOutcome(check, model_id, True, fn())
    except Exception as exc:  # noqa: BLE001 - one failing check must not stop the run
        message = exc.one_line() if isinstance(exc, CimError) else f"{ifc_path}: {check} check failed: {exc!r}"
        if not isinstance(exc, CimError):
            log.error("%s\n%s", message, "".join(traceback.format_exception(exc)))
        store.append_rows("ingest_errors", [{"run_id": run_id, "at": now_utc(), "source_path": str(ifc_path),
                                             "sha256": None, "stage": check, "error_type": type(exc).__name__,
                                             "feature_id": None, "message": message}])
        return CheckOutcome(check, model_id, False, message=message)


def city_clash_check(store: Store, *, ground_z: float | None, base: Path | None, run_id: str | None = None,
                     exports: Path | None = None) -> CheckOutcome:
    """Re-check the city's clash rules after ingest (only pairs touching changed elements); never raises.

    With ``exports``, clashes.json and clashes.bcfzip are written there for coordinators.
    """
    from cim.clash.run import check_city

    def clashes() -> dict:
        summary = check_city(store, ground_z=ground_z, base=base, run_id=run_id)
        if exports is not None:
            from cim.clash.export import export_store

            export_store(store, store.read("clashes").to_pylist(), exports, summary)
        return summary

    return _guarded(store, "clash", "city", store.root, run_id, clashes)
