"""Logs written by the real postgrest-py against the PostgREST-compatible server, counted right.

The client is postgrest-py from PyPI (a test-only dependency); its failures are logged as
supabase-py's callers log them, through Python logging, with httpx's own `HTTP Request:` lines
on. The server writes PostgREST's access and stderr logs. The scan must count each request
once, from the server's side: writes and reads by table and status class, the failed inserts
as one incident, and a read of a missing column under `related`.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from postgrest import SyncPostgrestClient
from postgrest.exceptions import APIError

from runbook.ingest.scan import document, scan_paths

TABLE, COLUMN = "members", "telegram_handle"


@pytest.fixture
def client_log(tmp_path: Path) -> Iterator[tuple[Path, logging.Logger]]:
    """`app.log` written by the app's logger and by httpx (the client's own request lines)."""
    path = tmp_path / "logs" / "app.log"
    path.parent.mkdir()
    handler = logging.FileHandler(path, encoding="utf-8")
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    loggers = [logging.getLogger("members.api"), logging.getLogger("httpx")]
    for logger in loggers:
        logger.addHandler(handler)
        logger.setLevel(logging.INFO)
        logger.propagate = False
    try:
        yield path, loggers[0]
    finally:
        for logger in loggers:
            logger.removeHandler(handler)
            logger.propagate = True
        handler.close()


def failed(call: Callable[[], Any], log: logging.Logger) -> APIError:
    """Run a postgrest-py request that must fail, and log its error as an app would."""
    with pytest.raises(APIError) as caught:
        call()
    log.error("request failed: %s", caught.value)
    return caught.value


def wait_for_lines(path: Path, count: int) -> None:
    """The server writes its access line after the response: wait until all are there."""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if path.exists() and len(path.read_text().splitlines()) >= count:
            return
        time.sleep(0.05)
    raise AssertionError(f"{path.name} has not {count} lines: {path.read_text() if path.exists() else ''}")


def test_postgrest_py_requests_are_counted_once_from_the_server_side(
    db_dsn: str, postgrest: Any, client_log: tuple[Path, logging.Logger]
) -> None:
    with psycopg.connect(db_dsn, autocommit=True) as conn:
        conn.execute(f"CREATE TABLE {TABLE} (id int PRIMARY KEY, name text)")
    server = postgrest(db_dsn)
    app_log, log = client_log

    with SyncPostgrestClient(server.url) as client:
        members = lambda: client.from_(TABLE)  # noqa: E731
        for n in range(5):
            members().insert({"id": n, "name": f"m{n}"}).execute()  # POST 201
        for n in range(7):
            members().select("id,name").eq("id", n % 5).execute()  # GET 200
        members().select("*", count="exact", head=True).execute()  # HEAD 200
        members().update({"name": "renamed"}).eq("id", 1).execute()  # PATCH
        members().delete().eq("id", 4).execute()  # DELETE
        for n in range(3):  # PGRST204: the client sends a column the table does not have
            error = failed(lambda n=n: members().insert({"id": 10 + n, COLUMN: "@x"}).execute(), log)
            assert error.code == "PGRST204"
        error = failed(lambda: members().select(COLUMN).execute(), log)  # 42703, a read
        assert error.code == "42703"
        error = failed(lambda: members().insert({"id": 1, "name": "again"}).execute(), log)  # 23505
        assert error.code == "23505"

    requests = 5 + 7 + 1 + 1 + 1 + 3 + 1 + 1
    wait_for_lines(server.access_log, requests)
    wait_for_lines(app_log, 5 + requests)  # the 5 failures and httpx's line for every request
    folder = app_log.parent
    for log_file in (server.access_log, server.stderr_log):
        (folder / log_file.name).write_bytes(log_file.read_bytes())

    doc = document(scan_paths([str(folder)]))
    [members_writes] = doc["writes"]["tables"]
    assert members_writes["table"] == TABLE
    assert members_writes["by_method"] == {
        "DELETE": {"2xx": 1, "3xx": 0, "4xx": 0, "5xx": 0},
        "PATCH": {"2xx": 1, "3xx": 0, "4xx": 0, "5xx": 0},
        "POST": {"2xx": 5, "3xx": 0, "4xx": 4, "5xx": 0},  # 3 PGRST204 (400), the 23505 (409)
    }
    assert (members_writes["requests"], members_writes["status_400"]) == (11, 3)
    [members_reads] = doc["reads"]["tables"]
    assert members_reads["by_method"] == {
        "GET": {"2xx": 7, "3xx": 0, "4xx": 1, "5xx": 0},
        "HEAD": {"2xx": 1, "3xx": 0, "4xx": 0, "5xx": 0},
    }
    [incident] = doc["incidents"]
    assert (incident["table"], incident["column"], incident["count"]) == (TABLE, COLUMN, 3)
    assert incident["context"]["access_400s"] == 3
    assert incident["context"]["writes"]["status_400"] == 3
    related = {(r["code"], r["table"], r["column"]): r["count"] for r in doc["related"]}
    assert related[("42703", TABLE, COLUMN)] == 1
