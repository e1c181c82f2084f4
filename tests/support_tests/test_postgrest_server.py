"""The PostgREST-compatible test server behaves as reference/postgrest.md says.

Every other test that uses the `postgrest` fixture trusts these behaviours, so they are
proven here against a real PostgreSQL over real HTTP: the stale-cache PGRST204, the exact
log lines, the reload triggers (and the ones that must do nothing), and safe identifiers.
"""

from __future__ import annotations

import json
import re
import time
from urllib.parse import quote

import httpx
import psycopg
import pytest
from psycopg import sql

from tests.support.pg import PgServer
from tests.support.postgrest_process import PostgrestFactory as Factory
from tests.support.postgrest_process import PostgrestProcess

# reference §1.1 and §2.1
PREFIX = re.compile(r"^(\d{2}/[A-Z][a-z]{2}/\d{4}:\d{2}:\d{2}:\d{2} [+-]\d{4}): (.*)$")
ACCESS = re.compile(
    r"^(?P<source>\S+) - (?P<role>\S+) \[(?P<ts>\d{2}/[A-Z][a-z]{2}/\d{4}:\d{2}:\d{2}:\d{2} [+-]\d{4})\] "
    r'"(?P<method>\S+) (?P<target>\S+) (?P<proto>HTTP/\d\.\d)" (?P<status>\d{3}) (?P<size>\d+|-) '
    r'"(?P<referer>[^"]*)" "(?P<agent>[^"]*)"$'
)
JSON_CT = "application/json; charset=utf-8"


def messages(proc: PostgrestProcess, after: int = 0) -> list[str]:
    """stderr messages without the timestamp prefix; every line must carry the prefix."""
    out = []
    for line in proc.stderr_lines()[after:]:
        m = PREFIX.match(line)
        assert m, f"stderr line without the PostgREST prefix: {line!r}"
        out.append(m.group(2))
    return out


def execute(dsn: str, *statements: str | sql.Composable) -> None:
    with psycopg.connect(dsn, autocommit=True) as conn:
        for stmt in statements:
            conn.execute(stmt)


def pgrst204(col: str, table: str) -> str:
    return (
        '{"code":"PGRST204","details":null,"hint":null,'
        f"\"message\":\"Could not find the '{col}' column of '{table}' in the schema cache\"}}"
    )


@pytest.fixture
def profiles_dsn(db_dsn: str) -> str:
    execute(
        db_dsn,
        "CREATE TABLE profiles (id serial PRIMARY KEY, name text NOT NULL, email varchar(50))",
    )
    return db_dsn


def test_startup_lines_match_the_reference(profiles_dsn: str, postgrest: Factory) -> None:
    proc = postgrest(profiles_dsn)
    port = proc.url.rsplit(":", 1)[1]
    admin_port = proc.admin_url.rsplit(":", 1)[1]
    msgs = messages(proc)
    expected = [
        r"^Starting PostgREST 16\.2\.\.\.$",
        rf"^Admin server listening on 127\.0\.0\.1:{admin_port}$",
        r'^Listener connected to PostgreSQL \d+\.\d+.* on "127\.0\.0\.1:\d+" and listening for database '
        r'notifications on the "pgrst" channel$',
        r"^Successfully connected to PostgreSQL \d+\.\d+ .*64-bit$",
        r"^Connection Pool initialized with a maximum size of 10 connections$",
        r"^Config reloaded$",
        r"^Schema cache queried in ([\d.]+) milliseconds $",  # v16: trailing space
        r"^Schema cache loaded 1 Relations, 0 Relationships, 0 RPCs, 0 Domain Representations, "
        r"4 Media Type Handlers$",
        r"^Schema cache loaded in ([0-9]+(?:\.[0-9])?) milliseconds$",
        rf"^API server listening on 127\.0\.0\.1:{port}$",
    ]
    assert len(msgs) == len(expected), msgs
    for pattern, msg in zip(expected, msgs, strict=True):
        assert re.match(pattern, msg), (pattern, msg)
    assert proc.load_count() == 1


