"""Reload plumbing against a real PostgreSQL, the PostgREST-compatible server and a replica."""

from __future__ import annotations

from collections.abc import Iterator

import psycopg
import pytest

from runbook.servers.plumbing import (
    PlumbingReport,
    backend_pid_changes,
    check_plumbing,
    pooler_from_dsn,
    recovery_meaning,
)
from tests.diagnosis.conftest import execute
from tests.diagnosis.replica import Replica, remove, start_primary, start_replica

SUPABASE_TRIGGERS_SQL = """
CREATE FUNCTION pgrst_ddl_watch() RETURNS event_trigger LANGUAGE plpgsql AS $$
BEGIN NOTIFY pgrst, 'reload schema'; END $$;
CREATE FUNCTION pgrst_drop_watch() RETURNS event_trigger LANGUAGE plpgsql AS $$
BEGIN NOTIFY pgrst, 'reload schema'; END $$;
CREATE EVENT TRIGGER pgrst_ddl_watch ON ddl_command_end EXECUTE PROCEDURE pgrst_ddl_watch();
CREATE EVENT TRIGGER pgrst_drop_watch ON sql_drop EXECUTE PROCEDURE pgrst_drop_watch();
"""


def plumbing(dsn: str, channel: str = "pgrst") -> PlumbingReport:
    with psycopg.connect(dsn) as conn:
        conn.read_only = True
        with conn.transaction(force_rollback=True):
            return check_plumbing(conn, channel=channel, dsn=dsn)


def rows(report: PlumbingReport) -> dict[str, object]:
    return {key: row.fact for key, row in report.keyed_evidence()}


def test_a_running_listener_is_found_with_its_pid_name_and_start(db_dsn: str, postgrest) -> None:
    server = postgrest(db_dsn)
    server.wait_for_load_count(1)
    report = plumbing(db_dsn)
    assert report.listening is True
    assert len(report.listeners or []) == 1
    backend = report.listeners[0]
    assert backend.application_name.startswith("PostgREST 16.2")
    assert backend.backend_start is not None
    assert rows(report)["plumbing.listener"] is True
    assert report.in_recovery is False
    assert report.queue_usage == 0.0
    assert not report.pooler.likely
    assert "no auto-reload event trigger (pgrst_ddl_watch/pgrst_watch) fires" in report.problems()


def test_no_listener_when_the_server_runs_without_one(db_dsn: str, postgrest) -> None:
    server = postgrest(db_dsn, listener=False)
    server.wait_for_load_count(1)
    report = plumbing(db_dsn)
    assert report.listening is False
    assert rows(report)["plumbing.listener"] is False
    assert any("no session LISTENs on channel 'pgrst'" in p for p in report.problems())


def test_a_listener_on_another_channel_does_not_count(db_dsn: str, postgrest) -> None:
    server = postgrest(db_dsn, channel="odd channel; --")
    server.wait_for_load_count(1)
    assert plumbing(db_dsn).listening is False
    assert plumbing(db_dsn, channel="odd channel; --").listening is True


def test_supabase_triggers_present_then_one_disabled(db_dsn: str) -> None:
    execute(db_dsn, SUPABASE_TRIGGERS_SQL)
    report = plumbing(db_dsn)
    assert {e.name for e in report.auto_reload()} == {"pgrst_ddl_watch", "pgrst_drop_watch"}
    assert rows(report)["plumbing.event_triggers"] is True
    assert not any("event trigger" in p for p in report.problems())

    execute(db_dsn, "ALTER EVENT TRIGGER pgrst_ddl_watch DISABLE")
    report = plumbing(db_dsn)
    state = {e.name: e.enabled for e in report.event_triggers or []}
    assert state == {"pgrst_ddl_watch": "disabled", "pgrst_drop_watch": "enabled"}
    assert "event trigger pgrst_ddl_watch is disabled" in report.problems()


def test_missing_triggers_are_a_contributing_factor(db_dsn: str) -> None:
    report = plumbing(db_dsn)
    assert report.event_triggers == []
    assert rows(report)["plumbing.event_triggers"] is False


