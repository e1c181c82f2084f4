"""`watch --auto-reload`: a stale cache proven by the database and the API is reloaded (journalled,
verified) and the alert says so; a client mismatch never is; one target is reloaded at most once
per interval, also across restarts."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from runbook.watch.auto_reload import LEDGER_FILE, ReloadLedger
from tests.runbook.conftest import execute, journal_entries, post_json
from tests.support.state import isolate_state
from tests.watch.conftest import Receiver, append, cli, pgrst204_line, wait_for


@pytest.fixture
def journals(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The journal folder the watch children write to (XDG state under tmp_path)."""
    return isolate_state(tmp_path, monkeypatch)


def _alerts(receiver: Receiver) -> list[dict]:
    return [a for r in receiver.delivered() for a in r.json()["alerts"]]


def _reloads(journals: Path, status: str = "sent") -> list[dict]:
    if not journals.exists():
        return []
    return [e for e in journal_entries(journals) if e["step"] == "reload" and e["status"] == status]


def _watch(log: Path, state: Path, db_dsn: str, server, receiver: Receiver, *more: str):
    return cli("watch", str(log), "--once", "--state", str(state), "--auto-reload",
               "--dsn", db_dsn, "--api-url", server.url, "--admin-url", server.admin_url,
               "--notify", receiver.url + "/hook", *more)  # fmt: skip


def _stale_items(db_dsn: str, postgrest):
    execute(db_dsn, "CREATE TABLE items (id serial PRIMARY KEY, name text)")
    server = postgrest(db_dsn)
    server.wait_for_load_count(1)
    execute(db_dsn, "ALTER TABLE items ADD COLUMN note text")
    assert post_json(server.url, "items", {"name": "a", "note": "x"}).json()["code"] == "PGRST204"
    return server


def test_a_proven_stale_cache_is_reloaded_once_verified_and_the_alert_says_so(
    tmp_path: Path, receiver: Receiver, db_dsn: str, postgrest, journals: Path
) -> None:
    server = _stale_items(db_dsn, postgrest)
    log = tmp_path / "app.log"
    log.write_text(pgrst204_line("items", "note", 1))

    done = _watch(log, tmp_path / "watch", db_dsn, server, receiver)

    assert done.returncode == 0, done.stderr
    alerts = _alerts(receiver)
    assert "auto_reload" not in alerts[0]["annotations"]  # the first page goes out at once
    last = alerts[-1]
    assert last["labels"]["verdict"] == "stale_cache"
    assert last["annotations"]["auto_reload"].startswith("auto-reloaded, verified")
    assert "auto-reloaded, verified" in last["annotations"]["summary"]
    assert "note" in server.cache_columns("items")
    assert post_json(server.url, "items", {"name": "b", "note": "y"}).status_code == 201
    # Journalled like a manual run: inspect, diagnose, the reload (intent, sent), verify.
    steps = [(e["step"], e["status"]) for e in journal_entries(journals)]
    assert ("diagnose", "ok") in steps and ("verify", "ok") in steps
    assert len(_reloads(journals)) == 1
    assert (tmp_path / "watch" / LEDGER_FILE).is_file()


def test_a_client_mismatch_is_never_reloaded(
    tmp_path: Path, receiver: Receiver, db_dsn: str, postgrest, journals: Path
) -> None:
    execute(db_dsn, "CREATE TABLE items (id serial PRIMARY KEY, name text, note text)")
    server = postgrest(db_dsn)
    server.wait_for_load_count(1)
    log = tmp_path / "app.log"
    log.write_text(pgrst204_line("items", "nots", 1))

    done = _watch(log, tmp_path / "watch", db_dsn, server, receiver)

    assert done.returncode == 0, done.stderr
    last = _alerts(receiver)[-1]
    assert last["labels"]["verdict"] == "client_mismatch"
    assert last["annotations"]["checked_by"] == "servers"
    assert "auto-reloaded" not in last["annotations"].get("auto_reload", "")
    assert _reloads(journals) == []
    assert server.load_count() == 1  # no reload reached PostgREST


def test_a_stale_cache_with_no_listener_is_left_for_a_person(
    tmp_path: Path, receiver: Receiver, db_dsn: str, postgrest, journals: Path
) -> None:
    execute(db_dsn, "CREATE TABLE items (id serial PRIMARY KEY, name text)")
    server = postgrest(db_dsn, listener=False)
    server.wait_for_load_count(1)
    execute(db_dsn, "ALTER TABLE items ADD COLUMN note text")
    log = tmp_path / "app.log"
    log.write_text(pgrst204_line("items", "note", 1))

    done = _watch(log, tmp_path / "watch", db_dsn, server, receiver)

    assert done.returncode == 0, done.stderr
    last = _alerts(receiver)[-1]
    assert last["labels"]["verdict"] == "reload_not_applied"  # a NOTIFY would not land
    assert "auto-reloaded" not in last["annotations"].get("auto_reload", "")
    assert _reloads(journals) == []
    assert server.load_count() == 1


