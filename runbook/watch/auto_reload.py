"""Guarded auto-remediation (`watch --auto-reload`): reload a proven stale cache, then verify.

A new incident is inspected read-only first (`runbook.watch.servers`). Only when that says
`stale_cache` does this run the runbook itself, as `pgrst-runbook run --yes` would: a journalled
session (`runbook.steps.session`) inspects again, diagnoses, and reloads only if the verdict is
still a stale cache proven by both servers:

- the database's catalog has the column, and the API's cache (write probe, admin
  `/schema_cache` or OpenAPI) answered that it lacks it;
- a session LISTENs on the NOTIFY channel and the database is not a read replica (a reload
  that cannot land is `reload_not_applied`, for a person), and the logs do not show reloads
  that went unanswered;
- no reload of the same (schema, table, column) was sent within the interval, also by an
  earlier run: the time of each auto-reload is kept in `auto_reloads.json` in the state folder,
  written (fsynced) before the reload is sent.

It never reloads for a client mismatch, a pending migration or anything unproven. The outcome
(`AutoReload`) says what was done and whether verify confirmed it, for the alert.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from runbook.atomic_write import write_atomic
from runbook.config import Settings
from runbook.diagnosis.from_logs import LogDiagnosis
from runbook.diagnosis.from_servers import Diagnosis, column_in_cache
from runbook.diagnosis.verdicts import Confidence, Verdict
from runbook.errors import RunbookError
from runbook.evidence import Target
from runbook.servers.inspection import Inspection
from runbook.watch.alerts import fingerprint
from runbook.watch.servers import Diagnoser, ServerVerdict, diagnose_target

if TYPE_CHECKING:
    from runbook.steps.session import RunbookSession

LEDGER_FILE = "auto_reloads.json"
DEFAULT_INTERVAL = 600.0  # seconds between two auto-reloads of one target

# AutoReload.outcome values
VERIFIED, NOT_VERIFIED, FAILED, HELD, REFUSED = "verified", "not_verified", "failed", "held", "refused"


@dataclass(frozen=True)
class AutoReload:
    """What auto-remediation did for one incident.

    `outcome`: `verified` (reloaded, and verify saw the column in the cache), `not_verified`
    (reloaded, the cache still lacks it), `failed` (the reload could not be sent), `held` (a
    stale cache, but this target was auto-reloaded within the interval), `refused` (not proven
    a stale cache: nothing was sent). `session` is the journal's session id when one ran.
    """

    outcome: str
    detail: str
    session: str | None = None

    @property
    def reloaded(self) -> bool:
        return self.outcome in (VERIFIED, NOT_VERIFIED)

    @property
    def head(self) -> str:
        """A few words for an alert's summary: `auto-reloaded, verified`."""
        return {
            VERIFIED: "auto-reloaded, verified",
            NOT_VERIFIED: "auto-reloaded, NOT verified",
            FAILED: "auto-reload failed",
            HELD: "not auto-reloaded",
            REFUSED: "not auto-reloaded",
        }[self.outcome]

    def describe(self) -> str:
        """One line for the alert: `auto-reloaded, verified: ... (journal session ...)`."""
        head = self.head
        text = f"{head}: {self.detail}" if self.detail else head
        return f"{text} (journal session {self.session})" if self.session else text


class ReloadLedger:
    """When each target was last auto-reloaded (wall time), in `auto_reloads.json`.

    Shared by the inspection workers: `claim` checks the interval and records the new time in
    one step (under a lock, fsynced), so two workers or a restart never reload one target twice
    within the interval.
    """

    def __init__(self, folder: Path, interval: float = DEFAULT_INTERVAL) -> None:
        self.path = Path(folder) / LEDGER_FILE
        self.interval = interval
        self._lock = threading.Lock()
        self._last: dict[str, dict[str, Any]] = {}
        self._unreadable_at: float | None = None
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
            self._last = {
                str(k): {"at": float(v["at"]), "target": str(v.get("target", ""))}
                for k, v in (data.get("targets") or {}).items()
            }
        except FileNotFoundError:
            pass
        except (OSError, ValueError, TypeError, KeyError, AttributeError):
            # Unreadable: every target counts as reloaded when it was read, so nothing is
            # reloaded until the interval has passed (the safe side); the next claim rewrites it.
            self._unreadable_at = time.time()

    @property
    def unreadable(self) -> bool:
        return self._unreadable_at is not None

    def last(self, key: str) -> float | None:
        """Wall time of the last auto-reload of `key` (None: never, as far as is known)."""
        with self._lock:
            return self._last_of(key)

    def claim(self, key: str, target: str, now: float) -> float | None:
        """Record an auto-reload of `key` at `now` and return None; or, when one was sent
        within the interval, record nothing and return the time of that one."""
        with self._lock:
            last = self._last_of(key)
            if last is not None and now - last < self.interval:
                return last
            self._last[key] = {"at": now, "target": target}
            self._save()
            return None

    def _last_of(self, key: str) -> float | None:
        entry = self._last.get(key)
        if entry is not None:
            return float(entry["at"])
        return self._unreadable_at

    def _save(self) -> None:
        body = json.dumps({"version": 1, "targets": self._last}, indent=1).encode()
        write_atomic(self.path, lambda fh: fh.write(body), force=True)


