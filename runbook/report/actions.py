"""What to do next, derived from one incident: action items and the checks to run.

- `action_items(incident, cause, view)` -> `[{key, item, type, priority, why, done}]`: from the
  runbook's verdict when there is one, else from where the logs alone point (`findings.Cause`);
- `probe_commands(schema, table, column)` -> the side-effect-free checks (shell and SQL) that
  tell a stale cache from a missing column (PostgREST's error reference for PGRST204);
- `RELOAD_SQL`, `AUTO_RELOAD_SQL`: the reload and PostgREST's documented auto-reload event
  trigger, verbatim (PostgREST's "Schema Cache" documentation).
"""

from __future__ import annotations

import shlex
from typing import Any
from urllib.parse import quote

from runbook.diagnosis.verdicts import RELOAD_PATH, Verdict
from runbook.events import parse_ts
from runbook.evidence import code_span, run_command
from runbook.report.findings import Cause, JournalView
from runbook.servers.api import WRITE_PROBE_PREFER, path_segment, pgrst_name

AUTO_RELOAD_SQL = """\
-- Create an event trigger function
CREATE OR REPLACE FUNCTION pgrst_watch() RETURNS event_trigger
  LANGUAGE plpgsql
  AS $$
BEGIN
  NOTIFY pgrst, 'reload schema';
END;
$$;

-- This event trigger will fire after every ddl_command_end event
CREATE EVENT TRIGGER pgrst_watch
  ON ddl_command_end
  EXECUTE PROCEDURE pgrst_watch();"""
RELOAD_SQL = "NOTIFY pgrst, 'reload schema';"


def action_items(
    incident: dict[str, Any], cause: Cause, view: JournalView | None
) -> list[dict[str, Any]]:
    """Action items `{key, item, type, priority, why, done}` derived from this incident."""
    table, column, schema = incident["table"], incident["column"], incident.get("schema")
    verdict = cause.effective_verdict  # the journal's, else the logs' when they decide one
    undecided = verdict in (None, Verdict.UNKNOWN, Verdict.ALREADY_RESOLVED)
    reload_path = verdict in RELOAD_PATH
    items: list[dict[str, Any]] = []

    def add(
        key: str, item: str, kind: str, priority: str, why: str, done: str | None = None
    ) -> None:
        items.append(
            {"key": key, "item": item, "type": kind, "priority": priority, "why": why, "done": done}
        )

    if verdict == Verdict.RELOAD_NOT_APPLIED:
        add(
            "repair-reload-path",
            "Repair the reload path: a PostgREST listener on the `pgrst` channel, no "
            "transaction-mode pooler in front of it, not a read replica",
            "mitigate",
            "P1",
            "reloads were sent and the cache stayed stale",
        )
    if reload_path or undecided:
        add(
            "auto-reload-trigger",
            "Install the auto-reload event trigger (`pgrst-runbook install-auto-reload`, or the SQL "
            "in the appendix) so that every DDL statement sends `NOTIFY pgrst, 'reload schema'`",
            "prevent",
            "P1" if reload_path else "P2",
            "a migration without a reload leaves PostgREST's cache stale",
            _done(view, "CREATE EVENT TRIGGER"),
        )
    if verdict == Verdict.PENDING_MIGRATION:
        add(
            "apply-migration",
            f"Apply the migration that adds '{column}' to '{table}' in this database, then reload "
            "the schema cache; compare the database's migration ledger with the migration files "
            "on every deploy",
            "mitigate",
            "P1",
            "the column is not in this database",
        )
    if reload_path or undecided or verdict == Verdict.PENDING_MIGRATION:
        add(
            "ci-check",
            "Run `pgrst-runbook check` after migrations in CI and fail the deploy on drift "
            "between the database and PostgREST's cache",
            "detect",
            "P1" if reload_path else "P2",
            "drift between the database and the cache is caught before clients hit it",
        )
    if verdict == Verdict.CLIENT_MISMATCH:
        nearest = cause.effective_nearest
        target = f" (the nearest existing column: '{nearest[0]}')" if nearest else ""
        add(
            "fix-client-key",
            f"Fix the client that writes '{column}' to '{table}': send an existing column{target}",
            "mitigate",
            "P1",
            "the failures continue until the client sends a real column",
        )
    if not cause.verdict and verdict != Verdict.STALE_CACHE:
        add(
            "establish-cause",
            "Confirm the cause against the database and the API with "
            + code_span(run_command(table, column, schema)),
            "process",
            "P1" if undecided else "P2",
            "the logs alone "
            + (
                "do not decide it"
                if undecided
                else f"make it {(cause.logs or {}).get('confidence')}"
            ),
        )
    if (incident.get("context") or {}).get("renames"):
        add(
            "expand-contract",
            "Rename columns in two steps (expand, then contract): keep the old name until no client "
            "sends it, and ship clients that use the new name only after the migration",
            "process",
            "P2",
            "a rename broke clients still sending the other name",
        )
    add(
        "alert-pgrst204",
        "Alert on PGRST204 in application logs, so the first failure pages within minutes",
        "detect",
        "P2",
        "PostgREST never logs PGRST204 itself; only the clients see it",
    )
    return items


def _done(view: JournalView | None, marker: str) -> str | None:
    if view is None:
        return None
    for entry in view.find("prevent", ("ok",)):
        if marker in (entry.action or ""):
            ts = parse_ts(entry.ts)
            when = ts.strftime("%Y-%m-%d %H:%M:%S UTC") if ts else "an unknown time"
            return f"done in session {entry.session} at {when}"
    return None


def probe_commands(schema: str | None, table: str, column: str) -> list[dict[str, str]]:
    """The checks that tell a stale cache from a missing column, without side effects.

    `POSTGREST_URL` / `DATABASE_URL` are left as shell variables; add the API key headers your
    deployment requires (never written here: they are secrets).
    """
    seg = path_segment(table)
    col = quote(pgrst_name(column), safe="")
    profile = read_profile = ""
    if schema and schema != "public":  # other schemas are chosen by a profile header
        profile = f" -H {shlex.quote('Content-Profile: ' + schema)}"
        read_profile = f" -H {shlex.quote('Accept-Profile: ' + schema)}"
    url = f'"$POSTGREST_URL/{seg}?columns={col}"'
    write = (
        f"curl -sS -o /dev/null -w '%{{http_code}}\\n' -X POST {url}{profile} "
        f"-H 'Content-Type: application/json' -H 'Prefer: {WRITE_PROBE_PREFER}' -d '[]'"
    )
    read = f'curl -sS "$POSTGREST_URL/{seg}?select={col}&limit=0"{read_profile}'
    literal = "'" + (schema or "public").replace("'", "''") + "'"
    table_literal = "'" + table.replace("'", "''") + "'"
    sql = (
        "SELECT column_name, data_type\nFROM information_schema.columns\n"
        f"WHERE table_schema = {literal} AND table_name = {table_literal}\n"
        "ORDER BY ordinal_position;"
    )
    return [
        {
            "purpose": "Is the column in PostgREST's cache? (201: yes; 400 PGRST204: no; zero rows, rolled back)",
            "lang": "sh",
            "command": write,
        },
        {
            "purpose": "Is the column in the database? (200: yes, even when the cache is stale; 400 42703: no)",
            "lang": "sh",
            "command": read,
        },
        {"purpose": "The table's columns in the database", "lang": "sql", "command": sql},
    ]
