"""Which runbook sessions exist on disk, per incident: to resume one, or show its verdict.

Journals are small JSON-lines files (`runbook.steps.journal`); the newest `MAX_SESSIONS` are read
once, in a worker, when the app starts.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from runbook.steps.journal import default_journal_dir, read_entries
from runbook.tui.step_state import is_finished, outcome_of, verdict_of

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
    directory = directory or default_journal_dir()
    try:
        paths = sorted(directory.glob("*.jsonl"), reverse=True)[:MAX_SESSIONS]
    except OSError:
        return {}
    out: dict[tuple[str, str], SessionInfo] = {}
    for path in reversed(paths):  # oldest first: newer sessions overwrite
        try:
            entries = read_entries(path)
        except (OSError, UnicodeDecodeError):
            continue
        start = next((e for e in entries if e.get("step") == "session" and e.get("target")), None)
        if start is None:
            continue
        target = start["target"]
        info = SessionInfo(
            session=path.stem,
            path=path,
            schema=str(target.get("schema") or "public"),
            table=str(target.get("table")),
            column=str(target.get("column")),
            finished=is_finished(entries),
            verdict=verdict_of(entries),
            outcome=outcome_of(entries),
        )
        out[(info.table, info.column)] = info
    return out
