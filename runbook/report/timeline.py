"""One incident in time: the timeline rows and the failures-per-minute chart of a report.

- `timeline(incident, journal, points, last_failure)` -> rows `{ts, event, source, marker}` in time
  order: migrations, reloads and loads, first and last failure, each journal entry; the key
  times marked OUTAGE BEGINS / MITIGATED / ENDS. `source` is `file:line` or the journal entry
  with the command it ran.
- `chart(incident, journal)` -> `{bucket_minutes, points: [{start, label, count, marks}],
  max_count, legend, text}`: failures per minute (wider buckets past 60 bars), the buckets with
  a migration (`M`) or a schema cache reload/load (`R`) marked, and a plain-text twin.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from runbook.events import parse_ts
from runbook.report.findings import JournalView, short_action, where
from runbook.steps.journal_reader import JournalEntry

CHART_MAX_BARS = 60
# Marks this close to the failures widen the chart: a migration up to an hour before them, a
# reload or load from 5 minutes before (not PostgREST's start-up load hours earlier).
MIGRATION_MARGIN = timedelta(minutes=60)
RELOAD_MARGIN = timedelta(minutes=5)
AFTER_MARGIN = timedelta(minutes=60)
BUCKET_MINUTES = (1, 2, 5, 10, 15, 30, 60, 120, 240, 720, 1440)
RELOAD_KINDS = {
    "cache_reload": "PostgREST received a schema cache reload message",
    "cache_load": "PostgREST loaded its schema cache",
    "cache_load_failed": "PostgREST failed to load its schema cache",
}


def timeline(
    incident: dict[str, Any],
    journal: JournalView | None,
    points: list[dict[str, Any]],
    last_failure: dict[str, Any] | None,
) -> list[dict[str, Any]]:
    """Rows `{ts, event, source, marker}` in time order, from before the migration to the end."""
    ctx = incident.get("context") or {}
    table = incident["table"]
    rows: list[dict[str, Any]] = []
    seen: set[tuple[Any, ...]] = set()

    def add(ts: Any, event: str, source: str, marker: str | None = None) -> None:
        key = (ts, event, source)
        if key not in seen:
            seen.add(key)
            rows.append({"ts": ts, "event": event, "source": source, "marker": marker})

    migrations = list(ctx.get("migrations") or [])
    if ctx.get("migration_before"):
        migrations.insert(0, ctx["migration_before"])
    for m in migrations:
        what = m.get("detail") or "DDL"
        add(
            m.get("ts"),
            f"Migration on '{m.get('table') or table}': {what}"
            + (f" ({' '.join(str(m['message']).split())})" if m.get("message") else "")
            + _also_in(m),
            where(m),
        )
    for r in ctx.get("renames") or []:
        add(r.get("ts"), f"Migration renames column '{r.get('column')}'{_also_in(r)}", where(r))
    for event in ctx.get("reloads") or []:
        kind = event.get("kind")
        text = RELOAD_KINDS.get(kind) or f"PostgREST listener: {event.get('detail') or kind}"
        add(event.get("ts"), text + _also_in(event), where(event))
    samples = incident.get("samples") or []
    add(
        incident.get("first_seen"),
        f"First failed request: PGRST204 for '{table}'.'{incident['column']}'",
        where(samples[0]) if samples else "-",
    )
    last = last_failure
    add(
        incident.get("last_seen"),
        f"Last failed request in the logs ({incident['count']} in total)",
        where(last) if last else "scan",
    )
    if journal is not None:
        for entry in journal.entries:
            add(entry.ts, _journal_event(entry), _journal_source(entry))
    markers = {"impact start": "OUTAGE BEGINS", "mitigation": "MITIGATED", "resolution": "ENDS"}
    for point in points:
        marker = markers.get(point["name"])
        if marker and point["ts"]:
            _mark(rows, point, marker)
    rows.sort(key=lambda r: (parse_ts(r["ts"]) is None, parse_ts(r["ts"]) or datetime.min))
    return rows


def _also_in(ref: dict[str, Any]) -> str:
    """`; also logged in a, b` for an event more than one source logged (stderr and csvlog)."""
    others = [s for s in ref.get("seen_in") or [] if s != ref.get("source")]
    return f"; also logged in {', '.join(others)}" if others else ""


def _mark(rows: list[dict[str, Any]], point: dict[str, Any], marker: str) -> None:
    """Put `marker` on the row of `point` (same time, preferably same source), else add a row."""
    same_time = [r for r in rows if r["ts"] == point["ts"]]
    row = next((r for r in same_time if r["source"] == point["basis"]), None)
    row = (
        row
        or next((r for r in same_time if r["marker"] is None), None)
        or (same_time[0] if same_time else None)
    )
    if row is None:
        rows.append(
            {
                "ts": point["ts"],
                "event": point["definition"],
                "source": point["basis"] or "-",
                "marker": marker,
            }
        )
    else:
        row["marker"] = f"{row['marker']} / {marker}" if row["marker"] else marker


def _journal_event(entry: JournalEntry) -> str:
    text = f"Runbook {entry.step}: {entry.status}"
    if entry.result:
        text += f", {entry.result}"
    if entry.verdict:
        text += f" (verdict {entry.verdict})"
    if entry.user:
        text += f"; by {entry.user}"
    return text


def _journal_source(entry: JournalEntry) -> str:
    action = short_action(entry.action)
    ref = f"journal #{entry.seq}"
    return f"{ref}: {action}" if action else ref


def _minute(ts: Any) -> datetime | None:
    t = parse_ts(ts)
    return t.replace(second=0, microsecond=0) if t else None


def chart(incident: dict[str, Any], journal: JournalView | None) -> dict[str, Any]:
    """Failures per bucket (1 minute, wider when the span needs more than 60 bars), with the
    buckets that hold a migration or a schema cache reload/load marked."""
    counts = {
        m: p["count"] for p in incident.get("per_minute") or [] if (m := _minute(p["minute"]))
    }
    chart: dict[str, Any] = {
        "bucket_minutes": 1,
        "points": [],
        "max_count": 0,
        "legend": {},
        "text": "",
    }
    if not counts:
        return chart
    lo, hi = min(counts), max(counts)
    ctx = incident.get("context") or {}
    marks: list[tuple[datetime, str]] = []
    for m in [ctx.get("migration_before"), *(ctx.get("migrations") or [])]:
        if m and (t := _minute(m.get("ts"))):
            marks.append((t, "M"))
    for r in ctx.get("reloads") or []:
        if r.get("kind") in ("cache_reload", "cache_load") and (t := _minute(r.get("ts"))):
            marks.append((t, "R"))
    if journal is not None:
        for e in journal.find("reload", ("sent", "ok", "manual")):
            if t := _minute(e.ts):
                marks.append((t, "R"))
    before = {"M": MIGRATION_MARGIN, "R": RELOAD_MARGIN}
    marks = [(t, k) for t, k in marks if lo - before[k] <= t <= hi + AFTER_MARGIN]
    lo = min([lo, *(t for t, _ in marks)])
    hi = max([hi, *(t for t, _ in marks)])
    span = int((hi - lo).total_seconds() // 60) + 1
    bucket = next((b for b in BUCKET_MINUTES if span / b <= CHART_MAX_BARS), BUCKET_MINUTES[-1])
    lo = lo - timedelta(minutes=(lo.hour * 60 + lo.minute) % bucket)
    n = int((hi - lo).total_seconds() // 60) // bucket + 1
    fmt = "%H:%M" if lo.date() == hi.date() else "%m-%d %H:%M"
    points: list[dict[str, Any]] = [
        {"start": (lo + timedelta(minutes=i * bucket)).isoformat(), "count": 0, "marks": []}
        for i in range(n)
    ]
    for minute, count in counts.items():
        points[int((minute - lo).total_seconds() // 60) // bucket]["count"] += count
    for t, kind in marks:
        point_marks = points[int((t - lo).total_seconds() // 60) // bucket]["marks"]
        if kind not in point_marks:
            point_marks.append(kind)
    for p in points:
        p["marks"].sort()
        p["label"] = datetime.fromisoformat(p["start"]).strftime(fmt)
    chart.update(
        bucket_minutes=bucket,
        points=points,
        max_count=max(p["count"] for p in points),
        legend={"M": "migration", "R": "schema cache reload or load"},
    )
    chart["text"] = _text_chart(points, chart["max_count"])
    return chart


def _text_chart(points: list[dict[str, Any]], top: int) -> str:
    """The plain-text twin of the Mermaid chart: one line per bucket, `#` bars up to 40 wide."""
    width = max(len(p["label"]) for p in points)
    lines = []
    for p in points:
        bar = "#" * (-(-p["count"] * 40 // top) if top else 0)
        marks = "  " + "+".join(p["marks"]) if p["marks"] else ""
        lines.append(f"{p['label']:>{width}} | {bar:<40} {p['count']:>5}{marks}".rstrip())
    return "\n".join(lines)
