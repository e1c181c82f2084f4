"""PostgreSQL stderr logs, captured from a real PostgreSQL 15, through the real scan pipeline."""

from __future__ import annotations

import gzip
from datetime import UTC, datetime

import polars as pl
import pytest

from parsers.postgres_log import PostgresLogFormat
from runbook.ingest.scan import ScanOptions, scan_paths
from tests.parsers.postgres_fixtures import (
    DB_ERRORS,
    MIGRATIONS,
    PGBADGER,
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
    return scan(STDERR)


def test_detected_as_postgres_log(result) -> None:
    assert result.stats()["formats"] == {"postgres_log": 1}
    assert result.stats()["unreadable"] == []


def test_every_ddl_action_with_exact_names(result) -> None:
    assert migrations(result.events) == MIGRATIONS


def test_multi_line_statement_is_read_whole(result) -> None:
    rows = result.events.filter((pl.col("kind") == "migration") & (pl.col("column") == "joinedAt"))
    assert rows["message"].to_list() == [
        'ALTER TABLE public.mypoolr\n    ADD COLUMN telegram_handle text,\n    ADD COLUMN "joinedAt" timestamptz'
    ]
    # the event points at the line the record starts on
    assert rows["line_no"].to_list() == [18]
    assert rows["record_no"].to_list() == [18]


def test_statements_that_only_look_like_ddl_are_not_migrations(result) -> None:
    messages = " ".join(result.events["message"].drop_nulls().to_list())
    for not_a_migration in ("via_do", "not_ddl", "COMMENT ON", "ROW LEVEL SECURITY", "CREATE INDEX", "app_events"):
        assert not_a_migration not in messages


def test_reload_requests(result) -> None:
    assert reloads(result.events) == RELOADS


def test_column_and_relation_errors_are_db_errors_never_pgrst204(result) -> None:
    assert db_errors(result.events) == DB_ERRORS
    assert result.events.filter(pl.col("code") == "PGRST204").height == 0
    assert result.events.filter(pl.col("kind") == "schema_cache_error").height == 0


def test_error_message_loses_position_and_verbose_code(result) -> None:
    verbose = result.events.filter(pl.col("kind") == "db_error").row(6, named=True)
    assert verbose["message"] == 'column "adminname" of relation "mypoolr" does not exist'
    assert "STATEMENT:  INSERT INTO public.mypoolr (id, adminname) VALUES (2, 'y');" in verbose["raw"]


def test_timestamps_are_utc(result) -> None:
    first = result.events.row(0, named=True)
    assert first["ts"] == datetime(2026, 11, 25, 13, 18, 2, 697000, tzinfo=UTC)
    # written as `2026-11-25 15:18:03.552 +02` after log_timezone changed to Etc/GMT-2
    config = result.events.filter(pl.col("kind") == "config_reload").row(0, named=True)
    assert config["ts"] == datetime(2026, 11, 25, 13, 18, 3, 552000, tzinfo=UTC)
    assert result.events["ts"].is_sorted()


def test_pgbadger_style_prefix() -> None:
    result = scan(PGBADGER)
    assert result.stats()["formats"] == {"postgres_log": 1}
    assert migrations(result.events) == {
        ("public", "mypoolr", None, "CREATE TABLE", "info"),
        ("public", "mypoolr", "admin_id", "ADD COLUMN", "info"),
    }
    assert db_errors(result.events) == [("42703", "public", "mypoolr", "adminname")]
    assert result.events["ts"][0] == datetime(2026, 11, 25, 13, 18, 5, tzinfo=UTC)


def test_docker_compose_prefix(tmp_path, result) -> None:
    # `docker compose logs` puts the service name before every line, continuation lines too.
    lines = STDERR.read_text().splitlines()
    path = tmp_path / "compose.log"
    path.write_text("".join(f"postgres-1  | {line}\n" for line in lines))
    compose = scan(path)
    assert compose.stats()["formats"] == {"postgres_log": 1}
    assert event_keys(compose.events) == event_keys(result.events)


def test_gzip_and_crlf(tmp_path, result) -> None:
    path = tmp_path / "postgresql-15-main.log.1.gz"
    path.write_bytes(gzip.compress(STDERR.read_bytes().replace(b"\n", b"\r\n")))
    packed = scan(path)
    assert packed.stats()["formats"] == {"postgres_log": 1}
    assert event_keys(packed.events) == event_keys(result.events)


@pytest.mark.parametrize("chunk_bytes", [300, 1024, 4096])
def test_same_events_whatever_the_chunking(chunk_bytes, result) -> None:
    chunked = scan_paths([str(STDERR)], ScanOptions(chunk_bytes=chunk_bytes))
    # Where a chunk ends between an ERROR and its STATEMENT, the statement's extras (schema,
    # failed-DDL level) can be missing, but nothing is lost or counted twice.
    def core(events):
        return sorted(events.select("line_no", "kind", "table", "column", "detail", "code").iter_rows(), key=repr)

    assert core(chunked.events) == core(result.events)


def test_lines_that_yield_nothing_are_counted_not_raised(tmp_path, result) -> None:
    garbage = [
        "garbage that says does not exist but is no PostgreSQL line",
        "2026-11-25 13:18:02.745 UTC [31602] postgres@app LOG:  statement: ALTER TABLE (((",
        "\ta tab-led line with no record above it in reach" + "\udcff",
    ]
    text = STDERR.read_text()
    path = tmp_path / "noisy.log"
    path.write_bytes((text + "\n".join(garbage) + "\n").encode("utf-8", "surrogateescape"))
    noisy = scan(path)
    assert event_keys(noisy.events) == event_keys(result.events)
    assert noisy.stats()["lines_skipped"] == result.stats()["lines_skipped"] + len(garbage)
    assert noisy.stats()["invalid_utf8_lines"] == 1


def test_sniff_is_specific() -> None:
    fmt = PostgresLogFormat()
    assert fmt.sniff(STDERR.read_text().splitlines()[:50]) > 0.9
    assert fmt.sniff(["21/Aug/2026:13:56:41 +0000: Failed listening for database notifications on the "
                      '"pgrst" channel. ERROR:  could not access status of transaction 12345']) == 0
    assert fmt.sniff(["ERROR:    Exception in ASGI application"]) == 0
    assert fmt.sniff(["2026-11-18 09:15:01,223 ERROR app: insert failed"]) == 0


@pytest.mark.parametrize("seed", range(40))
def test_mangled_input_never_raises(seed) -> None:
    events = scan_bytes(PostgresLogFormat(), mangled(STDERR.read_bytes(), seed))
    assert set(events["kind"].drop_nulls()) <= {"migration", "cache_reload", "config_reload", "db_error"}


def test_statement_whose_continuation_lost_its_tab(tmp_path) -> None:
    # Something between the server and the file replaced PostgreSQL's tab with spaces: the
    # continuation lines hold no keyword, so only the head is seen; it still names the table.
    path = tmp_path / "postgres.log"
    path.write_text(
        "2026-11-17 18:41:58.604 UTC [733104] postgres@mypoolr LOG:  statement: CREATE TABLE public.MyPoolr (\n"
        "    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,\n"
        "    admin_id bigint NOT NULL\n"
        ");\n"
        '2026-11-17 18:41:58.655 UTC [733104] postgres@mypoolr LOG:  statement: ALTER TABLE ONLY "Members"\n'
        "    ADD COLUMN pool_id bigint;\n"
    )
    result = scan(path)
    assert migrations(result.events) == {
        ("public", "mypoolr", None, "CREATE TABLE", "info"),
        (None, "Members", None, "ALTER TABLE", "info"),
    }