def test_a_second_stale_incident_within_the_interval_is_not_reloaded_again_after_a_restart(
    tmp_path: Path, receiver: Receiver, db_dsn: str, postgrest, journals: Path
) -> None:
    server = _stale_items(db_dsn, postgrest)
    log, state = tmp_path / "app.log", tmp_path / "watch"
    log.write_text(pgrst204_line("items", "note", 1))
    first = _watch(log, state, db_dsn, server, receiver, "--resolve-after", "1s")
    assert first.returncode == 0, first.stderr
    assert _alerts(receiver)[-1]["annotations"]["auto_reload"].startswith("auto-reloaded, verified")
    loads = server.wait_for_load_count(2)
    ended = time.time()

    # The incident goes quiet and resolves in a second run.
    wait_for(lambda: time.time() - ended > 1.5, what="the quiet period")
    second = _watch(log, state, db_dsn, server, receiver, "--resolve-after", "1s")
    assert second.returncode == 0, second.stderr
    assert _alerts(receiver)[-1]["status"] == "resolved"

    # The cache goes stale on the same column again: a new incident, in a third run.
    execute(db_dsn, "ALTER TABLE items DROP COLUMN note")
    execute(db_dsn, "NOTIFY pgrst, 'reload schema'")
    loads = server.wait_for_load_count(loads + 1)
    execute(db_dsn, "ALTER TABLE items ADD COLUMN note text")
    assert post_json(server.url, "items", {"name": "c", "note": "z"}).json()["code"] == "PGRST204"
    append(log, pgrst204_line("items", "note", 120))
    third = _watch(log, state, db_dsn, server, receiver, "--resolve-after", "1s")

    assert third.returncode == 0, third.stderr
    last = _alerts(receiver)[-1]
    assert last["status"] == "firing" and last["labels"]["verdict"] == "stale_cache"
    assert last["annotations"]["auto_reload"].startswith("not auto-reloaded")
    assert "interval" in last["annotations"]["auto_reload"]
    assert "not auto-reloaded" in last["annotations"]["summary"]
    assert len(_reloads(journals)) == 1
    assert server.load_count() == loads
    assert "note" not in server.cache_columns("items")


def test_auto_reload_needs_the_api_to_prove_a_stale_cache(tmp_path: Path) -> None:
    log = tmp_path / "app.log"
    log.write_text(pgrst204_line("items", "note", 1))
    done = cli("watch", str(log), "--once", "--auto-reload", "--state", str(tmp_path / "s"),
               "--dsn", "postgresql://u@127.0.0.1:1/app")  # fmt: skip
    assert done.returncode == 2
    assert "--auto-reload needs the API" in done.stderr


def test_the_ledger_holds_a_target_for_the_interval_across_instances(tmp_path: Path) -> None:
    ledger = ReloadLedger(tmp_path, interval=600)
    assert ledger.claim("k", "public.items.note", 1000.0) is None
    assert ledger.claim("k", "public.items.note", 1300.0) == 1000.0  # held, nothing recorded
    again = ReloadLedger(tmp_path, interval=600)  # a restart
    assert again.last("k") == 1000.0
    assert again.claim("k", "public.items.note", 1599.0) == 1000.0
    assert again.claim("other", "public.items.name", 1300.0) is None  # per target
    assert again.claim("k", "public.items.note", 1600.0) is None  # the interval has passed


def test_an_unreadable_ledger_holds_every_target_for_the_interval(tmp_path: Path) -> None:
    (tmp_path / LEDGER_FILE).write_text("{not json")
    ledger = ReloadLedger(tmp_path, interval=600)
    assert ledger.unreadable
    now = time.time()
    assert ledger.claim("k", "public.items.note", now) is not None
    assert ledger.claim("k", "public.items.note", now + 601) is None


def test_a_manual_reload_method_is_never_auto_reloaded(tmp_path: Path, journals: Path) -> None:
    from runbook.config import Settings
    from runbook.evidence import Target
    from runbook.watch.auto_reload import REFUSED, AutoReloader
    from runbook.watch.servers import ServerVerdict

    def stale(target, settings, logs) -> ServerVerdict:
        return ServerVerdict("stale_cache", "confirmed", "stale")

    reloader = AutoReloader(ReloadLedger(tmp_path), inspect=stale)
    answer = reloader(Target("items", "note"), Settings(reload_method="manual"), None)
    assert answer.verdict == "stale_cache"
    assert answer.auto_reload is not None and answer.auto_reload.outcome == REFUSED
    assert "manual" in answer.auto_reload.describe()
    assert not journals.exists() and not (tmp_path / LEDGER_FILE).exists()
