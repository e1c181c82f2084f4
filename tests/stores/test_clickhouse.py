"""The ClickHouse client on the wire: POST with every value bound, credentials in headers,
columns discovered (otel_logs old and new, other tables with overrides), TimestampTime pruning,
errors before and after the first byte."""

from __future__ import annotations

import re
from urllib.parse import quote

import httpx
import pytest

from runbook.ingest.scan import ScanOptions, document, scan_paths
from runbook.ingest.stores import StoreSettings, StoreUnreachable
from tests.stores.fixture import SINCE, UNTIL
from tests.stores.store_server import StoreServer


def _scan(url: str, settings: StoreSettings) -> dict:
    return document(scan_paths([url], ScanOptions(since=SINCE, until=UNTIL, store=settings)))


def _counts(doc: dict) -> dict[tuple[str, str], int]:
    return {(i["table"], i["column"]): i["count"] for i in doc["incidents"]}


def test_every_value_is_bound_and_the_password_travels_in_a_header(
    server: StoreServer, clickhouse_url: str, settings: StoreSettings
) -> None:
    _scan(clickhouse_url, settings)
    assert server.requests
    for request in server.requests:
        assert request.method == "POST" and request.path == "/"
        assert request.headers["X-ClickHouse-User"] == server.ch_user
        assert request.headers["X-ClickHouse-Key"] == server.ch_password
        assert set(request.params) <= {"wait_end_of_query"} | {
            k for k in request.params if k.startswith("param_")
        }
        sql = request.body.decode()
        assert sql.rstrip().endswith("FORMAT JSONCompact")
        for value in (
            "otel",
            "Timestamp",
            "Body",
            "2026-11",
            "PGRST",
            "schema cache",
            "mypoolr",
            server.ch_password,
        ):
            assert not re.search(rf"\b{re.escape(value)}\b", sql), value
        assert server.ch_password not in str(request.params)


def test_the_new_otel_layout_is_pruned_on_timestamptime_and_the_old_one_is_not(
    server: StoreServer, clickhouse_url: str, clickhouse_v0_url: str, settings: StoreSettings
) -> None:
    new = _scan(clickhouse_url, settings)
    bound = [v for r in server.requests for v in sum(r.params.values(), [])]
    assert "TimestampTime" in bound and "2026-11-16 06:00:00" in bound
    server.requests.clear()
    old = _scan(clickhouse_v0_url, settings)
    bound = [v for r in server.requests for v in sum(r.params.values(), [])]
    assert "TimestampTime" not in bound
    assert new["stats"]["stores"][0]["layout"] == "otel_logs"
    assert old["stats"]["stores"][0]["layout"] == "otel_logs (old, no TimestampTime)"
    assert _counts(new) == _counts(old)
    assert new["stats"]["stores"][0]["rows_read"] > 0  # from the engine's X-ClickHouse-Summary


def test_other_tables_are_read_with_the_columns_named(
    server: StoreServer, custom_url: str, settings: StoreSettings, clickhouse_url: str
) -> None:
    settings.ts_column, settings.message_column, settings.service_column = "at", "line", "svc"
    custom = _scan(custom_url, settings)
    assert custom["stats"]["stores"][0]["layout"] == "custom"
    settings.ts_column = settings.message_column = settings.service_column = None
    assert _counts(custom) == _counts(_scan(clickhouse_url, settings))


def test_a_column_that_is_not_there_or_a_missing_table_is_an_unreadable_input(
    server: StoreServer, clickhouse_url: str, settings: StoreSettings
) -> None:
    settings.message_column = "Nope"
    doc = _scan(clickhouse_url, settings)
    (problem,) = doc["stats"]["unreadable"]
    assert "has no column 'Nope'" in problem["reason"] and problem["source"].endswith(
        "/otel/otel_logs"
    )
    settings.message_column = None
    missing = clickhouse_url.replace("otel_logs", quote("no such table"))
    (problem,) = _scan(missing, settings)["stats"]["unreadable"]
    assert "table otel.no such table not found" in problem["reason"]


