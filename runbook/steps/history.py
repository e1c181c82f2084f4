"""Earlier incidents for the same table/column, read from the journal directory.

Every `run` leaves a journal (`runbook.steps.journal`, one JSON-lines file per session). This module
reads them back: `past_sessions(journal_dir)` summarises each session (when, target, verdict,
how it ended), `earlier_incidents(...)` picks those about the same table (and says whether the
column matches), and `recurrence_note(...)` says what a repeat means:

- a recurring stale cache points at missing auto-reload (migrations run without a reload);
- a recurring mismatch at a client that still sends the old key;
- a recurring `reload_not_applied` at a reload path that stays broken.

A session for the same (schema, table, column) whose window overlaps the current incident's
is the same incident (the operator ran the runbook again), not a recurrence: `same_incident`
tells them apart. A session's window is the incident window it journalled (the failures'
first and last time in the logs it was given), and the time the session itself ran.

Unreadable journal files are skipped: history is a hint, never a reason to fail a run.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from runbook.diagnosis.verdicts import NOT_FIXED_BY_RELOAD, Verdict
from runbook.events import parse_ts
from runbook.steps.journal import default_journal_dir
from runbook.steps.journal_reader import SessionRecord, recent_sessions

WINDOW_KEY = "incident_window"  # in a journal entry's data: {"first_seen": iso, "last_seen": iso}

Window = tuple[datetime, datetime]


def window_of(first: object, last: object) -> Window | None:
    """(first, last) as datetimes from datetimes or ISO texts; None unless both are known."""
    a = first if isinstance(first, datetime) else parse_ts(first)
    b = last if isinstance(last, datetime) else parse_ts(last)
    if a is None or b is None:
        return None
    return (a, b) if a <= b else (b, a)


def window_dict(window: Window | None) -> dict[str, str] | None:
    """The journal's form of a window."""
    if window is None:
        return None
    return {"first_seen": window[0].isoformat(), "last_seen": window[1].isoformat()}


def overlaps(a: Window | None, b: Window | None) -> bool:
    """Whether two windows share a moment (an unknown window shares none)."""
    return a is not None and b is not None and a[0] <= b[1] and b[0] <= a[1]


@dataclass(frozen=True)
class PastIncident:
    """One earlier runbook session, as far as its journal says."""

    session: str
    started: datetime | None
    schema: str
    table: str
    column: str
    verdict: str | None
    fixed: bool | None  # None: the session never finished
    how: str  # how it ended, in words
    journal: str
    window: Window | None = None  # the incident window the session journalled
    span: Window | None = None  # when the session ran: its first to its last entry

    def describe(self) -> str:
        when = self.started.strftime("%Y-%m-%d %H:%M UTC") if self.started else "undated"
        return (
            f"{when}: {self.table}.{self.column} {self.verdict or 'no verdict'} - {self.how} "
            f"(session {self.session})"
        )

    def as_dict(self) -> dict[str, Any]:
        return {
            "session": self.session,
            "started": self.started.isoformat() if self.started else None,
            "schema": self.schema,
            "table": self.table,
            "column": self.column,
            "verdict": self.verdict,
            "fixed": self.fixed,
            "how": self.how,
            "journal": self.journal,
            "window": window_dict(self.window),
        }


def past_sessions(journal_dir: Path | None = None) -> list[PastIncident]:
    """Every journalled session with a target, oldest first."""
    found = (summarise(r) for r in recent_sessions(journal_dir or default_journal_dir()))
    out = [p for p in found if p is not None]
    out.sort(key=lambda p: p.started.timestamp() if p.started else float("inf"))
    return out


