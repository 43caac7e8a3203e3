"""Asset kind, utility type, monitored quantity and handover values of one element row.

Pure functions over an elements row (plus its flattened properties) so they are easy to test.
"""

from __future__ import annotations

import re
from datetime import date

from cim.tunnel.patterns import type_from_text

KIND_BY_CLASS = {
    "IfcPipeSegment": "pipe", "IfcPipeFitting": "pipe_fitting", "IfcValve": "valve", "IfcCableSegment": "cable",
    "IfcCableFitting": "cable_fitting", "IfcCableCarrierSegment": "cable_tray", "IfcCableCarrierFitting": "cable_tray",
    "IfcSensor": "sensor", "IfcAlarm": "alarm", "IfcFan": "fan", "IfcPump": "pump", "IfcLightFixture": "light",
    "IfcLamp": "light", "IfcDuctSegment": "duct", "IfcDistributionChamberElement": "chamber",
    "IfcFireSuppressionTerminal": "fire_suppression", "IfcElectricDistributionBoard": "distribution_board",
}
SYSTEM_UTILITY = {
    "GAS": "gas", "HEATING": "heat", "WATERSUPPLY": "water", "DOMESTICCOLDWATER": "water", "COMMUNICATION": "telecom",
    "DATA": "telecom", "TELEPHONE": "telecom", "ELECTRICAL": "power", "POWERGENERATION": "power",
    "DRAINAGE": "sewage", "SEWAGE": "sewage", "WASTEWATER": "sewage", "STORMWATER": "rainwater",
    "RAINWATER": "rainwater", "CHILLEDWATER": "heat", "HOTWATER": "heat",
}
SERVICE_BY_KIND = {"sensor": "monitoring", "camera": "monitoring", "alarm": "monitoring", "fan": "ventilation",
                   "pump": "drainage", "chamber": "drainage", "light": "lighting", "cable_tray": "cable_support",
                   "escape_opening": "civil", "hoisting_opening": "civil", "fire_suppression": "fire"}
NETWORK_TYPES = ("gas", "heat", "water", "telecom", "power", "sewage", "rainwater")
QUANTITY_WORDS = (
    ("CH4", r"\bCH4\b|methane|甲烷"), ("H2S", r"H2S|hydrogen sulphide|hydrogen sulfide|硫化氢"),
    ("O2", r"\bO2\b|oxygen|氧"), ("humidity", r"humid|湿度"), ("temperature", r"temperature|温度"),
    ("water_level", r"level|水位"), ("smoke", r"smoke|烟"),
)


def asset_kind(row: dict, props: dict) -> str:
    cls, ptype = row["ifc_class"], str(row.get("predefined_type") or "")
    text = f"{row.get('name') or ''} {row.get('object_type') or ''} {props.get('OpeningKind') or ''}"
    if re.search(r"hoist|吊装", text, re.I):
        return "hoisting_opening"
    if re.search(r"escape|逃生", text, re.I) or cls == "IfcDoor" and ptype == "TRAPDOOR":
        return "escape_opening"
    if cls == "IfcAudioVisualAppliance" and ptype == "CAMERA" or re.search(r"camera|摄像", text, re.I):
        return "camera"
    if cls == "IfcDistributionChamberElement" and ptype == "SUMP" or re.search(r"\bsump\b|集水坑", text, re.I) \
            and cls != "IfcSensor":
        return "sump" if cls != "IfcPump" else "pump"
    return KIND_BY_CLASS.get(cls, "other")


def utility_type(kind: str, row: dict, props: dict, system: dict | None) -> str:
    if system and SYSTEM_UTILITY.get(str(system.get("type") or "")):
        return SYSTEM_UTILITY[str(system["type"])]
    if kind == "cable":
        return "telecom" if "OPTICAL" in str(row.get("predefined_type") or "") else "power"
    if kind in SERVICE_BY_KIND:
        return SERVICE_BY_KIND[kind]
    text = f"{row.get('name') or ''} {' '.join(row.get('systems') or [])}"
    found = type_from_text(text)
    return found if found and found != "mixed" else "other"


def measured_quantity(kind: str, row: dict, props: dict) -> str | None:
    if kind == "camera":
        return "video"
    if kind != "sensor":
        return None
    values = (props.get("GasDetected"), props.get("MeasuredQuantity"), row.get("predefined_type"), row.get("name"))
    text = " ".join(str(v) for v in values if v)
    return next((q for q, rx in QUANTITY_WORDS if re.search(rx, text, re.I)), "other")


def iso_date(value) -> str | None:
    """A date property as YYYY-MM-DD (IFC dates are strings; datetimes are cut to the day)."""
    if value is None or value == "":
        return None
    text = str(value)[:10]
    try:
        return date.fromisoformat(text).isoformat()
    except ValueError:
        return None


def years(duration) -> float | None:
    """ISO 8601 duration (P10Y, P18M) or a number of years -> years."""
    if duration is None:
        return None
    if isinstance(duration, int | float):
        return float(duration)
    m = re.fullmatch(r"P(?:(\d+(?:\.\d+)?)Y)?(?:(\d+(?:\.\d+)?)M)?(?:(\d+(?:\.\d+)?)D)?", str(duration).strip())
    if not m or not any(m.groups()):
        return None
    y, mo, d = (float(g) if g else 0.0 for g in m.groups())
    return y + mo / 12 + d / 365.25


def add_years(start: str | None, span: float | None) -> str | None:
    if start is None or span is None:
        return None
    d = date.fromisoformat(start)
    months = round(span * 12)
    y, mo = divmod(d.month - 1 + months, 12)
    try:
        return d.replace(year=d.year + y, month=mo + 1).isoformat()
    except ValueError:
        return d.replace(year=d.year + y, month=mo + 1, day=28).isoformat()


def diameter_mm(props: dict, unit: float, text: str) -> float | None:
    for key in ("NominalDiameter", "Size", "NominalSize"):
        if isinstance(props.get(key), int | float):
            return round(float(props[key]) * unit * 1000.0, 1)
    m = re.search(r"\bDN\s?(\d+)", text)
    return float(m.group(1)) if m else None
