"""The reload step against a real PostgreSQL: the NOTIFY that PostgREST's listener receives."""

from __future__ import annotations

import psycopg
import pytest
from psycopg import sql

from runbook.config import load_settings
from runbook.servers.api import PostgrestClient
from runbook.steps.reload import notify_statement, plan_reload, send_reload


@pytest.mark.parametrize(
    "channel", ["pgrst", "PgRst", 'pg"rst; SELECT pg_sleep(10); --', "ch ännel"]
)
def test_notify_reaches_a_listener_on_exactly_that_channel(db_dsn: str, channel: str) -> None:
    settings = load_settings({"dsn": db_dsn, "channel": channel})
    with psycopg.connect(db_dsn, autocommit=True) as listener:
        listener.execute(sql.SQL("LISTEN {}").format(sql.Identifier(channel)))
        listener.execute("LISTEN pgrst")  # a different channel must not hear it (unless equal)
        plan = plan_reload(settings)
        outcome = send_reload(plan, settings, PostgrestClient(settings), "public")
        assert outcome.status == "sent", outcome.detail
        got = [(n.channel, n.payload) for n in listener.notifies(timeout=2, stop_after=1)]
    assert got == [(channel, "reload schema")]


def test_the_plan_shows_the_exact_sql_and_manual_instructions() -> None:
    settings = load_settings({"channel": 'a"b'}, env={})
    assert plan_reload(settings).sql_or_http == 'NOTIFY "a""b", \'reload schema\''
    assert notify_statement("pgrst").as_string() == "NOTIFY \"pgrst\", 'reload schema'"
    manual = plan_reload(settings, "manual")
    assert manual.sql_or_http is None and not manual.state_changing
    assert "docker kill -s SIGUSR1 <container>" in manual.instructions
    assert "Supabase" in manual.instructions
    rpc = plan_reload(load_settings({"reload_method": "rpc", "rpc_function": "re/load me"}, env={}))
    assert rpc.sql_or_http == "POST /rpc/re%2Fload%20me"


def test_notify_to_a_down_database_fails_cleanly() -> None:
    settings = load_settings({"dsn": "host=127.0.0.1 port=1 user=u dbname=d", "connect_timeout": 2})
    outcome = send_reload(plan_reload(settings), settings, PostgrestClient(settings), "public")
    assert outcome.status == "failed"
    assert outcome.error is not None and outcome.error.title == "Database unreachable"


def test_rpc_reload_calls_the_function_over_the_api(db_dsn: str, postgrest) -> None:
    with psycopg.connect(db_dsn, autocommit=True) as conn:
        conn.execute(
            "CREATE FUNCTION public.reload_pgrst() RETURNS void LANGUAGE sql AS "
            "$$ NOTIFY pgrst, 'reload schema' $$"
        )
    server = postgrest(db_dsn)
    server.wait_for_load_count(1)
    settings = load_settings(
        {"api_url": server.url, "reload_method": "rpc", "rpc_function": "reload_pgrst"}
    )
    with PostgrestClient(settings) as client:
        outcome = send_reload(plan_reload(settings), settings, client, "public")
    assert outcome.status == "sent", outcome.detail
    assert server.wait_for_load_count(2) >= 2


def test_the_reload_prompt_names_where_it_goes() -> None:
    import io

    from runbook.commands.consent import confirm
    from runbook.config import Settings
    from runbook.steps.reload import plan_reload

    settings = Settings(dsn="postgresql://migrator:s3cret@db.internal:6543/community", channel="pgrst")
    plan = plan_reload(settings)
    for word in ("'pgrst'", "'community'", "db.internal:6543", "'migrator'"):
        assert word in plan.description
    out = io.StringIO()
    confirm(plan, yes=False, dry_run=True, out=out, stdin=io.StringIO())
    assert "db.internal:6543" in out.getvalue() and "s3cret" not in out.getvalue()
    rpc = plan_reload(
        Settings(api_url="https://u:pw@api.example.org/rest/v1", reload_method="rpc", rpc_function="reload"),
    )
    assert "api.example.org/rest/v1" in rpc.description and "pw" not in rpc.description