def test_wrong_credentials_are_unreachable_with_a_next_step_and_no_password(
    server: StoreServer, clickhouse_url: str, settings: StoreSettings
) -> None:
    settings.clickhouse_password = "wrong-Pa55!"
    with pytest.raises(StoreUnreachable) as caught:
        _scan(clickhouse_url, settings)
    assert caught.value.exit_code == 4
    text = caught.value.one_line()
    assert "ClickHouse credentials rejected" in text and "AUTHENTICATION_FAILED" in text
    assert (
        "CLICKHOUSE_PASSWORD" in text
        and "wrong-Pa55!" not in text
        and server.ch_password not in text
    )
    assert server.requests[0].status == 403


def test_a_late_error_in_the_body_is_a_failure_and_is_retried(
    server: StoreServer, clickhouse_url: str, settings: StoreSettings
) -> None:
    expected = _counts(_scan(clickhouse_url, settings))
    server.requests.clear()
    server.faults.late_errors = 2
    doc = _scan(clickhouse_url, settings)
    assert _counts(doc) == expected
    assert doc["stats"]["stores"][0]["retries"] == 2


def test_late_errors_that_persist_leave_the_window_dark(
    server: StoreServer, clickhouse_url: str, settings: StoreSettings
) -> None:
    server.faults.late_errors, server.faults.late_errors_in = settings.attempts, "UNION ALL"
    doc = _scan(clickhouse_url, settings)
    dark = doc["stats"]["stores"][0]["dark_windows"]
    assert len(dark) == 1 and "error in the middle of the reply" in dark[0]["reason"]
    assert "MEMORY_LIMIT_EXCEEDED" in dark[0]["reason"]
    assert doc["stats"]["unreadable"][0]["reason"].startswith("no answer for 2026-11-1")


# -- the stand-in itself behaves like the HTTP interface -------------------------------------


def _post(
    server: StoreServer, sql: str, params: dict[str, str] | None = None, **headers: str
) -> httpx.Response:
    auth = {"X-ClickHouse-User": server.ch_user, "X-ClickHouse-Key": server.ch_password}
    return httpx.post(
        server.url + "/", params=params or {}, content=sql, headers={**auth, **headers}
    )


def test_stand_in_ping_errors_settings_and_late_errors(server: StoreServer) -> None:
    assert httpx.get(server.url + "/ping").text == "Ok.\n"
    ok = _post(
        server,
        "SELECT {n:UInt8} + 1 AS x FORMAT JSONEachRow",
        {"param_n": "41", "wait_end_of_query": "1"},
    )
    assert (
        ok.status_code == 200
        and ok.json() == {"x": 42}
        and "read_rows" in ok.headers["X-ClickHouse-Summary"]
    )
    missing = _post(server, "SELECT * FROM otel.nope")
    assert missing.status_code == 404 and missing.headers["X-ClickHouse-Exception-Code"] == "60"
    assert missing.text.startswith("Code: 60. DB::Exception:") and "(version " in missing.text
    readonly = _post(server, "SELECT 1", {"max_threads": "1"})
    assert readonly.headers["X-ClickHouse-Exception-Code"] == "164"
    server.faults.late_errors = 1
    late = _post(server, "SELECT number FROM numbers(10) FORMAT JSON")
    assert late.status_code == 200 and "X-ClickHouse-Exception-Code" not in late.headers
    tag = late.headers["X-ClickHouse-Exception-Tag"]
    assert late.text.endswith(f"{tag}\r\n__exception__\r\n") and "Code: 241." in late.text
    denied = httpx.post(server.url + "/", content="SELECT 1", auth=(server.ch_user, "bad"))
    assert denied.status_code == 403 and denied.headers["X-ClickHouse-Exception-Code"] == "516"
