"""The design gate (施工图/BIM review): the build-phase model meets the stricter information requirements and
the clash rules, and every clash that remains is approved by name.

The IDS is schemas/design_requirements_<schema>.ids, one file per IFC schema like the review's, so the
official ifctester CLI gives the same verdict (the planning requirements plus fire ratings, materials of
doors, windows and MEP segments, and segments in their systems). Clashes are found by the city's rules on the
model's own elements and against the city's protection zones; a clash counts as approved when its clash_id
is given (``--approve``) or is ``approved`` in the city's ``clashes`` table.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from cim.config import CityConfig
from cim.lifecycle import order
from cim.lifecycle.gate import GateResult, check_file, ingest_version, report_dir, version_file, write_report
from cim.lifecycle.record import Decision, append
from cim.store import Store

DESIGN_IDS = "design_requirements"  # schemas/design_requirements_<schema>.ids


def _approved_in_store(store: Store) -> set[str]:
    if not store.has_table("clashes"):
        return set()
    rows = store.read("clashes", columns=["clash_id", "status"]).to_pylist()
    return {r["clash_id"] for r in rows if r["status"] == "approved"}


def clash_section(store: Store, config: CityConfig, model_id: str, model: dict, rules_path: Path | None,
                  approve: set[str]) -> dict:
    """Every clash of the version (internal and against protection zones), each marked approved or open."""
    from cim.clash.rules import load_rules
    from cim.clash.source import ElementSet, ModelSource
    from cim.review.clashes import run_clash_checks

    elements = ElementSet()
    elements.add_model(ModelSource(store, model_id, model["version"], model["phase"]),
                       store.read_model("elements", model_id, model["version"]),
                       store.read_model("relations", model_id, model["version"]))
    outcome = run_clash_checks(elements, store, load_rules(rules_path), config.ground_elevation_m, config.root,
                               datetime.now(UTC))
    approved = approve | _approved_in_store(store)
    items = [{"clash_id": i.clash_id, "check": i.check_id, "rule": i.rule, "mode": i.mode,
              "a": f"{i.a_class} {i.a_name}", "b": f"{i.b_class} {i.b_name}", "depth_m": i.depth_m,
              "distance_m": i.distance_m, "approved": i.clash_id in approved} for i in outcome.items]
    unknown = sorted(approve - {i["clash_id"] for i in items})
    return {"found": len(items), "approved": sum(i["approved"] for i in items),
            "open": [i["clash_id"] for i in items if not i["approved"]], "items": items,
            "approvals_matching_no_clash": unknown}


def design_gate(store: Store, config: CityConfig, model_id: str, *, ifc: Path | None = None,
                version: int | None = None, out: Path | None = None, by: str | None = None,
                reports: Path | None = None, rules_path: Path | None = None,
                approve: tuple[str, ...] = ()) -> GateResult:
    from cim.ifc.reader import open_ifc
    from cim.review.validity import check_ids, ids_file_for

    rows = order.require(store, model_id, "design")
    if ifc is not None:
        check_file(store, model_id, "design", ifc, rows)
        version = ingest_version(store, config, model_id, ifc)
    model = order.pick_version(store, model_id, version)
    order.require(store, model_id, "design", model["version"])
    path = Path(ifc) if ifc is not None else version_file(model)
    opened = open_ifc(path).file
    ids_path = ids_file_for(opened.schema, stem=DESIGN_IDS)
    ids = check_ids(opened, ids_path)
    clashes = clash_section(store, config, model_id, model, rules_path, set(approve))
    failed = (["ids"] if ids.status == "fail" else []) + (["clashes"] if clashes["open"] else [])
    report = {"gate": "design", "model_id": model_id, "version": model["version"], "file": str(path),
              "verdict": "fail" if failed else "pass", "failed": failed,
              "ids": {"file": ids_path.name, "status": ids.status, "message": ids.message, "details": ids.details},
              "clashes": clashes}
    folder = report_dir(model_id, model["version"], "design", out, reports)
    report_path = write_report(folder, report)
    parts = [ids.message] if ids.status == "fail" else []
    if clashes["open"]:
        parts.append(f"{len(clashes['open'])} clash(es) not approved: {', '.join(clashes['open'][:5])}")
    if clashes["approved"]:
        parts.append("approved clashes: " + ", ".join(i["clash_id"] for i in clashes["items"] if i["approved"]))
    row = append(store, Decision(model_id, model["version"], "design", not failed, report_path,
                                 note="; ".join(parts) or "meets the design requirements; no clashes", by=by))
    return GateResult("design", model_id, model["version"], not failed, report_path, report, row)
