"""The state-changing half of a session: the reload (journalled before it is sent) and
verify, which revises the verdict by one named rule (`revised_after_verify`)."""

from __future__ import annotations

from dataclasses import dataclass

from runbook.diagnosis.verdicts import Confidence, Verdict
from runbook.errors import RunbookError
from runbook.evidence import EvidenceRow
from runbook.steps.inspect_steps import InspectSteps
from runbook.steps.reload import PlannedAction, ReloadOutcome, plan_reload, send_reload
from runbook.steps.reload_watch import load_evidence
from runbook.steps.session_state import DECLINED, DRY_RUN, FAILED, INTENT, OK
from runbook.steps.verify import VerifyResult, current_loads, verify_fix


@dataclass(frozen=True)


class Revision:
    """A verdict that verify sets in place of the diagnosis' one."""

    verdict: Verdict
    confidence: Confidence
    journalled: bool  # written as the verify entry's verdict (the journal's readers take it)


def revised_after_verify(
    verdict: Verdict | None, result: VerifyResult, *, reloaded: bool
) -> Revision | None:
    """The one rule by which verify revises the verdict, and only after a reload was sent:
    the cache still lacks the column -> `reload_not_applied` (when the verdict was stale-cache
    like); verified after all -> back to `stale_cache` (the plumbing check could not see
    everything). None when the verdict stands."""
    if not reloaded:
        return None
    if not result.verified:
        if verdict not in (Verdict.STALE_CACHE, Verdict.RELOAD_NOT_APPLIED, None):
            return None
        cache = result.check("cache has column")
        if cache is None or cache.status != "failed":
            return None
        return Revision(Verdict.RELOAD_NOT_APPLIED, Confidence.CONFIRMED, journalled=True)
    if verdict is Verdict.RELOAD_NOT_APPLIED:
        return Revision(Verdict.STALE_CACHE, Confidence.CONFIRMED, journalled=False)
    return None


class ReloadSteps(InspectSteps):
    """reload -> verify."""

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
        revision = revised_after_verify(self.verdict, result, reloaded=reloaded)
        if revision is not None:
            self.verdict, self.confidence = revision.verdict, revision.confidence
        revised = revision.verdict if revision is not None and revision.journalled else None
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
