"""The Supabase client on the wire: what it sends, the 24 h windows with the half-open bound,
the 1000-row split, pacing on the rate-limit headers, the default range, --source."""

from __future__ import annotations

from datetime import datetime, timedelta
from urllib.parse import urlsplit

import httpx
import polars as pl
import pytest

from runbook.ingest.scan import ScanOptions, document, scan_paths
from runbook.ingest.stores import StoreSettings, scan_store
from tests.stores.fixture import EDGE, FUZZ_PAIRS, SINCE, UNTIL
from tests.stores.store_server import BACKEND_ERROR, FakeClock, StoreServer


def _iso(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def _scan(url: str, settings: StoreSettings, **options: object) -> dict:
    return document(
        scan_paths([url], ScanOptions(since=SINCE, until=UNTIL, store=settings, **options))
    )  # type: ignore[arg-type]


def test_every_request_is_a_get_with_the_token_only_in_the_header(
    server: StoreServer, supabase_url: str, settings: StoreSettings
) -> None:
    _scan(supabase_url, settings)
    assert server.requests
    for request in server.requests:
        assert request.face == "supabase" and request.method == "GET"
        assert request.path == f"/v1/projects/{server.project}/analytics/endpoints/logs"
        assert request.headers["Authorization"] == f"Bearer {server.token}"
        assert server.token not in str(request.params) and not request.body
        assert request.status == 200


def test_windows_are_at_most_24_hours_and_the_sql_repeats_the_open_end(
    server: StoreServer, supabase_url: str, settings: StoreSettings
) -> None:
    _scan(supabase_url, settings)
    aggregates = [r for r in server.requests if "UNION ALL" in r.params["sql"][0]]
    spans = []
    for request in aggregates:
        start, end = (
            request.params["iso_timestamp_start"][0],
            request.params["iso_timestamp_end"][0],
        )
        assert start.endswith(".000Z") and end.endswith(".000Z")
        spans.append((_iso(start), _iso(end)))
        assert _iso(end) - _iso(start) <= timedelta(hours=24)
        sql = request.params["sql"][0]
        # The server's end bound is inclusive: the SQL says `<` the same instant.
        assert (
            f"timestamp < toDateTime64('{_iso(end):%Y-%m-%d %H:%M:%S}.000000', 6, 'UTC')" in sql
            or (_iso(end) > UNTIL)
        )
    answered = sorted({s for s in spans})
    assert answered[0][0] == SINCE
    assert any(end == EDGE for _, end in answered) and any(start == EDGE for start, _ in answered)


def test_a_reply_of_1000_rows_splits_the_window(
    server: StoreServer, settings: StoreSettings
) -> None:
    events, stats = scan_store(f"supabase://{server.fuzz_project}", SINCE, UNTIL, settings)
    assert stats.store is not None
    assert stats.store["windows_split"] == 1 and stats.store["windows"] == 4
    assert not stats.store["partial"]
    first, second = server.requests[0], server.requests[1]
    assert _iso(first.params["iso_timestamp_end"][0]) - _iso(
        first.params["iso_timestamp_start"][0]
    ) == timedelta(hours=24)
    assert first.rows == 1000  # 1010 pairs + the control row, silently cut to 1000
    assert second.params["iso_timestamp_end"][0] == "2026-11-16T18:00:00.000Z"
    errors = events.filter(pl.col("weight") > 0)
    assert errors["weight"].sum() == FUZZ_PAIRS
    assert errors.select("table", "column").n_unique() == FUZZ_PAIRS


def test_the_client_paces_on_the_rate_limit_headers_instead_of_hitting_429(
    server: StoreServer, supabase_url: str, settings: StoreSettings, clock: FakeClock
) -> None:
    server.faults.rate_limit = 3
    doc = _scan(supabase_url, settings)
    (stats,) = doc["stats"]["stores"]
    assert [r.status for r in server.requests].count(429) == 0
    assert stats["requests"] > 3 and stats["waited_seconds"] > 0 and clock.slept
    assert stats["dark_windows"] == []


def test_without_since_a_store_is_read_for_the_last_24_hours(
    server: StoreServer, supabase_url: str, settings: StoreSettings, clock: FakeClock
) -> None:
    result = scan_paths([supabase_url], ScanOptions(store=settings))
    first = server.requests[0]
    now = clock.now()
    start = _iso(first.params["iso_timestamp_start"][0])
    assert start == (now - timedelta(hours=24)).replace(second=0, microsecond=0)
    (stats,) = result.stats()["stores"]  # type: ignore[misc]
    assert (
        stats["since"] == (now - timedelta(hours=24)).isoformat()
        and stats["until"] == now.isoformat()
    )


def test_source_narrows_errors_but_context_is_looked_for_everywhere(
    server: StoreServer, supabase_url: str, settings: StoreSettings
) -> None:
    settings.sources = ("function_logs",)
    doc = _scan(supabase_url, settings)
    sql = server.requests[0].params["sql"][0]
    assert "source IN ('function_logs')" in sql
    assert "_pgr_svc IN ('postgrest_logs', 'postgres_logs')" in sql  # where reloads and DDL live
    mypoolr = next(i for i in doc["incidents"] if i["table"] == "mypoolr")
    assert mypoolr["count"] == 1081 and mypoolr["context"]["migration_before"] is not None
    settings.sources = ("auth_logs",)
    assert _scan(supabase_url, settings)["incidents"] == []


# -- the stand-in itself behaves like the endpoint ------------------------------------------


def _get(
    server: StoreServer, sql: str, start: str | None, end: str | None, method: str = "GET"
) -> httpx.Response:
    params = {"sql": sql}
    if start:
        params["iso_timestamp_start"] = start
    if end:
        params["iso_timestamp_end"] = end
    path = f"/v1/projects/{server.project}/analytics/endpoints/logs"
    return httpx.request(
        method,
        server.url + path,
        params=params,
        headers={"Authorization": f"Bearer {server.token}"},
    )


def test_stand_in_end_bound_is_inclusive_and_ranges_are_cut_to_24_hours(
    server: StoreServer,
) -> None:
    count = "SELECT count() AS n FROM logs WHERE event_message LIKE '%O''Brien%'"
    day_before = (EDGE - timedelta(hours=24)).strftime("%Y-%m-%dT%H:%M:%S.000Z")
    edge = EDGE.strftime("%Y-%m-%dT%H:%M:%S.000Z")
    assert _get(server, count, day_before, edge).json()["result"] == [{"n": 2}]  # EDGE included
    far = (EDGE + timedelta(hours=24)).strftime("%Y-%m-%dT%H:%M:%S.000Z")
    assert _get(server, count, day_before, far).json()["result"] == [{"n": 2}]  # oldest 24 h only


@pytest.mark.parametrize(
    ("sql", "start", "method", "status", "error"),
    [
        ("SELECT 1 AS x", None, "GET", 200, BACKEND_ERROR),
        (
            "SELECT * FROM logs",
            "2026-11-17T00:00:00.000Z",
            "GET",
            200,
            "SELECT * and DESCRIBE are not allowed",
        ),
        ("SELECT nope FROM logs", "2026-11-17T00:00:00.000Z", "GET", 200, "Code: 47"),
        ("SELECT 1 AS x", "2026-11-17T00:00:00.000Z", "POST", 404, None),
    ],
)
def test_stand_in_errors_look_like_the_endpoint(
    server: StoreServer, sql: str, start: str | None, method: str, status: int, error: str | None
) -> None:
    response = _get(server, sql, start, start and "2026-11-17T01:00:00.000Z", method)
    assert response.status_code == status
    if error:
        body = response.json()
        assert body["result"] is None and error in body["error"]
    assert "x-ratelimit-limit" in response.headers or status == 404


def test_stand_in_rows_come_back_capped_with_naive_iso_timestamps(server: StoreServer) -> None:
    sql = "SELECT timestamp, event_message FROM logs ORDER BY timestamp"
    rows = _get(server, sql, "2026-11-16T00:00:00.000Z", "2026-11-17T00:00:00.000Z").json()[
        "result"
    ]
    assert len(rows) == 1000
    assert rows[0]["timestamp"] == "2026-11-16T05:59:59.999999"
    assert urlsplit(server.url).hostname == "127.0.0.1"
