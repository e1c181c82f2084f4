"""Shared fixtures: a real PostgreSQL per session, a fresh database per test, and a factory
for PostgREST-compatible servers (see tests/support/).

    pg_server   -> PgServer (session): .dsn(dbname="postgres", user=None, password=None), .host,
                   .port, .stop(), .start(), .superuser, .password_role, .password
    db_dsn      -> str: a fresh database cloned from a template, superuser DSN, dropped after
    postgrest   -> factory(dsn, *, version="16.2", channel="pgrst", listener=True,
                   schemas=("public",), log_level="info", tx_end="commit-allow-override",
                   require_key=None, anon_role=None, tz="UTC", extra_args=()) -> PostgrestProcess
                   (typed as tests.support.postgrest_process.PostgrestFactory)

PostgreSQL that cannot start is a hard error, never a skip: these tests are the evidence.
"""

from __future__ import annotations

import sys
import uuid
from collections.abc import Iterator, Sequence
from pathlib import Path

import pytest

# `tests.support` must import however pytest was launched (rootdir conftest, importlib mode).
_ROOT = str(Path(__file__).resolve().parents[1])
if _ROOT not in sys.path:
    sys.path.insert(0, _ROOT)

from tests.support.pg import PgServer, PgServerError  # noqa: E402
from tests.support.postgrest_process import (  # noqa: E402
    PostgrestFactory,
    PostgrestProcess,
    start_postgrest,
)


@pytest.fixture(scope="session")
def pg_server() -> Iterator[PgServer]:
    """A real PostgreSQL for the whole session (initdb in a temp dir, trust + one SCRAM role)."""
    server = PgServer()
    try:
        server.start()
    except PgServerError as exc:
        server.cleanup()
        pytest.fail(f"PostgreSQL could not be started: {exc}", pytrace=False)
    try:
        yield server
    finally:
        server.cleanup()


@pytest.fixture
def db_dsn(pg_server: PgServer) -> Iterator[str]:
    """A fresh database for one test (superuser DSN); dropped, sessions and all, afterwards."""
    if not pg_server.is_running:  # a previous test stopped it
        pg_server.start()
    name = f"t_{uuid.uuid4().hex[:12]}"
    dsn = pg_server.create_database(name)
    try:
        yield dsn
    finally:
        if not pg_server.is_running:
            pg_server.start()
        pg_server.drop_database(name)


@pytest.fixture
def postgrest(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PostgrestFactory]:
    """Factory for PostgREST-compatible test servers; every one started is stopped at teardown."""
    started: list[PostgrestProcess] = []

    def factory(
        dsn: str,
        *,
        version: str = "16.2",
        channel: str = "pgrst",
        listener: bool = True,
        schemas: Sequence[str] = ("public",),
        log_level: str = "info",
        tx_end: str = "commit-allow-override",
        require_key: str | None = None,
        anon_role: str | None = None,
        tz: str = "UTC",
        extra_args: Sequence[str] = (),
    ) -> PostgrestProcess:
        proc = start_postgrest(
            dsn,
            tmp_path_factory.mktemp("postgrest"),
            version=version,
            channel=channel,
            listener=listener,
            schemas=schemas,
            log_level=log_level,
            tx_end=tx_end,
            require_key=require_key,
            anon_role=anon_role,
            tz=tz,
            extra_args=extra_args,
        )
        started.append(proc)
        return proc

    try:
        yield factory
    finally:
        for proc in reversed(started):
            proc.stop()


@pytest.fixture(autouse=True)
def _no_inherited_terminal_size(monkeypatch: pytest.MonkeyPatch) -> None:
    """Something in the test process sets $COLUMNS below os.environ (CLI children saw 80), so a
    CLI child would cut its table to that width. Each test's children see them empty (tests of
    the width pass their own environment)."""
    monkeypatch.setenv("COLUMNS", "")
    monkeypatch.setenv("LINES", "")
