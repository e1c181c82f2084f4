"""What the PostgreSQL 15 fixtures in `fixtures/postgres/` hold, shared by the three format tests.

The fixtures were captured from a real server by `fixtures/postgres/capture.py`; the same session
is in `pg15.log` (stderr, Debian prefix), `pg15.csv` (csvlog) and `pg15.json` (jsonlog), so all
three formats must find the same events.
"""

from __future__ import annotations

from pathlib import Path

import polars as pl

from runbook.ingest.scan import ScanOptions, ScanResult, scan_paths

FIXTURES = Path(__file__).parent / "fixtures" / "postgres"
STDERR = FIXTURES / "pg15.log"
CSVLOG = FIXTURES / "pg15.csv"
JSONLOG = FIXTURES / "pg15.json"
PGBADGER = FIXTURES / "pg15_pgbadger_prefix.log"

# (schema, table, column, detail, level) of every migration in the captured session.
MIGRATIONS = {
    ("public", "mypoolr", None, "CREATE TABLE", "info"),
    (None, "Members", None, "CREATE TABLE", "info"),
    ("public", "v_pools", None, "CREATE VIEW", "info"),
    # one multi-line statement, two actions
    ("public", "mypoolr", "telegram_handle", "ADD COLUMN", "info"),
    ("public", "mypoolr", "joinedAt", "ADD COLUMN", "info"),
    # `alter table MyPoolr rename column name to display_name`: unquoted names fold to lower case
    (None, "mypoolr", "name", "RENAME COLUMN name TO display_name", "info"),
    (None, "Members", "Display Name", 'RENAME COLUMN "Display Name" TO "displayName"', "info"),
    ("Billing", 'Invoice "Q"', None, "CREATE TABLE", "info"),
    ("Billing", 'Invoice "Q"', "Total.Amount", "ADD COLUMN", "info"),
    (None, "Ünïcode Tàble", None, "CREATE TABLE", "info"),
    (None, "Ünïcode Tàble", "naïve col", 'RENAME COLUMN "naïve col" TO "col.with.dots"', "info"),
    ("public", "mypoolr", "admin_id", "ALTER COLUMN TYPE", "info"),
    # the same ADD COLUMN again: PostgreSQL answered 42701, so it did not apply
    ("public", "mypoolr", "telegram_handle", "ADD COLUMN", "error"),
    ("public", "v_pools", None, "DROP VIEW", "info"),
    (None, "Members", None, "RENAME TO members", "info"),
}

# (kind, detail) of the reload requests, in order.
RELOADS = [
    ("cache_reload", "pgrst: reload schema"),  # NOTIFY from psql
    ("cache_reload", "pgrst: reload schema"),  # SELECT pg_notify(...) from psycopg
    ("config_reload", "pgrst: reload config"),
    ("cache_reload", "pgrst"),  # bare NOTIFY pgrst
]

# (code, schema, table, column) of the 42703/42P01 errors, in order.
DB_ERRORS = [
    ("42703", "public", "mypoolr", "adminname"),  # INSERT target
    ("42703", "public", "mypoolr", "adminName"),  # UPDATE target, quoted mixed case
    ("42703", "public", "mypoolr", "adminname"),  # `column p.adminname`: p is an alias
    ("42703", "public", "mypoolr", "adminname"),  # `column "adminname" does not exist`
    ("42P01", None, "no_such_table", None),
    ("42P01", "Billing", 'Missing "Table"', None),  # `relation "Billing.Missing "Table""`
    ("42703", "public", "mypoolr", "adminname"),  # log_error_verbosity = verbose
    ("42P01", None, "Missing Table", None),
]


def scan(*paths: Path | str, **options) -> ScanResult:
    return scan_paths([str(p) for p in paths], ScanOptions(**options))


def migrations(events: pl.DataFrame) -> set[tuple]:
    rows = events.filter(pl.col("kind") == "migration")
    return set(rows.select("schema", "table", "column", "detail", "level").iter_rows())


def reloads(events: pl.DataFrame) -> list[tuple]:
    rows = events.filter(pl.col("kind").is_in(["cache_reload", "config_reload"]))
    return list(rows.select("kind", "detail").iter_rows())


def db_errors(events: pl.DataFrame) -> list[tuple]:
    rows = events.filter(pl.col("kind") == "db_error")
    return list(rows.select("code", "schema", "table", "column").iter_rows())


def event_keys(events: pl.DataFrame) -> list[tuple]:
    """What a format found, without where: for comparing formats and chunkings."""
    return sorted(
        events.select("kind", "schema", "table", "column", "detail", "code").iter_rows(),
        key=repr,
    )


HOSTILE_TOKENS = (b'"', b"\n", b"\r\n", b"\t", b",", b"{", b"}", b"[", b"\\", b"\xff", b"\x00", b"'",
                  b"ERROR:  ", b"statement: ALTER TABLE ", b"STATEMENT:  ", b'"result": [', b"1e400")


def mangled(data: bytes, seed: int) -> bytes:
    """`data` with random cuts, insertions of syntax characters and flipped bytes (reproducible)."""
    import random

    rnd = random.Random(seed)
    out = bytearray(data)
    for _ in range(rnd.randint(1, 40)):
        at = rnd.randrange(len(out)) if out else 0
        roll = rnd.random()
        if roll < 0.3:
            del out[at : at + rnd.randint(1, 50)]
        elif roll < 0.6:
            out[at:at] = b"".join(rnd.choice(HOSTILE_TOKENS) for _ in range(rnd.randint(1, 5)))
        elif out:
            out[at] = rnd.randrange(256)
    return bytes(out)


def scan_bytes(fmt, data: bytes) -> pl.DataFrame:
    """Events of `data` in format `fmt`, straight through the scanner (no detection)."""
    from runbook.ingest.scanner import SourceScanner

    scanner = SourceScanner("hostile", fmt)
    if fmt.whole_file:
        return scanner.document(data)
    return pl.concat([scanner.feed(data), scanner.finish()])