def not_proven(diagnosis: Diagnosis, insp: Inspection) -> str | None:
    """Why this diagnosis does not prove a stale cache that a reload fixes; None when it does."""
    if diagnosis.verdict is not Verdict.STALE_CACHE or not diagnosis.reload_helps:
        return f"the verdict is {diagnosis.verdict}, which a reload does not fix"
    if diagnosis.confidence is not Confidence.CONFIRMED:
        return f"a stale cache is only {diagnosis.confidence or 'unknown'}, not confirmed"
    if not insp.db.reachable:
        return "the database's catalog could not be read"
    t = insp.target
    if insp.db.column(t.column) is None:
        return f"the database's catalog does not show column {t.column}"
    in_cache, _keys = column_in_cache(insp)
    if in_cache is not False:
        return "the API did not show that its cache lacks the column"
    plumbing = insp.db.plumbing
    if plumbing is None or plumbing.listening is not True:
        return f"no session was seen LISTENing on channel {insp_channel(insp)!r}"
    if plumbing.in_recovery:
        return "the database is a read replica"
    return None


def insp_channel(insp: Inspection) -> str:
    plumbing = insp.db.plumbing
    return plumbing.channel if plumbing is not None else "pgrst"


def target_key(target: Target) -> str:
    """The ledger's key of a target: the incident's fingerprint."""
    return fingerprint(target.schema or "public", target.table, target.column)


class AutoReloader:
    """A `Diagnoser` for `ServerCheck`: the read-only inspection, then, for a stale cache, the
    journalled reload and verify (guarded as the module says)."""

    def __init__(
        self,
        ledger: ReloadLedger,
        *,
        inspect: Diagnoser = diagnose_target,
        wall: Callable[[], float] = time.time,
        verify_deadline: float | None = None,
    ) -> None:
        self.ledger = ledger
        self.inspect = inspect
        self.wall = wall
        self.verify_deadline = verify_deadline

    def __call__(self, target: Target, settings: Settings, logs: LogDiagnosis | None) -> ServerVerdict:
        first = self.inspect(target, settings, logs)
        if first.verdict != Verdict.STALE_CACHE.value:
            return first  # nothing a reload fixes: no journal, no reload
        key = target_key(target)
        last = self.ledger.last(key)
        if last is not None and self.wall() - last < self.ledger.interval:
            return _with(first, AutoReload(HELD, self._held(last)))
        return self._run(target, settings, logs, first, key)

    def _held(self, last: float) -> str:
        at = datetime.fromtimestamp(last, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        return (
            f"this target was auto-reloaded at {at}, within the "
            f"{self.ledger.interval:g}s interval; reload by hand if it is still stale"
        )

    def _run(
        self, target: Target, settings: Settings, logs: LogDiagnosis | None, first: ServerVerdict, key: str
    ) -> ServerVerdict:
        from runbook.steps.session import RunbookSession

        if settings.reload_method == "manual":
            return _with(first, AutoReload(REFUSED, "the reload method is manual (a signal or the dashboard)"))
        try:
            session = RunbookSession(target, settings, log_diagnosis=logs)
        except RunbookError as exc:  # no journal, no reload: it is done as a manual run is
            return _with(first, AutoReload(FAILED, f"not reloaded: {exc.one_line()}"))
        try:
            return self._steps(session, target, first, key)
        except RunbookError as exc:
            return _with(_verdict_of(session, first), AutoReload(FAILED, exc.one_line(), session.journal.session))
        finally:
            try:
                session.close()
            except RunbookError:
                session.release()

    def _steps(self, session: RunbookSession, target: Target, first: ServerVerdict, key: str) -> ServerVerdict:
        """Inspect, diagnose, and, proven and not held, reload and verify (all journalled)."""
        insp = session.inspect()
        diagnosis = session.diagnose()
        why = not_proven(diagnosis, insp)
        if why is not None:
            session.journal.append("reload", "declined", target=target.as_dict(), result=f"auto-reload: {why}")
            return _with(_verdict_of(session, first), AutoReload(REFUSED, why, session.journal.session))
        try:
            held = self.ledger.claim(key, str(target), self.wall())
        except OSError as exc:  # the interval could not be kept across a restart: no reload
            why = f"{self.ledger.path.name} could not be written ({exc.strerror or exc})"
            session.journal.append("reload", "declined", target=target.as_dict(), result=f"auto-reload: {why}")
            return _with(_verdict_of(session, first), AutoReload(REFUSED, why, session.journal.session))
        if held is not None:
            session.journal.append("reload", "declined", target=target.as_dict(), result="auto-reload: within the interval")
            return _with(_verdict_of(session, first), AutoReload(HELD, self._held(held), session.journal.session))
        outcome = session.reload(confirmed=True)
        if not outcome.sent:
            detail = outcome.detail.splitlines()[0] if outcome.detail else outcome.status
            return _with(_verdict_of(session, first), AutoReload(FAILED, detail, session.journal.session))
        result = session.verify(self.verify_deadline)
        checks = "; ".join(f"{c.name}: {c.status}" for c in result.checks)
        done = AutoReload(
            VERIFIED if result.verified else NOT_VERIFIED,
            f"{outcome.action.sql_or_http or outcome.action.method}; {checks}" if checks else "",
            session.journal.session,
        )
        return _with(_verdict_of(session, first), done)


def _verdict_of(session: RunbookSession, first: ServerVerdict) -> ServerVerdict:
    """The journalled session's final verdict in the shape the watcher takes."""
    d = session.diagnosis
    if d is None or session.verdict is None:
        return first
    steps = session.suggestions()
    return ServerVerdict(
        verdict=str(session.verdict),
        confidence=str(session.confidence or "unknown"),
        summary=d.summary,
        next_step=steps[0] if steps else "",
        nearest=[m.name for m in d.nearest],
        not_checked=[e.one_line() for e in session.inspection.errors()] if session.inspection else [],
    )


def _with(answer: ServerVerdict, done: AutoReload) -> ServerVerdict:
    return replace(answer, auto_reload=done)
