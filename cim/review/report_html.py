"""report.html: the review for a planner, as ONE self-contained file (inline CSS and SVG, no scripts, no fetches).

Verdict banner first, then the failed checks, the site plan, every check, the clashes (each linked to its numbered
marker in the plan), quantities, timings and provenance. Jinja2 autoescaping escapes every model-supplied string;
only the SVG that :mod:`cim.review.siteplan` drew is inserted raw.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape
from markupsafe import Markup

from cim.files import write_atomic
from cim.review.model import FAIL, NOT_APPLICABLE, PASS, CheckResult, Review
from cim.review.report_json import marker_numbers
from cim.review.siteplan import inline_svg, render_site_plan
from cim.review.snapshots import data_uri

TEMPLATES = Path(__file__).resolve().parent / "templates"
DASH = "\u2013"
VERDICT_WORDS = {PASS: "PASS", FAIL: "FAIL", "error": "COULD NOT BE REVIEWED"}
RESULT_WORDS = {PASS: "pass", FAIL: "FAIL", NOT_APPLICABLE: "n/a"}
COMPARISON_SIGNS = {"<=": "\u2264", ">=": "\u2265", "==": "=", "<": "<", ">": ">", "none": ""}
QUANTITY_TITLES = {"gfa_per_storey": ("Gross floor area per storey", ("Storey", "GFA m\u00b2")),
                   "counts": ("Element counts", ("Class", "Count")),
                   "main": ("Main quantities", ("Quantity", "Value"))}
MAX_DETAILS = 50


def fmt(value: Any) -> str:
    """A number as a planner reads it (thousands separators, no float noise); anything else as text."""
    if value is None:
        return DASH
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        if not math.isfinite(value):
            return DASH
        text = f"{value:,.{3 if abs(value) >= 1 else 4}f}".rstrip("0").rstrip(".")
        return "0" if text in ("-0", "") else text
    return str(value)


def _detail_text(detail: Any) -> str:
    if isinstance(detail, Mapping):
        return "; ".join(f"{k}: {fmt(v)}" for k, v in detail.items())
    return fmt(detail)


def _check_row(c: CheckResult) -> dict[str, Any]:
    sign = COMPARISON_SIGNS.get(c.comparison or "", c.comparison or "")
    allowed = fmt(c.allowed) if c.allowed is not None else DASH
    return {
        "check_id": c.check_id, "title": c.title or c.check_id, "status": c.status,
        "result": RESULT_WORDS.get(c.status, c.status), "measured": fmt(c.measured),
        "allowed": f"{sign} {allowed}".strip() if c.allowed is not None else DASH,
        "unit": c.unit or "", "message": c.message,
        "details": [_detail_text(d) for d in c.details[:MAX_DETAILS]],
        "details_total": len(c.details), "details_more": max(0, len(c.details) - MAX_DETAILS),
    }


def _clash_rows(review: Review, snapshots: Mapping[str, bytes]) -> list[dict[str, Any]]:
    markers = marker_numbers(review)
    rows = []
    for i, k in enumerate(review.clashes):
        png = snapshots.get(k.clash_id)
        rows.append({
            "n": i + 1, "marker": markers.get(i), "snapshot": data_uri(png) if png else None,
            "clash_id": k.clash_id, "check_id": k.check_id, "rule": k.rule,
            "mode": k.mode, "severity": k.severity, "a_class": k.a_class, "a_name": k.a_name or "",
            "a_global_id": k.a_global_id, "b_class": k.b_class, "b_name": k.b_name or "",
            "b_global_id": k.b_global_id or "", "b_model": k.b_model, "storey": k.storey or DASH,
            "depth_m": fmt(k.depth_m), "distance_m": fmt(k.distance_m), "x": fmt(round(k.x, 3)),
            "y": fmt(round(k.y, 3)), "z": fmt(round(k.z, 3)), "chainage": k.chainage or DASH,
        })
    return rows


def _cell(value: Any) -> dict[str, Any]:
    return {"text": fmt(value), "num": isinstance(value, int | float) and not isinstance(value, bool)}


def _pick(value: Any, column: str, first: str) -> Any:
    """One column of a nested quantity entry; a bare number goes in the first column."""
    if isinstance(value, Mapping):
        return value.get(column)
    return value if column == first else None


def _mapping_table(key: str, value: Mapping[str, Any]) -> dict[str, Any]:
    """A {name: number} or {name: {value, unit, ...}} mapping as a table; a numeric GFA table gets a total row."""
    title, columns = QUANTITY_TITLES.get(key, (key.replace("_", " ").capitalize(), ("Name", "Value")))
    nested = [v for v in value.values() if isinstance(v, Mapping)]
    if nested:
        extra = list(dict.fromkeys(k for v in nested for k in v))
        rows = [{"cells": [_cell(name), *[_cell(_pick(v, c, extra[0])) for c in extra]], "total": False}
                for name, v in value.items()]
        return {"key": key, "title": title, "columns": [columns[0], *extra], "rows": rows}
    rows = [{"cells": [_cell(name), _cell(v)], "total": False} for name, v in value.items()]
    numbers = [v for v in value.values() if isinstance(v, int | float) and not isinstance(v, bool)]
    if key in ("gfa_per_storey", "counts") and value and len(numbers) == len(value):
        rows.append({"cells": [_cell("Total"), _cell(sum(numbers))], "total": True})
    return {"key": key, "title": title, "columns": list(columns), "rows": rows}


def _list_table(key: str, value: list[Any]) -> dict[str, Any]:
    title = QUANTITY_TITLES.get(key, (key.replace("_", " ").capitalize(), ()))[0]
    dicts = [v for v in value if isinstance(v, Mapping)]
    if len(dicts) != len(value):
        return {"key": key, "title": title, "columns": ["Value"], "rows": [{"cells": [_cell(v)], "total": False}
                                                                             for v in value]}
    columns = list(dict.fromkeys(k for v in dicts for k in v))
    rows = [{"cells": [_cell(v.get(c)) for c in columns], "total": False} for v in dicts]
    return {"key": key, "title": title, "columns": columns, "rows": rows}


def quantity_tables(quantities: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The quantity summary as tables: GFA per storey, element counts, main quantities first, then the rest."""
    order = [k for k in QUANTITY_TITLES if k in quantities] + [k for k in quantities if k not in QUANTITY_TITLES]
    tables, scalars = [], {}
    for key in order:
        value = quantities[key]
        if isinstance(value, Mapping):
            tables.append(_mapping_table(key, value))
        elif isinstance(value, list | tuple):
            tables.append(_list_table(key, list(value)))
        else:
            scalars[key] = value
    if scalars:
        tables.append(_mapping_table("other", scalars))
    return tables


