"""The runbook orchestrator shared by the CLI and the TUI: explicit steps, typed results, journal.

    session = RunbookSession(Target("items", "note"), settings)
    inspection = session.inspect()                     # read-only
    plan = session.plan_write_probe()                  # optional, show it and ask
    session.write_probe(confirmed=True)
    diagnosis = session.diagnose()                     # verdict + evidence
    if diagnosis.reload_helps:
        plan = session.plan_reload()                   # show plan.sql_or_http, ask
        session.reload(confirmed=True)
        result = session.verify()
    session.summary()                                  # the `run --json` object
    session.close()

No method prints or prompts: the shells do. No method raises `RunbookError` for an unreachable
database or API: failures are recorded in the results (and the journal) so the shell can show a
one-line error and still report what was established. With `dry_run=True` nothing
state-changing runs anywhere (the write probe and the reload are journalled as "dry_run").
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from runbook.config import Settings
from runbook.diagnosis.causes import not_applied_suggestions, refine
from runbook.diagnosis.from_logs import LogDiagnosis
from runbook.diagnosis.from_servers import Diagnosis, diagnose
from runbook.diagnosis.verdicts import Confidence, Verdict
from runbook.errors import JournalError, RunbookError
from runbook.evidence import EvidenceRow, Target
from runbook.servers.api import (
    WRITE_PROBE_PREFER,
    PostgrestClient,
    ProbeResult,
    path_segment,
    pgrst_name,
)
from runbook.servers.inspection import Inspection, build_rows, inspect_target
from runbook.steps.history import (
    WINDOW_KEY,
    PastIncident,
    Window,
    earlier_incidents,
    recurrence_note,
    same_incident,
    summarise,
    window_dict,
    window_of,
)
from runbook.steps.journal import Journal
from runbook.steps.reload import PlannedAction, ReloadOutcome, plan_reload, send_reload
from runbook.steps.reload_watch import LoadLine, LoadLineWatch, load_evidence
from runbook.steps.verify import LogWatch, VerifyResult, current_loads, verify_fix
from runbook.steps.write_probe import WriteProbeRule, consented_in, write_probe_rule

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


def _now() -> str:
    return datetime.now(UTC).isoformat()


class RunbookSession:
    """One incident, worked through inspect -> diagnose -> reload -> verify, journalled.

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
        self._log_mark: dict[Path, int] | None = None
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
    def resume(cls, session_id: str, settings: Settings, **kwargs: Any) -> RunbookSession:
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

    # -- steps -------------------------------------------------------------------------------

    def inspect(self) -> Inspection:
        """Read-only checks of the database and the API (see `runbook.servers.inspection`)."""
        step = self._start("inspect")
        insp = inspect_target(
            self.target, self.settings, self.client, migrations_dir=self.migrations_dir
        )
        self.inspection = insp
        errors = insp.errors()
        status = FAILED if _all_unreachable(insp) else (PARTIAL if errors else OK)
        detail = "; ".join(e.one_line() for e in errors) or f"{len(insp.rows)} observations"
        self._finish(step, status, detail)
        self.journal.append(
            "inspect",
            status,
            target=self.target.as_dict(),
            action=self._inspect_actions(),
            result=detail,
            evidence=[r.as_dict() for r in insp.evidence],
            error=errors[0] if errors else None,
            data={"db_notes": insp.db.notes, "errors": [e.to_dict() for e in errors]},
        )
        return insp

    def plan_write_probe(self) -> PlannedAction:
        """The write probe as it would be sent (zero rows, rolled back where allowed)."""
        t = self.target
        path = f"/{path_segment(t.table)}?columns={pgrst_name(t.column)}"
        return PlannedAction(
            step="write_probe",
            method="http",
            description=(
                "Ask PostgREST to insert zero rows naming the column, in a transaction it rolls "
                "back: 201 means the cache has the column, PGRST204 that it does not. Statement-"
                "level INSERT triggers on the table still fire."
            ),
            sql_or_http=f"POST {path}  body: []  Prefer: {WRITE_PROBE_PREFER}",
        )

    def write_probe_rule(self) -> WriteProbeRule:
        """Whether the write probe may be offered, and sent by verify (`steps.write_probe`)."""
        return write_probe_rule(
            opted_in=self.allow_write_probe,
            has_api=self.client.has_api,
            consented=self.write_probe_consented,
        )

    def write_probe(self, confirmed: bool) -> ProbeResult | None:
        """Send the write probe if the rule offers it, `confirmed` and not a dry run; None
        when not sent (journalled "not_allowed", "declined" or "dry_run")."""
        plan = self.plan_write_probe()
        step = self._start("write_probe")
        rule = self.write_probe_rule()
        if not rule.may_offer:
            self._finish(step, NOT_ALLOWED, rule.reason)
            self.journal.append(
                "write_probe",
                NOT_ALLOWED,
                target=self.target.as_dict(),
                action=plan.sql_or_http,
                result=f"not sent: {rule.reason}",
            )
            return None
        if not confirmed or self.dry_run:
            status = DRY_RUN if self.dry_run else DECLINED
            self._finish(step, status, "not sent")
            self.journal.append(
                "write_probe", status, target=self.target.as_dict(), action=plan.sql_or_http
            )
            return None
        self.write_probe_consented = True
        try:
            result = self.client.write_probe(
                self.target.schema, self.target.table, self.target.column
            )
        except RunbookError as exc:
            self._finish(step, FAILED, exc.one_line())
            self.journal.append(
                "write_probe",
                FAILED,
                target=self.target.as_dict(),
                action=plan.sql_or_http,
                error=exc,
            )
            return None
        if self.inspection is not None:
            self.inspection.api.write_probe = result
            build_rows(self.inspection, self.settings)
        detail = f"{result.action} -> {result.describe()}"
        self._finish(step, OK, detail)
        self.journal.append(
            "write_probe",
            OK,
            target=self.target.as_dict(),
            action=result.action,
            result=result.describe(),
            data={
                "preference_applied": result.preference_applied,
                "rolled_back": result.rolled_back,
            },
        )
        return result

    def diagnose(self) -> Diagnosis:
        """The verdict from the inspection (inspects first if that has not run)."""
        insp = self.inspection or self.inspect()
        step = self._start("diagnose")
        diagnosis = refine(
            diagnose(insp, self.settings),
            insp,
            self.settings,
            logs=self.log_diagnosis,
            incident=self.incident,
            migrations_dir=self.migrations_dir,
        )
        self.diagnosis = diagnosis
        self.verdict = diagnosis.verdict
        self.confidence = diagnosis.confidence
        self._find_recurrence()
        self._finish(step, OK, f"{diagnosis.verdict}: {diagnosis.summary}")
        self.journal.append(
            "diagnose",
            OK,
            target=self.target.as_dict(),
            result=diagnosis.summary,
            evidence=[r.as_dict() for r in diagnosis.evidence],
            verdict=str(diagnosis.verdict),
            data={
                "suggestions": diagnosis.suggestions,
                "nearest": [m.__dict__ for m in diagnosis.nearest],
                "reload_helps": diagnosis.reload_helps,
                "established": diagnosis.established,
                "not_established": diagnosis.not_established,
                "confidence": diagnosis.confidence,
                "logs": self.log_diagnosis.as_dict() if self.log_diagnosis else None,
                "recurrence": self._recurrence_dict(),
                WINDOW_KEY: window_dict(self.window),
            },
        )
        return diagnosis

    def plan_reload(self, method: str | None = None) -> PlannedAction:
        """The reload that would run (`notify`, `rpc` or `manual`), for the consent prompt."""
        return plan_reload(self.settings, method or self.reload_method)

    def reload(self, confirmed: bool, method: str | None = None) -> ReloadOutcome:
        """Run the planned reload if `confirmed` and not a dry run.

        Reads the reload counter first (for verify) and marks the followed logs.
        """
        plan = self.plan_reload(method)
        step = self._start("reload")
        if self.dry_run or not confirmed:
            status = DRY_RUN if self.dry_run else DECLINED
            outcome = ReloadOutcome(status, plan, "nothing was run")
            self._finish(step, status, outcome.detail)
            self.reload_outcome = outcome
            self.journal.append(
                "reload", status, target=self.target.as_dict(), action=plan.sql_or_http
            )
            return outcome
        self._loads_before = current_loads(self.client)
        self._log_mark = self.log_watch.mark() if self.log_watch else None
        self._load_mark = self.load_watch.mark() if self.load_watch else None
        # Journalled before it is sent: a crash between the two leaves a record that a reload
        # may have reached the server (`--resume` then verifies before reloading again).
        intent = self.journal.append(
            "reload",
            INTENT,
            target=self.target.as_dict(),
            action=plan.sql_or_http or "manual",
            data={"method": plan.method, "loads_before": self._loads_before},
        )
        self._reload_at = intent.get("ts")
        outcome = send_reload(plan, self.settings, self.client, self.target.schema)
        self.reload_outcome = outcome
        self._finish(step, outcome.status, outcome.detail)
        note = None
        if self.diagnosis is not None and not self.diagnosis.reload_helps:
            note = f"verdict {self.diagnosis.verdict}: a reload is not expected to fix this"
        self.journal.append(
            "reload",
            outcome.status,
            target=self.target.as_dict(),
            action=plan.sql_or_http or "manual",
            result=outcome.detail.splitlines()[0] if outcome.detail else None,
            error=outcome.error,
            data={"method": plan.method, "loads_before": self._loads_before, "note": note},
        )
        return outcome

    def _api_restarted(self) -> bool:
        """Whether PostgREST's database sessions all started after the reload was sent."""
        from runbook.servers.catalog import api_restarted_after
        from runbook.servers.db import read_only

        if not self._reload_at or self._restart_unknowable:
            return False
        try:
            with read_only(self.settings) as conn:
                return api_restarted_after(conn, self._reload_at) is True
        except RunbookError:
            self._restart_unknowable = True  # no database: do not wait on it at every poll
            return False

    def verify(self, deadline: float | None = None) -> VerifyResult:
        """Poll until the cache has the column or the deadline passes (default from settings).

        When a reload was sent and the cache stays stale, the verdict becomes
        `reload_not_applied`, with the reload-plumbing evidence.
        """
        step = self._start("verify")
        result = verify_fix(
            self.client,
            self.target,
            loads_before=self._loads_before,
            deadline=self.settings.verify_deadline if deadline is None else deadline,
            write_probe=self.write_probe_rule(),
            log_watch=self.log_watch,
            log_mark=self._log_mark,
            restart_seen=self._api_restarted if self._reload_at else None,
            sleep=self._wait,
            cancelled=self._cancel.is_set,
        )
        self.verification = result
        if self.load_watch is not None and self._load_mark:
            self.load_lines = self.load_watch.lines_since(self._load_mark)
        reloaded = self._resumed_reload or (
            self.reload_outcome is not None and self.reload_outcome.status in ("sent", "manual")
        )
        revised = None
        stale_like = (Verdict.STALE_CACHE, Verdict.RELOAD_NOT_APPLIED, None)
        if not result.verified and reloaded and self.verdict in stale_like:
            cache = result.check("cache has column")
            if cache is not None and cache.status == "failed":
                revised = Verdict.RELOAD_NOT_APPLIED
                self.verdict = revised
                self.confidence = Confidence.CONFIRMED
        if result.verified and reloaded and self.verdict is Verdict.RELOAD_NOT_APPLIED:
            # The reload landed after all (the plumbing check could not see everything).
            self.verdict = Verdict.STALE_CACHE
            self.confidence = Confidence.CONFIRMED
        if result.verified:
            self._resumed_reload = False
        status = OK if result.verified else FAILED
        detail = "; ".join(f"{c.name}: {c.status}" for c in result.checks)
        self._finish(step, status, detail)
        self.journal.append(
            "verify",
            status,
            target=self.target.as_dict(),
            result="verified" if result.verified else "not verified",
            evidence=[
                r.as_dict()
                for r in result.evidence + self.load_rows() + self._plumbing_rows(revised)
            ],
            verdict=str(revised) if revised else None,
            data={"attempts": result.attempts, "elapsed_s": result.elapsed},
        )
        return result

    # -- results -----------------------------------------------------------------------------

    @property
    def fixed(self) -> bool:
        """True when there is nothing left to fix: verified after a reload, or already resolved."""
        if self.verification is not None and self.verification.verified:
            return self.verdict in (Verdict.STALE_CACHE, Verdict.ALREADY_RESOLVED)
        return self.verdict is Verdict.ALREADY_RESOLVED

    def evidence(self) -> list[EvidenceRow]:
        """Diagnosis evidence followed by the verification checks."""
        rows = list(self.diagnosis.evidence) if self.diagnosis else []
        if self.verification is not None:
            rows += self.verification.evidence
            rows += self.load_rows()
            rows += self._plumbing_rows(
                self.verdict if self.verdict is Verdict.RELOAD_NOT_APPLIED else None
            )
        return rows

    def suggestions(self) -> list[str]:
        """Next steps for the final verdict."""
        if self.verdict is Verdict.RELOAD_NOT_APPLIED:
            plumbing = self.inspection.db.plumbing if self.inspection else None
            tried = self.verification is not None
            return [
                (
                    "The reload did not take effect"
                    if tried
                    else "A NOTIFY is not expected to take effect"
                )
                + " (not fixed). Reload another way, then verify with: pgrst-runbook run "
                f"--resume {self.journal.session}",
                *not_applied_suggestions(self.settings, plumbing),
            ]
        if self.diagnosis is None:
            return []
        out = list(self.diagnosis.suggestions)
        if self.fixed and self.verdict is Verdict.STALE_CACHE:
            out = [s for s in out if not s.startswith("Reload")]
        return out

    def summary(self) -> dict[str, Any]:
        """The `run --json` object: table, column, verdict, evidence, suggestions, steps, journal."""
        return {
            "table": self.target.table,
            "column": self.target.column,
            "schema": self.target.schema,
            "verdict": str(self.verdict) if self.verdict else None,
            "confidence": self.confidence,
            "summary": self.diagnosis.summary if self.diagnosis else None,
            "fixed": self.fixed,
            "evidence": [r.as_dict() for r in self.evidence()],
            "suggestions": self.suggestions(),
            "nearest_columns": [m.name for m in self.diagnosis.nearest] if self.diagnosis else [],
            "established": self.diagnosis.established if self.diagnosis else [],
            "not_established": self.diagnosis.not_established if self.diagnosis else [],
            "steps": [s.as_dict() for s in self.steps],
            "journal": str(self.journal.path),
            "session": self.journal.session,
            "logs": self.log_diagnosis.as_dict() if self.log_diagnosis else None,
            "recurrence": self._recurrence_dict(),
        }

    def close(self) -> None:
        """Close the HTTP client and journal the end of the session."""
        self.journal.append(
            "session",
            "finished",
            target=self.target.as_dict(),
            verdict=str(self.verdict) if self.verdict else None,
            result="fixed" if self.fixed else "not fixed",
        )
        self.release()

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

    # -- internals ---------------------------------------------------------------------------

    def _start(self, name: str) -> StepRecord:
        record = StepRecord(name, "running", _now())
        self.steps.append(record)
        return record

    @staticmethod
    def _finish(record: StepRecord, status: str, detail: str) -> None:
        record.status = status
        record.finished = _now()
        record.detail = detail

    def _inspect_actions(self) -> str:
        t = self.target
        parts = ["READ ONLY transaction: pg_class/pg_attribute/privileges/pg_stat_activity"]
        if self.client.has_api:
            parts.append(f"GET /{path_segment(t.table)}?select={pgrst_name(t.column)}&limit=0")
            parts.append("GET /")
        if self.client.has_admin:
            parts += ["GET /schema_cache", "GET /metrics"]
        return "; ".join(parts)

    def _plumbing_rows(self, revised: Verdict | None) -> list[EvidenceRow]:
        if revised is not Verdict.RELOAD_NOT_APPLIED or self.inspection is None:
            return []
        keys = ("db.listener", "db.recovery", "db.auto_reload")
        rows = [self.inspection.rows[k] for k in keys if k in self.inspection.rows]
        plumbing = self.inspection.db.plumbing
        if plumbing is not None:
            extra = ("plumbing.postgrest_sessions", "plumbing.queue", "plumbing.pooler")
            rows += [row for key, row in plumbing.keyed_evidence() if key in extra]
        shown = set(self.diagnosis.evidence) if self.diagnosis else set()
        return [r for r in rows if r not in shown]

    def load_rows(self) -> list[EvidenceRow]:
        """Whether PostgREST's followed stderr logged a load after our reload."""
        return load_evidence(self._load_mark, self.load_lines)

    def _find_recurrence(self) -> None:
        """Earlier incidents on the same table/column from the journal directory."""
        t = self.target
        found = earlier_incidents(
            t.schema,
            t.table,
            t.column,
            journal_dir=self.settings.journal_dir,
            exclude_session=self.journal.session,
        )
        # Without the logs' window, this incident is known from when this session began.
        entries = self.journal.entries
        current = self.window or window_of(entries[0].ts if entries else None, _now())
        self.same_incident = [p for p in found if same_incident(p, t.schema, t.table, t.column, current)]
        self.recurrence = [p for p in found if p not in self.same_incident]
        self.recurrence_note = recurrence_note(
            self.recurrence, t.column, str(self.verdict) if self.verdict else None
        )

    def _recurrence_dict(self) -> dict[str, Any]:
        return {
            "earlier": [p.as_dict() for p in self.recurrence],
            "note": self.recurrence_note,
            "same_incident": [p.as_dict() for p in self.same_incident],  # not recurrences
        }


def _all_unreachable(insp: Inspection) -> bool:
    return not insp.db.reachable and not insp.api.reachable
