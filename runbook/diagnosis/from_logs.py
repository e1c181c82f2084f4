"""A verdict from the logs alone: no database, no API (post-incident, or logs a customer sent).

`diagnose_logs(facts)` weighs what `LogFacts` hold and says how sure it is:

- `confirmed`: the logs prove it (errors that go on after a confirmed cache load cannot be a
  stale cache; errors that stop right after a reload that PostgREST confirmed by a load were one);
- `likely`: the logs point at it but do not prove it (say what would settle it);
- `unknown`: the logs do not decide it.

Rules, first match wins (`reference/causes.md`):

1. a migration `RENAME COLUMN <key> TO <new>` before failures that send `<key>`: `client_mismatch`,
   naming that migration and `<new>`;
2. failures that go on after a confirmed cache load (`Schema cache loaded` after the first error):
   not a stale cache. `pending_migration` when the DDL adding the column failed, else
   `client_mismatch` (a reload will not fix it);
3. reloads sent (PostgREST's "Received a schema cache reload message", or a NOTIFY in the
   database log) with no `Schema cache loaded` after them while failures go on, or a listener
   that failed and did not come back: `reload_not_applied`;
4. a DDL statement adding the column before the first failure and no cache load in between:
   `stale_cache` (confirmed when a reload's load line is followed by no more failures);
5. PostgreSQL's 42703 for the key, or a camelCase key with no DDL adding it: `client_mismatch`;
6. otherwise `unknown`, saying which logs would decide it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from runbook.diagnosis.column_names import ColumnMatch, nearest_columns
from runbook.diagnosis.fix_plans import expand_contract_summary
from runbook.diagnosis.log_evidence import (
    LogEvidence,
    base_evidence,
    channel_rows,
    column_rows,
    survived_row,
)
from runbook.diagnosis.log_facts import LogFacts, Ref, adds_column, rename_of
from runbook.diagnosis.log_timeline import (
    IN_FLIGHT,
    LOAD_AFTER_RELOAD,
    adding_ddl,
    before,
    created,
    failed_load_within,
    first_load_after,
    listener_down,
    load_within,
    reload_before,
    stopped_after_later_load,
)
from runbook.diagnosis.verdicts import Confidence, Verdict
from runbook.events import Kind
from runbook.evidence import run_command


@dataclass
class LogDiagnosis:
    """The verdict from the logs, its confidence, evidence and what to do next."""

    verdict: Verdict
    confidence: Confidence
    summary: str
    evidence: list[LogEvidence] = field(default_factory=list)
    suggestions: list[str] = field(default_factory=list)
    alternatives: list[Verdict] = field(default_factory=list)
    nearest: list[ColumnMatch] = field(default_factory=list)
    migration: str | None = None  # "source:line: statement" of the migration it names
    new_name: str | None = None  # the column a rename migration introduced
    reload_helps: bool = False

    def as_dict(self) -> dict[str, Any]:
        return {
            "verdict": str(self.verdict),
            "confidence": str(self.confidence),
            "summary": self.summary,
            "evidence": [e.as_dict() for e in self.evidence],
            "suggestions": self.suggestions,
            "alternatives": [str(v) for v in self.alternatives],
            "nearest_columns": [m.name for m in self.nearest],
            "migration": self.migration,
            "new_name": self.new_name,
            "reload_helps": self.reload_helps,
        }


def diagnose_logs(facts: LogFacts) -> LogDiagnosis:
    """The verdict the logs support for one incident. Pure: no I/O."""
    base = base_evidence(facts)
    for rule in (_renamed, _survives_load, _reload_not_applied, _stale, _not_a_column):
        found = rule(facts)
        if found is not None:
            found.evidence = base + found.evidence
            return found
    return _unknown(facts, base)


# -- rules ---------------------------------------------------------------------------------


def _renamed(f: LogFacts) -> LogDiagnosis | None:
    renames = [r for r in f.renames if not r.failed and before(r.ts, f.last_seen)]
    if not renames:
        return None
    rename = renames[-1]
    old, new = rename_of(rename) or (f.column, None)
    evidence = [
        LogEvidence(
            f"a migration renamed {old} away before the failures",
            True,
            rename.where,
            _statement(rename),
        )
    ]
    load = first_load_after(f, rename.ts)
    survived = load is not None and load.ts is not None and f.continue_after(load.ts, IN_FLIGHT)
    if survived and load is not None and load.ts is not None:
        evidence.append(survived_row(f, load))
    after = f.errors_after(rename.ts) if rename.ts else f.count
    evidence.append(
        LogEvidence(
            f"clients still send {f.column} after the rename",
            after > 0,
            f.first_where,
            f"{after} failed requests after it" if rename.ts else f"{f.count} failed requests",
        )
    )
    return LogDiagnosis(
        Verdict.CLIENT_MISMATCH,
        Confidence.CONFIRMED if survived else Confidence.LIKELY,
        f"Migration at {rename.where} renamed column {old!r} to {new!r} on {f.table}; clients "
        f"still send {f.column!r}. A reload will not fix it: the clients must send {new!r}.",
        evidence,
        [
            f"Change the clients to send {new!r} instead of {f.column!r} (the rename at "
            f"{rename.where}).",
            expand_contract_summary(f.table, f.column, new, renamed=True),
            "A schema-cache reload will not fix this.",
        ],
        migration=f"{rename.where}: {_statement(rename)}",
        new_name=new,
        nearest=[ColumnMatch(new, "renamed by a migration", 1.0)] if new else [],
    )


def _survives_load(f: LogFacts) -> LogDiagnosis | None:
    if f.first_seen is None:
        return None
    adding = adding_ddl(f)
    start = max([f.first_seen] + ([adding.ts] if adding and adding.ts else []))
    load = first_load_after(f, start)
    if load is None or load.ts is None or not f.continue_after(load.ts, IN_FLIGHT):
        return None
    evidence = [survived_row(f, load)]
    failed = [m for m in f.migrations if m.failed and adds_column(m, f.column)]
    if failed:
        ddl = failed[-1]
        evidence.append(
            LogEvidence(f"the DDL adding {f.column} failed", True, ddl.where, _statement(ddl))
        )
        return LogDiagnosis(
            Verdict.PENDING_MIGRATION,
            Confidence.LIKELY,
            f"The migration adding {f.column} to {f.table} failed ({ddl.where}) and the errors "
            "survive a confirmed cache load: the column is not in the database.",
            evidence,
            [
                f"Fix and re-apply the migration at {ddl.where}, then reload the schema cache and "
                "verify (pgrst-runbook run with --dsn and --api-url).",
                "A reload alone will not fix this.",
            ],
            migration=f"{ddl.where}: {_statement(ddl)}",
        )
    if adding is not None:
        evidence.append(
            LogEvidence(f"a DDL statement added {f.column}", True, adding.where, _statement(adding))
        )
        return LogDiagnosis(
            Verdict.UNKNOWN,
            Confidence.UNKNOWN,
            f"The logged database added {f.column} and PostgREST loaded its cache since, yet "
            "writes still fail: the failing clients likely reach another database or PostgREST "
            "instance than the logged ones.",
            evidence,
            [
                "Check which database and PostgREST instance the failing clients reach "
                "(run pgrst-runbook run against that one).",
            ],
            alternatives=[Verdict.PENDING_MIGRATION, Verdict.RELOAD_NOT_APPLIED],
        )
    nearest = nearest_columns(f.column, f.known_columns())
    evidence += column_rows(f, nearest)
    proven_absent = bool(f.db_errors) or bool(created(f))
    return _mismatch(
        f,
        Confidence.CONFIRMED if proven_absent else Confidence.LIKELY,
        "errors go on after PostgREST confirmed a cache load, so the cache is not what is "
        "missing the column",
        evidence,
        nearest,
        alternatives=[] if proven_absent else [Verdict.PENDING_MIGRATION],
    )


def _reload_not_applied(f: LogFacts) -> LogDiagnosis | None:
    if f.first_seen is None:
        return None
    adding = adding_ddl(f)
    since = adding.ts if adding and adding.ts else f.first_seen - timedelta(hours=1)
    evidence: list[LogEvidence] = []
    unapplied: list[Ref] = []
    if f.postgrest_log:
        for reload in f.of_kind(Kind.CACHE_RELOAD.value):
            assert reload.ts is not None
            if reload.ts < since or not f.continue_after(reload.ts, IN_FLIGHT):
                continue
            if load_within(f, reload.ts) is None:
                unapplied.append(reload)
    down = listener_down(f, since)
    if not unapplied and down is None:
        return None
    for reload in unapplied:
        assert reload.ts is not None
        failed = failed_load_within(f, reload.ts)
        evidence.append(
            LogEvidence(
                "a cache load followed the reload",
                False,
                reload.where,
                f"{_reload_text(reload)}; "
                + (
                    f"the load failed ({failed.where})"
                    if failed
                    else "no 'Schema cache loaded' "
                    f"within {int(LOAD_AFTER_RELOAD.total_seconds())} s"
                )
                + f"; {f.errors_after(reload.ts)} failed requests after it",
            )
        )
    if down is not None:
        evidence.append(
            LogEvidence(
                "PostgREST's listener is up", False, down.where, down.message or down.detail
            )
        )
    evidence += channel_rows(f)
    if adding is not None:
        evidence.append(
            LogEvidence(f"a DDL statement added {f.column}", True, adding.where, _statement(adding))
        )
    later_fix = stopped_after_later_load(f, unapplied)
    confirmed = bool(unapplied) and (adding is not None or later_fix is not None)
    if later_fix is not None:
        evidence.append(
            LogEvidence(
                "errors stop after a later cache load",
                True,
                later_fix.where,
                "so the cache was stale and a load fixed it",
            )
        )
    return LogDiagnosis(
        Verdict.RELOAD_NOT_APPLIED,
        Confidence.CONFIRMED if confirmed else Confidence.LIKELY,
        "Reloads were sent but PostgREST did not reload its schema cache"
        + (" (its listener was down)" if down is not None else "")
        + f": writes naming {f.column} kept failing. Repair the reload path; do not count on "
        "NOTIFY until it works.",
        evidence,
        reload_path_steps(),
    )


def _stale(f: LogFacts) -> LogDiagnosis | None:
    if f.first_seen is None:
        return None
    adding = adding_ddl(f)
    load = first_load_after(f, f.first_seen)
    stopped = load is not None and load.ts is not None and not f.continue_after(load.ts, IN_FLIGHT)
    if adding is None and not stopped:
        return None
    evidence: list[LogEvidence] = []
    if adding is not None and adding.ts is not None:
        between = [
            r
            for r in f.of_kind(Kind.CACHE_LOAD.value)
            if adding.ts < r.ts <= f.first_seen  # type: ignore[operator]
        ]
        if between:
            return None  # the cache was reloaded after the DDL: not a stale cache
        lead = f.first_seen - adding.ts
        evidence.append(
            LogEvidence(
                f"a DDL statement added {f.column} before the first error",
                True,
                adding.where,
                f"{_statement(adding)} ({_span(lead)} before the first error)",
            )
        )
        evidence.append(
            LogEvidence(
                "a cache load between that DDL and the first error",
                False if f.postgrest_log else None,
                None,
                "none in PostgREST's log" if f.postgrest_log else "PostgREST's log was not given",
            )
        )
    reload = None
    if stopped and load is not None and load.ts is not None:
        reload = reload_before(f, load.ts)
        evidence.append(
            LogEvidence(
                "errors stop after a cache load",
                True,
                load.where,
                f"load at {load.ts.isoformat()}; no failed request after it"
                + (f"; reload asked at {reload.where}" if reload else ""),
            )
        )
    confirmed = stopped and reload is not None and adding is not None
    summary = (
        f"Column {f.column} was added to {f.table} "
        + (f"({adding.where}) " if adding else "")
        + "while PostgREST kept its old schema cache"
        + (
            ": the errors stopped right after a confirmed reload."
            if stopped
            else "; no reload happened before the errors."
        )
    )
    if adding is None:
        summary = (
            f"The errors stopped right after PostgREST loaded its cache ({load.where if load else '?'}): "
            "a stale cache is likely, though no DDL adding the column was in the logs given."
        )
    return LogDiagnosis(
        Verdict.STALE_CACHE,
        Confidence.CONFIRMED if confirmed else Confidence.LIKELY,
        summary,
        evidence,
        [
            f"Verify the cache now has the column ({run_command(f.table, f.column, f.schema)})."
            if stopped
            else "Reload PostgREST's schema cache (NOTIFY pgrst, 'reload schema'; SIGUSR1), "
            "then verify.",
            "Prevent it: install the auto-reload event trigger (pgrst-runbook "
            "install-auto-reload) or end every migration with NOTIFY pgrst, 'reload schema'.",
        ],
        reload_helps=not stopped,
    )


def _not_a_column(f: LogFacts) -> LogDiagnosis | None:
    nearest = nearest_columns(f.column, f.known_columns())
    if f.db_errors:
        err = f.db_errors[0]
        evidence = [
            LogEvidence(
                f"PostgreSQL says {f.column} is not a column", True, err.where, err.message
            ),
            *column_rows(f, nearest),
        ]
        same_words = bool(nearest) and nearest[0].score >= 1.0
        return _mismatch(
            f,
            Confidence.CONFIRMED if same_words else Confidence.LIKELY,
            "PostgreSQL itself answered 42703 (undefined column) for that key"
            + (f" and names {nearest[0].name!r}" if same_words else ""),
            evidence,
            nearest,
            alternatives=[] if same_words else [Verdict.PENDING_MIGRATION],
        )
    if _is_camel(f.column) and not any(adds_column(m, f.column) for m in f.migrations):
        evidence = [
            LogEvidence(
                "the key is camelCase",
                True,
                f.first_where,
                f"{f.column!r}: columns created without quotes are lower case, and most "
                "camelCase keys come from a client model (snake_case column expected)",
            ),
            *column_rows(f, nearest),
        ]
        return _mismatch(
            f,
            Confidence.LIKELY,
            "the key looks like a client model's camelCase field",
            evidence,
            nearest,
            alternatives=[Verdict.PENDING_MIGRATION],
        )
    return None


def _unknown(f: LogFacts, base: list[LogEvidence]) -> LogDiagnosis:
    missing = []
    if not f.postgrest_log:
        missing.append("PostgREST's stderr (reload and 'Schema cache loaded' lines)")
    if not f.database_log:
        missing.append("PostgreSQL's log with log_statement = 'ddl' (migrations, NOTIFY)")
    text = "; ".join(missing) if missing else "the database and API themselves"
    return LogDiagnosis(
        Verdict.UNKNOWN,
        Confidence.UNKNOWN,
        f"The logs do not decide between a stale cache, a client mismatch and a migration not "
        f"applied. Would decide it: {text}.",
        base,
        [
            "Run pgrst-runbook run with --dsn (and --api-url) to check the database and the "
            "cache directly.",
        ],
        alternatives=[Verdict.CLIENT_MISMATCH, Verdict.PENDING_MIGRATION, Verdict.STALE_CACHE],
    )


# -- helpers -------------------------------------------------------------------------------


def reload_path_steps(channel: str = "pgrst") -> list[str]:
    """Reloads that work when NOTIFY does not reach PostgREST, and how to repair the path."""
    return [
        "Reload by signal or restart: kill -USR1 <postgrest pid>, docker kill -s SIGUSR1 "
        "<container>, or restart PostgREST (a fresh start loads the cache).",
        f"Send NOTIFY {channel}, 'reload schema' over a direct connection to the primary (port "
        "5432, not a transaction pooler such as Supavisor 6543 or PgBouncer), never to a replica.",
        "Terminate PostgREST's database sessions so it reconnects, re-LISTENs and reloads: "
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name LIKE "
        "'PostgREST%';",
        "Check PostgREST's db-channel (the channel NOTIFY must use) and db-channel-enabled "
        "(true; false behind a transaction pooler, where LISTEN cannot work), and that "
        "db-uri points at the primary.",
        "Do not report the incident fixed until the cache has the column (a write succeeds or "
        "/schema_cache lists it).",
    ]


def _mismatch(
    f: LogFacts,
    confidence: Confidence,
    why: str,
    evidence: list[LogEvidence],
    nearest: list[ColumnMatch],
    alternatives: list[Verdict],
) -> LogDiagnosis:
    target = nearest[0].name if nearest else None
    fix = (
        f"Change the clients to send {target!r} instead of {f.column!r}"
        if target
        else f"Remove {f.column!r} from the client payload, or add the column by a migration"
    )
    where = ", ".join(f.endpoints[:3] or f.sources[:3])
    return LogDiagnosis(
        Verdict.CLIENT_MISMATCH,
        confidence,
        f"Clients send {f.column!r} to {f.table}: {why}. A reload will not fix it"
        + (f"; the nearest known column is {target!r}." if target else "."),
        evidence,
        [
            fix + (f" (seen in {where})." if where else "."),
            expand_contract_summary(f.table, f.column, target, renamed=False),
            "A schema-cache reload will not fix this.",
        ],
        alternatives=alternatives,
        nearest=nearest,
    )


def _reload_text(r: Ref) -> str:
    if r.from_database_log:
        return f"NOTIFY {r.detail} in the database log"
    return "PostgREST received a schema cache reload message"


def _statement(ref: Ref) -> str:
    return " ".join((ref.message or ref.detail).split())[:200]


def _is_camel(name: str) -> bool:
    return any(c.isupper() for c in name[1:]) and any(c.islower() for c in name)


def _span(delta: timedelta) -> str:
    seconds = int(delta.total_seconds())
    if seconds < 120:
        return f"{seconds} s"
    if seconds < 7200:
        return f"{seconds // 60} min"
    return f"{seconds // 3600} h"
