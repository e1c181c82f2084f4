"""The evidence rows a verdict from the logs cites: each observation with where it was read.
Pure: no I/O."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from runbook.diagnosis.column_names import ColumnMatch
from runbook.diagnosis.log_facts import LogFacts, Ref
from runbook.diagnosis.log_timeline import IN_FLIGHT, created
from runbook.events import Kind
from runbook.evidence import EvidenceRow


@dataclass(frozen=True)
class LogEvidence:
    """One observation from the logs, citing where it was read (`source:line`)."""

    check: str
    fact: bool | None
    where: str | None = None
    detail: str = ""

    def as_row(self) -> EvidenceRow:
        """As an engine evidence row (source "logs"; the place leads the detail)."""
        text = f"{self.where}: {self.detail}" if self.where else self.detail
        return EvidenceRow("logs", self.check, self.fact, text)

    def as_dict(self) -> dict[str, Any]:
        return {"check": self.check, "fact": self.fact, "where": self.where, "detail": self.detail}


def base_evidence(f: LogFacts) -> list[LogEvidence]:
    span = ""
    if f.first_seen and f.last_seen:
        span = f" from {f.first_seen.isoformat()} to {f.last_seen.isoformat()}"
    return [
        LogEvidence(
            f"writes naming {f.column} on {f.table} fail with PGRST204",
            True,
            f.first_where,
            f"{f.count} failed requests{span}",
        )
    ]


def survived_row(f: LogFacts, load: Ref) -> LogEvidence:
    assert load.ts is not None
    return LogEvidence(
        "errors continue after a confirmed cache load",
        True,
        load.where,
        f"'Schema cache loaded' at {load.ts.isoformat()}; {f.errors_after(load.ts + IN_FLIGHT)} "
        "failed requests after it",
    )


def column_rows(f: LogFacts, nearest: list[ColumnMatch]) -> list[LogEvidence]:
    known = f.known_columns()
    if not known:
        return []
    made = created(f)
    rows = [
        LogEvidence(
            f"{f.column} among the table's columns in the logged DDL",
            f.column in known,
            made.where if made else None,
            "columns: " + ", ".join(known),
        )
    ]
    if nearest:
        rows.append(
            LogEvidence(
                f"known columns close to {f.column}",
                True,
                None,
                ", ".join(f"{m.name} ({m.reason})" for m in nearest),
            )
        )
    return rows


def channel_rows(f: LogFacts) -> list[LogEvidence]:
    listened = {c for r in f.of_kind(Kind.LISTENER.value) if (c := r.channel())}
    sent = [r for r in f.of_kind(Kind.CACHE_RELOAD.value) if r.from_database_log]
    rows = []
    for r in sent:
        channel = r.channel()
        if listened and channel and channel not in listened:
            rows.append(
                LogEvidence(
                    "NOTIFY sent on the channel PostgREST listens on",
                    False,
                    r.where,
                    f"NOTIFY on {channel!r}; PostgREST listens on {', '.join(sorted(listened))}",
                )
            )
    return rows
