"""`run --resume` after PostgREST was restarted (the advice when a reload is not applied).

The restart is real: the PostgREST-compatible test server is stopped and started again on the
same ports. Its load counter starts from zero, so the counter read before the reload says
nothing any more; the cache, which the new process loaded at start, decides.
"""

from __future__ import annotations

import pytest

from runbook.servers.api import Metrics
from runbook.steps.verify import verify_fix
from tests.runbook.conftest import execute, post_json, run_cli
from tests.runbook.test_verify import TARGET, Clock, FakeClient


@pytest.fixture
def stale_after_two_loads(db_dsn: str, postgrest):
    """A server that loaded its cache twice, then `ALTER TABLE items ADD COLUMN note`."""
    execute(db_dsn, "CREATE TABLE items (id serial PRIMARY KEY, name text)")
    server = postgrest(db_dsn)
    server.wait_for_load_count(1)
    server.reload_signal()
    server.wait_for_load_count(2)
    execute(db_dsn, "ALTER TABLE items ADD COLUMN note text")
    assert post_json(server.url, "items", {"name": "a", "note": "x"}).json()["code"] == "PGRST204"
    return db_dsn, server


def _flags(dsn: str, server) -> list[str]:
    return ["--dsn", dsn, "--api-url", server.url, "--admin-url", server.admin_url]


def test_resume_after_a_restart_trusts_the_cache_not_the_reset_counter(
    stale_after_two_loads, capsys, monkeypatch
) -> None:
    dsn, server = stale_after_two_loads
    first = run_cli(
        capsys, monkeypatch,
        "run", "--table", "items", "--column", "note", *_flags(dsn, server),
        "--reload-method", "manual", "--json",
    )  # fmt: skip
    assert first.code == 5, first.err
    session = first.json()["session"]

    old_pid = server.pid
    server.restart()
    assert server.pid != old_pid
    server.wait_for_load_count(1)
    assert "note" in server.cache_columns("items")
    assert server.load_count() < 2  # the counter really reset

    resumed = run_cli(
        capsys, monkeypatch, "run", "--resume", session, *_flags(dsn, server),
        "--verify-deadline", "10", "--json",
    )  # fmt: skip
    assert resumed.code == 0, resumed.out + resumed.err
    out = resumed.json()
    assert out["fixed"] is True and out["verdict"] == "stale_cache"
    checks = {e["check"]: e for e in out["evidence"] if e["source"] == "verify"}
    assert checks["cache has column"]["fact"] is True
    assert checks["reload counter moved"]["fact"] is None
    assert "restarted" in checks["reload counter moved"]["detail"]
    assert post_json(server.url, "items", {"name": "b", "note": "y"}).status_code == 201


def test_a_cache_still_without_the_column_after_a_restart_is_not_fixed(
    stale_after_two_loads, capsys, monkeypatch
) -> None:
    dsn, server = stale_after_two_loads
    first = run_cli(
        capsys, monkeypatch,
        "run", "--table", "items", "--column", "note", *_flags(dsn, server),
        "--reload-method", "manual", "--json",
    )  # fmt: skip
    session = first.json()["session"]
    execute(dsn, "ALTER TABLE items RENAME COLUMN note TO remark")  # gone before the restart
    server.restart()
    server.wait_for_load_count(1)

    resumed = run_cli(
        capsys, monkeypatch, "run", "--resume", session, *_flags(dsn, server),
        "--verify-deadline", "2", "--json",
    )  # fmt: skip
    assert resumed.code != 0
    assert resumed.json()["fixed"] is False


def test_a_restart_that_counted_as_many_loads_is_seen_by_the_sessions_start(
    db_dsn: str, postgrest, capsys, monkeypatch
) -> None:
    """Before the reload the counter read 1; the restarted process counts 1 again. Only its
    database sessions, all newer than the reload, tell the restart."""
    execute(db_dsn, "CREATE TABLE items (id serial PRIMARY KEY, name text)")
    server = postgrest(db_dsn)
    server.wait_for_load_count(1)
    execute(db_dsn, "ALTER TABLE items ADD COLUMN note text")
    first = run_cli(
        capsys, monkeypatch,
        "run", "--table", "items", "--column", "note", *_flags(db_dsn, server),
        "--reload-method", "manual", "--json",
    )  # fmt: skip
    assert first.code == 5, first.err
    server.restart()
    server.wait_for_load_count(1)
    assert server.load_count() == 1

    resumed = run_cli(
        capsys, monkeypatch, "run", "--resume", first.json()["session"], *_flags(db_dsn, server),
        "--verify-deadline", "15", "--json",
    )  # fmt: skip
    assert resumed.code == 0, resumed.out + resumed.err
    checks = {e["check"]: e for e in resumed.json()["evidence"] if e["source"] == "verify"}
    assert checks["cache has column"]["fact"] is True
    assert "sessions all started after the reload" in checks["reload counter moved"]["detail"]



class _CachedColumnNoReload(FakeClient):
    """The cache lists the column, and the counter reads what it read before the reload."""

    def metrics(self) -> Metrics:
        return Metrics({("pgrst_schema_cache_loads_total", (("status", "SUCCESS"),)): self.loads})


def test_without_a_restart_an_unmoved_counter_still_fails() -> None:
    asked: list[bool] = []

    def no_restart() -> bool:
        asked.append(True)
        return False

    clock = Clock()
    result = verify_fix(
        _CachedColumnNoReload(0), TARGET, loads_before=1, deadline=3,
        sleep=clock.sleep, clock=clock, restart_seen=no_restart,
    )  # fmt: skip
    assert asked  # asked, and the answer is no
    assert not result.verified
    counter = result.check("reload counter moved")
    assert counter is not None and counter.status == "failed"


def test_a_restart_seen_lets_the_cache_decide() -> None:
    clock = Clock()
    result = verify_fix(
        _CachedColumnNoReload(0), TARGET, loads_before=1, deadline=3,
        sleep=clock.sleep, clock=clock, restart_seen=lambda: True,
    )  # fmt: skip
    assert result.verified
    counter = result.check("reload counter moved")
    assert counter is not None and counter.status == "not_checked"
    assert "restarted" in counter.detail
