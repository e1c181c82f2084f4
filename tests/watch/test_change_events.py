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
