"""The nightly schedule, missed nights, alerts and the sentences operators read (no Prefect here)."""

from __future__ import annotations

import json
import threading
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, HTTPServer
from zoneinfo import ZoneInfo

import pytest

from cim.alerts import alert_payload, needs_attention, send_alert
from cim.checks import CheckOutcome, describe
from cim.config import AlertsConfig, ScheduleConfig, load_config
from cim.errors import ConfigError
from cim.ingest.run import Outcome
from cim.runs import missed_schedules, quarantined_files, run_row

SHANGHAI = ZoneInfo("Asia/Shanghai")


def _config(tmp_path, extra: str = ""):
    path = tmp_path / "cim.toml"
    path.write_text('[city]\nname = "t"\ncrs = "EPSG:4549"\n' + extra)
    return path


def test_the_schedule_defaults_to_two_at_night_in_fuzhou_time(tmp_path):
    cfg = load_config(_config(tmp_path))
    assert (cfg.schedule.cron, cfg.schedule.timezone) == ("0 2 * * *", "Asia/Shanghai")
    assert cfg.alerts.webhook_url is None
    cfg = load_config(_config(tmp_path, '[schedule]\ncron = "30 1 * * 1-5"\ntimezone = "UTC"\n'
                                        '[alerts]\nwebhook_url = "http://127.0.0.1:9/hook"\n'))
    assert (cfg.schedule.cron, cfg.schedule.timezone) == ("30 1 * * 1-5", "UTC")
    assert cfg.alerts.webhook_url == "http://127.0.0.1:9/hook"


@pytest.mark.parametrize(("extra", "words"), [
    ('[schedule]\ntimezone = "Fuzhou"\n', "timezone 'Fuzhou' is not a known time zone"),
    ('[schedule]\ncron = "every night"\n', "cron 'every night' is not a valid cron line"),
    ('[alerts]\nwebhook_url = "ftp://x"\n', "webhook_url 'ftp://x' is not an http(s) URL"),
])
def test_a_bad_schedule_or_alert_setting_is_one_line_naming_the_config(tmp_path, extra, words):
    with pytest.raises(ConfigError) as err:
        load_config(_config(tmp_path, extra))
    line = err.value.one_line()
    assert words in line and "cim.toml" in line and "\n" not in line


def test_a_night_with_no_run_is_flagged_by_the_next_run_in_the_schedule_time_zone():
    schedule = ScheduleConfig("0 2 * * *", "Asia/Shanghai", late_after_minutes=60)
    monday = datetime(2026, 11, 30, 2, 0, 5, tzinfo=SHANGHAI)
    wednesday = datetime(2026, 12, 2, 2, 0, 7, tzinfo=SHANGHAI)
    missed = missed_schedules(monday.astimezone(UTC), wednesday.astimezone(UTC), schedule)
    assert missed == [datetime(2026, 12, 1, 2, 0, tzinfo=SHANGHAI)]  # Tuesday 02:00 Fuzhou time = 18:00 UTC
    tuesday = datetime(2026, 12, 1, 2, 0, 9, tzinfo=SHANGHAI)
    assert missed_schedules(monday, tuesday, schedule) == []  # the next night ran
    assert missed_schedules(None, tuesday, schedule) == []  # the first run ever
    # 02:00 in UTC would be 10:00 in Fuzhou: a run at 02:00 Fuzhou time is not late for a Fuzhou schedule
    assert missed_schedules(monday, datetime(2026, 12, 1, 9, 0, tzinfo=SHANGHAI), schedule) == [
        datetime(2026, 12, 1, 2, 0, tzinfo=SHANGHAI)]


def _run(outcomes, **kw):
    now = datetime(2026, 12, 1, 18, 0, tzinfo=UTC)
    return run_row("r1", None, now, now, outcomes, **kw)


def test_the_run_status_says_what_went_wrong():
    ok = Outcome("a.ifc", "ifc", "ingested")
    bad = Outcome("b.ifc", "ifc", "quarantined", stage="open", message="b.ifc: not an IFC file\nmore")
    assert _run([ok])["status"] == "completed"
    assert _run([ok, bad])["status"] == "completed with 1 quarantined"
    assert _run([ok, bad], failed_checks=2)["status"] == "completed with 1 quarantined, 2 checks failed"
    assert _run([ok], error="KeyError: 'x'")["status"] == "failed: KeyError: 'x'"
    assert quarantined_files([ok, bad]) == [{"file": "b.ifc", "stage": "open", "reason": "b.ifc: not an IFC file"}]


