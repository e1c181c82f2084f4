"""The SQL: literals and bound parameters survive hostile text, the engine cuts out the same
table and column as the parsers, and no value reaches ClickHouse SQL text unbound."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import polars as pl
import pytest

from parsers.error_body import error_columns
from runbook.ingest.stores.sql import (
    Bound,
    Inlined,
    LogTable,
    Range,
    check_source_names,
    literal,
    samples_sql,
    window_sql,
)
from tests.stores.store_server import StoreServer

HOSTILE = [
    "plain",
    "O'Brien",
    'say "hi"',
    "back\\slash \\' \\\\",
    "tab\there\nnew line\r",
    "Ünïcode tåble ✓",
    "'; DROP TABLE logs; --",
    "{v0:String}",
]

MESSAGES = [
    "Could not find the 'adminname' column of 'mypoolr' in the schema cache",
    "Column 'doseLogs' of relation 'patients' does not exist",
    "Could not find the 'O'Brien' column of 'Member Details' in the schema cache",
    "{\"message\":\"Could not find the 'a b' column of 'T' in the schema cache\"}",
    "Column 'x' of relation 'y' does not exist; Could not find the 'c' column of 't' in the schema cache",
    "Could not find the '' column of 'empty' in the schema cache",
]


def _engine_value(
    server: StoreServer, expression: str, params: dict[str, str] | None = None
) -> str:
    result = server.execute(f"SELECT {expression} AS v", "JSONEachRow", params)
    return json.loads(result.bytes())["v"]


@pytest.mark.parametrize("text", HOSTILE)
def test_a_literal_reads_back_as_the_same_text(server: StoreServer, text: str) -> None:
    assert _engine_value(server, literal(text)) == text


@pytest.mark.parametrize("text", HOSTILE)
def test_a_bound_value_reads_back_as_the_same_text(server: StoreServer, text: str) -> None:
    binder = Bound()
    placeholder = binder.value(text, "String")
    # The engine reads a param_ value in the "escaped" format, as the HTTP interface does.
    assert _engine_value(server, placeholder, binder.params) == text


def test_the_engine_cuts_out_what_the_parsers_cut_out(server: StoreServer) -> None:
    from runbook.ingest.stores.sql import NEW_COLUMN, NEW_TABLE, OLD_COLUMN, OLD_TABLE, PGRST204_NEW

    parsed = pl.DataFrame({"m": MESSAGES}).select(error_columns(pl.col("m"))).to_dicts()
    for message, expected in zip(MESSAGES, parsed, strict=True):
        m = literal(message)
        is_new = f"match({m}, {literal(PGRST204_NEW)})"
        table = _engine_value(
            server,
            f"if({is_new}, extract({m}, {literal(NEW_TABLE)}), extract({m}, {literal(OLD_TABLE)}))",
        )
        column = _engine_value(
            server,
            f"if({is_new}, extract({m}, {literal(NEW_COLUMN)}), extract({m}, {literal(OLD_COLUMN)}))",
        )
        assert (table, column) == (expected["table"], expected["column"]), message


def test_no_value_reaches_clickhouse_sql_unbound() -> None:
    table = LogTable("my db", "log's table", "At Time", "Line`x", "svc name", "TimestampTime")
    rng = Range(
        datetime(2026, 11, 16, 6, 0, 0, 123456, tzinfo=UTC),
        datetime(2026, 11, 17, 6, 0, tzinfo=UTC),
        ("edge_logs", "svc'x"),
    )
    binder = Bound()
    sql = window_sql(table, binder, rng) + samples_sql(
        table, binder, rng, [("Member Details", "O'Brien")], 5
    )
    for value in ("my db", "log's table", "At Time", "Line`x", "svc name", "TimestampTime", "edge_logs",
                  "svc'x", "2026", "Member Details", "O'Brien", "schema cache", "PGRST"):  # fmt: skip
        assert value not in sql
    assert "{v0:Identifier}" in sql or ":Identifier}" in sql
    assert any(v == "2026-11-16 06:00:00.123456" for v in binder.params.values())
    assert binder.url_params().keys() == {f"param_{k}" for k in binder.params}


def test_supabase_sql_inlines_values_and_keeps_fixed_names(server: StoreServer) -> None:
    table = LogTable(None, "logs", "timestamp", "event_message", "source")
    rng = Range(
        datetime(2026, 11, 16, 6, tzinfo=UTC), datetime(2026, 11, 17, 6, tzinfo=UTC), ("edge_logs",)
    )
    sql = window_sql(table, Inlined(), rng)
    assert "toDateTime64('2026-11-16 06:00:00.000000', 6, 'UTC')" in sql
    assert "`timestamp` >= " not in sql and "timestamp >= " in sql
    assert "timestamp < toDateTime64('2026-11-17 06:00:00.000000', 6, 'UTC')" in sql  # half-open
    assert "source IN ('edge_logs')" in sql
    with pytest.raises(ValueError):
        Inlined().ident("log's")


def test_source_names_are_checked() -> None:
    assert check_source_names(("edge_logs", "function_logs")) == ("edge_logs", "function_logs")
    for bad in ("Edge_logs", "edge-logs", "x'); --", ""):
        with pytest.raises(ValueError):
            check_source_names((bad,))


def test_the_candidate_pass_finds_every_row_the_precise_lists_pick() -> None:
    from runbook.ingest.stores.sql import (
        CANDIDATE_NEEDLES,
        CONTEXT_NEEDLES,
        NEEDLES,
        RELATED_NEEDLES,
    )

    for needle in (*NEEDLES, *CONTEXT_NEEDLES, *RELATED_NEEDLES):
        assert any(c in needle for c in CANDIDATE_NEEDLES), needle
    for message in MESSAGES:  # both PGRST204 wordings
        assert any(c in message for c in CANDIDATE_NEEDLES), message
