"""Drills: `watch --replay PATH --speed N` pages through the real sinks from recorded logs, and
every message says it is a drill, with identities that never touch a real page."""

from __future__ import annotations

import re
import time
from pathlib import Path

import pytest

from runbook.watch.alerts import fingerprint
from tests.support.state import isolate_state
from tests.watch.conftest import ROOT, Receiver, cli

KEY = "D0D0D00123456789abcdef0123456789"


def test_a_drill_pages_end_to_end_and_every_message_says_drill(
    tmp_path: Path, receiver: Receiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    isolate_state(tmp_path, monkeypatch)
    started = time.monotonic()
    done = cli("watch", "--replay", str(ROOT / "sample_logs" / "stale-cache"), "--speed", "6000",
               "--resolve-after", "5m",
               "--notify", receiver.url + "/hook",
               "--notify", f"pagerduty+http://{KEY}@127.0.0.1:{receiver.port}")  # fmt: skip
    elapsed = time.monotonic() - started

    assert done.returncode == 0, done.stderr
    assert elapsed < 60  # half an hour of recorded logs, rehearsed in seconds
    hooks = [a for r in receiver.delivered() if r.path == "/hook" for a in r.json()["alerts"]]
    assert hooks
    for alert in hooks:
        assert alert["labels"]["drill"] == "true"
        assert "drill" in alert["annotations"]
        assert alert["annotations"]["summary"].startswith("[drill] ")
    page = [a for a in hooks if a["labels"]["alertname"] == "PGRST204"]
    assert [a["status"] for a in page][0] == "firing" and page[-1]["status"] == "resolved"
    assert page[0]["labels"]["table"] == "members" and page[0]["labels"]["column"] == "telegram_handle"
    assert page[0]["fingerprint"] != fingerprint("public", "members", "telegram_handle")

    events = [r.json() for r in receiver.delivered() if r.path == "/v2/enqueue"]
    assert events and all(e["dedup_key"].startswith("drill-") for e in events)
    keys = {e["dedup_key"] for e in events if ":pgrst204:" in e["dedup_key"]}
    assert len(keys) == 1  # one incident, one key for the whole drill
    assert {e["event_action"] for e in events} >= {"trigger", "resolve"}
    triggers = [e for e in events if e["event_action"] == "trigger"]
    assert all(e["payload"]["custom_details"]["drill"] is True for e in triggers)
    changes = [r.json() for r in receiver.delivered() if r.path == "/v2/change/enqueue"]
    assert changes and all(c["payload"]["custom_details"]["drill"] is True for c in changes)
    assert all(c["payload"]["summary"].startswith("[drill] ") for c in changes)
    # A drill keeps no state where the real watcher keeps its own.
    assert not (tmp_path / "state" / "pgrst-runbook" / "watch").exists()


def test_a_drill_never_asks_the_servers_or_reloads(tmp_path: Path) -> None:
    sample = str(ROOT / "sample_logs" / "stale-cache")
    done = cli("watch", "--replay", sample, "--auto-reload", "--api-url", "http://127.0.0.1:1")
    assert done.returncode == 2 and "never reloads" in done.stderr
    done = cli("watch", "--replay", "-")
    assert done.returncode == 2 and "not stdin" in done.stderr


def test_drill_and_auto_reload_options_alone_are_usage_errors(tmp_path: Path) -> None:
    log = tmp_path / "app.log"
    log.write_text("")
    for flags, needs in ((("--speed", "60"), "--replay"), (("--max-gap", "1m"), "--replay"),
                         (("--auto-reload-interval", "5m"), "--auto-reload")):  # fmt: skip
        done = cli("watch", str(log), "--once", "--state", str(tmp_path / "s"), *flags)
        assert done.returncode == 2 and f"used only with {needs}" in done.stderr


def test_a_drill_never_uses_a_real_watchers_state(tmp_path: Path, receiver: Receiver) -> None:
    sample = str(ROOT / "sample_logs" / "stale-cache")
    real = tmp_path / "real"
    assert cli("watch", sample, "--once", "--state", str(real), "--notify", receiver.url).returncode == 0
    done = cli("watch", "--replay", sample, "--speed", "6000", "--state", str(real), "--notify", receiver.url)
    assert done.returncode == 2 and "keeps its state apart" in done.stderr
    drills = tmp_path / "drills"
    fingerprints = []
    for _ in range(2):  # a drill's own folder serves the next drill, which starts afresh
        before = len(receiver.delivered())
        done = cli("watch", "--replay", sample, "--speed", "6000", "--resolve-after", "1m",
                   "--state", str(drills), "--notify", receiver.url)  # fmt: skip
        assert done.returncode == 0, done.stderr
        alerts = [a for r in receiver.delivered()[before:] for a in r.json()["alerts"]]
        page = [a for a in alerts if a["labels"]["alertname"] == "PGRST204"]
        counts = [int(re.search(r"telegram_handle: (\d+) failed", a["annotations"]["summary"]).group(1)) for a in page]
        assert max(counts) == 32  # the recording's 32 failures, not added to the last drill's
        fingerprints.append(page[0]["fingerprint"])
    assert fingerprints[0] != fingerprints[1]  # each drill is its own rehearsal
