"""Faults: an expired token, a 429 storm, backend errors as 200, a dark window, a server that
dies mid-reply or altogether. Clear messages, partial results marked, nothing invented."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from runbook.ingest.scan import ScanOptions, document, scan_paths
from runbook.ingest.stores import StoreSettings, StoreUnreachable
from tests.stores.fixture import EDGE, SINCE, UNTIL
from tests.stores.store_server import FakeClock, StoreServer


def _scan(url: str, settings: StoreSettings) -> dict[str, Any]:
    return document(scan_paths([url], ScanOptions(since=SINCE, until=UNTIL, store=settings)))


def _counts(doc: dict[str, Any]) -> dict[tuple[str, str], int]:
    return {(i["table"], i["column"]): i["count"] for i in doc["incidents"]}


def _file_counts(export_file: Path, *ranges: tuple[Any, Any]) -> dict[tuple[str, str], int]:
    total: dict[tuple[str, str], int] = {}
    for since, until in ranges:
        doc = document(scan_paths([str(export_file)], ScanOptions(since=since, until=until)))
        for key, count in _counts(doc).items():
            total[key] = total.get(key, 0) + count
    return total


@pytest.fixture(params=["supabase_url", "clickhouse_url"])
def url(request: pytest.FixtureRequest) -> str:
    return request.getfixturevalue(request.param)


def test_an_expired_token_is_unreachable_with_the_cause_and_the_next_step(
    server: StoreServer, supabase_url: str, settings: StoreSettings
) -> None:
    server.faults.token_expired = True
    with pytest.raises(StoreUnreachable) as caught:
        _scan(supabase_url, settings)
    error = caught.value
    assert error.exit_code == 4 and len(server.requests) == 1
    assert error.title == "Supabase token rejected" and "HTTP 401" in error.message
    assert "SUPABASE_ACCESS_TOKEN" in error.next_step and "\n" not in error.one_line()
    assert server.token not in error.one_line()


def test_a_token_rejected_mid_scan_keeps_what_was_read_and_marks_the_rest(
    server: StoreServer, supabase_url: str, settings: StoreSettings
) -> None:
    server.faults.expire_after = 1  # the first window answers
    doc = _scan(supabase_url, settings)
    stats = doc["stats"]["stores"][0]
    assert stats["partial"] and stats["windows_answered"] == 1
    assert [w["start"][:16] for w in stats["dark_windows"]] == [
        "2026-11-17T06:00",
        "2026-11-18T06:00",
    ]
    assert all("rejected the access token" in w["reason"] for w in stats["dark_windows"])
    assert _counts(doc) == {
        ("mypoolr", "adminname"): 1081,
        ("Member Details", "O'Brien"): 1,
        ("CamelCase", "doseLogs"): 1,
    }
    assert len(doc["stats"]["unreadable"]) == 2


def test_a_429_storm_is_waited_out_on_retry_after(
    server: StoreServer,
    supabase_url: str,
    settings: StoreSettings,
    export_file: Path,
    clock: FakeClock,
) -> None:
    server.faults.storm, server.faults.storm_retry_after = 5, 7
    doc = _scan(supabase_url, settings)
    stats = doc["stats"]["stores"][0]
    assert (
        stats["rate_limited"] == 5 and stats["waited_seconds"] >= 35 and clock.slept.count(7) == 5
    )
    assert _counts(doc) == _file_counts(export_file, (SINCE, UNTIL))
    assert not stats["partial"]


def test_a_storm_longer_than_the_wait_budget_leaves_nothing_answered(
    server: StoreServer, supabase_url: str, settings: StoreSettings
) -> None:
    server.faults.storm = 10_000
    settings.max_wait = 30
    with pytest.raises(StoreUnreachable) as caught:
        _scan(supabase_url, settings)
    assert "answered no window" in caught.value.message and "HTTP 429" in caught.value.message


def test_backend_errors_as_200_are_retried_with_backoff(
    server: StoreServer,
    supabase_url: str,
    settings: StoreSettings,
    export_file: Path,
    clock: FakeClock,
) -> None:
    server.faults.backend_errors = 2
    doc = _scan(supabase_url, settings)
    assert doc["stats"]["stores"][0]["retries"] == 2 and clock.slept[:2] == [1.0, 2.0]
    assert _counts(doc) == _file_counts(export_file, (SINCE, UNTIL))


def test_a_dark_window_is_reported_and_never_read_as_zero(
    server: StoreServer, supabase_url: str, settings: StoreSettings, export_file: Path
) -> None:
    server.faults.dark = (EDGE + timedelta(minutes=1), EDGE + timedelta(hours=23))
    doc = _scan(supabase_url, settings)
    stats = doc["stats"]["stores"][0]
    (dark,) = stats["dark_windows"]
    assert (dark["start"], dark["end"]) == (
        EDGE.isoformat(),
        (EDGE + timedelta(hours=24)).isoformat(),
    )
    assert "Backend error" in dark["reason"] and stats["partial"]
    (unreadable,) = doc["stats"]["unreadable"]
    assert (
        unreadable["source"] == supabase_url
        and "no answer for 2026-11-17T06:00:00+00:00" in unreadable["reason"]
    )
    # Exactly what the answered windows hold: the dark day is missing, not zero.
    expected = _file_counts(export_file, (SINCE, EDGE), (EDGE + timedelta(hours=24), UNTIL))
    assert _counts(doc) == expected
    assert ('Quoted "T"', 'col"x') not in _counts(doc)


def test_a_reply_cut_in_the_middle_is_asked_again_and_counted_once(
    server: StoreServer, url: str, settings: StoreSettings, export_file: Path
) -> None:
    server.faults.cut_replies = 2
    doc = _scan(url, settings)
    assert doc["stats"]["stores"][0]["retries"] == 2
    assert _counts(doc) == _file_counts(export_file, (SINCE, UNTIL))


def test_a_server_that_dies_mid_scan_leaves_the_rest_dark(
    server: StoreServer, url: str, settings: StoreSettings, export_file: Path
) -> None:
    server.faults.die_after = 2 if "clickhouse" in url else 1  # (the columns,) window 1
    doc = _scan(url, settings)
    stats = doc["stats"]["stores"][0]
    assert stats["partial"] and stats["windows_answered"] >= 1 and len(stats["dark_windows"]) >= 2
    assert all(
        "Server disconnected" in w["reason"] or "RemoteProtocolError" in w["reason"]
        for w in stats["dark_windows"]
    )
    truth = _file_counts(export_file, (SINCE, UNTIL))
    for key, count in _counts(doc).items():
        assert 0 < count <= truth[key]  # nothing invented
    assert stats["pairs_without_sample"] >= 1  # names as the SQL cut them: samples were unreachable


def test_a_store_that_refuses_connections_is_unreachable(
    settings: StoreSettings, server: StoreServer
) -> None:
    settings.management_api_url = "http://127.0.0.1:1"
    with pytest.raises(StoreUnreachable) as caught:
        _scan(f"supabase://{server.project}", settings)
    assert caught.value.exit_code == 4 and "ConnectError" in caught.value.message
    with pytest.raises(StoreUnreachable) as caught:
        _scan("clickhouse+http://reader:pw-9f8e7d@127.0.0.1:1/otel/otel_logs", settings)
    assert "GET /ping" in caught.value.next_step and "pw-9f8e7d" not in caught.value.one_line()


def test_a_missing_token_says_where_to_get_one(
    server: StoreServer, supabase_url: str, settings: StoreSettings, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("SUPABASE_ACCESS_TOKEN", raising=False)
    settings.access_token = None
    with pytest.raises(StoreUnreachable) as caught:
        _scan(supabase_url, settings)
    assert caught.value.title == "Supabase token missing" and not server.requests
