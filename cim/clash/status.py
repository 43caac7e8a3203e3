"""Clash status across checks: stable ids, new / active / resolved / approved, and the history of changes.

A check changes a status only when what it finds changes: a clash found again keeps its status (a resolved
one that reappears is new again); a clash the check looked for and no longer finds becomes resolved.
``active`` and ``approved`` are set by people (`cim clash status`), and an approved clash stays approved
while it is found. A clash belongs to (rule set, rule, pair): a check looks only for the clashes of its own
rule set, and of the rules it ran when it ran a ``--rule`` subset; every other clash keeps its row.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from datetime import datetime

from cim.clash.rules import RuleSet

STATUSES = ("new", "active", "resolved", "approved")
MANUAL = ("new", "active", "resolved", "approved")


DEFAULT_RULE_SET = "clash_rules"  # rows written before rule sets were recorded came from the shipped file


def clash_id(rule_set: str, rule: str, a_id: str, b_id: str) -> str:
    """Stable across runs: the rule set, the rule and the sorted pair of GlobalIds (feature ids for city layers).

    The shipped rule set is left out of the hash, so the ids stored (and sent in BCF) before rule sets were
    recorded still name the same clashes.
    """
    lo, hi = sorted((a_id, b_id))
    key = f"{rule}\x1f{lo}\x1f{hi}" if rule_set == DEFAULT_RULE_SET else f"{rule_set}\x1f{rule}\x1f{lo}\x1f{hi}"
    return hashlib.sha1(key.encode()).hexdigest()[:16]


def rule_set_of(row: dict) -> str:
    return row.get("rule_set") or DEFAULT_RULE_SET


def looked_for(rules: RuleSet) -> Callable[[dict], bool]:
    """Whether a check with ``rules`` looked for the clash in ``row``: same rule set, and one of the rules it ran
    (a full check also owns the clashes of rules since removed from its file, so they do not stay open)."""
    ran = {r.name for r in rules.rules}

    def owns(row: dict) -> bool:
        return rule_set_of(row) == rules.name and (row["rule"] in ran or not rules.subset)

    return owns


def _event(at: datetime, run_id: str | None, old: str | None, new: str, by: str, note: str | None = None) -> dict:
    return {"at": at.isoformat(), "run_id": run_id, "from": old, "to": new, "by": by, "note": note}


def _history(row: dict) -> list[dict]:
    value = row.get("history")
    return json.loads(value) if isinstance(value, str) else list(value or [])


def merge(previous: dict[str, dict], found: dict[str, dict], now: datetime, run_id: str | None,
          looked: Callable[[dict], bool] = lambda row: True) -> list[dict]:
    """The new state of every clash: ``found`` rows (measured now) merged with the ``previous`` state.

    A previous clash not found is resolved only when the check ``looked`` for it; otherwise its row stays as is.
    """
    out = []
    for cid, row in found.items():
        prev = previous.get(cid)
        if prev is None:
            status, history, first, changed, note = "new", [_event(now, run_id, None, "new", "check")], now, now, None
        else:
            history, first, note = _history(prev), prev["first_seen"], prev.get("note")
            status, changed = prev["status"], prev["status_changed_at"]
            if status == "resolved":
                status, changed = "new", now
                history.append(_event(now, run_id, "resolved", "new", "check", "found again"))
        out.append({**row, "clash_id": cid, "status": status, "first_seen": first, "last_seen": now,
                    "status_changed_at": changed, "history": json.dumps(history), "note": note, "run_id": run_id})
    for cid, prev in previous.items():
        if cid in found:
            continue
        row = dict(prev)
        if row["status"] != "resolved" and looked(row):
            history = _history(row)
            history.append(_event(now, run_id, row["status"], "resolved", "check", "no longer found"))
            row.update(status="resolved", status_changed_at=now, history=json.dumps(history), run_id=run_id)
        out.append(row)
    return sorted(out, key=lambda r: r["clash_id"])


def set_status(rows: list[dict], ids: list[str], status: str, by: str, note: str | None, now: datetime) -> list[str]:
    """Change the status of ``ids`` by hand (in place); returns the ids that were not found."""
    if status not in MANUAL:
        raise ValueError(f"status must be one of {', '.join(MANUAL)}")
    wanted = set(ids)
    for row in rows:
        if row["clash_id"] in wanted and row["status"] != status:
            history = _history(row)
            history.append(_event(now, None, row["status"], status, by, note))
            row.update(status=status, status_changed_at=now, history=json.dumps(history), note=note)
    return sorted(wanted - {r["clash_id"] for r in rows})


def fresh_rows(rows: list[dict], now: datetime) -> list[dict]:
    """Rows of a one-off check (nothing stored to compare with): every clash new, with its first event."""
    history = json.dumps([_event(now, None, None, "new", "check")])
    for row in rows:
        row.update(status="new", first_seen=now, last_seen=now, status_changed_at=now, history=history, note=None,
                   run_id=None)
    return sorted(rows, key=lambda r: r["clash_id"])
