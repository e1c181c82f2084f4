"""PagerDuty Change Events for migrations and confirmed cache loads (no page, no other sink)."""

from __future__ import annotations

from pathlib import Path

from tests.watch.conftest import ROOT, Receiver, cli

KEY = "C0FFEE0123456789abcdef0123456789"


def test_migrations_and_loads_become_change_events_once(tmp_path: Path, receiver: Receiver) -> None:
    args = ("watch", str(ROOT / "sample_logs" / "stale-cache"), "--once", "--state", str(tmp_path),
            "--notify", f"pagerduty+http://{KEY}@127.0.0.1:{receiver.port}",
            "--notify", receiver.url + "/hook")  # fmt: skip
    done = cli(*args)
    assert done.returncode == 0, done.stderr
    changes = [r.json() for r in receiver.delivered() if r.path == "/v2/change/enqueue"]
    summaries = [c["payload"]["summary"] for c in changes]
    assert any(s.startswith("Migration: ADD COLUMN members.telegram_handle") for s in summaries), summaries
    assert any("schema cache loaded" in s for s in summaries), summaries
    for change in changes:
        assert change["routing_key"] == KEY
        assert set(change) == {"routing_key", "payload"}  # no event_action: not a page
        assert change["payload"]["timestamp"].endswith("Z") and change["payload"]["source"]
    hooks = [r.json() for r in receiver.delivered() if r.path == "/hook"]
    assert hooks and all(a["labels"]["alertname"] not in ("SchemaMigration", "SchemaCacheLoaded")
                         for h in hooks for a in h["alerts"])
    assert KEY not in done.stderr
    before = len(receiver.delivered())
    again = cli(*args)
    assert again.returncode == 0, again.stderr
    assert len(receiver.delivered()) == before, "a restart sends no change twice"


def test_change_events_can_be_turned_off_per_pagerduty_sink(tmp_path: Path, receiver: Receiver) -> None:
    done = cli("watch", str(ROOT / "sample_logs" / "stale-cache"), "--once", "--state", str(tmp_path),
               "--notify", f"pagerduty+http://{KEY}@127.0.0.1:{receiver.port}?change_events=0")  # fmt: skip
    assert done.returncode == 0, done.stderr
    paths = {r.path for r in receiver.delivered()}
    assert paths == {"/v2/enqueue"}  # the pages still go; no Change Event
    assert KEY not in done.stderr


def test_a_misspelt_sink_option_is_a_usage_error_not_ignored(tmp_path: Path) -> None:
    for spec in (f"pagerduty://{KEY}?change_event=0", f"pagerduty://{KEY}?change_events=maybe"):
        done = cli("watch", "-", "--once", "--state", str(tmp_path), "--notify", spec)
        assert done.returncode == 2, done.stderr
        assert "change_events" in done.stderr and KEY not in done.stderr


def test_the_option_parses_and_is_no_secret() -> None:
    from runbook.commands.watch import sink_secrets
    from runbook.watch.sinks import parse_sink

    assert parse_sink(f"pagerduty://{KEY}").change_events
    off = parse_sink(f"pagerduty://{KEY}?change_events=off")
    assert not off.change_events and off.routing_key == KEY
    assert parse_sink(f"pagerduty+https://{KEY}@pd.example:8443?change_events=1").change_events
    assert sink_secrets(f"pagerduty://{KEY}?change_events=false") == [KEY]
