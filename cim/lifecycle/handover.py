"""The handover gate (移交): is the as-built's asset data complete enough to operate the building or tunnel?

Only a version that passed the completion gate is judged. Completeness is the share of COBie Component/Type
fields that are filled on the maintainable assets: for a utility tunnel, from the register's quality flags
(``tunnel_assets.quality_flags`` of that version, 12 possible gaps per asset); for a building, from the
elements of maintainable classes (tag, manufacturer, model, serial number, installation date, warranty).
At or above ``[lifecycle] handover_min_completeness`` the version is handed over: its lifecycle row says
phase ``manage`` (``models`` is never rewritten; see schemas/tables_lifecycle.toml).
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

from cim.config import CityConfig
from cim.lifecycle import order
from cim.lifecycle.gate import GateResult, report_dir, write_report
from cim.lifecycle.record import Decision, GateRefused, append
from cim.store import Store

MAINTAINABLE = {
    "IfcDoor", "IfcWindow", "IfcDuctSegment", "IfcPipeSegment", "IfcCableSegment", "IfcFlowSegment",
    "IfcFlowTerminal", "IfcAirTerminal", "IfcSanitaryTerminal", "IfcLightFixture", "IfcFireSuppressionTerminal",
    "IfcFlowController", "IfcValve", "IfcDamper", "IfcFlowMovingDevice", "IfcPump", "IfcFan", "IfcCompressor",
    "IfcEnergyConversionDevice", "IfcBoiler", "IfcChiller", "IfcCoil", "IfcHeatExchanger", "IfcUnitaryEquipment",
    "IfcTransformer", "IfcElectricDistributionBoard", "IfcElectricGenerator", "IfcFlowStorageDevice", "IfcTank",
    "IfcFlowTreatmentDevice", "IfcFilter", "IfcDistributionControlElement", "IfcSensor", "IfcAlarm",
    "IfcController", "IfcActuator", "IfcTransportElement", "IfcCommunicationsAppliance",
}
# COBie field -> the property names (any property set) that fill it; "tag" is the Tag attribute
FIELDS = {"tag": (), "manufacturer": ("Manufacturer",), "model_number": ("ModelLabel", "ModelReference"),
          "serial_number": ("SerialNumber",), "installation_date": ("InstallationDate", "AcquisitionDate"),
          "warranty": ("WarrantyStartDate", "WarrantyEndDate", "WarrantyPeriod")}
TUNNEL_FLAGS = 12  # the gaps tunnel_assets.quality_flags can name (schemas/tables.toml)


def building_completeness(elements: list[dict]) -> dict:
    from cim.tunnel.patterns import flat_props

    assets = [e for e in elements if e["ifc_class"] in MAINTAINABLE]
    missing: Counter[str] = Counter()
    for e in assets:
        props = flat_props(e.get("psets"))
        for name, keys in FIELDS.items():
            value = e.get("tag") if name == "tag" else next((props[k] for k in keys if props.get(k) not in (None, "")),
                                                            None)
            if value in (None, ""):
                missing[name] += 1
    cells = len(assets) * len(FIELDS)
    return {"source": "elements", "assets": len(assets), "fields": list(FIELDS),
            "completeness": round(1 - sum(missing.values()) / cells, 4) if cells else None,
            "missing_by_field": dict(sorted(missing.items())),
            "assets_by_class": dict(sorted(Counter(e["ifc_class"] for e in assets).items()))}


def tunnel_completeness(assets: list[dict]) -> dict:
    missing = Counter(flag for a in assets for flag in (a.get("quality_flags") or []))
    cells = len(assets) * TUNNEL_FLAGS
    return {"source": "tunnel_assets.quality_flags", "assets": len(assets),
            "completeness": round(1 - sum(missing.values()) / cells, 4) if cells else None,
            "missing_by_field": dict(sorted(missing.items()))}


def completeness(store: Store, model_id: str, version: int) -> dict:
    """From the tunnel register of that version when the model is a tunnel, else from its elements."""
    from cim.tunnel.run import is_tunnel_model

    if store.has_table("tunnel_assets"):
        assets = store.read("tunnel_assets", filters=[("model_id", "=", model_id),
                                                      ("version", "=", version)]).to_pylist()
        if assets:
            return tunnel_completeness(assets)
    elements = store.read_model("elements", model_id, version)
    if is_tunnel_model(elements):
        raise GateRefused(None, f"v{version} of {model_id!r} is a utility tunnel without a register for that version",
                          f"build it first: cim tunnel {model_id}")
    return building_completeness(elements.to_pylist())


def handover_gate(store: Store, config: CityConfig, model_id: str, *, version: int | None = None,
                  out: Path | None = None, by: str | None = None, reports: Path | None = None) -> GateResult:
    rows = order.require(store, model_id, "handover", version)
    target = version if version is not None else next(r for r in reversed(rows) if r["gate"] == "completion")["version"]
    order.require(store, model_id, "handover", target)
    found = completeness(store, model_id, target)
    if not found["assets"]:
        raise GateRefused(None, f"v{target} of {model_id!r} has no maintainable assets to hand over",
                          "model the doors, windows, equipment and segments with their asset data")
    threshold = config.lifecycle.handover_min_completeness
    passed = found["completeness"] >= threshold
    report = {"gate": "handover", "model_id": model_id, "version": target, "verdict": "pass" if passed else "fail",
              "threshold": threshold, **found, "phase_after": "manage" if passed else "build"}
    path = write_report(report_dir(model_id, target, "handover", out, reports), report)
    note = (f"asset data {found['completeness']:.1%} complete over {found['assets']} assets "
            f"({'at least' if passed else 'below'} {threshold:.0%})")
    row = append(store, Decision(model_id, target, "handover", passed, path, note=note, by=by))
    return GateResult("handover", model_id, target, passed, path, report, row)
