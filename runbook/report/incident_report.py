"""The incident report: its data model, built from a scan document and an optional journal.

    result = scan_paths(paths)
    report = build_report(document(result), journal=read_journal(path), events=result.events)
    report.to_dict()                              # `report --json`
    text = render_report(report, templates_dir)   # Markdown, templates/report.md.j2
    save_text(Path("report.md"), text)            # atomic; refuses to overwrite unless force

From the logs alone: the impact (counts, endpoints, first/last failure, peak), the timeline of
migrations, reloads, loads and failures, the chart, and what the logs prove about the cause and
what they cannot (`runbook.report.findings`). From a journal (`runbook.steps.journal`, schema v1) also: the
verdict and its evidence, each step with its command, result, time and who ran it, detection and
verification times. What neither can tell (owner, how it was noticed, lessons) stays `None` or a
prompt that the templates render as `_(to fill: ...)_`: never a guess.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import polars as pl

from runbook import __version__
from runbook.atomic_write import write_atomic
from runbook.evidence import answer_of
from runbook.incidents.grouping import endpoint, pgrst204_requests, table_of_path
from runbook.incidents.requests import endpoints_of_failures, fold_client_access
from runbook.incidents.writes import describe as describe_writes
from runbook.redact import redact
from runbook.report.actions import AUTO_RELOAD_SQL, RELOAD_SQL, action_items, probe_commands
from runbook.report.findings import (
    Cause,
    JournalView,
    journal_cause,
    key_times,
    log_findings,
    logs_verdict,
    parse_ts,
    severity,
    short_action,
    span,
    where,
)
from runbook.report.markdown import render
from runbook.report.timeline import chart as build_chart
from runbook.report.timeline import timeline as build_timeline
from runbook.steps.journal_reader import JournalEntry, read_entries

STATUS = "Draft"
ACCESS_SLACK = timedelta(seconds=60)  # as runbook.incidents.grouping: access lines lag the client's log
WRITE_METHODS = ("POST", "PATCH", "PUT")


class ReportError(ValueError):
    """Nothing to report, or inputs that do not belong together (the message says which)."""


@dataclass
class Report:
    """Everything the report template prints; `to_dict()` is the `report --json` object."""

    id: str
    title: str
    status: str
    severity: str
    severity_basis: str
    generated_at: str
    tool_version: str
    schema: str | None
    table: str
    column: str
    verdict: str | None  # the verdict the report states: the journal's, else the logs' decided one
    verdict_from: str | None  # "journal" or "logs" (None: not established)
    verdict_confidence: str | None  # the logs' confidence when the verdict is the logs'
    period: dict[str, Any]
    sources_read: list[dict[str, Any]]
    session: str | None
    responders: list[str]
    summary: dict[str, list[str]]
    impact: dict[str, Any]
    key_times: list[dict[str, Any]]
    intervals: list[dict[str, Any]]
    timeline: list[dict[str, Any]]
    chart: dict[str, Any]
    root_cause: dict[str, Any]
    detection: list[str]
    resolution: list[dict[str, Any]]
    verification: dict[str, Any]
    lessons: list[dict[str, Any]]
    action_items: list[dict[str, Any]]
    samples: list[dict[str, Any]]
    queries: list[dict[str, str]]
    probes: list[dict[str, str]]
    sql: dict[str, str] = field(default_factory=dict)

    @property
    def target(self) -> str:
        return ".".join(p for p in (self.schema, self.table, self.column) if p)

    def to_dict(self) -> dict[str, Any]:
        """The model as JSON-ready data, every string redacted (a journal written by hand, or
        an old one, may hold what `runbook.steps.journal` would have masked)."""
        return _redacted({**asdict(self), "target": self.target})


def _redacted(value: Any) -> Any:
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, dict):
        return {k: _redacted(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_redacted(v) for v in value]
    return value


# -- inputs --------------------------------------------------------------------------------


def read_journal(path: Path) -> JournalView:
    """A journal file (JSON lines, `runbook.steps.journal` schema) as a view; raises `ReportError`."""
    try:
        entries = read_entries(path)
    except OSError as exc:
        raise ReportError(f"cannot read the journal {path}: {exc.strerror or exc}") from None
    except UnicodeDecodeError:
        raise ReportError(f"{path} is not a journal (not UTF-8 text)") from None
    if not entries:
        raise ReportError(f"{path} holds no journal entries")
    return JournalView.of(entries, str(path))


def select_incident(
    doc: dict[str, Any], selector: str | None = None, journal: JournalView | None = None
) -> dict[str, Any]:
    """The incident to report: by id, by 1-based number, else the journal's target, else the
    first (most failed requests). Raises `ReportError` when there is none or no match."""
    incidents: list[dict[str, Any]] = list(doc.get("incidents") or [])
    if not incidents:
        raise ReportError("no PGRST204 incident in the logs read: nothing to report")
    if selector:
        if selector.isdigit():
            n = int(selector)
            if not 1 <= n <= len(incidents):
                raise ReportError(f"--incident {n}: the logs hold incidents 1 to {len(incidents)}")
            return incidents[n - 1]
        for incident in incidents:
            if incident["id"] == selector:
                return incident
        ids = ", ".join(i["id"] for i in incidents[:5])
        raise ReportError(f"--incident {selector}: no such incident (known: {ids})")
    target = journal.target if journal else None
    if target:
        for incident in incidents:
            if (incident["table"], incident["column"]) == (target.table, target.column):
                return incident
    return incidents[0]


# -- the report ----------------------------------------------------------------------------


def build_report(
    doc: dict[str, Any],
    *,
    incident: dict[str, Any] | None = None,
    journal: JournalView | None = None,
    events: pl.DataFrame | None = None,
    now: datetime | None = None,
) -> Report:
    """The report of one incident of `doc` (the `scan --format json` object).

    `incident` defaults to `select_incident(doc, journal=journal)`. `journal` adds what was done;
    its target must be the incident's table and column (else `ReportError`). `events` (the
    scan's event table) adds per-endpoint counts and the last failure's line; the share of
    failed writes comes from the incident's `context.writes`. `now` fixes the generation time (tests, `SOURCE_DATE_EPOCH`).
    """
    incident = incident or select_incident(doc, journal=journal)
    _check_journal_target(incident, journal)
    formats = dict((doc.get("stats") or {}).get("formats") or {})
    cause = Cause()
    log_findings(incident, formats, cause)
    logs_verdict(incident, doc, events, cause)
    if journal is not None:
        journal_cause(journal, cause)
    journal_target = journal.target if journal else None
    target_schema = incident.get("schema") or (journal_target.schema if journal_target else None)
    impact = _impact(doc, incident, events)
    level, basis = severity(incident["count"], incident.get("duration_seconds"))
    points, intervals = key_times(incident, journal, cause)
    when_ = parse_ts(incident.get("first_seen"))
    date = when_.strftime("%Y-%m-%d") if when_ else "undated"
    name = ".".join(p for p in (target_schema, incident["table"], incident["column"]) if p)
    timeline = build_timeline(incident, journal, points, impact.get("last_failure"))
    return Report(
        id=incident["id"],
        title=f"PGRST204 on {name}: {date} ({incident['id']})",
        status=STATUS,
        severity=level,
        severity_basis=basis,
        generated_at=(now or datetime.now().astimezone()).isoformat(),
        tool_version=__version__,
        schema=target_schema,
        table=incident["table"],
        column=incident["column"],
        **_stated_verdict(cause),
        period={"start": incident.get("first_seen"), "end": incident.get("last_seen")},
        sources_read=_sources_read(doc),
        session=journal.session if journal else None,
        responders=journal.users if journal else [],
        summary=_summary(incident, cause, points),
        impact=impact,
        key_times=points,
        intervals=intervals,
        timeline=timeline,
        chart=build_chart(incident, journal),
        root_cause=asdict(cause),
        detection=_detection(incident, journal, intervals),
        resolution=[_step(e) for e in journal.steps if e.step != "verify"]
        if journal
        else [],
        verification=_verification(incident, journal),
        lessons=_lessons(incident, cause, intervals),
        action_items=action_items(incident, cause, journal),
        samples=list(incident.get("samples") or []),
        queries=_queries(journal),
        probes=probe_commands(target_schema, incident["table"], incident["column"]),
        sql={"reload": RELOAD_SQL, "auto_reload": AUTO_RELOAD_SQL},
    )


def _stated_verdict(cause: Cause) -> dict[str, str | None]:
    """The verdict the report's body gives, for the front matter and `report --json`."""
    if cause.verdict:
        return {"verdict": cause.verdict, "verdict_from": "journal", "verdict_confidence": None}
    if cause.effective_verdict and cause.logs:
        return {
            "verdict": cause.effective_verdict,
            "verdict_from": "logs",
            "verdict_confidence": str(cause.logs["confidence"]),
        }
    return {"verdict": None, "verdict_from": None, "verdict_confidence": None}


