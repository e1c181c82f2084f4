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

from typing import Any

from runbook.diagnosis.causes import not_applied_suggestions
from runbook.diagnosis.verdicts import Verdict
from runbook.evidence import EvidenceRow
from runbook.steps.reload_steps import ReloadSteps


class RunbookSession(ReloadSteps):
    """One incident, worked through inspect -> diagnose -> reload -> verify, journalled.

    `client` and `journal` may be passed in (tests, the TUI); otherwise they are created from
    `settings` (the journal in `settings.journal_dir` or the XDG state dir).
    """

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