def summarise(record: SessionRecord) -> PastIncident | None:
    """One session as a `PastIncident` (None without a target)."""
    target = record.target
    if target is None or not record.entries:
        return None
    verdicts = [e.verdict for e in record.entries if e.verdict]
    verdict = verdicts[-1] if verdicts else None
    fixed = record.fixed
    started = record.started
    window = None
    for entry in record.entries:  # the latest the session journalled (a followed incident grows)
        found = entry.data.get(WINDOW_KEY)
        if isinstance(found, dict):
            window = window_of(found.get("first_seen"), found.get("last_seen")) or window
    return PastIncident(
        session=record.session_id or "",
        started=started,
        schema=target.schema,
        table=target.table,
        column=target.column,
        verdict=verdict,
        fixed=fixed,
        how=_how(record, verdict, fixed),
        journal=str(record.path) if record.path else "",
        window=window,
        span=window_of(started, record.entries[-1].ts),
    )


def _how(record: SessionRecord, verdict: str | None, fixed: bool | None) -> str:
    reloads = record.find("reload", ("sent", "manual"))
    verified = bool(record.find("verify", ("ok",)))
    method = (reloads[-1].data.get("method") or "reload") if reloads else None
    if verdict == Verdict.ALREADY_RESOLVED:
        return "already resolved when checked"
    if reloads and verified:
        return f"fixed by a reload ({method}), verified"
    if reloads:
        return f"reload ({method}) sent, not verified"
    if verdict in NOT_FIXED_BY_RELOAD:
        return "no reload (a reload would not fix it); client or migration fix left to the team"
    if fixed is None:
        return "session did not finish"
    return "fixed" if fixed else "not fixed"


def earlier_incidents(
    schema: str,
    table: str,
    column: str | None = None,
    *,
    journal_dir: Path | None = None,
    exclude_session: str | None = None,
    before: datetime | None = None,
) -> list[PastIncident]:
    """Earlier sessions on `schema.table` (the same column first, then the others), oldest first
    within each group."""
    found = [
        p
        for p in past_sessions(journal_dir)
        if p.table == table
        and p.schema == schema
        and p.session != exclude_session
        and (before is None or p.started is None or p.started < before)
    ]
    same = [p for p in found if column is None or p.column == column]
    return same + [p for p in found if p not in same]


def same_incident(past: PastIncident, schema: str, table: str, column: str, window: Window | None) -> bool:
    """Whether `past` worked on the current incident: same (schema, table, column), and its
    journalled incident window or the time it ran overlaps the current incident's `window`."""
    if (past.schema, past.table, past.column) != (schema, table, column):
        return False
    return overlaps(past.window, window) or overlaps(past.span, window)


def recurrence_note(past: list[PastIncident], column: str, verdict: str | None) -> str | None:
    """What the repeats mean, or None when nothing recurs."""
    same = [p for p in past if p.column == column]
    verdicts = Counter(p.verdict for p in past if p.verdict)
    if verdict == Verdict.STALE_CACHE and verdicts[Verdict.STALE_CACHE]:
        n = verdicts[Verdict.STALE_CACHE]
        return (
            f"Recurring stale cache ({n} earlier on this table): migrations run without a "
            "reload. Install the auto-reload event trigger (pgrst-runbook install-auto-reload) "
            "or end every migration with NOTIFY pgrst, 'reload schema'."
        )
    mismatch = Verdict.CLIENT_MISMATCH
    if verdict == mismatch and any(p.verdict == mismatch for p in same):
        n = sum(1 for p in same if p.verdict == mismatch)
        return (
            f"Recurring mismatch ({n} earlier for {column!r}): a client still sends the old key. "
            "Find the client build or deployment that was not updated (endpoints and sources "
            "in the logs), and treat PGRST204 as permanent there instead of retrying."
        )
    if verdict == Verdict.RELOAD_NOT_APPLIED and verdicts[Verdict.RELOAD_NOT_APPLIED]:
        return (
            f"Recurring reload_not_applied ({verdicts['reload_not_applied']} earlier): the "
            "reload path stays broken; repair the listener/pooler/replica setup rather than "
            "reloading by hand each time."
        )
    if verdict == Verdict.STALE_CACHE and verdicts[Verdict.RELOAD_NOT_APPLIED]:
        return (
            "An earlier run on this table found reloads not applied: check the reload path "
            "(listener, pooler, replica) before counting on NOTIFY."
        )
    return None
