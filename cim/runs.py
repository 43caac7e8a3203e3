"""A run's record and its human summary, from the per-file outcomes."""

from __future__ import annotations

import json
from datetime import datetime

from cim.ingest.run import Outcome


def run_status(outcomes: list[Outcome]) -> str:
    n = sum(o.action == "quarantined" for o in outcomes)
    return f"completed with {n} quarantined" if n else "completed"


def run_row(run_id: str, flow_run_id: str | None, started: datetime, finished: datetime,
            outcomes: list[Outcome]) -> dict:
    return {
        "run_id": run_id,
        "flow_run_id": flow_run_id,
        "started_at": started,
        "finished_at": finished,
        "duration_s": (finished - started).total_seconds(),
        "status": run_status(outcomes),
        "n_inputs": len(outcomes),
        "n_ingested": sum(o.action == "ingested" for o in outcomes),
        "n_unchanged": sum(o.action == "unchanged" for o in outcomes),
        "n_quarantined": sum(o.action == "quarantined" for o in outcomes),
        "n_elements": sum(o.n_elements for o in outcomes),
        "summary": json.dumps([o.as_dict() for o in outcomes], default=str),
    }


def summary_rows(outcomes: list[Outcome]) -> list[dict]:
    return [{"file": o.path, "result": o.action, "models": ", ".join(o.model_ids),
             "versions": ", ".join(map(str, o.versions)), "rows": o.n_elements, "seconds": round(o.seconds, 2),
             "message": (o.message or "").splitlines()[0] if o.message else ""} for o in outcomes]


def summary_markdown(run: dict, outcomes: list[Outcome]) -> str:
    lines = [f"# City model run {run['run_id']}", "",
             f"**{run['status']}** in {run['duration_s']:.1f} s: {run['n_ingested']} ingested, "
             f"{run['n_unchanged']} unchanged, {run['n_quarantined']} quarantined, "
             f"{run['n_elements']} rows written.", "",
             "| file | result | models | versions | rows | seconds | message |",
             "|---|---|---|---|---|---|---|"]
    for r in summary_rows(outcomes):
        msg = str(r["message"]).replace("|", "\\|")
        lines.append(f"| {r['file']} | {r['result']} | {r['models']} | {r['versions']} | {r['rows']} | "
                     f"{r['seconds']} | {msg} |")
    return "\n".join(lines)
