"""`watch --once` over the recorded incidents: counts equal scan's; payload shapes per sink."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from runbook.watch.alerts import fingerprint
from tests.watch.conftest import ROOT, Receiver, cli

SAMPLES = sorted(p for p in (ROOT / "sample_logs").iterdir() if p.is_dir())
KEY = "R0UT1NGKEY0123456789abcdef012345"


def pgrst204_counts(exposition: str) -> dict[tuple[str, str], int]:
    counts: dict[tuple[str, str], int] = {}
    for family in text_string_to_metric_families(exposition):
        if family.name == "pgrst_runbook_pgrst204":
            for sample in family.samples:
                if sample.name == "pgrst_runbook_pgrst204_total":
                    counts[(sample.labels["table"], sample.labels["column"])] = int(sample.value)
    return counts


@pytest.mark.parametrize("folder", SAMPLES, ids=[p.name for p in SAMPLES])
def test_once_counts_equal_scan(folder: Path, tmp_path: Path) -> None:
    scan = cli("scan", str(folder), "--format", "json", "--no-progress")
    expected = {(i["table"], i["column"]): i["count"] for i in json.loads(scan.stdout)["incidents"]}
    assert expected, f"{folder.name}: the sample has incidents"
    prom = tmp_path / "watch.prom"
    done = cli("watch", str(folder), "--once", "--state", str(tmp_path / "state"), "--metrics-file", str(prom))
    assert done.returncode == 0, done.stderr
    assert pgrst204_counts(prom.read_text()) == expected
    # A second run resumes at the end: nothing counted twice, nothing paged again.
    again = cli("watch", str(folder), "--once", "--state", str(tmp_path / "state"), "--metrics-file", str(prom))
    assert again.returncode == 0, again.stderr
    assert pgrst204_counts(prom.read_text()) == expected
    assert "alert:" not in again.stderr


def test_alertmanager_webhook_shape(tmp_path: Path, receiver: Receiver) -> None:
    folder = ROOT / "sample_logs" / "stale-cache"
    done = cli("watch", str(folder), "--once", "--state", str(tmp_path), "--notify", receiver.url + "/hook")
    assert done.returncode == 0, done.stderr
    bodies = [r.json() for r in receiver.delivered()]
    assert bodies and all(b["version"] == "4" for b in bodies)
    bodies = [b for b in bodies if b["alerts"][0]["labels"]["alertname"] == "PGRST204"]
    assert bodies and all(b["status"] == "firing" for b in bodies)
    alert = bodies[0]["alerts"][0]
    assert alert["labels"] == {
        "alertname": "PGRST204", "schema": "public", "table": "members",
        "column": "telegram_handle", "verdict": alert["labels"]["verdict"],
    }
    assert alert["fingerprint"] == fingerprint("public", "members", "telegram_handle")
    assert {b["alerts"][0]["fingerprint"] for b in bodies} == {alert["fingerprint"]}
    assert alert["endsAt"] == "0001-01-01T00:00:00Z"
    assert alert["annotations"]["next_command"] == "pgrst-runbook run --table members --column telegram_handle"
    assert set(alert["annotations"]) >= {"summary", "description", "next_step"}
    # The last message carries the final verdict: the logs prove a stale cache.
    assert bodies[-1]["alerts"][0]["labels"]["verdict"] == "stale_cache"


def test_pagerduty_and_slack_shapes(tmp_path: Path, receiver: Receiver) -> None:
    folder = ROOT / "sample_logs" / "mypoolr"
    done = cli(
        "watch", str(folder), "--once", "--state", str(tmp_path),
        "--notify", f"pagerduty+http://{KEY}@127.0.0.1:{receiver.port}",
        "--notify", f"slack+http://127.0.0.1:{receiver.port}/services/T0/B0/SLACKSECRET",
    )
    assert done.returncode == 0, done.stderr
    assert KEY not in done.stderr and "SLACKSECRET" not in done.stderr
    pd = [r.json() for r in receiver.delivered() if r.path == "/v2/enqueue"]
    slack = [r.json() for r in receiver.delivered() if r.path.startswith("/services/")]
    assert pd and slack
    event = pd[0]
    assert event["routing_key"] == KEY and event["event_action"] == "trigger"
    assert event["dedup_key"] == "pgrst204:public.mypoolr.adminname"
    assert event["payload"]["severity"] in ("critical", "error", "warning", "info")
    assert event["payload"]["source"] and event["payload"]["summary"].startswith("PGRST204 on mypoolr.adminname")
    details = event["payload"]["custom_details"]
    assert details["count"] == 27 and details["next_command"].endswith("--table mypoolr --column adminname")
    assert isinstance(slack[0]["text"], str) and slack[0]["blocks"][0]["type"] == "section"


def test_exec_sink_gets_the_alert_json(tmp_path: Path) -> None:
    out = tmp_path / "alerts.jsonl"
    folder = ROOT / "sample_logs" / "supabase-export"
    done = cli("watch", str(folder), "--once", "--state", str(tmp_path / "s"), "--notify", f"exec:sh -c 'cat >> {out}; echo >> {out}'")
    assert done.returncode == 0, done.stderr
    alerts = [json.loads(line) for line in out.read_text().splitlines() if line.strip()]
    assert alerts and alerts[0]["status"] == "firing" and alerts[0]["table"] == "patients"


def test_sink_down_then_up_still_gets_the_alert(tmp_path: Path, receiver: Receiver) -> None:
    receiver.responses = [(503, {"Retry-After": "0"}), (503, {}), (429, {"Retry-After": "1"})]
    folder = ROOT / "sample_logs" / "mypoolr"
    done = cli("watch", str(folder), "--once", "--state", str(tmp_path), "--notify", receiver.url + "/hook")
    assert done.returncode == 0, done.stderr
    delivered = receiver.delivered()
    assert delivered, "the alert arrived once the sink was back"
    assert receiver.attempts == len(delivered) + 3
    ids = [(r.json()["alerts"][0]["fingerprint"], r.json()["alerts"][0]["annotations"]["summary"]) for r in delivered]
    assert len(set(ids)) == len(ids), "no message delivered twice"


def test_sink_that_never_answers_keeps_the_alert_queued(tmp_path: Path, receiver: Receiver) -> None:
    url = receiver.url + "/hook"
    receiver.server.shutdown()
    receiver.server.server_close()
    folder = ROOT / "sample_logs" / "mypoolr"
    done = cli("watch", str(folder), "--once", "--state", str(tmp_path), "--notify", url, timeout=180)
    assert done.returncode == 4
    assert list((tmp_path / "outbox").rglob("*.json")), "the alert waits on disk for the next run"


def test_test_notify(receiver: Receiver) -> None:
    ok = cli("watch", "-", "--test-notify", "--notify", receiver.url + "/hook")
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert receiver.delivered()[0].json()["alerts"][0]["labels"]["alertname"] == "PGRST204"
    down = cli("watch", "-", "--test-notify", "--notify", "http://127.0.0.1:9/hook")
    assert down.returncode == 4


@pytest.mark.skipif(
    shutil.which("promtool") is None and not os.environ.get("CI"),  # CI installs it: never skipped
    reason="promtool (Debian's prometheus package) not installed",
)
def test_promtool_accepts_the_exposition(tmp_path: Path) -> None:
    prom = tmp_path / "watch.prom"
    done = cli("watch", str(ROOT / "sample_logs"), "--once", "--state", str(tmp_path / "s"), "--metrics-file", str(prom))
    assert done.returncode == 0, done.stderr
    check = subprocess.run(["promtool", "check", "metrics"], input=prom.read_text(), capture_output=True, text=True, check=False)
    assert check.returncode == 0, check.stdout + check.stderr


def test_sinks_from_the_environment(tmp_path: Path, receiver: Receiver) -> None:
    done = cli(
        "watch", str(ROOT / "sample_logs" / "mypoolr"), "--once", "--state", str(tmp_path),
        env={"PGRST_RUNBOOK_NOTIFY": f"pagerduty+http://{KEY}@127.0.0.1:{receiver.port}"},
    )
    assert done.returncode == 0, done.stderr
    assert KEY not in done.stderr
    keys = {r.json()["routing_key"] for r in receiver.delivered()}
    assert keys == {KEY}
