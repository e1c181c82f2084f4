"""The state of a runbook session: its target, clients, journal, step records and what the
reload left for verify; resuming a journalled session; interrupting one from another thread.

The steps build on it (`steps.inspect_steps`, `steps.reload_steps`), the results on them
(`steps.session.RunbookSession`).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Self

from runbook.config import Settings
from runbook.diagnosis.from_logs import LogDiagnosis
from runbook.diagnosis.from_servers import Diagnosis
from runbook.diagnosis.verdicts import Confidence, Verdict
from runbook.errors import JournalError
from runbook.evidence import Target
from runbook.servers.api import PostgrestClient
from runbook.servers.inspection import Inspection
from runbook.steps.history import (
    WINDOW_KEY,
    PastIncident,
    Window,
    summarise,
    window_dict,
    window_of,
)
from runbook.steps.journal import Journal
from runbook.steps.reload import ReloadOutcome
from runbook.steps.reload_watch import LoadLine, LoadLineWatch
from runbook.steps.verify import LogMark, LogWatch, VerifyResult
from runbook.steps.write_probe import consented_in

OK, PARTIAL, FAILED, DECLINED, DRY_RUN = "ok", "partial", "failed", "declined", "dry_run"
NOT_ALLOWED = "not_allowed"  # the write probe without the opt-in (or without an API)
INTENT = "intent"  # a reload about to be sent (its outcome follows in the next reload entry)


@dataclass


class StepRecord:
    """One step as the `--json` output lists it."""

    name: str
    status: str
    started: str
    finished: str | None = None
    detail: str = ""

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "status": self.status,
            "started": self.started,
            "finished": self.finished,
            "detail": self.detail,
        }


def utc_now() -> str:
    return datetime.now(UTC).isoformat()


class SessionState:
    """What a session holds between its steps.

    `client` and `journal` may be passed in (tests, the TUI); otherwise they are created from
    `settings` (the journal in `settings.journal_dir` or the XDG state dir).
    """

    def __init__(
        self,
        target: Target,
        settings: Settings,
        *,
        journal: Journal | None = None,
        client: PostgrestClient | None = None,
        migrations_dir: Path | None = None,
        log_paths: list[Path] | None = None,
        dry_run: bool = False,
        reload_method: str | None = None,
        log_diagnosis: LogDiagnosis | None = None,
        incident: dict[str, Any] | None = None,
        load_log_paths: list[Path] | None = None,
        allow_write_probe: bool = False,
        window: Window | None = None,
    ) -> None:
        self.target = target
        # The incident's window in the logs (first and last failure): sessions whose window
        # overlaps it are this incident again, not a recurrence (`steps.history`).
        if window is None and incident is not None:
            window = window_of(incident.get("first_seen"), incident.get("last_seen"))
        self.window = window
        self.allow_write_probe = allow_write_probe  # the operator opted in for this run
        self.settings = settings
        self.dry_run = dry_run
        self.migrations_dir = migrations_dir
        self.reload_method = reload_method or settings.reload_method
        self.client = client or PostgrestClient(settings)
        self.log_watch = LogWatch(log_paths) if log_paths else None
        self.inspection: Inspection | None = None
        self.diagnosis: Diagnosis | None = None
        self.reload_outcome: ReloadOutcome | None = None
        self.verification: VerifyResult | None = None
        self.steps: list[StepRecord] = []
        self.verdict: Verdict | None = None
        self.write_probe_consented = False  # a write probe was sent in this session
        self._cancel = threading.Event()  # set by `interrupt`: polling loops stop at once
        self._loads_before: float | None = None
        self._reload_at: str | None = None  # when the reload was sent (journal time, UTC)
        self._restart_unknowable = False
        self._log_mark: LogMark | None = None
        self._resumed_reload = False
        self.interrupted_reload = False  # resumed after a crash between intent and outcome
        # Deeper diagnosis: the logs' verdict, the incident they describe, PostgREST's
        # stderr followed across the reload, and earlier incidents from the journal directory.
        self.log_diagnosis = log_diagnosis
        self.incident = incident
        self.load_watch = LoadLineWatch(load_log_paths) if load_log_paths else None
        self._load_mark: dict[Path, tuple[int, int]] | None = None
        self.load_lines: list[LoadLine] = []
        self.confidence: Confidence | None = None
        self.recurrence: list[PastIncident] = []
        self.same_incident: list[PastIncident] = []  # earlier sessions of this very incident
        self.recurrence_note: str | None = None
        if journal is None:
            journal = Journal.create(settings.journal_dir).lock()
            journal.append(
                "session",
                "started",
                target=target.as_dict(),
                result="dry run" if dry_run else None,
                data={
                    "settings": repr(settings),
                    "dry_run": dry_run,
                    WINDOW_KEY: window_dict(self.window),
                },
            )
        self.journal = journal

    # -- resume ------------------------------------------------------------------------------

    @classmethod
    def resume(cls, session_id: str, settings: Settings, **kwargs: Any) -> Self:
        """Reopen a journalled session: same target, same journal, earlier reload remembered.

        Raises `JournalError` when the session does not exist or has no target.
        """
        journal = Journal.open(session_id, settings.journal_dir).lock()
        record = journal.record
        started = next((e.target for e in record.entries if e.step == "session" and e.target), None)
        if started is None:
            raise JournalError(f"session {session_id} has no target recorded")
        session = cls(started, settings, journal=journal, **kwargs)
        for entry in record.entries:
            if entry.step == "diagnose" and entry.verdict:
                session.verdict = Verdict(entry.verdict)
            if entry.is_step("reload", ("sent", "manual")):
                session._resumed_reload = True
                session._loads_before = entry.data.get("loads_before")
                session._reload_at = entry.ts
            if entry.is_step("verify", (OK,)):
                session._resumed_reload = False  # already verified: a new reload may follow
        session.write_probe_consented = consented_in(record.entries)
        journalled = summarise(record)
        if session.window is None and journalled is not None:
            session.window = journalled.window
        last_reload = record.last("reload")
        if last_reload is not None and last_reload.status == INTENT:
            # Interrupted while sending: the reload may have reached the server, so it counts
            # as sent until verify says otherwise.
            session._resumed_reload = True
            session._loads_before = last_reload.data.get("loads_before")
            session._reload_at = last_reload.ts
            session.interrupted_reload = True
        journal.append("session", "info", target=started.as_dict(), result="resumed")
        return session

    @property
    def reload_pending_verification(self) -> bool:
        """True when a resumed session had sent (or asked for) a reload not yet verified."""
        return self._resumed_reload

    # -- internals ---------------------------------------------------------------------------

    def _start(self, name: str) -> StepRecord:
        record = StepRecord(name, "running", utc_now())
        self.steps.append(record)
        return record

    @staticmethod
    def _finish(record: StepRecord, status: str, detail: str) -> None:
        record.status = status
        record.finished = utc_now()
        record.detail = detail

    def interrupt(self, step: str) -> None:
        """The shell quits while `step` runs in another thread: that thread stops at its next
        check (verify's polling wakes at once), the step is journalled as failed and
        interrupted (inspect with its diagnose), so `--resume` runs it again, and nothing the
        thread still finishes is journalled after that (`Journal.sealing`).

        Raises `JournalError` when the interruption cannot be written (the journal is sealed
        all the same)."""
        self._cancel.set()
        steps = ("inspect", "diagnose") if step == "inspect" else (step,)
        with self.journal.sealing():
            for name in steps:
                self.journal.append(
                    name,
                    FAILED,
                    target=self.target.as_dict(),
                    result="interrupted: the app was quit while this step ran; run it again",
                    data={"interrupted": True},
                )

    @property
    def interrupted(self) -> bool:
        return self._cancel.is_set()

    def _wait(self, seconds: float) -> None:
        """A pause between polls that `interrupt` cuts short."""
        self._cancel.wait(seconds)

    def release(self) -> None:
        """Close the HTTP client and let another run take the session (it stays resumable)."""
        self.client.close()
        self.journal.release()
