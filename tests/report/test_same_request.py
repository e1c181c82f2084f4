"""One failed write seen by the client and by PostgREST is one request.

The client log is written by Python's `logging` with httpx's own logger (the `HTTP Request:` line
postgrest-py and supabase-py print through httpx) and an `APIError` raised the way postgrest-py
raises it (`Exception.__init__` with the str of the error body). The access log uses PostgREST
v13+'s template (reference/postgrest.md 2.1), written when the response leaves, in whole seconds.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from runbook.ingest.scan import document, scan_paths
from runbook.report.incident_report import build_report, render_report

TABLE, COLUMN = "members", "telegram_handle"
BODY = {
    "code": "PGRST204",
    "details": None,
    "hint": None,
    "message": f"Could not find the '{COLUMN}' column of '{TABLE}' in the schema cache",
}
SIZE = 113 + len(COLUMN) + len(TABLE)  # reference/postgrest.md 2.2: the PGRST204 body's length
START = datetime(2026, 11, 22, 10, 0, 0, 400000, tzinfo=UTC)


class APIError(Exception):
    """As postgrest-py's `postgrest.exceptions.APIError`: the text is the str of the body dict."""

    __module__ = "postgrest.exceptions"

    def __init__(self, error: dict[str, object]) -> None:
        Exception.__init__(self, str(error))


class Clock(logging.Filter):
    """Stamps records with a test clock instead of the wall clock (no sleeps)."""

    def __init__(self) -> None:
        super().__init__()
        self.now = START

    def filter(self, record: logging.LogRecord) -> bool:
        record.created = self.now.timestamp()
        record.msecs = self.now.microsecond // 1000
        return True


@pytest.fixture
def client_log(tmp_path: Path) -> Iterator[tuple[Path, Clock]]:
    path = tmp_path / "api.log"
    handler = logging.FileHandler(path, encoding="utf-8")
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    formatter = handler.formatter
    assert formatter is not None
    formatter.converter = lambda secs: datetime.fromtimestamp(secs or 0, UTC).timetuple()
    clock = Clock()
    handler.addFilter(clock)
    loggers = [logging.getLogger("httpx"), logging.getLogger("members.api")]
    for logger in loggers:
        logger.addHandler(handler)
        logger.setLevel(logging.INFO)
    yield path, clock
    for logger in loggers:
        logger.removeHandler(handler)
    handler.close()


def access_line(ts: datetime, method: str, path: str, status: int, size: int, agent: str) -> str:
    stamp = ts.strftime("%d/%b/%Y:%H:%M:%S +0000")
    return f'127.0.0.1 - web_anon [{stamp}] "{method} {path} HTTP/1.1" {status} {size} "" "{agent}"'


def write_incident(tmp_path: Path, client_log: tuple[Path, Clock]) -> tuple[int, int]:
    """6 inserts through httpx that fail (client and access lines) and 2 that succeed, 37 s
    apart; 3 failing writes of another client that logs nothing. Returns (failed writes,
    client failures)."""
    _, clock = client_log
    app = logging.getLogger("members.api")
    answers = iter([400] * 6 + [201] * 2)

    def handler(request: httpx.Request) -> httpx.Response:
        status = next(answers)
        return httpx.Response(status, json=BODY if status == 400 else [])

    access: list[str] = []
    with httpx.Client(transport=httpx.MockTransport(handler)) as client:
        for n in range(8):
            clock.now = START + timedelta(seconds=37 * n)
            # The server logs the response as it leaves, in whole seconds, before the client reads it.
            response = client.post(f"http://api.internal:3000/rest/v1/{TABLE}", json=[{COLUMN: "x"}])
            access.append(
                access_line(clock.now, "POST", f"/{TABLE}", response.status_code,
                            SIZE if response.status_code == 400 else 0, "python-httpx/0.28.1")
            )
            if response.status_code == 400:
                clock.now += timedelta(milliseconds=3)
                try:
                    raise APIError(response.json())
                except APIError:
                    app.exception("signup failed")
    for n in range(3):
        ts = START + timedelta(minutes=2, seconds=11 * n + 5)
        access.append(access_line(ts, "PATCH", f"/{TABLE}?id=eq.{n}", 400, SIZE, "curl/8.7.1"))
    access.sort(key=lambda line: re.search(r"\[(.*?)\]", line).group(1))  # type: ignore[union-attr]
    (tmp_path / "access.log").write_text("\n".join(access) + "\n", encoding="utf-8")
    return 9, 6


def test_client_http_line_and_access_line_count_once(
    tmp_path: Path, client_log: tuple[Path, Clock]
) -> None:
    path, _ = client_log
    failed_writes, client_failures = write_incident(tmp_path, client_log)
    text = path.read_text(encoding="utf-8")
    assert text.count('"HTTP/1.1 400 Bad Request"') == client_failures  # httpx's own line
    assert text.count("postgrest.exceptions.APIError: {'code': 'PGRST204'") == client_failures

    result = scan_paths([str(tmp_path)])
    doc: dict[str, Any] = document(result)
    (incident,) = doc["incidents"]
    assert incident["count"] == client_failures
    assert incident["context"]["access_400s"] == failed_writes

    report = build_report(doc, events=result.events)
    assert report.impact["access_400s"] == failed_writes
    # Every client failure takes the endpoint of its access line; the other client's PATCHes
    # have access lines only.
    assert report.impact["endpoints"] == [
        {"endpoint": "POST /members", "errors": client_failures, "access_400s": client_failures},
        {"endpoint": "PATCH /members", "errors": 0, "access_400s": 3},
    ]
    assert "9 failed write(s) (HTTP 400)" in render_report(report)


def test_client_http_lines_alone_still_count(
    tmp_path: Path, client_log: tuple[Path, Clock]
) -> None:
    """Without PostgREST's access log, the client's own HTTP lines are the only record of the
    failed requests: they are not dropped, and they give the endpoint."""
    _, client_failures = write_incident(tmp_path, client_log)
    (tmp_path / "access.log").unlink()
    result = scan_paths([str(tmp_path)])
    doc: dict[str, Any] = document(result)
    (incident,) = doc["incidents"]
    assert incident["context"]["access_400s"] == client_failures
    report = build_report(doc, events=result.events)
    assert report.impact["endpoints"] == [
        {
            "endpoint": "POST /rest/v1/members",
            "errors": client_failures,
            "access_400s": client_failures,
        }
    ]
    assert json.loads(json.dumps(report.to_dict()))["impact"]["access_400s"] == client_failures