def _verdict_line(review: Review) -> str:
    applicable = [c for c in review.checks if c.status != NOT_APPLICABLE]
    if review.verdict == "error":
        return f"Reason: {review.reason or 'not given'}"
    failed = review.failed()
    if failed:
        names = ", ".join(c.title or c.check_id for c in failed)
        return f"{len(failed)} of {len(applicable)} applicable checks failed: {names}"
    return f"All {len(applicable)} applicable checks passed"


def _title(review: Review) -> str:
    name = review.model_id or Path(review.model_path).name or review.model_path
    parcel = f", parcel {review.parcel_id}" if review.parcel_id else ""
    return f"Planning review: {name}{parcel}"


def timing_rows(timings: Mapping[str, Any]) -> tuple[list[tuple[str, str]], str]:
    """The step rows and the total, counted once: the recorded ``total`` (the wall time) is the total row, never
    a step row; without one, the steps are summed."""
    steps = {k: v for k, v in timings.items() if k != "total"}
    rows = [(step, f"{secs:.2f}" if isinstance(secs, int | float) else fmt(secs)) for step, secs in steps.items()]
    total = timings.get("total")
    if not isinstance(total, int | float) or isinstance(total, bool):
        total = sum(v for v in steps.values() if isinstance(v, int | float) and not isinstance(v, bool))
    return rows, f"{total:.2f}"


def context(review: Review, snapshots: Mapping[str, bytes] | None = None, view3d: Path | None = None,
            view3d_note: str | None = None) -> dict[str, Any]:
    """Everything the template shows, already formatted (the template only lays it out).

    ``snapshots``: clash_id -> PNG (cim.review.snapshots), shown inline in each clash row.
    """
    plan = None
    if review.site_plan is not None and review.verdict != "error":
        plan = Markup(inline_svg(render_site_plan(review.site_plan)))
    timings, total = timing_rows(review.timings)
    return {
        "title": _title(review), "verdict": review.verdict,
        "verdict_class": review.verdict if review.verdict in VERDICT_WORDS else "error",
        "verdict_word": VERDICT_WORDS.get(review.verdict, review.verdict.upper()),
        "verdict_line": _verdict_line(review), "exit_code": review.exit_code,
        "failed": [_check_row(c) for c in review.failed()],
        "checks": [_check_row(c) for c in review.checks], "clashes": _clash_rows(review, snapshots or {}),
        "revision": review.revision,
        "quantity_tables": quantity_tables(review.quantities), "plan_svg": plan, "crs": review.crs or "",
        "timings": timings, "timings_total": total,
        "model_path": review.model_path, "model_id": review.model_id or DASH, "parcel_id": review.parcel_id or DASH,
        "generated_at": review.generated_at or DASH, "code_version": review.code_version or DASH,
        "view3d": view3d.name if view3d else None, "view3d_note": view3d_note,
    }


def _environment() -> Environment:
    return Environment(loader=FileSystemLoader(TEMPLATES), autoescape=select_autoescape(["html", "j2"]),
                       undefined=StrictUndefined, trim_blocks=False, keep_trailing_newline=True)


def render_html(review: Review, snapshots: Mapping[str, bytes] | None = None, view3d: Path | None = None,
                view3d_note: str | None = None) -> str:
    """The report page as a string (same Review and snapshots, same bytes)."""
    return _environment().get_template("report.html.j2").render(**context(review, snapshots, view3d, view3d_note))


def write_html(review: Review, path: Path, snapshots: Mapping[str, bytes] | None = None,
               view3d: Path | None = None, view3d_note: str | None = None) -> Path:
    """Write report.html atomically and return its path; ``view3d``: the 3-D view beside it, linked from the top
    (else ``view3d_note`` says why there is none)."""
    return write_atomic(path, render_html(review, snapshots, view3d, view3d_note), what="review report")
