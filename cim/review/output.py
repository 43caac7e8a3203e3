"""Write a review's three outputs into its folder, and nowhere else."""

from __future__ import annotations

from pathlib import Path

from cim.clash.export import write_bcf
from cim.review.model import Review
from cim.review.report_html import write_html
from cim.review.report_json import write_json
from cim.view.view3d import missing_note, write_view3d

NAMES = ("report.html", "report.json", "clashes.bcfzip")


def write_outputs(review: Review, extra: dict, out_dir: Path) -> list[Path]:
    """report.html, report.json and clashes.bcfzip (empty of topics when there are no clashes)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    cache = extra.get("meshes_cache") or {}

    def meshes(keys: list[str]) -> dict:
        return {k: cache[k] for k in keys if k in cache}

    view3d = write_view3d(extra.get("scene"), out_dir, review)  # None without three.js: report.html says so
    written = [write_html(review, out_dir / NAMES[0], snapshots=extra.get("snapshots"), view3d=view3d,
                          view3d_note=missing_note(review) if view3d is None else None),
               write_json(review, out_dir / NAMES[1])]
    written.append(write_bcf(extra.get("rows") or [], out_dir / NAMES[2],
                             project_name=f"Review of {Path(review.model_path).name}", meshes=meshes,
                             frames=extra.get("frames")))
    return written + ([view3d] if view3d else [])
