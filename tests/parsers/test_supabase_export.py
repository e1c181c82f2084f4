"""Supabase log exports (JSON and CSV, both platform eras) through the real scan pipeline.

The fixtures follow the shapes of real exports (see fixtures/supabase/README.md): BigQuery-era
edge_logs objects with nested `metadata` arrays and microsecond timestamps, a ClickHouse-era
Management API reply with `source` and string-valued `log_attributes`, JSON lines, and a Logs
Explorer CSV download whose query aliased its columns.
"""

from __future__ import annotations

import gzip
import json
from datetime import UTC, datetime
from pathlib import Path

import polars as pl
import pytest

from parsers.supabase_export import SupabaseCsvExportFormat, SupabaseJsonExportFormat
from runbook.ingest.scan import ScanOptions, scan_paths
from tests.parsers.postgres_fixtures import mangled, scan_bytes

FIXTURES = Path(__file__).parent / "fixtures" / "supabase"
EDGE = FIXTURES / "edge_logs_bigquery.json"
REPLY = FIXTURES / "logs_api_reply.json"
NDJSON = FIXTURES / "logs.ndjson"
CSV = FIXTURES / "logs_explorer.csv"


def scan(*paths: Path, **options):
    return scan_paths([str(p) for p in paths], ScanOptions(**options))


def rows(events: pl.DataFrame, *columns: str) -> list[tuple]:
    return list(events.select(columns).iter_rows())


def test_bigquery_era_edge_logs() -> None:
    result = scan(EDGE)
    assert result.stats()["formats"] == {"supabase_json": 1}
    assert rows(result.events, "kind", "code", "table", "column", "method", "path", "status") == [
        # a read that succeeded: counted under reads
        ("access", None, "mypoolr", None, "GET", "/rest/v1/mypoolr?select=*&admin_id=eq.42", 200),
        ("schema_cache_error", "PGRST204", "mypoolr", None, "POST", "/rest/v1/mypoolr?select=*", 400),
        ("schema_cache_error", "PGRST204", "mypoolr", None, "POST", "/rest/v1/mypoolr?select=*", 400),
        # an older project: no proxy status, only the 400 on a write
        ("access", None, "Pool Members", None, "PATCH", "/rest/v1/Pool%20Members?id=eq.4", 400),
        # another error the gateway names (a not-null violation): a request, with its code
        ("access", "23502", "members", None, "POST", "/rest/v1/members", 400),
        ("schema_cache_error", "PGRST205", "testimonials", None, "GET", "/rest/v1/testimonials?select=*&limit=6", 404),
        # a write that succeeded: the denominator of the share that failed
        ("access", None, "mypoolr", None, "POST", "/rest/v1/mypoolr", 201),
    ]
    # not a table: an RPC, auth


def test_edge_request_ids_and_times() -> None:
    events = scan(EDGE).events.filter(pl.col("kind") == "schema_cache_error")
    assert events["request_id"].to_list()[:2] == ["019bba31-5c17-7d0d-a124-76f4645f1984", "9f1c2a3b4d5e6f72"]
    assert events["ts"][0] == datetime(2026, 6, 22, 9, 34, 6, 215000, tzinfo=UTC)  # 1782120846215000 µs
    assert events["detail"].unique().to_list() == ["edge_logs"]
    assert "proxy_status: PostgREST; error=PGRST204" in events["raw"][0]


def test_management_api_reply_with_every_source() -> None:
    result = scan(REPLY)
    assert result.stats()["formats"] == {"supabase_json": 1}
    assert rows(result.events, "kind", "code", "schema", "table", "column", "detail") == [
        ("migration", None, "public", "mypoolr", "telegram_handle", "ADD COLUMN"),
        ("cache_reload", None, None, None, None, "notify channel=pgrst"),
        ("cache_load", None, None, None, None, "loaded"),
        ("schema_cache_error", "PGRST204", None, "mypoolr", None, "edge_logs"),
        ("schema_cache_error", "PGRST204", None, "mypoolr", "adminname", "function_logs"),
        ("db_error", "42703", "public", "mypoolr", "adminname", None),
        ("cache_reload", None, None, None, None, "pgrst: reload schema"),
    ]
    assert result.events.filter(pl.col("code") == "PGRST204")["kind"].unique().to_list() == ["schema_cache_error"]


def test_naive_iso_timestamps_are_utc_whatever_tz_says() -> None:
    events = scan(REPLY, tz="Asia/Kolkata").events
    assert events["ts"][0] == datetime(2026, 6, 22, 9, 30, 0, 102000, tzinfo=UTC)


def test_json_lines_with_a_torn_line() -> None:
    result = scan(NDJSON)
    assert result.stats()["formats"] == {"supabase_json": 1}
    assert rows(result.events, "line_no", "kind") == [(1, "migration"), (2, "cache_reload"), (5, "cache_load")]


def test_torn_json_records_are_counted() -> None:
    assert scan(NDJSON).stats()["lines_skipped"] == 1


def test_pretty_printed_objects_pasted_one_after_another(tmp_path) -> None:
    objects = json.loads(EDGE.read_text())[:3]
    path = tmp_path / "pasted.json"
    path.write_text("\n\n".join(json.dumps(obj, indent=2) for obj in objects) + "\n")
    result = scan(path)
    assert result.stats()["formats"] == {"supabase_json": 1}
    assert rows(result.events, "kind", "table") == [("access", "mypoolr")] + [("schema_cache_error", "mypoolr")] * 2