def test_stale_cache_gives_pgrst204_until_notify_reload(
    profiles_dsn: str, postgrest: Factory
) -> None:
    proc = postgrest(profiles_dsn)
    api = httpx.Client(base_url=proc.url)
    execute(profiles_dsn, "ALTER TABLE profiles ADD COLUMN open_to_work_email text")

    r = api.post("/profiles", json={"name": "a", "open_to_work_email": "x@y"})
    assert r.status_code == 400
    assert r.text == pgrst204("open_to_work_email", "profiles")
    assert r.headers["content-type"] == JSON_CT
    assert r.headers["proxy-status"] == "PostgREST; error=PGRST204"
    assert (
        int(r.headers["content-length"]) == 113 + len("open_to_work_email") + len("profiles") == 139
    )
    # Reads go to the database, not the cache: the column is there.
    r = api.get("/profiles", params={"select": "open_to_work_email", "limit": "0"})
    assert (r.status_code, r.json()) == (200, [])
    assert "open_to_work_email" not in proc.cache_columns("profiles")
    assert "open_to_work_email" not in api.get("/").json()["definitions"]["profiles"]["properties"]

    before = len(proc.stderr_lines())
    execute(profiles_dsn, "NOTIFY pgrst, 'reload schema'")
    proc.wait_for_load_count(2)
    new = messages(proc, before)
    assert new[0] == 'Received a schema cache reload message on the "pgrst" channel'
    assert any(m.startswith("Schema cache loaded 1 Relations") for m in new)
    assert any(re.match(r"Schema cache loaded in [\d.]+ milliseconds$", m) for m in new)

    r = api.post("/profiles", json={"name": "a", "open_to_work_email": "x@y"})
    assert r.status_code == 201
    with psycopg.connect(profiles_dsn) as conn:
        assert conn.execute("SELECT open_to_work_email FROM profiles").fetchall() == [("x@y",)]
    props = api.get("/").json()["definitions"]["profiles"]
    assert props["properties"]["open_to_work_email"] == {"format": "text", "type": "string"}
    assert props["properties"]["email"]["maxLength"] == 50
    assert props["required"] == ["id", "name"]
    assert "open_to_work_email" in proc.cache_columns("profiles")


def test_patch_and_columns_param_are_checked_against_the_cache(
    profiles_dsn: str, postgrest: Factory
) -> None:
    proc = postgrest(profiles_dsn)
    api = httpx.Client(base_url=proc.url)
    execute(profiles_dsn, "ALTER TABLE profiles ADD COLUMN bio text")
    r = api.patch("/profiles?id=eq.1", json={"bio": "hi"})
    assert (r.status_code, r.text) == (400, pgrst204("bio", "profiles"))
    r = api.post(
        "/profiles?columns=bio", content=b"[]", headers={"Content-Type": "application/json"}
    )
    assert (r.status_code, r.text) == (400, pgrst204("bio", "profiles"))
    # The missing table wins over the missing column (PGRST205 first).
    r = api.post(
        "/garlic?columns=helicopter", content=b"[]", headers={"Content-Type": "application/json"}
    )
    assert r.status_code == 404
    assert r.text == (
        '{"code":"PGRST205","details":null,"hint":null,'
        '"message":"Could not find the table \'public.garlic\' in the schema cache"}'
    )