def _check_journal_target(incident: dict[str, Any], journal: JournalView | None) -> None:
    target = journal.target if journal else None
    if not target:
        return
    if (target.table, target.column) != (incident["table"], incident["column"]):
        raise ReportError(
            f"the journal is about {target.table}.{target.column}, the incident "
            f"about {incident['table']}.{incident['column']}: pick the matching --incident"
        )


def _sources_read(doc: dict[str, Any]) -> list[dict[str, Any]]:
    stats = doc.get("stats") or {}
    formats = stats.get("formats") or {}
    return [{"format": name, "files": n} for name, n in sorted(formats.items())]


def _summary(
    incident: dict[str, Any], cause: Cause, points: list[dict[str, Any]]
) -> dict[str, list[str]]:
    """Sentences a manager can read (what failed, for how long, why, how it was fixed), and
    prompts for the parts only a person can tell."""
    duration = incident.get("duration_seconds")
    lasted = f" ({span(duration)})" if duration else ""
    first, last = parse_ts(incident.get("first_seen")), parse_ts(incident.get("last_seen"))
    when = (
        f"From {first:%Y-%m-%d %H:%M:%S} to {last:%H:%M:%S} UTC{lasted}, " if first and last else ""
    )
    sentences = [
        f"{when}{incident['count']} write request(s) to '{incident['table']}' failed with "
        f"PGRST204: PostgREST did not find column '{incident['column']}' in its schema cache."
    ]
    to_fill = []
    if cause.verdict:
        sentences.append(f"The runbook's diagnosis: {cause.verdict_text}.")
        if cause.summary:
            sentences.append(cause.summary)
    elif cause.effective_verdict and cause.logs:
        sentences.append(
            f"From the logs alone ({cause.logs['confidence']}): {cause.logs['verdict_text']}."
        )
        sentences.append(cause.logs["summary"])
    else:
        sentences.append("The logs alone do not establish the cause.")
        to_fill.append("the cause, once established")
    by_name = {p["name"]: p for p in points}
    mitigation, resolution = by_name["mitigation"], by_name["resolution"]
    if mitigation["ts"] and str(mitigation["basis"]).startswith("journal"):
        sentences.append(f"The runbook reloaded the schema cache at {_hms(mitigation['ts'])} UTC.")
    elif mitigation["ts"]:
        sentences.append(
            f"The failures stopped after PostgREST loaded its schema cache at "
            f"{_hms(mitigation['ts'])} UTC."
        )
    else:
        to_fill.append("how the failures were stopped")
    if resolution["ts"] and str(resolution["basis"]).startswith("journal"):
        sentences.append(f"The runbook verified the fix at {_hms(resolution['ts'])} UTC.")
    return {"sentences": sentences, "to_fill": to_fill}


