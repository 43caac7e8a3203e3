"""The diff's report: report.json (everything), report.html (self-contained, opens from disk) and plan.svg."""

from __future__ import annotations

import json
import math
import re
from html import escape
from pathlib import Path

from cim.diff.model import CHANGE_CLASSES, Diff
from cim.diff.plan import COLOURS, render_plan
from cim.files import write_atomic

MAX_HTML_ROWS = 5000  # the HTML lists this many change rows; report.json has all of them
CHANGE_COLUMNS = ("change", "global_id", "ifc_class", "name", "storey", "matched_by", "moved_m", "rotation_deg",
                  "pset", "property", "old_value", "new_value")
QUANTITY_COLUMNS = ("group_by", "key", "qset", "quantity", "unit", "old", "new", "delta")
CLASH_COLUMNS = ("clash_id", "rule", "mode", "a_class", "a_name", "a_global_id", "b_class", "b_name", "b_global_id")


def default_folder(diff: Diff) -> Path:
    """diff/<model>-v<from>-v<to>, the model id made safe as one folder name (two-file mode: 'a.ifc -> b.ifc')."""
    name = re.sub(r"[^\w\-.]+", "_", diff.model_id).strip("_.") or "model"
    return Path("diff") / f"{name}-v{diff.from_version}-v{diff.to_version}"


def _json_safe(value):
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _json_safe(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_json_safe(v) for v in value]
    return value


def _cell(value, link: str | None = None) -> str:
    if value is None:
        return "<td></td>"
    text = f"{value:.3f}" if isinstance(value, float) else str(value)
    if link:
        return f'<td><a href="{escape(link, quote=True)}">{escape(text)}</a></td>'
    return f"<td>{escape(text)}</td>"


def _table(rows: list[dict], columns: tuple[str, ...], viewer_url: str | None = None) -> str:
    if not rows:
        return "<p>None.</p>"
    head = "".join(f"<th>{escape(c)}</th>" for c in columns)
    body = []
    for row in rows:
        cells = []
        for c in columns:
            link = f"{viewer_url}#{row[c]}" if viewer_url and c == "global_id" and row.get(c) else None
            cells.append(_cell(row.get(c), link))
        style = f' style="border-left:4px solid {COLOURS[row["change"]]}"' if row.get("change") in COLOURS else ""
        body.append(f"<tr{style}>{''.join(cells)}</tr>")
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"


def render_html(diff: Diff, plan_svg: str, viewer_url: str | None = None) -> str:
    title = f"{diff.model_id}: version {diff.from_version} → {diff.to_version}"
    counts = "".join(f"<tr><td>{escape(k)}</td><td>{diff.counts.get(k, 0)}</td></tr>"
                     for k in (*CHANGE_CLASSES, "unchanged"))
    shown = diff.changes[:MAX_HTML_ROWS]
    more = (f"<p>First {MAX_HTML_ROWS} of {len(diff.changes)} rows; report.json has all.</p>"
            if len(diff.changes) > MAX_HTML_ROWS else "")
    notes = "".join(f"<li>{escape(n)}</li>" for n in diff.notes) or "<li>none</li>"
    viewer = (f'<p>Element ids link into the 3-D view: <a href="{escape(viewer_url, quote=True)}">'
              f"{escape(viewer_url)}</a></p>" if viewer_url else "")
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{escape(title)}</title>
<style>body{{font-family:sans-serif;margin:2em;color:#222}}table{{border-collapse:collapse;margin:1em 0}}
td,th{{border:1px solid #ccc;padding:2px 6px;font-size:13px;text-align:left}}th{{background:#eee}}</style>
</head><body>
<h1>{escape(title)}</h1>
<p>City CRS {escape(diff.crs or "")}. Elements matched by GlobalId, else by class + type name + location.</p>
<h2>Counts (elements)</h2><table>{counts}</table>
<h2>Plan view</h2>{plan_svg}{viewer}
<h2>Changes</h2>{more}{_table(shown, CHANGE_COLUMNS, viewer_url)}
<h2>Quantity deltas (per class, storey, material)</h2>{_table(diff.quantity_deltas, QUANTITY_COLUMNS)}
<h2>New clashes</h2>{_table(diff.clash_deltas.get("new", []), CLASH_COLUMNS)}
<h2>Resolved clashes</h2>{_table(diff.clash_deltas.get("resolved", []), CLASH_COLUMNS)}
<h2>Notes</h2><ul>{notes}</ul>
</body></html>
"""


def write_report(diff: Diff, folder: Path, viewer_url: str | None = None) -> list[Path]:
    """Write report.json, report.html and plan.svg into ``folder`` (created); returns their paths."""
    folder.mkdir(parents=True, exist_ok=True)
    svg = render_plan(diff)
    data = json.dumps(_json_safe(diff.as_json()), indent=2, ensure_ascii=False, default=str)
    outputs = {"report.json": data, "report.html": render_html(diff, svg, viewer_url),
               "plan.svg": svg if svg.startswith("<svg") else None}
    written = []
    for name, text in outputs.items():
        if text is None:
            continue
        path = folder / name
        write_atomic(path, text, what=name)
        written.append(path)
    return written