def test_side_effect_free_probe_and_dropped_column(profiles_dsn: str, postgrest: Factory) -> None:
    proc = postgrest(profiles_dsn)
    api = httpx.Client(base_url=proc.url)
    probe = {"Content-Type": "application/json", "Prefer": "tx=rollback, return=minimal"}
    r = api.post("/profiles?columns=email", content=b"[]", headers=probe)
    assert r.status_code == 201
    assert "tx=rollback" in r.headers["preference-applied"]
    r = api.post("/profiles", json={"name": "kept"}, headers={"Prefer": "tx=rollback"})
    assert r.status_code == 201 and r.headers["preference-applied"] == "tx=rollback"
    with psycopg.connect(profiles_dsn) as conn:
        assert conn.execute("SELECT count(*) FROM profiles").fetchone() == (0,)

    # In the cache but gone from the database: PostgreSQL's 42703 passes through as 400.
    execute(profiles_dsn, "ALTER TABLE profiles DROP COLUMN email")
    r = api.post("/profiles?columns=email", content=b"[]", headers=probe)
    assert r.status_code == 400
    assert r.json() == {
        "code": "42703",
        "details": None,
        "hint": None,
        "message": 'column "email" of relation "profiles" does not exist',
    }
    r = api.get("/profiles?select=email&limit=0")
    assert r.status_code == 400 and r.json()["message"] == "column profiles.email does not exist"


def test_notify_payloads_are_matched_exactly(profiles_dsn: str, postgrest: Factory) -> None:
    proc = postgrest(profiles_dsn)
    before = len(proc.stderr_lines())
    execute(profiles_dsn, "NOTIFY pgrst, 'RELOAD SCHEMA'", "NOTIFY pgrst, 'reload everything'")
    # Notifications arrive in order: once the config message is logged, the others were handled.
    execute(profiles_dsn, "NOTIFY pgrst, 'reload config'")
    proc.wait_for_stderr(r": Config reloaded$", after=before)
    assert messages(proc, before) == [
        'Received a config reload message on the "pgrst" channel',
        "Config reloaded",
    ]
    assert proc.load_count() == 1
    execute(profiles_dsn, "NOTIFY pgrst")  # empty payload reloads the schema
    proc.wait_for_load_count(2)


def test_no_listener_means_notify_changes_nothing(profiles_dsn: str, postgrest: Factory) -> None:
    proc = postgrest(profiles_dsn, listener=False)
    assert not any("Listener connected" in m for m in messages(proc))
    with psycopg.connect(profiles_dsn) as conn:
        apps = conn.execute(
            "SELECT query FROM pg_stat_activity WHERE application_name = 'PostgREST 16.2'"
        ).fetchall()
    assert not any(q.startswith("LISTEN") for (q,) in apps)
    execute(
        profiles_dsn, "ALTER TABLE profiles ADD COLUMN bio text", "NOTIFY pgrst, 'reload schema'"
    )
    time.sleep(0.8)
    assert proc.load_count() == 1
    assert httpx.post(proc.url + "/profiles", json={"name": "a", "bio": "b"}).status_code == 400
    proc.reload_signal()  # the only way left
    proc.wait_for_load_count(2)
    assert httpx.post(proc.url + "/profiles", json={"name": "a", "bio": "b"}).status_code == 201


def test_listener_is_visible_in_pg_stat_activity(profiles_dsn: str, postgrest: Factory) -> None:
    postgrest(profiles_dsn, channel="my chan")
    with psycopg.connect(profiles_dsn) as conn:
        rows = conn.execute(
            "SELECT query FROM pg_stat_activity WHERE application_name = 'PostgREST 16.2' AND query LIKE 'LISTEN%'"
        ).fetchall()
    assert rows == [('LISTEN "my chan"',)]


def test_lost_listener_is_logged_retried_and_reloads(profiles_dsn: str, postgrest: Factory) -> None:
    proc = postgrest(profiles_dsn)
    before = len(proc.stderr_lines())
    execute(
        profiles_dsn,
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE query LIKE 'LISTEN%'",
    )
    # "assume we lost notifications": the reconnected listener reloads the cache.
    proc.wait_for_load_count(2)
    new = messages(proc, before)
    assert new[0].startswith('Failed listening for database notifications on the "pgrst" channel. ')
    assert new[1] == "Retrying listening for database notifications in 1 seconds..."
    assert any(m.startswith("Listener connected to PostgreSQL") for m in new)