def test_truncated_array_keeps_the_complete_records(tmp_path) -> None:
    data = EDGE.read_text()
    path = tmp_path / "cut.json"
    path.write_text(data[: data.index('"/rest/v1/Pool%20Members"') + 5])
    assert rows(scan(path).events, "kind", "code") == [("access", None)] + [("schema_cache_error", "PGRST204")] * 2


def test_logs_explorer_csv() -> None:
    result = scan(CSV)
    assert result.stats()["formats"] == {"supabase_csv": 1}
    assert rows(result.events, "line_no", "kind", "code", "table", "column", "method", "status", "request_id") == [
        (2, "access", None, "mypoolr", None, "GET", 200, "9f1c2a3b4d5e6f70"),  # a read
        (3, "access", None, "mypoolr", None, "POST", 400, "9f1c2a3b4d5e6f71"),
        # a quoted message over three lines, with a Python repr inside
        (4, "schema_cache_error", "PGRST204", "mypoolr", "adminname", None, None, None),
        (7, "access", None, "Ünïcode Tàble", None, "PUT", 400, "9f1c2a3b4d5e6f72"),
        (9, "schema_cache_error", "PGRST204", "members", None, "POST", 400, "9f1c2a3b4d5e6f73"),
    ]


def test_gzip(tmp_path) -> None:
    path = tmp_path / "edge_logs.json.gz"
    path.write_bytes(gzip.compress(EDGE.read_bytes()))
    result = scan(path)
    assert result.stats()["formats"] == {"supabase_json": 1}
    assert result.events.height == 7  # 5 of the schema cache or writes, a read, a 23502 write


def test_error_reply_and_empty_inputs_never_raise(tmp_path) -> None:
    reply = tmp_path / "reply.json"
    reply.write_text('{"result": null, "error": "Backend error! Retry your query."}')
    empty = tmp_path / "empty.csv"
    empty.write_text("id,timestamp,event_message\n")
    result = scan(reply, empty, format_of={str(reply): "supabase_json", str(empty): "supabase_csv"})
    assert result.events.height == 0
    assert result.stats()["unreadable"] == []


def test_large_one_line_api_reply_is_detected(tmp_path) -> None:
    reply = json.loads(REPLY.read_text())
    reply["result"] = reply["result"] * 200
    path = tmp_path / "big.json"
    path.write_text(json.dumps(reply))
    assert scan(path).stats()["formats"] == {"supabase_json": 1}


def test_sniff_is_specific() -> None:
    json_fmt, csv_fmt = SupabaseJsonExportFormat(), SupabaseCsvExportFormat()
    pino = '{"level":50,"time":1732539755000,"msg":"insert failed"}'
    jsonlog = '{"timestamp":"2026-11-25 13:02:35.952 UTC","pid":1,"error_severity":"ERROR","message":"x"}'
    assert json_fmt.sniff([pino, jsonlog]) == 0
    assert csv_fmt.sniff(["2026-11-25 13:02:26.894 UTC,,,6623,,6b06dc62.19df,1,,2026-11-25 13:02:26 UTC"]) == 0
    assert csv_fmt.sniff(CSV.read_text().splitlines()[:3]) == 1.0
    assert json_fmt.sniff(EDGE.read_text().splitlines()[:50]) == 1.0


@pytest.mark.parametrize("seed", range(30))
@pytest.mark.parametrize(("fmt", "path"), [(SupabaseJsonExportFormat(), EDGE), (SupabaseJsonExportFormat(), REPLY),
                                           (SupabaseCsvExportFormat(), CSV)], ids=["edge", "reply", "csv"])
def test_mangled_input_never_raises(fmt, path, seed) -> None:
    events = scan_bytes(fmt, mangled(path.read_bytes(), seed))
    assert events.filter(pl.col("code") == "PGRST204")["kind"].unique().to_list() in ([], ["schema_cache_error"])


def test_csv_of_timestamp_and_event_message_only(tmp_path) -> None:
    # The Logs Explorer's default `select timestamp, event_message ...`: the source is told
    # from the message itself.
    path = tmp_path / "explorer.csv"
    path.write_text(
        "timestamp,event_message\n"
        "2026-06-22T09:30:00.102000,statement: ALTER TABLE public.mypoolr RENAME COLUMN adminname TO admin_id\n"
        '2026-06-22T09:34:06.215000,"POST | 400 | 203.0.113.7 | 9f1c2a3b4d5e6f71 | '
        'https://qzvrtxmplbkaedwnhyuc.supabase.co/rest/v1/mypoolr | pool-bot/1.4"\n'
        '2026-06-22T09:34:07.010000,"column ""adminname"" of relation ""mypoolr"" does not exist"\n'
        '2026-06-22T09:35:00.000000,"22/Jun/2026:09:35:00 +0000: Schema cache loaded 32 Relations, '
        '27 Relationships, 14 RPCs, 0 Domain Representations, 4 Media Type Handlers"\n'
    )
    result = scan(path)
    assert result.stats()["formats"] == {"supabase_csv": 1}
    assert rows(result.events, "line_no", "kind", "code", "table", "column", "detail") == [
        (2, "migration", None, "mypoolr", "adminname", "RENAME COLUMN adminname TO admin_id"),
        (3, "access", None, "mypoolr", None, "edge_logs"),
        (4, "db_error", "42703", "mypoolr", "adminname", None),
        (5, "cache_load", None, None, None, "loaded"),
    ]
