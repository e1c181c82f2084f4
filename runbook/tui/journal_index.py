"""Which runbook sessions exist on disk, per incident: to resume one, or show its verdict.

Journals are small JSON-lines files (`runbook.steps.journal`); the newest `MAX_SESSIONS` are read
once, in a worker, when the app starts.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from runbook.steps.journal import default_journal_dir
from runbook.steps.journal_reader import recent_sessions

MAX_SESSIONS = 500


@dataclass(frozen=True)
class SessionInfo:
    """One journalled session: its id, target, whether it was closed, its latest verdict and outcome."""

    session: str
    path: Path
    schema: str
    table: str
    column: str
    finished: bool
    verdict: str | None
    outcome: str | None = None  # the latest verify: fixed / not_fixed


def index_sessions(directory: Path | None = None) -> dict[tuple[str, str], SessionInfo]:
    """The newest session per (table, column) in the journal directory."""
    out: dict[tuple[str, str], SessionInfo] = {}
    for record in recent_sessions(directory or default_journal_dir(), MAX_SESSIONS):
        target = record.target
        if target is None or record.path is None:
            continue
        info = SessionInfo(  # oldest first: newer sessions overwrite
            session=record.path.stem,
            path=record.path,
            schema=target.schema,
            table=target.table,
            column=target.column,
            finished=record.finished,
            verdict=record.verdict,
            outcome=record.outcome,
        )
        out[(info.table, info.column)] = info
    return out
