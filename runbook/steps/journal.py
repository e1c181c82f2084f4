"""The runbook journal: an append-only JSON-lines record of every step, one file per session.

Location: `<XDG state dir>/pgrst-runbook/journals/<session-id>.jsonl`
(`~/.local/state/pgrst-runbook/journals/` on Linux; `journal_dir` in the settings overrides it).
Each entry is written with one `write`, then flushed and fsynced, so a crash loses nothing that
was already done. Every string in an entry passes through `redact()`.

Entry schema (version 1; reports are rendered from it, keep it stable):

    {
      "v": 1,                       # schema version
      "ts": "2026-08-21T14:02:05.123456+00:00",   # UTC, ISO 8601
      "session": "20260821T140205Z-3f9a1c",
      "seq": 3,                     # 1-based position in the session file
      "user": "alice",              # $USER (or the login name)
      "host": "ops-laptop",
      "step": "reload",             # session | inspect | write_probe | diagnose | reload | verify
                                    # | prevent | check
      "status": "ok",               # started | ok | partial | failed | declined | dry_run
                                    # | sent | manual | finished | info | intent
                                    # (a reload about to be sent; its outcome follows)
      "target": {"schema": "public", "table": "items", "column": "note"},   # or null
      "action": "NOTIFY \"pgrst\", 'reload schema'",  # SQL text or "METHOD /path?query"; or null
      "result": "sent",             # one line: what came back; or null
      "evidence": [                 # rows behind the result (may be empty)
        {"source": "database", "check": "column public.items.note", "fact": true,
         "detail": "text, nullable"}
      ],
      "verdict": "stale_cache",     # set by diagnose (and verify when it revises); else null
      "error": {"kind": "DatabaseUnreachable", "title": "...", "message": "...",
                "next_step": "..."},   # or null
      "data": {...}                 # step-specific extras (e.g. {"loads_before": 3.0}); or {}
    }

The first entry of a session has `step: "session"`, `status: "started"` and the target; a
resumed session appends `step: "session"`, `status: "info"`, `result: "resumed"`.
"""

from __future__ import annotations

import fcntl
import getpass
import json
import os
import re
import secrets
import socket
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import asdict, is_dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, BinaryIO

import platformdirs

from runbook.atomic_write import fsync_dir
from runbook.config import APP_NAME
from runbook.errors import JournalError, RunbookError
from runbook.redact import redact
from runbook.steps.journal_reader import JournalEntry, SessionRecord, read_entries

SCHEMA_VERSION = 1
_SESSION_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,80}")


def default_journal_dir() -> Path:
    """`<XDG state dir>/pgrst-runbook/journals`."""
    return platformdirs.user_state_path(APP_NAME) / "journals"


def new_session_id(now: datetime | None = None) -> str:
    """`YYYYmmddTHHMMSSZ-xxxxxx`: sortable by time, unique enough for one machine."""
    now = now or datetime.now(UTC)
    return f"{now:%Y%m%dT%H%M%SZ}-{secrets.token_hex(3)}"


def current_user() -> str:
    """$USER, else the login name, else "unknown"."""
    user = os.environ.get("USER")
    if user:
        return user
    try:
        return getpass.getuser()
    except (OSError, KeyError):
        return "unknown"


class JournalSealed(JournalError):
    """An entry came after the journal was sealed (a step's thread still running when the
    operator quit): it is not written, so the interruption stays the session's last word."""