def test_sigusr1_reloads_without_a_received_line(profiles_dsn: str, postgrest: Factory) -> None:
    proc = postgrest(profiles_dsn)
    execute(profiles_dsn, "ALTER TABLE profiles ADD COLUMN bio text")
    before = len(proc.stderr_lines())
    proc.reload_signal()
    proc.wait_for_load_count(2)
    new = messages(proc, before)
    assert not any(m.startswith("Received") for m in new)
    assert new[0].startswith("Successfully connected to PostgreSQL")
    assert "bio" in proc.cache_columns("profiles")


def test_version_12_0_2_wording_and_logs(profiles_dsn: str, postgrest: Factory) -> None:
    proc = postgrest(profiles_dsn, version="12.0.2")
    admin_port = proc.admin_url.rsplit(":", 1)[1]
    port = proc.url.rsplit(":", 1)[1]
    msgs = messages(proc)
    listening = "Listening for notifications on the pgrst channel"  # races the worker, as for real
    assert msgs.count(listening) == 1
    assert [m for m in msgs if m != listening] == [
        "Starting PostgREST 12.0.2...",
        "Attempting to connect to the database...",
        "Connection successful",
        "Config reloaded",
        "Schema cache loaded",
        f"Admin server listening on port {admin_port}",
        f"Listening on port {port}",
    ]
    execute(profiles_dsn, "ALTER TABLE profiles ADD COLUMN bio text")
    r = httpx.post(proc.url + "/profiles", json={"name": "a", "bio": "b"})
    assert r.status_code == 400
    assert r.text == (
        '{"code":"PGRST204","details":null,"hint":null,'
        "\"message\":\"Column 'bio' of relation 'profiles' does not exist\"}"
    )
    assert "proxy-status" not in r.headers
    assert httpx.get(proc.admin_url + "/metrics").status_code == 404  # metrics arrived in v12.2
    before = len(proc.stderr_lines())
    execute(profiles_dsn, "NOTIFY pgrst, 'reload schema'")
    proc.wait_for_load_count(2)  # counted from stderr for this version
    assert messages(proc, before) == [
        "Starting PostgREST 12.0.2...",  # bug #3149: logged on every worker run
        "Attempting to connect to the database...",
        "Connection successful",
        "Config reloaded",
        "Schema cache loaded",
    ]
    assert "bio" in proc.cache_columns("profiles")  # from OpenAPI: no /schema_cache before v12.2
    first = ACCESS.match(proc.access_lines()[0])
    assert first and first["status"] == "400" and first["size"] == "-"  # no size before v13


def quoted(name: str) -> str:
    """PostgREST's quoted form of a name in select/columns/filters (`pQuotedValue`)."""
    return '"' + name.replace("\\", "\\\\").replace('"', '\\"') + '"'


def test_hostile_identifiers_are_handled_safely(db_dsn: str, postgrest: Factory) -> None:
    table = 'we"ird; tab le ü 100%'
    col = 'co"l, DROP TABLE victim; -- 5%s'
    new_col = 'ne"w; ñ'
    execute(
        db_dsn,
        "CREATE TABLE victim (id int)",
        sql.SQL("CREATE TABLE {} (id serial PRIMARY KEY, {} text)").format(
            sql.Identifier(table), sql.Identifier(col)
        ),
    )
    proc = postgrest(db_dsn)
    api = httpx.Client(base_url=proc.url)
    path = "/" + quote(table, safe="")
    assert api.post(path, json={col: "v1"}).status_code == 201
    r = api.post(path, params={"columns": quoted(col)}, json=[{col: "v2"}])
    assert r.status_code == 201
    r = api.get(path, params={"select": f"id,{quoted(col)}", quoted(col): "eq.v1"})
    assert (r.status_code, r.json()) == (200, [{"id": 1, col: "v1"}])
    r = api.get(path, params={"select": "id", "order": f"{quoted(col)}.desc"})
    assert r.json() == [{"id": 2}, {"id": 1}]

    execute(
        db_dsn,
        sql.SQL("ALTER TABLE {} ADD COLUMN {} text").format(
            sql.Identifier(table), sql.Identifier(new_col)
        ),
    )
    r = api.post(path, json={new_col: "v3"})
    assert r.status_code == 400
    assert (
        r.json()["message"]
        == f"Could not find the '{new_col}' column of '{table}' in the schema cache"
    )
    assert '\\"' in r.text and "ñ" in r.text  # JSON-escaped quote, raw UTF-8
    r = api.post("/" + quote("victim; DROP TABLE victim; --", safe=""), json={"id": 1})
    assert r.json()["code"] == "PGRST205"

    execute(db_dsn, "NOTIFY pgrst, 'reload schema'")
    proc.wait_for_load_count(2)
    assert api.post(path, json={new_col: "v3"}).status_code == 201
    with psycopg.connect(db_dsn) as conn:
        rows = conn.execute(
            sql.SQL("SELECT {} FROM {} ORDER BY id").format(
                sql.Identifier(new_col), sql.Identifier(table)
            )
        )
        assert rows.fetchall() == [(None,), (None,), ("v3",)]
        assert conn.execute("SELECT to_regclass('victim')::text").fetchone() == ("victim",)


