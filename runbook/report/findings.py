"""What an incident's logs and runbook journal establish, in words a postmortem can use.

Inputs: one incident of the `scan --format json` document (a dict) and, optionally, a
`JournalView` over the runbook journal's entries (`runbook.steps.journal`, schema v1). Outputs are
plain sentences (the templates escape them) and small dicts, never guesses:

- `log_findings(incident, formats)`: what the logs prove, what they cannot, where they point;
- `journal_cause(view)`: the verdict with its evidence, nearest columns, whether a reload helps;
The key times and the severity are in `runbook.report.key_times`, what to do next is derived in `runbook.report.actions`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import polars as pl

from runbook.diagnosis.logs_verdict import LogInputs, verdict_from_logs
from runbook.diagnosis.verdicts import (
    VERDICT_TEXT,
    WHY_NO_RELOAD,
    Confidence,
    Verdict,
)
from runbook.events import parse_ts
from runbook.evidence import Target, answer_of, code_span, run_command
from runbook.incidents.grouping import RELOAD_WINDOW
from runbook.incidents.trigger import trigger_migration
from runbook.incidents.writes import describe as describe_writes
from runbook.steps.journal_reader import JournalEntry, SessionRecord, entries_of


def seconds_between(start: object, end: object) -> float | None:
    a, b = parse_ts(start), parse_ts(end)
    return (b - a).total_seconds() if a and b else None


def where(ref: dict[str, Any] | None) -> str:
    """`file:line` of an event reference from the scan document."""
    if not ref or not ref.get("source"):
        return "-"
    return f"{ref['source']}:{ref['line_no']}" if ref.get("line_no") else str(ref["source"])


def short_action(action: object, limit: int = 120) -> str | None:
    """A journal action on one line for a table cell: a multi-line script or a long one is cut,
    saying where the full text is (the report's appendix)."""
    if not action:
        return None
    text = str(action).strip()
    first = text.splitlines()[0] if text else ""
    if first == text and len(text) <= limit:
        return text
    return f"{first[:limit].rstrip()} … (full text in the appendix)"


def _clock(ts: object, day: datetime | None) -> str:
    t = parse_ts(ts)
    if t is None:
        return "an unknown time"
    if day is not None and t.date() == day.date():
        return t.strftime("%H:%M:%S UTC")
    return t.strftime("%Y-%m-%d %H:%M:%S UTC")


def span(seconds: float | None) -> str:
    """Seconds as `1 h 5 min`, `6 min`, `5 min 20 s`, `42 s`."""
    if seconds is None:
        return "an unknown time"
    seconds = int(round(abs(seconds)))
    minutes, secs = divmod(seconds, 60)
    hours, minutes = divmod(minutes, 60)
    if hours:
        return f"{hours} h {minutes} min"
    if minutes:
        return f"{minutes} min {secs} s" if secs else f"{minutes} min"
    return f"{secs} s"


# -- the journal ---------------------------------------------------------------------------


@dataclass


class JournalView:
    """A runbook session's journal, with the questions a report asks of it (typed entries)."""

    entries: list[JournalEntry]
    path: str | None = None

    @classmethod
    def of(cls, entries: Iterable[JournalEntry | Mapping[str, Any]], path: str | None = None) -> JournalView:
        return cls(list(entries_of(list(entries))), path)

    @property
    def record(self) -> SessionRecord:
        return SessionRecord(tuple(self.entries), Path(self.path) if self.path else None)

    @property
    def session(self) -> str | None:
        return next((e.session for e in self.entries if e.session), None)

    @property
    def target(self) -> Target | None:
        return self.record.target

    @property
    def started(self) -> str | None:
        return self.entries[0].ts if self.entries else None

    @property
    def users(self) -> list[str]:
        return self.record.users

    @property
    def steps(self) -> list[JournalEntry]:
        """Every entry but the session bookkeeping (started / resumed / finished)."""
        return [e for e in self.entries if e.step != "session"]

    @property
    def verdict(self) -> str | None:
        """The last verdict recorded (verify may revise the diagnosis)."""
        verdicts = [e.verdict for e in self.entries if e.verdict]
        return verdicts[-1] if verdicts else None

    def find(self, step: str, statuses: tuple[str, ...] = ()) -> list[JournalEntry]:
        return self.record.find(step, statuses)


@dataclass


class Cause:
    """The root cause as the report states it."""

    verdict: str | None = None
    verdict_text: str | None = None
    summary: str | None = None  # the diagnose step's one-line result
    evidence: list[dict[str, Any]] = field(default_factory=list)
    nearest: list[dict[str, Any]] = field(default_factory=list)
    reload_helps: bool | None = None
    why_no_reload: str | None = None
    established: list[str] = field(default_factory=list)
    not_established: list[str] = field(default_factory=list)
    logs_prove: list[str] = field(default_factory=list)
    logs_cannot: list[str] = field(default_factory=list)
    logs: dict[str, Any] | None = None  # `log_diagnosis.LogDiagnosis.as_dict()` + verdict_text
    trigger_hint: str | None = None  # the migration the logs show before the failures

    @property
    def effective_verdict(self) -> str | None:
        """The journal's verdict, else the logs' when they decide one (confirmed or likely)."""
        if self.verdict:
            return self.verdict
        if self.logs and self.logs.get("confidence") != Confidence.UNKNOWN:
            return str(self.logs["verdict"])
        return None

    @property
    def effective_nearest(self) -> list[str]:
        rows = self.nearest or [{"name": n} for n in (self.logs or {}).get("nearest_columns") or []]
        return [str(n["name"]) for n in rows if n.get("name")]


def journal_cause(view: JournalView, cause: Cause) -> None:
    """Fill `cause` with the journal's verdict, the diagnose evidence and the verify checks."""
    verdict = view.verdict
    if verdict is None:
        return
    cause.verdict = verdict
    cause.verdict_text = VERDICT_TEXT.get(verdict, verdict)
    diagnoses = view.find("diagnose")
    if diagnoses:
        diagnosis = diagnoses[-1]
        data = diagnosis.data
        cause.summary = diagnosis.result
        cause.evidence = [_evidence(r) for r in diagnosis.evidence]
        cause.nearest = [n for n in data.get("nearest") or [] if isinstance(n, dict)]
        cause.established = [str(s) for s in data.get("established") or []]
        cause.not_established = [str(s) for s in data.get("not_established") or []]
    for entry in view.find("verify"):
        if entry.verdict:  # a revised verdict carries the evidence that revised it
            cause.evidence += [_evidence(r) for r in entry.evidence]
    reload_helps: dict[str, bool | None] = {
        Verdict.STALE_CACHE: True,
        Verdict.ALREADY_RESOLVED: None,
        Verdict.UNKNOWN: None,
    }
    cause.reload_helps = reload_helps.get(verdict, False)
    cause.why_no_reload = WHY_NO_RELOAD.get(verdict)


def _evidence(row: Any) -> dict[str, Any]:
    if not isinstance(row, dict):
        return {"source": "-", "check": str(row), "answer": "unknown", "detail": ""}
    fact = row.get("fact")
    answer = answer_of(fact) if isinstance(fact, bool | None) else str(fact)
    return {
        "source": str(row.get("source") or "-"),
        "check": str(row.get("check") or "-"),
        "answer": answer,
        "detail": str(row.get("detail") or ""),
    }


# -- the logs ------------------------------------------------------------------------------


def logs_verdict(
    incident: dict[str, Any], doc: dict[str, Any], events: pl.DataFrame | None, cause: Cause
) -> None:
    """Fill `cause.logs` with the verdict the logs alone support (`runbook.diagnosis.from_logs`):
    exact from the event table when given, else from the scan document."""
    found = verdict_from_logs(incident, LogInputs.of(doc, events)).as_dict()
    found["verdict_text"] = VERDICT_TEXT.get(found["verdict"], found["verdict"])
    for row in found["evidence"]:
        row["answer"] = answer_of(row["fact"])
    cause.logs = found
    if found["confidence"] != Confidence.UNKNOWN:
        cause.why_no_reload = WHY_NO_RELOAD.get(found["verdict"])


def log_findings(incident: dict[str, Any], formats: dict[str, int], cause: Cause) -> None:
    """Fill `cause.logs_prove`, `logs_cannot`, `logs_point_to` and `hint` from the logs alone."""
    ctx = incident.get("context") or {}
    first = parse_ts(incident.get("first_seen"))
    table, column = incident["table"], incident["column"]
    prove, cannot = cause.logs_prove, cause.logs_cannot
    reloads = ctx.get("reloads") or []
    postgrest_log = bool(reloads) or any(
        name.startswith("postgrest_") and name != "postgrest_access" for name in formats
    )

    prove.append(
        f"{incident['count']} write request(s) failed with PGRST204: PostgREST did not find "
        f"column '{column}' of '{table}' in its schema cache, from "
        f"{_clock(incident.get('first_seen'), first)} to {_clock(incident.get('last_seen'), first)}."
    )
    migration, adds = trigger_migration(ctx, column, first)
    if migration:
        gap = seconds_between(migration.get("ts"), incident.get("first_seen"))
        what = f"added column '{column}' to" if adds else "touched"
        prove.append(
            f"A migration {what} '{table}' at {_clock(migration.get('ts'), first)} "
            f"(`{where(migration)}`), {span(gap)} before the first failure."
        )
        _load_between(migration, incident, reloads, postgrest_log, first, prove)
        statement = " ".join(str(migration.get("message") or migration.get("detail") or "").split())
        cause.trigger_hint = (
            f"the logs show {statement or 'a migration'} at {_clock(migration.get('ts'), first)} "
            f"({where(migration)})"
        )
    else:
        cannot.append(
            f"When '{table}' last changed: no migration (DDL statement) touching it is in the logs "
            "read; if the PostgreSQL log was not among them, this proves nothing."
        )
    for rename in ctx.get("renames") or []:
        prove.append(
            f"A migration renamed a column to or from '{column}' at "
            f"{_clock(rename.get('ts'), first)} (`{where(rename)}`)."
        )
    for event in reloads:
        ts = parse_ts(event.get("ts"))
        if first is None or ts is None or ts < first:
            continue
        if event.get("kind") == "cache_load_failed":
            prove.append(
                f"A schema cache load failed at {_clock(event['ts'], first)} (`{where(event)}`)."
            )
        elif event.get("kind") == "listener" and str(event.get("detail") or "").startswith(
            "failed"
        ):
            prove.append(
                f"PostgREST's notification listener failed at {_clock(event['ts'], first)} "
                f"(`{where(event)}`): a NOTIFY sent then could not arrive."
            )
    _after_loads(ctx, table, column, first, postgrest_log, cause)
    if ctx.get("access_400s"):
        prove.append(
            f"The access or gateway log shows {ctx['access_400s']} failed write(s) (HTTP 400) to "
            f"'{table}' in the same period."
        )
    writes = describe_writes(table, ctx.get("writes"))
    if writes:
        prove.append(f"In the same period, {writes}.")
    if ctx.get("untimed_errors"):
        placed = ctx.get("untimed_after_last_load") or 0
        unplaced = ctx.get("untimed_unplaced")
        if placed:
            prove.append(
                f"{placed} of the {ctx['untimed_errors']} failure(s) whose lines carry no time lie "
                "after the last schema cache load: the timed lines around them in their file, "
                "which is in time order, are later than the load."
            )
        if unplaced is None:
            cannot.append(
                f"When {ctx['untimed_errors']} of the failures happened: their lines carry no time."
            )
        elif unplaced:
            cannot.append(
                f"Whether {unplaced} failure(s) whose lines carry no time came before or after the "
                "last schema cache load: their file is not in time order, or the lines around "
                "them do not decide it."
            )
    if adds:
        cannot.append(
            f"Whether the database the failing clients reach is the one whose log shows '{column}' "
            f"added ({code_span(run_command(table, column, incident.get('schema')))} checks it)."
        )
    else:
        cannot.append(
            f"Whether column '{column}' exists in the database: the logs do not show the "
            f"database's columns ({code_span(run_command(table, column, incident.get('schema')))} "
            "checks it)."
        )


def _load_between(
    migration: dict[str, Any],
    incident: dict[str, Any],
    reloads: list[dict[str, Any]],
    postgrest_log: bool,
    first: datetime | None,
    prove: list[str],
) -> None:
    m_ts, f_ts = parse_ts(migration.get("ts")), first
    if not postgrest_log or m_ts is None or f_ts is None or m_ts < f_ts - RELOAD_WINDOW:
        return  # the reloads in the document do not reach back that far
    loads = [
        r
        for r in reloads
        if r.get("kind") == "cache_load" and (t := parse_ts(r.get("ts"))) and m_ts <= t <= f_ts
    ]
    if loads:
        prove.append(
            f"PostgREST loaded its schema cache at {_clock(loads[-1]['ts'], first)} "
            f"(`{where(loads[-1])}`), after that migration and before the first failure."
        )
    else:
        prove.append("No schema cache load is logged between that migration and the first failure.")


def _after_loads(
    ctx: dict[str, Any],
    table: str,
    column: str,
    first: datetime | None,
    postgrest_log: bool,
    cause: Cause,
) -> None:
    prove, cannot = cause.logs_prove, cause.logs_cannot
    first_load, last_load = ctx.get("first_load_after_first_error"), ctx.get("last_load")
    if first_load is None:
        if postgrest_log:
            prove.append("No schema cache load is logged after the first failure.")
            cannot.append(
                "Whether a reload would have stopped the failures: none is logged after they began."
            )
        else:
            cannot.append("Whether the schema cache was reloaded: no PostgREST log was read.")
        return
    last_load = last_load or first_load  # a load after the first failure is also a last load
    if ctx.get("stopped_after_reload"):
        load = first_load if ctx.get("errors_after_load") == 0 else last_load
        prove.append(
            f"PostgREST loaded its schema cache at {_clock(load['ts'], first)} (`{where(load)}`); "
            "no failure follows it in the logs read."
        )
        return
    after = f"{ctx.get('errors_after_last_load')} failure(s) followed"
    if first_load == last_load:
        prove.append(
            f"PostgREST loaded its schema cache at {_clock(first_load['ts'], first)} "
            f"(`{where(first_load)}`), and {after} it."
        )
    else:
        prove.append(
            f"PostgREST loaded its schema cache at {_clock(first_load['ts'], first)} "
            f"(`{where(first_load)}`) and again later; {after} its last load at "
            f"{_clock(last_load['ts'], first)} (`{where(last_load)}`)."
        )
    prove.append(
        f"A freshly loaded cache still lacked '{column}', so a stale cache does not explain "
        "those failures."
    )
    cannot.append(
        "Whether another PostgREST instance, whose log was not read, served the failing requests."
    )
