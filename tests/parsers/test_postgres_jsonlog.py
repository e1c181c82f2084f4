"""PostgreSQL 15 jsonlog, captured from a real server, through the real scan pipeline."""

from __future__ import annotations

import gzip
import json
from datetime import UTC, datetime

import polars as pl
import pytest

from parsers.postgres_jsonlog import PostgresJsonlogFormat
from tests.parsers.postgres_fixtures import (
    DB_ERRORS,
    JSONLOG,
    MIGRATIONS,
    RELOADS,
    STDERR,
    db_errors,
    event_keys,
    mangled,
    migrations,
    reloads,
    scan,
    scan_bytes,
)


@pytest.fixture(scope="module")
def result():
    return scan(JSONLOG)


def test_detected_as_jsonlog(result) -> None:
    assert result.stats()["formats"] == {"postgres_jsonlog": 1}


def test_keys_are_those_postgresql_15_writes() -> None:
    keys = set()
    for line in JSONLOG.read_text().splitlines():
        keys |= set(json.loads(line))
    assert {"timestamp", "user", "dbname", "pid", "error_severity", "state_code", "message", "statement"} <= keys
    assert {"session_id", "line_num", "backend_type", "query_id", "cursor_position"} <= keys


def test_same_events_as_the_stderr_log_of_the_same_session(result) -> None:
    assert migrations(result.events) == MIGRATIONS
    assert reloads(result.events) == RELOADS
    assert db_errors(result.events) == DB_ERRORS
    assert event_keys(result.events) == event_keys(scan(STDERR).events)
    assert result.events.filter(pl.col("code") == "PGRST204").height == 0


def test_line_numbers_and_raw(result) -> None:
    lines = JSONLOG.read_text().splitlines()
    for row in result.events.iter_rows(named=True):
        assert row["raw"] == lines[row["line_no"] - 1]


def test_timestamps_are_utc(result) -> None:
    assert result.events["ts"][0] == datetime(2026, 11, 25, 13, 18, 2, 697000, tzinfo=UTC)
    config = result.events.filter(pl.col("kind") == "config_reload").row(0, named=True)
    assert config["ts"] == datetime(2026, 11, 25, 13, 18, 3, 552000, tzinfo=UTC)  # logged as +02


def test_broken_lines_are_skipped_and_counted(tmp_path, result) -> None:
    broken = [
        '{"timestamp":"2026-11-25 13:18:02.724 UTC","pid":1,"error_severity":"LOG","message":"statement: ALTER TAB',
        '{"timestamp": nope, "state_code":"42703"}',
    ]
    path = tmp_path / "broken.json"
    path.write_text(JSONLOG.read_text() + "\n".join(broken) + "\n")
    noisy = scan(path)
    assert event_keys(noisy.events) == event_keys(result.events)
    assert noisy.stats()["lines_skipped"] == result.stats()["lines_skipped"] + len(broken)


def test_gzip(tmp_path, result) -> None:
    path = tmp_path / "postgresql.json.gz"
    path.write_bytes(gzip.compress(JSONLOG.read_bytes()))
    assert event_keys(scan(path).events) == event_keys(result.events)


def test_sniff_is_specific() -> None:
    fmt = PostgresJsonlogFormat()
    assert fmt.sniff(JSONLOG.read_text().splitlines()[:40]) == 1.0
    supabase_row = '{"event_message": "x", "timestamp": 1, "error_severity": "LOG"}'
    pino = '{"level":50,"time":1732539755000,"pid":7,"msg":"insert failed"}'
    assert fmt.sniff([supabase_row, pino]) == 0


@pytest.mark.parametrize("seed", range(40))
def test_mangled_input_never_raises(seed) -> None:
    events = scan_bytes(PostgresJsonlogFormat(), mangled(JSONLOG.read_bytes(), seed))
    assert set(events["kind"].drop_nulls()) <= {"migration", "cache_reload", "config_reload", "db_error"}