class Journal:
    """One session's journal file. Create with `Journal.create()`, reopen with `Journal.open()`."""

    def __init__(self, path: Path, session: str, entries: list[dict[str, Any]] | None = None):
        self.path = path
        self.session = session
        self._entries: list[dict[str, Any]] = list(entries or [])
        self._lock: BinaryIO | None = None
        self._mutex = threading.RLock()  # a step's thread and the UI thread both append
        self._sealed = False

    @contextmanager
    def sealing(self) -> Iterator[Journal]:
        """`with journal.sealing(): journal.append(...)`: the entries written in the block are
        the last; every later `append` raises `JournalSealed` (in this process; `--resume`
        opens the file anew). Holds the journal while the block runs."""
        with self._mutex:
            try:
                yield self
            finally:
                self._sealed = True

    @property
    def sealed(self) -> bool:
        return self._sealed

    def lock(self) -> Journal:
        """Hold the session for this run: a second run of the same session (two `--resume`s at
        once would run every step twice and send two reloads) is refused until `release()`."""
        if self._lock is not None:
            return self
        handle = open(self.path, "rb")
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            handle.close()
            raise JournalError(
                f"session {self.session} is in use by another run",
                next_step="wait for that run to end, or start a new session",
            ) from None
        self._lock = handle
        return self

    def release(self) -> None:
        """Let another run take the session (also done when the process ends)."""
        if self._lock is not None:
            self._lock.close()
            self._lock = None

    @classmethod
    def create(cls, directory: Path | None = None, session: str | None = None) -> Journal:
        """A new, empty journal file (raises `JournalError` if it cannot be created)."""
        directory = directory or default_journal_dir()
        session = session or new_session_id()
        _check_session_id(session)
        path = directory / f"{session}.jsonl"
        try:
            directory.mkdir(parents=True, exist_ok=True)
            with open(path, "x", encoding="utf-8"):
                pass
            fsync_dir(directory)
        except FileExistsError:
            raise JournalError(
                f"session {session} already exists", next_step="use --resume to continue it"
            ) from None
        except OSError as exc:
            raise JournalError(
                f"cannot create the journal {path}: {exc.strerror or exc}",
                next_step="check permissions of the state directory",
            ) from None
        return cls(path, session)

    @classmethod
    def open(cls, session: str, directory: Path | None = None) -> Journal:
        """An existing session's journal, with its entries loaded (for `--resume`)."""
        _check_session_id(session)
        directory = directory or default_journal_dir()
        path = directory / f"{session}.jsonl"
        if not path.is_file():
            raise JournalError(
                f"no journal for session {session} in {directory}",
                next_step="list the sessions with `ls` in that directory",
            )
        return cls(path, session, read_entries(path))

    @property
    def entries(self) -> list[JournalEntry]:
        """All entries of this session so far, typed."""
        return [JournalEntry.from_dict(e) for e in self._entries]

    @property
    def record(self) -> SessionRecord:
        """This session as its journal tells it so far."""
        return SessionRecord.of(self._entries, self.path)

    def append(
        self,
        step: str,
        status: str,
        *,
        target: Mapping[str, str] | None = None,
        action: str | None = None,
        result: str | None = None,
        evidence: list[Any] | None = None,
        verdict: str | None = None,
        error: RunbookError | None = None,
        data: Mapping[str, Any] | None = None,
    ) -> dict[str, Any]:
        """Write one entry (flushed and fsynced) and return it as written.

        Raises `JournalSealed` once `sealing()` ended, `JournalError` when it cannot write."""
        with self._mutex:
            if self._sealed:
                raise JournalSealed(
                    f"session {self.session} was interrupted; its journal takes no more entries",
                    next_step=f"--resume {self.session} runs the interrupted step again",
                )
            return self._append(step, status, target, action, result, evidence, verdict, error, data)

    def _append(
        self,
        step: str,
        status: str,
        target: Mapping[str, str] | None,
        action: str | None,
        result: str | None,
        evidence: list[Any] | None,
        verdict: str | None,
        error: RunbookError | None,
        data: Mapping[str, Any] | None,
    ) -> dict[str, Any]:
        entry: dict[str, Any] = {
            "v": SCHEMA_VERSION,
            "ts": datetime.now(UTC).isoformat(),
            "session": self.session,
            "seq": len(self._entries) + 1,
            "user": current_user(),
            "host": socket.gethostname(),
            "step": step,
            "status": status,
            "target": dict(target) if target else None,
            "action": action,
            "result": result,
            "evidence": [_plain(e) for e in evidence or []],
            "verdict": verdict,
            "error": error.to_dict() if error else None,
            "data": _plain(dict(data or {})),
        }
        entry = _redacted(entry)
        line = (json.dumps(entry, ensure_ascii=False, default=str) + "\n").encode("utf-8")
        try:
            with open(self.path, "r+b") as handle:
                end = _complete_end(handle)
                handle.seek(end)
                handle.truncate()
                try:
                    handle.write(line)
                    handle.flush()
                    os.fsync(handle.fileno())
                except OSError:
                    handle.truncate(end)  # no torn line left for the next entry to land on
                    raise
        except OSError as exc:
            raise JournalError(
                f"cannot write the journal {self.path}: {exc.strerror or exc}",
                next_step="free space or fix permissions in the state directory, then --resume",
            ) from None
        self._entries.append(entry)
        return entry


def _complete_end(handle: BinaryIO) -> int:
    """Where the last complete line of the journal ends: a torn last line (a crash or a full
    disk mid-write) is cut off there, so the next entry starts on a line of its own."""
    size = handle.seek(0, os.SEEK_END)
    if size == 0:
        return 0
    handle.seek(size - 1)
    if handle.read(1) == b"\n":
        return size
    back = min(size, 1 << 20)
    handle.seek(size - back)
    tail = handle.read(back)
    cut = tail.rfind(b"\n")
    return size - back + cut + 1 if cut >= 0 else (0 if back == size else size)


def _check_session_id(session: str) -> None:
    # A session id becomes a file name: no separators, no "..", nothing hidden.
    if not _SESSION_ID.fullmatch(session) or ".." in session:
        raise JournalError(
            f"invalid session id {session!r}", next_step="use the id printed by a previous run"
        )




def _plain(value: Any) -> Any:
    """Dataclasses, tuples, sets and paths as JSON-ready values."""
    if is_dataclass(value) and not isinstance(value, type):
        return _plain(asdict(value))
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, set | frozenset):
        return sorted(_plain(v) for v in value)
    if isinstance(value, Path):
        return str(value)
    return value


def _redacted(value: Any) -> Any:
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, dict):
        return {k: _redacted(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_redacted(v) for v in value]
    return value
