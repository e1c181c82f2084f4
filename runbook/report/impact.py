"""The impact section of the incident report: failed requests, endpoints, tables, first and
last failure, peak, and the write traffic around the failures (from the scan document, and from
the events when they were kept)."""

from __future__ import annotations

from typing import Any

import polars as pl

from runbook.events import parse_ts
from runbook.incidents.grouping import (
    ACCESS_SLACK,
    WRITE_METHODS,
    endpoint,
    pgrst204_requests,
    table_of_path,
)
from runbook.incidents.requests import endpoints_of_failures, fold_client_access
from runbook.incidents.writes import describe as describe_writes


def impact_of(
    doc: dict[str, Any], incident: dict[str, Any], events: pl.DataFrame | None
) -> dict[str, Any]:
    per_minute = incident.get("per_minute") or []
    peak = max(per_minute, key=lambda p: p["count"], default=None)
    impact: dict[str, Any] = {
        "failed_requests": incident["count"],
        "first": incident.get("first_seen"),
        "last": incident.get("last_seen"),
        "duration_seconds": incident.get("duration_seconds"),
        "peak_per_minute": incident.get("peak_per_minute", 0),
        "peak_minute": peak["minute"] if peak else None,
        "sources": list(incident.get("sources") or []),
        "distinct_sources": len(incident.get("sources") or []),
        "access_400s": (incident.get("context") or {}).get("access_400s"),
        **_writes(incident),
        "last_failure": None,
        "endpoints": [
            {"endpoint": e, "errors": None, "access_400s": None}
            for e in incident.get("endpoints") or []
        ],
        "incidents": [
            {
                "id": i["id"],
                "table": i["table"],
                "column": i["column"],
                "count": i["count"],
                "this": i["id"] == incident["id"],
            }
            for i in doc.get("incidents") or []
        ],
        "related": [
            {
                "code": r.get("code"),
                "table": r.get("table"),
                "column": r.get("column"),
                "count": r.get("count"),
            }
            for r in doc.get("related") or []
        ],
    }
    if events is not None and events.height:
        _impact_from_events(impact, incident, events)
    return impact


def _writes(incident: dict[str, Any]) -> dict[str, Any]:
    """The writes to the table while the incident lasted (`context.writes` of the scan): the
    same numbers and the same sentence as `scan` and `run --logs` give."""
    writes = (incident.get("context") or {}).get("writes") or None
    return {
        "writes": writes,
        "writes_in_access_log": writes.get("requests") if writes else None,
        "writes_failed_share": writes.get("share_400") if writes else None,
        "writes_sentence": describe_writes(incident["table"], writes),
    }


def _impact_from_events(
    impact: dict[str, Any], incident: dict[str, Any], events: pl.DataFrame
) -> None:
    table, column = incident["table"], incident["column"]
    rows = pgrst204_requests(events).filter(
        (pl.col("table") == table) & (pl.col("column") == column)
    )
    if rows.height:
        last = rows.filter(pl.col("ts").is_not_null()).tail(1)
        if last.height:
            r = last.row(0, named=True)
            impact["last_failure"] = {
                "ts": r["ts"].isoformat(),
                "source": r["source"],
                "line_no": r["line_no"],
            }
    counts: dict[str, dict[str, Any]] = {}

    def bump(name: str | None, key: str, weight: int | None = 1) -> None:
        # A folded row (a long follow or watch, runbook.incidents.compaction) counts `weight`.
        entry = counts.setdefault(name or "(not logged)", {"errors": 0, "access_400s": 0})
        entry[key] += weight or 1

    writes = fold_client_access(
        events.filter((pl.col("kind") == "access") & pl.col("method").is_in(list(WRITE_METHODS)))
    )
    failed = endpoints_of_failures(rows, writes.filter((pl.col("status") == 400) & pl.col("code").is_null()))
    for name, weight in zip(failed, rows["weight"].to_list(), strict=True):
        bump(name, "errors", weight)
    first, last_ts = parse_ts(incident.get("first_seen")), parse_ts(incident.get("last_seen"))
    if first and last_ts:
        writes = writes.filter(
            pl.col("ts").is_between(first - ACCESS_SLACK, last_ts + ACCESS_SLACK)
        )
    writes = writes.filter(
        pl.col("path").map_elements(table_of_path, return_dtype=pl.String) == table
    )
    for method, path, status, code, weight in writes.select("method", "path", "status", "code", "weight").iter_rows():
        if status == 400 and code is None:
            bump(endpoint(method, path), "access_400s", weight)
    impact["endpoints"] = [
        {"endpoint": name, **c}
        for name, c in sorted(
            counts.items(), key=lambda kv: (-kv[1]["errors"] - kv[1]["access_400s"], kv[0])
        )
    ]
