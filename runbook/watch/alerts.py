"""What an alert says about one incident, and when a new message is due.

An alert is keyed by (schema, table, column); its fingerprint is a hash of that key, so it is
the same in every message, every run and every sink. A message is due when the incident is
first seen, when its verdict changes, when its count enters a new class (1, 10, 100, ...), and
when it has been quiet for the resolve period.
"""

from __future__ import annotations

import hashlib
from dataclasses import asdict, dataclass, field
from typing import Any

from runbook.evidence import run_command

FIRING, RESOLVED = "firing", "resolved"
ALERTNAME = "PGRST204"
RELOAD_ALERTNAME = "ReloadNotApplied"
LOAD_FAILED_ALERTNAME = "SchemaCacheLoadFailed"
CHANGE_MIGRATION, CHANGE_LOAD = "SchemaMigration", "SchemaCacheLoaded"
BURN_ALERTNAME = "WriteErrorBudgetBurn"
AFTER_LOAD_ALERTNAME = "PGRST204AfterSchemaReload"  # failures go on after a confirmed load
ZERO_TIME = "0001-01-01T00:00:00Z"  # Alertmanager's endsAt of a firing alert
DRILL_LABEL = "drill"  # `drill="true"` on every alert of a rehearsal (watch --replay)
DRILL_PREFIX = "[drill] "
DRILL_NOTE = "A drill: recorded logs replayed by pgrst-runbook watch --replay; nothing is failing now."


def fingerprint(schema: str, table: str, column: str) -> str:
    """16 hex digits, stable per incident (as Alertmanager's fingerprints are)."""
    return hashlib.sha256(f"{schema}\x1f{table}\x1f{column}".encode()).hexdigest()[:16]


def drill_fingerprint(real: str, run: str = "") -> str:
    """A drill's fingerprint for an incident: stable within the drill `run`, never the real one
    (nor another drill's)."""
    return hashlib.sha256(f"drill\x1f{run}\x1f{real}".encode()).hexdigest()[:16]


def count_class(count: int) -> int:
    """1 for 1-9, 10 for 10-99, 100 for 100-999 ... (0 for none)."""
    if count <= 0:
        return 0
    return 10 ** (len(str(count)) - 1)


def next_command(table: str, column: str, schema: str | None = None) -> str:
    """The runbook command for this incident, safe to paste into a shell."""
    return run_command(table, column, schema)


@dataclass
class Alert:
    """One message about one incident: the JSON that `exec:` sinks get on stdin."""

    fingerprint: str
    status: str  # firing | resolved
    schema: str
    table: str
    column: str
    verdict: str
    confidence: str
    count: int
    first_seen: str | None
    last_seen: str | None
    starts_at: str
    ends_at: str | None
    endpoint: str | None
    nearest_columns: list[str] = field(default_factory=list)
    next_command: str = ""
    summary: str = ""
    description: str = ""
    next_step: str = ""
    seq: int = 0  # the incident's message number: the same message is never queued twice
    test: bool = False
    alertname: str = ALERTNAME
    change: bool = False  # a PagerDuty Change Event (a migration, a cache load): no page
    checked_by: str = "logs"  # "servers": the database/API inspection gave the verdict
    not_checked: list[str] = field(default_factory=list)  # what the servers could not tell, and why
    auto_reload: str = ""  # with --auto-reload: what was done and whether verify confirmed it
    drill: bool = False  # a rehearsal (watch --replay): recorded logs, nothing failing now
    drill_run: str = ""  # which drill (its start, UTC): each drill's messages are their own

    @property
    def message_id(self) -> str:
        return f"{self.fingerprint}-{self.seq:06d}"

    def labels(self) -> dict[str, str]:
        out = {
            "alertname": self.alertname,
            "schema": self.schema,
            "table": self.table,
            "column": self.column,
            "verdict": self.verdict,
        }
        if self.drill:
            out[DRILL_LABEL] = "true"
        return out

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Alert:
        known = {f for f in cls.__dataclass_fields__}
        return cls(**{k: v for k, v in data.items() if k in known})


def summary_of(
    table: str, column: str, count: int, first_seen: str | None, verdict: str, confidence: str = ""
) -> str:
    since = f" since {first_seen}" if first_seen else ""
    noun = "failed write" if count == 1 else "failed writes"
    how = f", {confidence}" if confidence and confidence != "unknown" else ""
    return f"PGRST204 on {table}.{column}: {count} {noun}{since} (verdict: {verdict}{how})"


def sample_alert() -> Alert:
    """The alert `--test-notify` sends: clearly a test, shaped like a real one."""
    table, column = "members", "telegram_handle"
    first = "2026-01-01T00:00:00Z"
    return Alert(
        fingerprint=fingerprint("public", table, column),
        status=FIRING,
        schema="public",
        table=table,
        column=column,
        verdict="stale_cache",
        confidence="likely",
        count=1,
        first_seen=first,
        last_seen=first,
        starts_at=first,
        ends_at=None,
        endpoint="POST /members",
        nearest_columns=[],
        next_command=next_command(table, column),
        summary="[test] " + summary_of(table, column, 1, first, "stale_cache", "likely"),
        description="A test notification from pgrst-runbook watch --test-notify; nothing is failing.",
        next_step=next_command(table, column),
        seq=0,
        test=True,
    )
