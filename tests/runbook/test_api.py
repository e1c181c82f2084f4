"""The PostgREST client on the wire (httpx MockTransport): escaping, headers, parsing, errors."""

from __future__ import annotations

from urllib.parse import parse_qs, unquote, urlsplit

import httpx
import pytest

from runbook.config import load_settings
from runbook.errors import ApiError, ApiUnreachable, AuthFailed
from runbook.servers.api import PostgrestClient, parse_metrics, parse_schema_cache, pgrst_name

KEY = "eyJhbGciOiJIUzI1NiJ9.eyJyb2xlIjoic2VydmljZV9yb2xlIn0.c2lnbmF0dXJlLXNpZw"


def client_with(handler, **flags) -> PostgrestClient:
    settings = load_settings({"api_url": "http://api.test/rest/v1", **flags}, env={})
    return PostgrestClient(settings, transport=httpx.MockTransport(handler))


def recorder(status: int = 201, **kwargs):
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(status, **kwargs)

    return seen, handler


def pgrst_unquote(value: str) -> str:
    """PostgREST's pQuotedValue: strip the quotes, `\\x` -> `x`."""
    if not value.startswith('"'):
        return value
    out, chars = [], iter(value[1:-1])
    for ch in chars:
        out.append(next(chars) if ch == "\\" else ch)
    return "".join(out)


@pytest.mark.parametrize(
    ("table", "column"),
    [
        ("items", "note"),
        ('Ünï "tab"; DROP TABLE x; --', 'nö"te\\; 100% ,&?#/='),
        ("a/b?c#d", "x y"),
    ],
)
def test_write_probe_sends_exactly_one_escaped_segment_and_the_column(table, column) -> None:
    seen, handler = recorder(201, headers={"Preference-Applied": "tx=rollback"})
    result = client_with(handler, api_key=KEY).write_probe("public", table, column)

    request = seen[0]
    raw = request.url.raw_path.decode()
    path, _, query = raw.partition("?")
    assert path.startswith("/rest/v1/")
    segment = path[len("/rest/v1/") :]
    assert "/" not in segment and unquote(segment) == table
    assert list(parse_qs(query)) == ["columns"]
    assert pgrst_unquote(parse_qs(query)["columns"][0]) == column
    assert request.content == b"[]"
    assert request.headers["Prefer"] == "tx=rollback, return=minimal"
    assert request.headers["apikey"] == KEY
    assert request.headers["Authorization"] == f"Bearer {KEY}"
    assert "Content-Profile" not in request.headers
    assert result.ok and result.rolled_back


def test_read_probe_is_a_zero_row_get_with_a_profile_for_other_schemas() -> None:
    seen, handler = recorder(200, json=[])
    result = client_with(handler).read_probe("api", "items", "note")
    query = parse_qs(urlsplit(str(seen[0].url)).query)
    assert seen[0].method == "GET"
    assert query == {"select": ["note"], "limit": ["0"]}
    assert seen[0].headers["Accept-Profile"] == "api"
    assert result.ok and result.action.startswith("GET /rest/v1/items?")


def test_error_bodies_become_code_and_message() -> None:
    body = {
        "code": "PGRST204",
        "details": None,
        "hint": None,
        "message": "Could not find the 'note' column of 'items' in the schema cache",
    }
    _, handler = recorder(400, json=body)
    result = client_with(handler).write_probe("public", "items", "note")
    assert (result.status, result.code) == (400, "PGRST204")
    assert not result.ok and not result.rolled_back
    assert result.describe().startswith("400 PGRST204: Could not find the 'note' column")


def test_pgrst_name_quotes_only_what_postgrest_would_misread() -> None:
    assert pgrst_name("admin_id") == "admin_id"
    assert pgrst_name("a,b") == '"a,b"'
    assert pgrst_name('a"b\\c') == '"a\\"b\\\\c"'


def test_openapi_and_schema_cache_views() -> None:
    doc = {"definitions": {"items": {"properties": {"id": {}, "note": {}}}}}
    _, handler = recorder(200, json=doc)
    view = client_with(handler).openapi("public")
    assert view.columns("public", "items") == {"id", "note"}
    assert view.columns("public", "other") is None

    cache = parse_schema_cache(
        {
            "dbTables": [
                [{"qiName": "items", "qiSchema": "api"}, {"tableColumns": {"id": {}, "n": {}}}]
            ]
        }
    )
    assert cache.columns("api", "items") == {"id", "n"} and cache.covers("api")
    with pytest.raises(ApiError):
        parse_schema_cache({"nope": 1})


def test_metrics_parser_reads_the_reload_counter_and_rejects_garbage() -> None:
    text = (
        "# HELP pgrst_schema_cache_loads_total The total number of times the schema cache was loaded\n"
        "# TYPE pgrst_schema_cache_loads_total counter\n"
        'pgrst_schema_cache_loads_total{status="FAIL"} 0.0\n'
        'pgrst_schema_cache_loads_total{status="SUCCESS"} 3.0\n'
        "pgrst_db_pool_max 10.0\n"
        'odd{a="x\\"y,z",b="\\\\"} 1e3 1700000000\n'
    )
    metrics = parse_metrics(text)
    assert metrics.schema_cache_loads() == 3.0
    assert metrics.schema_cache_loads("FAIL") == 0.0
    assert metrics.value("pgrst_db_pool_max") == 10.0
    assert metrics.value("odd", a='x"y,z', b="\\") == 1000.0
    with pytest.raises(ApiError):
        parse_metrics("<html>not metrics</html>")


def test_rejected_key_is_auth_failed_and_the_key_is_not_echoed() -> None:
    _, handler = recorder(401, json={"message": f"Invalid API key {KEY}"})
    with pytest.raises(AuthFailed) as err:
        client_with(handler, api_key=KEY).openapi("public")
    assert KEY not in err.value.one_line()


def test_unreachable_and_unconfigured() -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("[Errno 111] Connection refused", request=request)

    with pytest.raises(ApiUnreachable, match="connection refused"):
        client_with(refuse).openapi("public")
    client = PostgrestClient(load_settings({}, env={}))
    with pytest.raises(ApiUnreachable, match="no admin server URL"):
        client.metrics()
