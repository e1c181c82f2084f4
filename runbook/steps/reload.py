"""The reload step: ask PostgREST to reload its schema cache (state-changing, needs consent).

Methods (PostgREST's "Schema Cache" documentation, "Schema Cache Reloading"):

- `notify`: `NOTIFY "<channel>", 'reload schema'` through psycopg; the channel is always a
  `psycopg.sql.Identifier` (case-sensitive, exactly as PostgREST's `db-channel`).
- `rpc`: `POST /rpc/<function>` with `{}`, for deployments that expose a reload function.
- `manual`: nothing is run; `manual_instructions()` says how to send SIGUSR1 or use a dashboard.

`plan_reload()` returns the `PlannedAction` to show before asking; `send_reload()` runs it.
"""

from __future__ import annotations

from dataclasses import dataclass

from psycopg import sql

from runbook.config import Settings
from runbook.errors import RunbookError
from runbook.redact import redact_dsn
from runbook.servers import db
from runbook.servers.api import PostgrestClient, path_segment


@dataclass(frozen=True)
class PlannedAction:
    """What a state-changing step would do, shown to the operator before consent.

    `sql_or_http` is the exact SQL text or `METHOD /path`; None for manual steps, which the
    tool cannot perform (then `instructions` says what the operator should do).
    """

    step: str
    method: str
    description: str
    sql_or_http: str | None
    state_changing: bool = True
    instructions: str = ""


@dataclass(frozen=True)
class ReloadOutcome:
    """What happened: `status` is "sent", "manual", "declined", "dry_run" or "failed"."""

    status: str
    action: PlannedAction
    detail: str = ""
    error: RunbookError | None = None

    @property
    def sent(self) -> bool:
        return self.status == "sent"


def notify_statement(channel: str) -> sql.Composed:
    """`NOTIFY "<channel>", 'reload schema'` with the channel quoted as an identifier."""
    return sql.SQL("NOTIFY {}, 'reload schema'").format(sql.Identifier(channel))


def manual_instructions(settings: Settings) -> str:
    """How to reload by hand: SIGUSR1 (process, Docker, Kubernetes) or the Supabase dashboard."""
    channel = settings.channel
    return "\n".join(
        [
            "Reload PostgREST's schema cache by hand, with one of:",
            "  kill -SIGUSR1 <postgrest pid>          (or: killall -SIGUSR1 postgrest)",
            "  docker kill -s SIGUSR1 <container>",
            "  kubectl exec <pod> -- kill -SIGUSR1 1",
            f"  in SQL:  {notify_statement(channel).as_string()};",
            "  Supabase: Dashboard > SQL Editor, run  NOTIFY pgrst, 'reload schema';",
            "  (or restart the API from Project Settings).",
            "Then run this runbook again with --resume to verify.",
        ]
    )


def plan_reload(settings: Settings, method: str | None = None) -> PlannedAction:
    """The reload the settings call for (`method` overrides `settings.reload_method`)."""
    method = method or settings.reload_method
    if method == "notify":
        where = db.db_target(settings.dsn)
        return PlannedAction(
            step="reload",
            method="notify",
            description=(
                f"Send a schema-cache reload notification on channel {settings.channel!r} to "
                f"database {where.dbname!r} on {where.host}:{where.port} as role {where.user!r}"
            ),
            sql_or_http=notify_statement(settings.channel).as_string(),
        )
    if method == "rpc":
        fn = settings.rpc_function or ""
        return PlannedAction(
            step="reload",
            method="rpc",
            description=(
                f"Call the reload function {fn!r} over the API at "
                f"{redact_dsn(settings.api_url) if settings.api_url else '(no API URL set)'}"
            ),
            sql_or_http=f"POST /rpc/{path_segment(fn)}",
        )
    return PlannedAction(
        step="reload",
        method="manual",
        description="Reload by hand (this tool cannot signal the PostgREST process)",
        sql_or_http=None,
        state_changing=False,
        instructions=manual_instructions(settings),
    )


def send_reload(
    plan: PlannedAction, settings: Settings, client: PostgrestClient, schema: str
) -> ReloadOutcome:
    """Run a planned reload. Returns "sent", "manual" or "failed" (never raises RunbookError)."""
    if plan.method == "manual":
        return ReloadOutcome("manual", plan, plan.instructions)
    try:
        if plan.method == "notify":
            with db.autocommit(settings) as conn:
                conn.execute(notify_statement(settings.channel))
            return ReloadOutcome("sent", plan, "notification sent")
        result = client.call_rpc(schema, settings.rpc_function or "")
    except RunbookError as exc:
        return ReloadOutcome("failed", plan, exc.one_line(), exc)
    if result.ok:
        return ReloadOutcome("sent", plan, f"{result.action} -> {result.describe()}")
    return ReloadOutcome("failed", plan, f"{result.action} -> {result.describe()}")
