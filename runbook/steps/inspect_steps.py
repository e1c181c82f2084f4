"""The read-only steps of a session: inspect, the write probe (with consent) and diagnose,
with the recurrence found in the journal directory."""

from __future__ import annotations

from typing import Any

from runbook.diagnosis.causes import refine
from runbook.diagnosis.from_servers import Diagnosis, diagnose
from runbook.errors import RunbookError
from runbook.servers.api import (
    WRITE_PROBE_PREFER,
    ProbeResult,
    path_segment,
    pgrst_name,
)
from runbook.servers.inspection import Inspection, build_rows, inspect_target
from runbook.steps.history import (
    WINDOW_KEY,
    earlier_incidents,
    recurrence_note,
    same_incident,
    window_dict,
    window_of,
)
from runbook.steps.reload import PlannedAction
from runbook.steps.session_state import (
    DECLINED,
    DRY_RUN,
    FAILED,
    NOT_ALLOWED,
    OK,
    PARTIAL,
    SessionState,
    utc_now,
)
from runbook.steps.write_probe import WriteProbeRule, write_probe_rule


class InspectSteps(SessionState):
    """inspect -> write probe -> diagnose."""

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

    def _inspect_actions(self) -> str:
        t = self.target
        parts = ["READ ONLY transaction: pg_class/pg_attribute/privileges/pg_stat_activity"]
        if self.client.has_api:
            parts.append(f"GET /{path_segment(t.table)}?select={pgrst_name(t.column)}&limit=0")
            parts.append("GET /")
        if self.client.has_admin:
            parts += ["GET /schema_cache", "GET /metrics"]
        return "; ".join(parts)

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
        current = self.window or window_of(entries[0].ts if entries else None, utc_now())
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
