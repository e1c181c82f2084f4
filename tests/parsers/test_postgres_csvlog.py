"""PostgreSQL csvlog, captured from a real PostgreSQL 15, through the real scan pipeline."""

from __future__ import annotations

import csv
import gzip
import io
from datetime import UTC, datetime

import polars as pl
import pytest

from parsers.postgres_csvlog import PostgresCsvlogFormat
from tests.parsers.postgres_fixtures import (
    CSVLOG,
    DB_ERRORS,
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
    return scan(CSVLOG)


def test_detected_as_csvlog(result) -> None:
    assert result.stats()["formats"] == {"postgres_csvlog": 1}


def test_same_events_as_the_stderr_log_of_the_same_session(result) -> None:
    assert migrations(result.events) == MIGRATIONS
    assert reloads(result.events) == RELOADS
    assert db_errors(result.events) == DB_ERRORS
    assert event_keys(result.events) == event_keys(scan(STDERR).events)
    assert result.events.filter(pl.col("code") == "PGRST204").height == 0


def test_quoted_newlines_commas_and_quotes_keep_line_numbers(result) -> None:
    # The multi-line ALTER starts on line 18 and takes three lines; the COMMENT (with `''`,
    # `"quoted"`, a comma and a newline) and the INSERT of 'O''Brien, "the quoted"<newline>...'
    # take two each, so every later record sits where the file has it.
    lines = CSVLOG.read_text().splitlines()
    by_line = {row["line_no"]: row for row in result.events.iter_rows(named=True)}
    assert by_line[18]["column"] in ("telegram_handle", "joinedAt")
    assert by_line[18]["message"].endswith('ADD COLUMN "joinedAt" timestamptz')
    for line_no, row in by_line.items():
        assert lines[line_no - 1].startswith(row["ts"].strftime("%Y-%m-%d")), (line_no, row)
    verbose = result.events.filter(pl.col("kind") == "db_error").row(6, named=True)
    assert "relation" in verbose["message"] and "STATEMENT:  INSERT INTO public.mypoolr" in verbose["raw"]


def test_timestamps_are_utc(result) -> None:
    config = result.events.filter(pl.col("kind") == "config_reload").row(0, named=True)
    assert config["ts"] == datetime(2026, 11, 25, 13, 18, 3, 552000, tzinfo=UTC)  # logged as +02


def _rewrite(rows: list[list[str]]) -> bytes:
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerows(rows)
    return out.getvalue().encode()


@pytest.mark.parametrize(("version", "width"), [("13", 24), ("12", 23)])
def test_older_column_counts(tmp_path, result, version, width) -> None:
    rows = list(csv.reader(io.StringIO(CSVLOG.read_text(), newline="")))
    path = tmp_path / f"pg{version}.csv"
    path.write_bytes(_rewrite([row[:width] for row in rows]))
    older = scan(path)
    assert older.stats()["formats"] == {"postgres_csvlog": 1}
    assert event_keys(older.events) == event_keys(result.events)


def test_tail_that_starts_inside_a_record(tmp_path, result) -> None:
    data = CSVLOG.read_bytes()
    cut = data.index(b"ADD COLUMN telegram_handle text,")  # inside the quoted multi-line ALTER
    path = tmp_path / "tail.csv"
    path.write_bytes(data[cut:])
    tail = scan(path)
    assert tail.stats()["formats"] == {"postgres_csvlog": 1}
    keys = event_keys(tail.events)
    assert ("migration", "public", "mypoolr", "joinedAt", "ADD COLUMN", None) not in keys
    assert ("migration", None, "mypoolr", "name", "RENAME COLUMN name TO display_name", None) in keys
    assert db_errors(tail.events) == DB_ERRORS


def test_record_torn_at_the_end_yields_no_half_statement(tmp_path) -> None:
    data = CSVLOG.read_bytes()
    cut = data.index(b"ALTER TABLE public.mypoolr ALTER COLUMN admin_id") + len(b"ALTER TABLE public.mypoolr ALTER COLUMN adm")
    path = tmp_path / "torn.csv"
    path.write_bytes(data[:cut])
    torn = scan(path)
    assert torn.stats()["formats"] == {"postgres_csvlog": 1}
    columns = torn.events["column"].drop_nulls().to_list()
    assert "adm" not in columns and "admin_id" not in columns
    assert ("public", "Ünïcode Tàble") not in set(torn.events.select("schema", "table").iter_rows())
    assert migrations(torn.events) <= MIGRATIONS


def test_gzip(tmp_path, result) -> None:
    path = tmp_path / "postgresql.csv.gz"
    path.write_bytes(gzip.compress(CSVLOG.read_bytes()))
    packed = scan(path)
    assert packed.stats()["formats"] == {"postgres_csvlog": 1}
    assert event_keys(packed.events) == event_keys(result.events)


def test_garbled_rows_never_raise(tmp_path, result) -> None:
    data = CSVLOG.read_bytes()
    path = tmp_path / "garbled.csv"
    path.write_bytes(data + b'not,a "csvlog row\n\xff\xfe\x00binary\n' + data[:200])
    garbled = scan(path)
    assert set(event_keys(result.events)) <= set(event_keys(garbled.events))


def test_garbled_rows_are_counted(tmp_path) -> None:
    path = tmp_path / "garbled.csv"
    path.write_bytes(CSVLOG.read_bytes() + b"not,a csvlog row\n")
    assert scan(path).stats()["lines_skipped"] == 1


def test_sniff() -> None:
    fmt = PostgresCsvlogFormat()
    assert fmt.sniff(CSVLOG.read_text().splitlines()[:40]) >= 0.95
    assert fmt.sniff(STDERR.read_text().splitlines()[:40]) == 0
    assert fmt.sniff(["id,timestamp,event_message", "1,2026-06-22T09:34:06,hello"]) == 0


@pytest.mark.parametrize("seed", range(40))
def test_mangled_input_never_raises(seed) -> None:
    events = scan_bytes(PostgresCsvlogFormat(), mangled(CSVLOG.read_bytes(), seed))
    assert set(events["kind"].drop_nulls()) <= {"migration", "cache_reload", "config_reload", "db_error"}