def test_access_log_lines_match_the_reference(profiles_dsn: str, postgrest: Factory) -> None:
    proc = postgrest(profiles_dsn)
    execute(profiles_dsn, "ALTER TABLE profiles ADD COLUMN open_to_work_email text")
    api = httpx.Client(base_url=proc.url, headers={"User-Agent": "python-requests/2.32.3"})
    api.post("/profiles?columns=open_to_work_email", json=[{"open_to_work_email": "x"}])
    api.get("/profiles?select=open_to_work_email&limit=0", headers={"Referer": "http://ref/"})
    api.head("/profiles?select=id&limit=0")
    lines = [ACCESS.match(line) for line in proc.access_lines()]
    assert all(lines), proc.access_lines()
    post, get, head = lines
    assert post is not None and get is not None and head is not None
    assert (post["source"], post["role"], post["method"], post["target"], post["proto"]) == (
        "127.0.0.1", "postgres", "POST", "/profiles?columns=open_to_work_email", "HTTP/1.1",
    )  # fmt: skip
    assert (post["status"], post["size"], post["referer"], post["agent"]) == (
        "400",
        "139",
        "",
        "python-requests/2.32.3",
    )
    assert (get["status"], get["size"], get["referer"]) == ("200", "2", "http://ref/")
    assert (head["status"], head["size"]) == ("200", "-")  # HEAD has no Content-Length
    assert PREFIX.match(post["ts"] + ": x")


def test_log_level_warn_only_logs_4xx_and_5xx(profiles_dsn: str, postgrest: Factory) -> None:
    proc = postgrest(profiles_dsn, log_level="warn", tz="America/New_York")
    httpx.get(proc.url + "/profiles")
    httpx.post(proc.url + "/profiles", json={"nope": 1})
    assert [m["status"] for m in map(ACCESS.match, proc.access_lines()) if m] == ["400"]
    # Startup and schema cache lines are printed at every level.
    assert any(m.startswith("Schema cache loaded") for m in messages(proc))
    # Timestamps are in the process time zone, like PostgREST's zoned time.
    assert all(re.search(r" -0[45]00: ", line) for line in proc.stderr_lines())
    assert all(re.search(r" -0[45]00\] ", line) for line in proc.access_lines())


