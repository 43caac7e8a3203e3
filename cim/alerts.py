"""Telling operators about a run that needs attention without opening the Prefect UI.

A run needs attention when a file was quarantined, a check failed, the run itself failed, or a
scheduled night was missed. The alert is the run's summary as JSON: always written to
``<store>/alerts/<run_id>.json`` and, when ``[alerts] webhook_url`` is set, POSTed there.
Sending never raises: a dead chat server must not turn a good night into a failed one.
"""

from __future__ import annotations

import json
import logging
import urllib.error
import urllib.request
from datetime import datetime
from pathlib import Path

from cim.config import AlertsConfig
from cim.files import write_atomic

log = logging.getLogger(__name__)
ALERTS_DIR = "alerts"


def needs_attention(payload: dict) -> bool:
    return bool(payload.get("quarantined") or payload.get("failed_checks") or payload.get("missed_schedules")
                or str(payload.get("status", "")).startswith("failed"))


def alert_payload(run: dict, quarantined: list[dict], failed_checks: list[dict], missed: list[datetime],
                  *, city: str, store: str | Path) -> dict:
    """The JSON operators (and their chat bots) receive: the run, and every file and check that went wrong."""
    return {
        "city": city,
        "store": str(Path(store).resolve()),
        "run_id": run["run_id"],
        "flow_run_id": run.get("flow_run_id"),
        "status": run["status"],
        "started_at": run["started_at"].isoformat(),
        "finished_at": run["finished_at"].isoformat(),
        "duration_s": round(run["duration_s"], 1),
        "counts": {k: run[k] for k in ("n_inputs", "n_ingested", "n_unchanged", "n_quarantined", "n_elements")},
        "quarantined": quarantined,
        "failed_checks": failed_checks,
        "missed_schedules": [t.isoformat() for t in missed],
        "text": alert_text(run, quarantined, failed_checks, missed),
    }


def alert_text(run: dict, quarantined: list[dict], failed_checks: list[dict], missed: list[datetime]) -> str:
    """One short paragraph a person can read in a chat message."""
    lines = [f"cim run {run['run_id']}: {run['status']}"]
    lines += [f"quarantined {q['file']} ({q['stage']}): {q['reason']}" for q in quarantined]
    lines += [f"check {c['check']} failed for {c['model_id']}: {c['reason']}" for c in failed_checks]
    lines += [f"the run scheduled for {t.isoformat(timespec='minutes')} did not start" for t in missed]
    return "\n".join(lines)


def send_alert(payload: dict, store: str | Path, config: AlertsConfig) -> list[str]:
    """Write the alert file and post the webhook; returns where it went (a failed post is logged, not raised)."""
    sent: list[str] = []
    body = json.dumps(payload, indent=2, default=str)
    name = "".join(c if c.isalnum() or c in "-_" else "_" for c in payload["run_id"]) + ".json"
    try:
        sent.append(str(write_atomic(Path(store) / ALERTS_DIR / name, body, what="alert")))
    except Exception as exc:  # noqa: BLE001 - an alert must never fail the run it reports
        log.error("could not write the alert file: %s", exc)
    if config.webhook_url:
        error = post_json(config.webhook_url, body.encode("utf-8"), config.timeout_s)
        if error:
            log.error("could not post the alert to %s: %s", config.webhook_url, error)
        else:
            sent.append(config.webhook_url)
    return sent


def post_json(url: str, body: bytes, timeout_s: float) -> str | None:
    """POST ``body`` as JSON; None when the server answered 2xx, else why not."""
    request = urllib.request.Request(url, data=body, method="POST",
                                     headers={"Content-Type": "application/json", "User-Agent": "cim-alerts"})
    try:
        with urllib.request.urlopen(request, timeout=timeout_s) as resp:  # noqa: S310 - operator-configured URL
            return None if 200 <= resp.status < 300 else f"HTTP {resp.status}"
    except urllib.error.HTTPError as exc:
        return f"HTTP {exc.code}"
    except (OSError, ValueError) as exc:
        return str(getattr(exc, "reason", exc))