def test_check_summaries_are_sentences_not_python_dicts():
    qto = CheckOutcome("qto", "m", True, {"n_elements": 1219, "n_quantities": 6813, "n_computed": 6795,
                                          "n_unreliable": 0, "n_disagreements": 0, "n_summary": 351, "seconds": 3.6})
    clash = CheckOutcome("clash", "city", True, {"candidates": 2186, "tested": 1324, "suppressed": 748, "found": 9,
                                                 "statuses": {"new": 9}, "incremental": False, "seconds": 1.9})
    tunnel = CheckOutcome("tunnel", "t", True, {"assets": 1009, "compartments": 4, "fire_compartments": 20,
                                                "findings": 10, "errors": 3})
    failed = CheckOutcome("qto", "m", False, message="m.ifc: qto check failed: boom")
    assert describe(qto) == ("quantities: 6,813 for 1,219 elements (6,795 computed, 0 unreliable, "
                             "0 disagreements with the file), 351 summary rows in 3.6 s")
    assert describe(clash) == ("clashes: 9 found (9 new) from 1,324 pairs tested of 2,186 candidates "
                               "(748 suppressed, full) in 1.9 s")
    assert describe(tunnel).startswith("tunnel: 1,009 assets in 4 compartments")
    assert describe(failed) == "qto failed: m.ifc: qto check failed: boom"
    for text in map(describe, (qto, clash, tunnel, failed)):
        assert "{" not in text and "'" not in text


class _Hook(BaseHTTPRequestHandler):
    received: list[dict] = []

    def do_POST(self):  # noqa: N802 - http.server's name
        body = self.rfile.read(int(self.headers["Content-Length"]))
        type(self).received.append(json.loads(body))
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args):
        pass


@pytest.fixture
def webhook():
    _Hook.received = []
    server = HTTPServer(("127.0.0.1", 0), _Hook)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}/hook", _Hook.received
    server.shutdown()
    server.server_close()


def test_a_quarantining_run_writes_an_alert_file_and_posts_it_to_the_webhook(tmp_path, webhook):
    url, received = webhook
    bad = Outcome("inbox/b.ifc", "ifc", "quarantined", stage="open", message="inbox/b.ifc: not an IFC file")
    run = _run([Outcome("a.ifc", "ifc", "ingested"), bad])
    payload = alert_payload(run, quarantined_files([bad]), [], [], city="t", store=tmp_path)
    assert needs_attention(payload)
    sent = send_alert(payload, tmp_path, AlertsConfig(webhook_url=url))
    written = json.loads((tmp_path / "alerts" / "r1.json").read_text())
    assert sent == [str(tmp_path / "alerts" / "r1.json"), url]
    assert received == [written]
    assert written["status"] == "completed with 1 quarantined"
    assert written["quarantined"] == [{"file": "inbox/b.ifc", "stage": "open",
                                       "reason": "inbox/b.ifc: not an IFC file"}]


def test_a_dead_webhook_does_not_fail_the_run_and_the_alert_file_is_still_written(tmp_path, caplog):
    run = _run([], error="RuntimeError: x")
    payload = alert_payload(run, [], [], [], city="t", store=tmp_path)
    sent = send_alert(payload, tmp_path, AlertsConfig(webhook_url="http://127.0.0.1:9/nobody", timeout_s=2))
    assert sent == [str(tmp_path / "alerts" / "r1.json")]
    assert "could not post the alert" in caplog.text
    assert not needs_attention(alert_payload(_run([]), [], [], [], city="t", store=tmp_path))


def test_make_run_with_a_bad_schedule_is_one_line_and_exit_2_before_prefect_starts(tmp_path):
    import os
    import subprocess
    import sys

    from tests.conftest import ROOT

    config = _config(tmp_path, '[schedule]\ntimezone = "Mars/Olympus"\n')
    env = {**os.environ, "CIM_CONFIG": str(config), "CIM_STORE": str(tmp_path / "store")}
    done = subprocess.run([sys.executable, "-m", "flows.nightly", "run"], cwd=ROOT, env=env, capture_output=True,
                          text=True)
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [
        f"error: {config}: [schedule] timezone 'Mars/Olympus' is not a known time zone "
        '(use an IANA name such as "Asia/Shanghai" or "UTC")']
    assert not (tmp_path / "store").exists()
