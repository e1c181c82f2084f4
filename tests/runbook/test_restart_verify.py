"""`run --resume` after PostgREST was restarted (the advice when a reload is not applied).

The restart is real: the PostgREST-compatible test server is stopped and started again on the
same ports. Its load counter starts from zero, so the counter read before the reload says
nothing any more; the cache, which the new process loaded at start, decides.
"""

from __future__ import annotations

import pytest

from tests.runbook.conftest import execute, post_json, run_cli


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
