"""The engine's verdict, deepened with what really causes PGRST204 (`reference/causes.md`).

`refine(diagnosis, inspection, settings, logs=..., incident=...)` takes the verdict that
`runbook.diagnosis.from_servers.diagnose` reached from the database and the API and:

- turns `stale_cache` into `reload_not_applied` when a NOTIFY cannot land (no session LISTENs on
  the channel, a read replica) or the logs show reloads sent and not applied; the NOTIFY may
  still be sent as a test, but the run is not reported fixed unless the cache then has the column;
- names the migration file and the commands for `pending_migration` (apply, reload, verify),
  with the ledger's view of it;
- for `client_mismatch`: a migration that renamed the key away, the exact key to change and
  where it was seen, the nearest columns (case, snake/camel, then similarity), and an
  expand/contract plan for when clients cannot all be updated at once;
- adds the reload-plumbing and log evidence rows, and, when the database and API could not
  decide (`unknown`), adopts the verdict the logs support, with their confidence;
- states a confidence: `confirmed`, `likely` or `unknown`.

Pure: no I/O.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

from runbook.config import Settings
from runbook.diagnosis.fix_plans import expand_contract_plan
from runbook.diagnosis.from_logs import LogDiagnosis, reload_path_steps
from runbook.diagnosis.from_servers import Diagnosis, column_in_cache, column_in_database
from runbook.diagnosis.verdicts import Confidence, Verdict
from runbook.evidence import EvidenceRow, run_command
from runbook.servers.inspection import Inspection
from runbook.servers.migration_ledger import (
    column_origin,
    ledger_status,
    pending_plan,
    renamed_away,
)
from runbook.servers.plumbing import AUTO_RELOAD_TRIGGERS, PlumbingReport

MAX_LOG_ROWS = 8
CERTAIN = (Verdict.ALREADY_RESOLVED, Verdict.TABLE_MISSING, Verdict.SCHEMA_NOT_EXPOSED)


def refine(
    d: Diagnosis,
    insp: Inspection,
    settings: Settings,
    *,
    logs: LogDiagnosis | None = None,
    incident: dict[str, Any] | None = None,
    migrations_dir: Path | None = None,
) -> Diagnosis:
    """The deepened diagnosis (a new `Diagnosis`; the input is not changed)."""
    plumbing: PlumbingReport | None = getattr(insp.db, "plumbing", None)
    log_rows = [e.as_row() for e in logs.evidence][:MAX_LOG_ROWS] if logs else []
    if d.verdict is Verdict.STALE_CACHE:
        blockers = reload_blockers(plumbing, logs)
        if blockers:
            return _reload_not_applied(d, settings, plumbing, blockers, log_rows)
        return _with(d, Confidence.CONFIRMED, _plumbing_rows(plumbing) + log_rows)
    if d.verdict is Verdict.PENDING_MIGRATION:
        return _pending(d, insp, settings, migrations_dir, log_rows)
    if d.verdict is Verdict.CLIENT_MISMATCH:
        return _mismatch(d, insp, logs, incident, log_rows)
    if d.verdict is Verdict.UNKNOWN and logs is not None and logs.verdict is not Verdict.UNKNOWN:
        return _from_logs(d, insp, logs, log_rows)
    if d.verdict in CERTAIN:
        return _with(d, Confidence.CONFIRMED, log_rows)
    if d.verdict is Verdict.UNKNOWN and column_in_database(insp) is True:
        return _with(d, Confidence.UNKNOWN, _plumbing_rows(plumbing) + log_rows)
    return _with(
        d, Confidence.UNKNOWN if d.verdict is Verdict.UNKNOWN else Confidence.LIKELY, log_rows
    )


def reload_blockers(plumbing: PlumbingReport | None, logs: LogDiagnosis | None) -> list[str]:
    """Why a NOTIFY would not reach PostgREST, as far as the evidence proves it."""
    out = []
    if plumbing is not None:
        if plumbing.listening is False:
            out.append(f"no session LISTENs on channel {plumbing.channel!r}")
        if plumbing.in_recovery:
            out.append("the database is a read replica (LISTEN/NOTIFY do not work there)")
    if logs is not None and logs.verdict is Verdict.RELOAD_NOT_APPLIED:
        out.append("per the logs, reloads were sent and PostgREST did not load its cache")
    return out


def not_applied_suggestions(settings: Settings, plumbing: PlumbingReport | None) -> list[str]:
    """Next steps that would work when NOTIFY does not, plus the plumbing problems seen."""
    problems = plumbing.problems() if plumbing is not None else []
    blocking = [p for p in problems if "event trigger" not in p]
    later = [p for p in problems if "event trigger" in p]
    out = [f"Fix first: {p}." for p in blocking] + reload_path_steps(settings.channel)
    if later:
        out.append(
            f"Then prevent the next stale cache: {'; '.join(later)} (pgrst-runbook "
            "install-auto-reload)."
        )
    return out


# -- verdicts ------------------------------------------------------------------------------


def _reload_not_applied(
    d: Diagnosis,
    settings: Settings,
    plumbing: PlumbingReport | None,
    blockers: list[str],
    log_rows: list[EvidenceRow],
) -> Diagnosis:
    return replace(
        d,
        verdict=Verdict.RELOAD_NOT_APPLIED,
        summary=(
            f"{d.summary.split(': the cache is stale')[0]}, and a reload would not reach "
            f"PostgREST: {'; '.join(blockers)}. Repair the reload path, or reload by signal "
            "or restart."
        ),
        evidence=[*d.evidence, *_plumbing_rows(plumbing), *log_rows],
        suggestions=not_applied_suggestions(settings, plumbing),
        reload_helps=False,
        confidence=Confidence.LIKELY,
    )


def _pending(
    d: Diagnosis,
    insp: Inspection,
    settings: Settings,
    migrations_dir: Path | None,
    log_rows: list[EvidenceRow],
) -> Diagnosis:
    t = insp.target
    scan = insp.migrations
    if scan is None:
        return _with(d, Confidence.LIKELY, log_rows)
    origin = column_origin(scan, t.schema, t.table, t.column)
    rows = list(d.evidence)
    suggestions = list(d.suggestions)
    status = ledger_status(scan, insp.db.applied_versions)
    rows += [r for r in status.evidence() if r not in rows]
    if origin is not None:
        applied = status.is_applied(origin.version)
        if applied is True:
            rows.append(
                EvidenceRow(
                    "migrations",
                    f"{Path(origin.path).name} recorded as applied but the column is absent",
                    True,
                    "edited after it ran, applied to another database, or undone later",
                )
            )
        plan = pending_plan(
            origin,
            migrations_dir or Path(scan.directory),
            table=t.table,
            column=t.column,
            schema=t.schema,
            channel=settings.channel,
        )
        suggestions = [
            *plan,
            "A reload alone will not fix this: the column is not in the database yet.",
        ]
    return replace(
        d,
        evidence=rows + log_rows,
        suggestions=suggestions,
        confidence=Confidence.CONFIRMED if insp.db.reachable else Confidence.LIKELY,
    )


def _mismatch(
    d: Diagnosis,
    insp: Inspection,
    logs: LogDiagnosis | None,
    incident: dict[str, Any] | None,
    log_rows: list[EvidenceRow],
) -> Diagnosis:
    t = insp.target
    rows = list(d.evidence)
    summary = d.summary
    new = d.nearest[0].name if d.nearest else None
    renamed = (
        renamed_away(insp.migrations, t.schema, t.table, t.column) if insp.migrations else None
    )
    if renamed is not None:
        new = renamed.new_name
        rows.append(
            EvidenceRow(
                "migrations",
                f"a migration renamed {t.column} away",
                True,
                f"{renamed.where}: {renamed.statement}",
            )
        )
        summary += f" Migration {renamed.where} renamed {t.column!r} to {new!r}."
    elif logs is not None and logs.new_name and logs.migration:
        new = logs.new_name
        summary += f" The logs show the migration that renamed it: {logs.migration}."
    suggestions = [_change_key(t.column, new, incident, d.suggestions)]
    suggestions.append(
        "A schema-cache reload will not fix this: the column is not in the database."
    )
    if new:
        existing = insp.db.column(new)
        kind = existing.type if existing else None
        suggestions.append(
            "If the clients cannot all be updated at once, an expand/contract plan to consider: "
            + " | ".join(expand_contract_plan(t.schema, t.table, t.column, new, kind))
        )
    suggestions.append(
        "The table's full column list: " + run_command(t.table, t.column, t.schema, "--columns")
    )
    proven = (
        insp.migrations is not None
        or renamed is not None
        or bool(d.nearest and d.nearest[0].score >= 1.0)
        or (logs is not None and logs.confidence is Confidence.CONFIRMED)
    )
    return replace(
        d,
        summary=summary,
        evidence=rows + log_rows,
        suggestions=suggestions,
        confidence=Confidence.CONFIRMED if proven else Confidence.LIKELY,
    )


def _change_key(
    column: str, new: str | None, incident: dict[str, Any] | None, engine: list[str]
) -> str:
    seen = ""
    if incident:
        places = list(incident.get("endpoints") or [])[:3] + [
            Path(s).name for s in (incident.get("sources") or [])[:3]
        ]
        if places:
            seen = f" Seen in: {', '.join(places)} ({incident.get('count', '?')} failed requests)."
        payloads = list(incident.get("payloads") or [])[:2]
        if payloads:
            seen += f" Logged payload keys: {'; '.join(payloads)}."
    if new:
        return (
            f"Change the key {column!r} to {new!r} in the clients that send it (serialized "
            f"models, forms, defaults).{seen}"
        )
    return (engine[0] if engine else f"Remove {column!r} from the client payload.") + seen


def _from_logs(
    d: Diagnosis, insp: Inspection, logs: LogDiagnosis, log_rows: list[EvidenceRow]
) -> Diagnosis:
    cache, _ = column_in_cache(insp)
    missing = list(d.not_established)
    return replace(
        d,
        verdict=logs.verdict,
        summary=f"From the logs ({logs.confidence}): {logs.summary} The database and API could "
        f"not settle it: {d.summary}",
        evidence=[*d.evidence, *[e.as_row() for e in logs.evidence]],
        suggestions=logs.suggestions + d.suggestions,
        nearest=logs.nearest or d.nearest,
        reload_helps=logs.reload_helps and insp.db.reachable and cache is not True,
        not_established=missing,
        confidence=logs.confidence,
    )


def _with(d: Diagnosis, confidence: Confidence, rows: list[EvidenceRow]) -> Diagnosis:
    extra = [r for r in rows if r not in d.evidence]
    return replace(d, evidence=[*d.evidence, *extra], confidence=confidence)


def _plumbing_rows(plumbing: PlumbingReport | None) -> list[EvidenceRow]:
    """Plumbing rows the engine's inspection does not already carry."""
    if plumbing is None:
        return []
    # The engine's inspection already carries the listener, replica and auto-reload rows.
    keep = {"plumbing.postgrest_sessions", "plumbing.queue", "plumbing.pooler"}
    if any(e.name in AUTO_RELOAD_TRIGGERS and not e.fires for e in plumbing.event_triggers or []):
        keep.add("plumbing.event_triggers")  # a known trigger present but disabled: show its state
    return [row for key, row in plumbing.keyed_evidence() if key in keep]