def test_rpc_is_resolved_from_the_cache(db_dsn: str, postgrest: Factory) -> None:
    execute(
        db_dsn,
        "CREATE FUNCTION pgrst_reload() RETURNS void LANGUAGE sql AS $$ NOTIFY pgrst, 'reload schema' $$",
    )
    proc = postgrest(db_dsn)
    execute(db_dsn, "CREATE FUNCTION add(a int, b int) RETURNS int LANGUAGE sql AS 'SELECT a + b'")
    r = httpx.post(proc.url + "/rpc/add", json={"a": 1, "b": 2})
    assert r.status_code == 404
    assert r.json() == {
        "code": "PGRST202",
        "details": "Searched for the function public.add with parameters a, b or with a single unnamed "
        "json/jsonb parameter, but no matches were found in the schema cache.",
        "hint": None,
        "message": "Could not find the function public.add(a, b) in the schema cache",
    }
    assert httpx.post(proc.url + "/rpc/pgrst_reload").status_code == 204  # reload by RPC
    proc.wait_for_load_count(2)
    r = httpx.post(proc.url + "/rpc/add", json={"a": 1, "b": 2})
    assert (r.status_code, r.json()) == (200, 3)


def test_admin_endpoints(profiles_dsn: str, postgrest: Factory) -> None:
    proc = postgrest(profiles_dsn)
    admin = httpx.Client(base_url=proc.admin_url)
    assert admin.get("/live").status_code == 200
    assert admin.get("/ready").status_code == 200
    cache = admin.get("/schema_cache").json()
    assert sorted(cache) == [
        "dbMediaHandlers",
        "dbRelationships",
        "dbRepresentations",
        "dbRoutines",
        "dbTables",
    ]
    assert json.dumps(cache["dbTables"], separators=(",", ":")).startswith('[[{"qiName":"profiles"')
    col = cache["dbTables"][0][1]["tableColumns"]["email"]
    assert (col["colName"], col["colType"], col["colNominalType"], col["colNullable"], col["colMaxLen"]) == (
        "email", "character varying", "character varying(50)", True, 50,
    )  # fmt: skip
    metrics = admin.get("/metrics")
    assert metrics.headers["content-type"] == "text/plain; charset=utf-8"
    assert 'pgrst_schema_cache_loads_total{status="SUCCESS"} 1.0' in metrics.text
    assert "pgrst_schema_cache_query_time_seconds" in metrics.text
    assert httpx.get(proc.url + "/").headers["server"] == "postgrest/16.2"


def test_failed_load_is_logged_and_retried(db_dsn: str, postgrest: Factory) -> None:
    proc = postgrest(db_dsn, schemas=("public", "api"))  # "api" does not exist yet
    assert any(
        m.startswith(
            "Failed to load the schema cache using db-schemas=public,api and db-extra-search-path=public. "
        )
        and '"code":"3F000"' in m
        for m in messages(proc)
    )
    assert httpx.get(proc.admin_url + "/ready").status_code == 503
    assert (
        'pgrst_schema_cache_loads_total{status="FAIL"} 1.0'
        in httpx.get(proc.admin_url + "/metrics").text
    )
    execute(db_dsn, "CREATE SCHEMA api")
    proc.wait_for_load_count(1, timeout=15)
    assert "Attempting to reconnect to the database in 1 seconds..." in messages(proc)
    assert httpx.get(proc.admin_url + "/ready").status_code == 200


def test_require_key(profiles_dsn: str, postgrest: Factory) -> None:
    proc = postgrest(profiles_dsn, require_key="sekret")
    assert httpx.get(proc.url + "/profiles").status_code == 401
    assert httpx.get(proc.url + "/profiles", headers={"apikey": "wrong"}).status_code == 401
    assert httpx.get(proc.url + "/profiles", headers={"apikey": "sekret"}).status_code == 200
    assert (
        httpx.get(proc.url + "/profiles", headers={"Authorization": "Bearer sekret"}).status_code
        == 200
    )


def test_password_role_needs_its_password(pg_server: PgServer) -> None:
    with pytest.raises(psycopg.OperationalError, match="password authentication failed"):
        psycopg.connect(pg_server.dsn(user=pg_server.password_role, password="wrong"))
    with psycopg.connect(
        pg_server.dsn(user=pg_server.password_role, password=pg_server.password)
    ) as conn:
        assert conn.execute("SELECT current_user").fetchone() == (pg_server.password_role,)
