"""Failed schema cache loads alert (and resolve on the next confirmed load); PGRST204 that goes
on after a confirmed load alerts on its own: the cache is not what misses the column."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import polars as pl

from runbook.events import EVENT_SCHEMA
from runbook.watch.reload_path import ReloadPath
from tests.watch.conftest import Receiver, cli

T0 = datetime(2026, 11, 18, 9, 0, tzinfo=UTC)
FAILED = (
    "Failed to load the schema cache using db-schemas=public and db-extra-search-path=public. "
    '{"code":"57014","details":null,"hint":null,"message":"canceling statement due to statement timeout"}'
)


def stderr(second: int, message: str) -> str:
    """A PostgREST stderr line (prefix `%d/%b/%Y:%T %z: `) `second`s after 09:15:00."""
    moment = datetime(2026, 11, 18, 9, 15, tzinfo=UTC) + timedelta(seconds=second)
    return f"{moment.strftime('%d/%b/%Y:%H:%M:%S +0000')}: {message}\n"


def failure(second: int) -> str:
    """A failed write as supabase-py logs it (python logging), `second`s after 09:15:00."""
    moment = datetime(2026, 11, 18, 9, 15) + timedelta(seconds=second)
    return (
        f"{moment.strftime('%Y-%m-%d %H:%M:%S')},000 ERROR app.handlers: insert failed for request "
        f"{second}: {{'code': 'PGRST204', 'details': None, 'hint': None, "
        "'message': \"Could not find the 'nickname' column of 'members' in the schema cache\"}\n"
    )


def _alerts(receiver: Receiver) -> list[dict]:
    return [a for r in receiver.delivered() for a in r.json()["alerts"]]


def _rows(*rows: tuple[float, str]) -> pl.DataFrame:
    data = [{**dict.fromkeys(EVENT_SCHEMA), "ts": T0 + timedelta(seconds=s), "kind": k} for s, k in rows]
    return pl.DataFrame(data, schema=EVENT_SCHEMA)


def test_failing_is_the_first_failure_since_the_last_good_load() -> None:
    path = ReloadPath()
    path.add(_rows((0, "cache_load"), (10, "cache_load_failed"), (20, "cache_load_failed")))
    failing = path.failing()
    assert failing is not None and failing.ts == T0 + timedelta(seconds=10)
    path.add(_rows((30, "cache_load")))
    assert path.failing() is None
    path.add(_rows((40, "cache_load_failed")))
    failing = path.failing()
    assert failing is not None and failing.ts == T0 + timedelta(seconds=40)


def test_a_failed_load_alerts_with_its_cause_and_resolves_on_the_next_load(tmp_path: Path, receiver: Receiver) -> None:
    log = tmp_path / "postgrest.log"
    log.write_text(stderr(0, "Starting PostgREST 16.2...") + stderr(1, "Schema cache loaded 3 Relations, 0 Relationships, 0 RPCs, 0 Domain Representations, 4 Media Type Handlers")
                   + stderr(60, FAILED))
    state = tmp_path / "state"
    done = cli("watch", str(log), "--once", "--state", str(state), "--notify", receiver.url + "/hook")
    assert done.returncode == 0, done.stderr
    fired = [a for a in _alerts(receiver) if a["labels"]["alertname"] == "SchemaCacheLoadFailed"]
    assert len(fired) == 1 and fired[0]["status"] == "firing"
    assert "canceling statement due to statement timeout" in fired[0]["annotations"]["summary"]
    assert fired[0]["labels"]["verdict"] == "cache_load_failed"

    with open(log, "a") as fh:  # the retry succeeds
        fh.write(stderr(90, "Schema cache loaded 3 Relations, 0 Relationships, 0 RPCs, 0 Domain Representations, 4 Media Type Handlers"))
    done = cli("watch", str(log), "--once", "--state", str(state), "--notify", receiver.url + "/hook")
    assert done.returncode == 0, done.stderr
    told = [a for a in _alerts(receiver) if a["labels"]["alertname"] == "SchemaCacheLoadFailed"]
    assert [a["status"] for a in told] == ["firing", "resolved"]
    assert told[0]["fingerprint"] == told[1]["fingerprint"]


def test_pgrst204_after_a_confirmed_load_alerts_once(tmp_path: Path, receiver: Receiver) -> None:
    (tmp_path / "postgrest.log").write_text(
        stderr(0, "Starting PostgREST 16.2...")
        + stderr(30, 'Received a schema cache reload message on the "pgrst" channel')
        + stderr(31, "Schema cache loaded 3 Relations, 0 Relationships, 0 RPCs, 0 Domain Representations, 4 Media Type Handlers")
    )
    (tmp_path / "app.log").write_text("".join(failure(s) for s in (5, 10, 40, 50, 70)))
    done = cli("watch", str(tmp_path / "postgrest.log"), str(tmp_path / "app.log"), "--once",
               "--state", str(tmp_path / "state"), "--notify", receiver.url + "/hook")  # fmt: skip
    assert done.returncode == 0, done.stderr
    after = [a for a in _alerts(receiver) if a["labels"]["alertname"] == "PGRST204AfterSchemaReload"]
    assert len(after) == 1
    assert after[0]["labels"]["table"] == "members" and after[0]["labels"]["column"] == "nickname"
    assert "09:15:31" in after[0]["annotations"]["summary"]
    assert "not the cause" in after[0]["annotations"]["description"]


def test_pgrst204_that_stops_with_the_load_does_not_alert_after_load(tmp_path: Path, receiver: Receiver) -> None:
    (tmp_path / "postgrest.log").write_text(
        stderr(0, "Starting PostgREST 16.2...")
        + stderr(31, "Schema cache loaded 3 Relations, 0 Relationships, 0 RPCs, 0 Domain Representations, 4 Media Type Handlers")
    )
    (tmp_path / "app.log").write_text("".join(failure(s) for s in (5, 10, 20)))
    done = cli("watch", str(tmp_path / "postgrest.log"), str(tmp_path / "app.log"), "--once",
               "--state", str(tmp_path / "state"), "--notify", receiver.url + "/hook")  # fmt: skip
    assert done.returncode == 0, done.stderr
    names = {a["labels"]["alertname"] for a in _alerts(receiver)}
    assert "PGRST204" in names and "PGRST204AfterSchemaReload" not in names


def test_the_reload_path_survives_a_restart(tmp_path: Path, receiver: Receiver) -> None:
    log = tmp_path / "postgrest.log"
    log.write_text(stderr(0, "Starting PostgREST 16.2...")
                   + stderr(10, 'Received a schema cache reload message on the "pgrst" channel'))
    args = ("watch", str(log), "--once", "--state", str(tmp_path / "state"), "--notify", receiver.url + "/hook")
    done = cli(*args)
    assert done.returncode == 0, done.stderr
    assert receiver.delivered() == []  # the deadline has not passed in log time yet
    with open(log, "a") as fh:  # the restarted run reads only this line, past the deadline
        fh.write(stderr(200, "Config reloaded"))
    done = cli(*args)
    assert done.returncode == 0, done.stderr
    late = [a for a in _alerts(receiver) if a["labels"]["alertname"] == "ReloadNotApplied"]
    assert len(late) == 1 and "reload request" in late[0]["annotations"]["summary"]
    with open(log, "a") as fh:
        fh.write(stderr(260, "Schema cache loaded 3 Relations, 0 Relationships, 0 RPCs, 0 Domain Representations, 4 Media Type Handlers"))
    done = cli(*args)
    assert done.returncode == 0, done.stderr
    late = [a for a in _alerts(receiver) if a["labels"]["alertname"] == "ReloadNotApplied"]
    assert [a["status"] for a in late] == ["firing", "resolved"]


def test_an_unreadable_saved_reload_path_starts_afresh(tmp_path: Path, receiver: Receiver) -> None:
    import json

    state = tmp_path / "state"
    state.mkdir()
    (state / "state.json").write_text(json.dumps({"version": 1, "reload_path": {"loads": ["not a time"]}}))
    log = tmp_path / "postgrest.log"
    log.write_text(stderr(0, "Starting PostgREST 16.2..."))
    done = cli("watch", str(log), "--once", "--state", str(state), "--notify", receiver.url + "/hook")
    assert done.returncode == 0, done.stderr
    assert "starting it afresh" in done.stderr


LOADED = "Schema cache loaded 3 Relations, 0 Relationships, 0 RPCs, 0 Domain Representations, 4 Media Type Handlers"


def test_after_load_compares_the_failures_times_with_the_loads_time(tmp_path: Path, receiver: Receiver) -> None:
    """A load counts against an episode of failures only when it came after the episode's
    first failure, and only failures stamped after it alert: a new episode that starts after
    the load which ended the last one is a stale cache again, not PGRST204 after a reload."""
    import time

    from tests.watch.conftest import append, wait_for

    pg, app = tmp_path / "postgrest.log", tmp_path / "app.log"
    pg.write_text(stderr(0, "Starting PostgREST 16.2...") + stderr(31, LOADED))
    app.write_text("".join(failure(s) for s in (5, 10, 20)))  # stops with the load
    base = ("watch", str(pg), str(app), "--once", "--state", str(tmp_path / "state"),
            "--notify", receiver.url + "/hook")  # fmt: skip
    args = (*base, "--resolve-after", "1s")

    def after_load() -> list[dict]:
        return [a for a in _alerts(receiver) if a["labels"]["alertname"] == "PGRST204AfterSchemaReload"]

    assert cli(*args).returncode == 0
    ended = time.time()
    wait_for(lambda: time.time() - ended > 1.5, what="the quiet period")
    assert cli(*args).returncode == 0  # the episode resolves
    assert [a["status"] for a in _alerts(receiver)][-1] == "resolved"

    args = (*base, "--resolve-after", "1h")  # the new episode stays open from here on
    append(app, "".join(failure(s) for s in (100, 110, 120)))  # a new migration, no reload yet
    done = cli(*args)
    assert done.returncode == 0, done.stderr
    assert _alerts(receiver)[-1]["status"] == "firing"
    assert after_load() == []  # the load at 09:15:31 came before this episode began

    append(pg, stderr(130, LOADED))
    append(app, failure(131))  # within the log clock's resolution of the load: not after it
    assert cli(*args).returncode == 0
    assert after_load() == []
    append(app, failure(140))  # stamped after the load: the cache is not the cause
    assert cli(*args).returncode == 0
    told = after_load()
    assert len(told) == 1 and "09:17:10" in told[0]["annotations"]["summary"]
