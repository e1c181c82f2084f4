"""A chdb-backed stand-in store for the session, reset (faults, records, fast clock) per test.

    store_server   -> StoreServer (session): both faces on 127.0.0.1, the fixture loaded
    server         -> the same server, reset, with a fresh FakeClock just after the fixture
    settings       -> StoreSettings pointing at it (token, API URL, password, the fake clock)
    supabase_url / clickhouse_url / clickhouse_v0_url / custom_url -> input URLs

chdb-core is a test dependency (`pip install '.[test]'`); without it these tests fail, never skip:
they are the evidence that the SQL runs on a real ClickHouse engine.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from urllib.parse import quote

import pytest

from runbook.ingest.stores import StoreSettings
from tests.stores.fixture import UNTIL, fuzz_rows, rows
from tests.stores.store_server import FakeClock, StoreServer, create_tables, load_fuzz, load_rows

try:
    from chdb.session import Session
except ImportError as exc:  # pragma: no cover - the message is the point
    raise RuntimeError("chdb-core is missing: pip install '.[test]'") from exc


@pytest.fixture(scope="session")
def store_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[StoreServer]:
    session = Session(str(tmp_path_factory.mktemp("chdb")))
    create_tables(session)
    load_rows(session, rows())
    load_fuzz(session, fuzz_rows())
    server = StoreServer(session, FakeClock(UNTIL + timedelta(minutes=5))).start()
    try:
        yield server
    finally:
        server.stop()
        session.close()


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(UNTIL + timedelta(minutes=5))


@pytest.fixture
def server(store_server: StoreServer, clock: FakeClock) -> StoreServer:
    store_server.reset(clock)
    return store_server


@pytest.fixture
def settings(server: StoreServer, clock: FakeClock) -> StoreSettings:
    return StoreSettings(
        access_token=server.token,
        management_api_url=server.url,
        clickhouse_password=server.ch_password,
        clock=clock,
    )


@pytest.fixture
def supabase_url(server: StoreServer) -> str:
    return f"supabase://{server.project}"


@pytest.fixture
def clickhouse_url(server: StoreServer) -> str:
    return f"clickhouse+http://{server.ch_user}@127.0.0.1:{server.port}/otel/otel_logs"


@pytest.fixture
def clickhouse_v0_url(server: StoreServer) -> str:
    return f"clickhouse+http://{server.ch_user}@127.0.0.1:{server.port}/otel/otel_logs_v0"


@pytest.fixture
def custom_url(server: StoreServer) -> str:
    return f"clickhouse+http://{server.ch_user}@127.0.0.1:{server.port}/app/{quote('Event Log')}"


@pytest.fixture
def export_file(tmp_path: Path) -> Path:
    from tests.stores.fixture import write_export

    return write_export(tmp_path / "logs.json", rows())