def _hms(ts: str) -> str:
    t = parse_ts(ts)
    return t.strftime("%H:%M:%S") if t else str(ts)


# -- impact --------------------------------------------------------------------------------


def _impact(
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


# -- detection, resolution, lessons ----------------------------------------------------------


def _detection(
    incident: dict[str, Any], journal: JournalView | None, intervals: list[dict[str, Any]]
) -> list[str]:
    out = []
    if journal is not None and journal.started:
        ttd = next((i["seconds"] for i in intervals if i["name"] == "time to detect"), None)
        after = f", {span(ttd)} after the first failure" if ttd is not None and ttd >= 0 else ""
        out.append(
            f"The runbook session {journal.session} started at {_hms(journal.started)} UTC{after}."
        )
    sources = ", ".join(incident.get("sources") or []) or "the application logs"
    out.append(
        f"Sooner: PostgREST never logs PGRST204; the clients' logs ({sources}) had the first "
        f"failure at {_hms(incident['first_seen']) if incident.get('first_seen') else 'an unknown time'} UTC. "
        "An alert on PGRST204 there would page at once."
    )
    return out


def _step(entry: JournalEntry) -> dict[str, Any]:
    error = entry.error or {}
    return {
        "seq": entry.seq or None,
        "ts": entry.ts,
        "step": entry.step,
        "status": entry.status,
        "by": entry.user,
        "action": entry.action,
        "command": short_action(entry.action),  # one line, for tables
        "result": entry.result,
        "error": error.get("title") or error.get("message"),
    }


def _verification(incident: dict[str, Any], journal: JournalView | None) -> dict[str, Any]:
    """The verify steps and their checks (journal), and the before/after proof from the logs."""
    ctx = incident.get("context") or {}
    steps, checks = [], []
    if journal is not None:
        for entry in journal.find("verify") + journal.find("check"):
            steps.append(_step(entry))
            checks += [{**row, "answer": answer_of(row.get("fact"))} for row in entry.evidence]
    logs = None
    load = ctx.get("last_load")
    if load:
        logs = {
            "load": load.get("ts"),
            "load_source": where(load),
            "errors_after": ctx.get("errors_after_last_load"),
            "stopped": bool(ctx.get("stopped_after_reload")),
        }
    return {"steps": steps, "checks": checks, "logs": logs}


def _lessons(
    incident: dict[str, Any], cause: Cause, intervals: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    """Prompts for people, each with the facts that may help answer it."""
    ttd = next((i["seconds"] for i in intervals if i["name"] == "time to detect"), None)
    ttm = next((i["seconds"] for i in intervals if i["name"] == "time to mitigate"), None)
    went_wrong = [f"{incident['count']} write request(s) failed"]
    if ttm is not None:
        went_wrong.append(f"the failures lasted {span(ttm)} until mitigation")
    if ttd is not None:
        went_wrong.append(f"the runbook started {span(ttd)} after the first failure")
    went_well = []
    if cause.verdict:
        went_well.append(f"the runbook established the verdict {cause.verdict} with evidence")
    return [
        {"name": "What went well", "facts": went_well},
        {"name": "What went wrong", "facts": went_wrong},
        {"name": "Where we got lucky", "facts": []},
    ]


def _queries(journal: JournalView | None) -> list[dict[str, str]]:
    """The commands and queries the runbook ran, once each, in order."""
    out: list[dict[str, str]] = []
    seen: set[str] = set()
    for entry in journal.steps if journal else []:
        action = entry.action
        if action and action not in seen:
            seen.add(action)
            out.append({"step": entry.step, "action": action})
    return out


# -- output --------------------------------------------------------------------------------


def render_report(report: Report, templates_dir: Path | None = None) -> str:
    """The report as Markdown (`report.md.j2`; `templates_dir` overrides). Raises
    `markdown.TemplateProblem` naming the template file and line on a template error."""
    return render("report.md.j2", {"report": report.to_dict()}, templates_dir)


def save_text(path: Path, text: str, *, force: bool = False) -> None:
    """Write `text` to `path` atomically; never replaces a file without `force`
    (`FileExistsError`). See `runbook.atomic_write`."""
    write_atomic(Path(path), lambda handle: handle.write(text.encode("utf-8")), force=force)
