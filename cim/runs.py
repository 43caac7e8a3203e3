"""A run's record and its human summary, from the per-file outcomes."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from cronsim import CronSim

from cim.config import ScheduleConfig
from cim.ingest.run import Outcome


def run_status(outcomes: list[Outcome], *, failed_checks: int = 0, error: str | None = None) -> str:
    """``completed``, ``completed with 1 quarantined[, 2 checks failed]``, or ``failed: <why>``."""
    if error:
        return f"failed: {error}"
    n = sum(o.action == "quarantined" for o in outcomes)
    parts = [f"{n} quarantined"] if n else []
    if failed_checks:
        parts.append(f"{failed_checks} check{'s' if failed_checks > 1 else ''} failed")
    return f"completed with {', '.join(parts)}" if parts else "completed"


def run_row(run_id: str, flow_run_id: str | None, started: datetime, finished: datetime,
            outcomes: list[Outcome], *, failed_checks: int = 0, error: str | None = None) -> dict:
    return {
        "run_id": run_id,
        "flow_run_id": flow_run_id,
        "started_at": started,
        "finished_at": finished,
        "duration_s": (finished - started).total_seconds(),
        "status": run_status(outcomes, failed_checks=failed_checks, error=error),
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


def quarantined_files(outcomes: list[Outcome]) -> list[dict]:
    """The refused files with their stage and one-line reason, for alerts."""
    return [{"file": o.path, "stage": o.stage or "unknown", "reason": (o.message or "").splitlines()[0] if o.message
             else ""} for o in outcomes if o.action == "quarantined"]


def missed_schedules(previous_start: datetime | None, started: datetime, schedule: ScheduleConfig,
                     limit: int = 31) -> list[datetime]:
    """Scheduled times since the previous run at which no run started (within ``late_after_minutes``).

    Only the run before this one is known to have started, so every fire time after it and more than
    the grace period before this run's start is a night that never ran. Times are in the schedule's zone.
    """
    if previous_start is None:
        return []
    tz = ZoneInfo(schedule.timezone)
    latest = started - timedelta(minutes=schedule.late_after_minutes)
    missed: list[datetime] = []
    for fire in CronSim(schedule.cron, previous_start.astimezone(tz)):
        if fire >= latest or len(missed) >= limit:
            break
        missed.append(fire)
    return missed