def test_a_direct_connection_keeps_its_backend(db_dsn: str) -> None:
    assert backend_pid_changes(db_dsn) is False


@pytest.mark.parametrize(
    ("dsn", "likely"),
    [
        ("postgresql://u@aws-0-eu-west-1.pooler.supabase.com:6543/postgres", True),
        ("postgresql://u@aws-0-eu-west-1.pooler.supabase.com:5432/postgres", True),
        ("host=10.0.0.5 port=6432 dbname=app", True),
        ("postgresql://u@db.abcdefgh.supabase.co:5432/postgres", None),
        ("", None),
    ],
)
def test_pooler_conventions_are_said_as_likely(dsn: str, likely: bool | None) -> None:
    guess = pooler_from_dsn(dsn, env={})
    assert guess.likely is likely
    if likely:
        assert not guess.certain
        assert guess.describe().startswith("likely pooled")


def test_recovery_interpretation() -> None:
    assert "replica" in recovery_meaning(True) and "primary" in recovery_meaning(True)
    assert recovery_meaning(False).startswith("false: the primary")


@pytest.fixture(scope="module")
def replica() -> Iterator[Replica]:
    primary = start_primary()
    try:
        standby = start_replica(primary)
        try:
            yield standby
        finally:
            remove(standby)
    finally:
        primary.cleanup()


def test_a_real_replica_is_recognised(replica: Replica) -> None:
    report = plumbing(replica.dsn())
    assert report.in_recovery is True
    assert rows(report)["plumbing.replica"] is True
    assert any("read replica" in p for p in report.problems())
    # the pooler check does not take a different port for a proxy: the replica listens on it
    assert not report.pooler.likely


def test_an_unprivileged_role_cannot_prove_there_is_no_listener(
    db_dsn: str, pg_server, postgrest
) -> None:
    """Other roles' queries read `<insufficient privilege>`: no listener seen proves nothing."""
    server = postgrest(db_dsn, listener=False)
    server.wait_for_load_count(1)
    dbname = db_dsn.rsplit("/", 1)[1]
    weak = pg_server.dsn(dbname, user=pg_server.password_role, password=pg_server.password)
    report = plumbing(weak)
    assert report.listeners == [] and report.listeners_visible is False
    assert report.listening is None
    assert rows(report)["plumbing.listener"] is None
    assert not any("LISTENs" in p for p in report.problems())


class _Forwarder:
    """A plain TCP proxy in front of PostgreSQL: what a pooler looks like from the client side."""

    def __init__(self, host: str, port: int) -> None:
        import socket
        import threading

        self.target = (host, port)
        self.server = socket.create_server(("127.0.0.1", 0))
        self.port = self.server.getsockname()[1]
        self.threads: list[threading.Thread] = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        import socket
        import threading

        while True:
            try:
                client, _ = self.server.accept()
            except OSError:
                return
            upstream = socket.create_connection(self.target)
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pipe, args=(a, b), daemon=True).start()

    @staticmethod
    def _pipe(src, dst) -> None:
        try:
            while data := src.recv(65536):
                dst.sendall(data)
        except OSError:
            pass
        finally:
            for s in (src, dst):
                try:
                    s.close()
                except OSError:
                    pass

    def close(self) -> None:
        self.server.close()


def test_a_forwarded_connection_is_said_likely_pooled_not_certain(db_dsn: str, pg_server) -> None:
    proxy = _Forwarder(pg_server.host, pg_server.port)
    try:
        dbname = db_dsn.rsplit("/", 1)[1]
        via = f"postgresql://{pg_server.superuser}@127.0.0.1:{proxy.port}/{dbname}"
        report = plumbing(via)
    finally:
        proxy.close()
    assert report.pooler.likely is True and report.pooler.certain is False
    text = report.pooler.describe()
    assert text.startswith("likely pooled")
    assert f"dialled port {proxy.port} but the server listens on {pg_server.port}" in text
    assert "the backend stayed the same across two transactions" in text
