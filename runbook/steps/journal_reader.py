"""Journals read back, typed: every reader of a session's entries goes through here.

`JournalEntry` is one line of a journal file (the schema is in `runbook.steps.journal`);
`SessionRecord` is one session's entries with the questions the checklist, the incident list,
the history of earlier incidents and `--resume` ask of them. `read_session(path)` reads one
file (a torn last line is skipped); `recent_sessions(directory)` the newest files of a journal
directory, leaving out any that cannot be read: history is a hint, never a reason to fail.

The journal files themselves stay the JSON-lines contract; `JournalEntry.raw` is the entry as
written, for the JSON edges (the support bundle, `--json`).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from runbook.evidence import Target
from runbook.timestamps import parse_ts

MAX_SESSIONS = 2000  # newest first; a busy machine's history stays cheap to read

# The verify outcomes an incident list shows (the latest verify decides).
FIXED = "fixed"
NOT_FIXED = "not_fixed"


@dataclass(frozen=True)
class JournalEntry:
    """One journal entry, its fields typed; `raw` is the entry as written."""

    step: str
    status: str
    seq: int = 0
    ts: str | None = None
    session: str | None = None
    user: str | None = None
    host: str | None = None
    target: Target | None = None
    action: str | None = None
    result: str | None = None
    evidence: tuple[dict[str, Any], ...] = ()
    verdict: str | None = None
    error: dict[str, str] | None = None
    data: Mapping[str, Any] = field(default_factory=dict)
    raw: Mapping[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any]) -> JournalEntry:
        """An entry as read from a file or as just written; odd values read as absent."""
        data = raw.get("data")
        error = raw.get("error")
        evidence = raw.get("evidence")
        seq = raw.get("seq")
        return cls(
            step=_text(raw.get("step")) or "",
            status=_text(raw.get("status")) or "",
            seq=seq if isinstance(seq, int) else 0,
            ts=_text(raw.get("ts")),
            session=_text(raw.get("session")),
            user=_text(raw.get("user")),
            host=_text(raw.get("host")),
            target=target_of(raw.get("target")),
            action=_text(raw.get("action")),
            result=_text(raw.get("result")),
            evidence=tuple(e for e in evidence if isinstance(e, dict)) if isinstance(evidence, list) else (),
            verdict=_text(raw.get("verdict")) or None,
            error={str(k): str(v) for k, v in error.items()} if isinstance(error, dict) else None,
            data=dict(data) if isinstance(data, dict) else {},
            raw=dict(raw),
        )

    @property
    def time(self) -> datetime | None:
        return parse_ts(self.ts)

    def is_step(self, step: str, statuses: Iterable[str] = ()) -> bool:
        """This step, with one of `statuses` (any status when none are given)."""
        wanted = tuple(statuses)
        return self.step == step and (not wanted or self.status in wanted)


def target_of(value: object) -> Target | None:
    """The `target` object of an entry (schema defaults to public), None without table and column."""
    if not isinstance(value, dict) or not value.get("table") or not value.get("column"):
        return None
    return Target(str(value["table"]), str(value["column"]), str(value.get("schema") or "public"))


def _text(value: object) -> str | None:
    return value if isinstance(value, str) else None if value is None else str(value)


@dataclass(frozen=True)
class SessionRecord:
    """One runbook session as its journal tells it."""

    entries: tuple[JournalEntry, ...]
    path: Path | None = None

    @classmethod
    def of(cls, entries: Iterable[JournalEntry | Mapping[str, Any]], path: Path | None = None) -> SessionRecord:
        return cls(
            tuple(e if isinstance(e, JournalEntry) else JournalEntry.from_dict(e) for e in entries),
            path,
        )

    @property
    def session_id(self) -> str | None:
        found = next((e.session for e in self.entries if e.session), None)
        return found or (self.path.stem if self.path else None)

    @property
    def target(self) -> Target | None:
        """The target the session was started for (its first "session" entry that names one)."""
        start = next((e.target for e in self.entries if e.step == "session" and e.target), None)
        return start or next((e.target for e in self.entries if e.target), None)

    @property
    def started(self) -> datetime | None:
        return self.entries[0].time if self.entries else None

    @property
    def users(self) -> list[str]:
        return sorted({e.user for e in self.entries if e.user})

    @property
    def verdict(self) -> str | None:
        """The latest verdict: set by diagnose, revised by verify (`reload_not_applied`)."""
        verdict = None
        for entry in self.entries:
            if entry.verdict and entry.step in ("diagnose", "verify", "session"):
                verdict = entry.verdict
        return verdict

    @property
    def outcome(self) -> str | None:
        """The latest verify's outcome: FIXED (ok), NOT_FIXED (failed or partial), else None."""
        for entry in reversed(self.entries):
            if entry.is_step("verify", ("ok", "failed", "partial")):
                return FIXED if entry.status == "ok" else NOT_FIXED
        return None

    @property
    def finished(self) -> bool:
        """True when the session was closed (its last "session" entry says "finished")."""
        sessions = [e for e in self.entries if e.step == "session"]
        return bool(sessions) and sessions[-1].status == "finished"

    @property
    def fixed(self) -> bool | None:
        """What finishing the session said: fixed or not; None when it never finished."""
        fixed: bool | None = None
        for entry in self.entries:
            if entry.is_step("session", ("finished",)):
                fixed = entry.result == "fixed"
        return fixed

    def find(self, step: str, statuses: Iterable[str] = ()) -> list[JournalEntry]:
        wanted = tuple(statuses)
        return [e for e in self.entries if e.is_step(step, wanted)]

    def last(self, step: str, statuses: Iterable[str] = ()) -> JournalEntry | None:
        found = self.find(step, statuses)
        return found[-1] if found else None


def read_entries(path: Path) -> list[dict[str, Any]]:
    """Entries of a journal file; a torn last line (crash mid-write) is skipped."""
    entries = []
    with open(path, encoding="utf-8") as handle:
        for line in handle:
            line = line.strip()
            if not line:
                continue
            try:
                entry = json.loads(line)
            except json.JSONDecodeError:
                continue
            if isinstance(entry, dict):
                entries.append(entry)
    return entries


def read_session(path: Path) -> SessionRecord:
    """One journal file; raises OSError or UnicodeDecodeError when it cannot be read."""
    return SessionRecord.of(read_entries(path), path)


def recent_sessions(directory: Path, limit: int = MAX_SESSIONS) -> list[SessionRecord]:
    """The newest `limit` journal files of `directory`, oldest first; unreadable ones left out."""
    try:
        paths = sorted(directory.glob("*.jsonl"), reverse=True)[:limit]
    except OSError:
        return []
    out: list[SessionRecord] = []
    for path in reversed(paths):
        try:
            out.append(read_session(path))
        except (OSError, UnicodeDecodeError):
            continue
    return out


def entries_of(records: Sequence[JournalEntry | Mapping[str, Any]]) -> tuple[JournalEntry, ...]:
    """Typed entries from entries as written or read (a live journal's, a file's)."""
    return SessionRecord.of(records).entries
