"""Reload plumbing, read-only: can a `NOTIFY` reach PostgREST and make it reload?

`check_plumbing(conn, channel=..., dsn=...)` asks the database (through a connection from
`runbook.servers.db.read_only`; every query runs in its own savepoint, so one refused query does not
abort the others) and returns a `PlumbingReport`:

- listeners: backends in `pg_stat_activity` whose query is `LISTEN "<channel>"`, how many, since
  when, and whether they are PostgREST's (`application_name` `PostgREST <version>`); PostgREST
  sessions that do not listen;
- `pg_is_in_recovery()`: a replica accepts neither LISTEN nor NOTIFY;
- `pg_notification_queue_usage()`: a full queue stops notifications;
- pooler (`runbook.servers.pooler`): port and host conventions (Supavisor 6543 and `*.pooler.supabase.com`, PgBouncer
  6432), the server's own port against the one dialled, a pooler admin console answering
  `SHOW POOLS`, and (`backend_pid_changes`, its own connection) a backend that changes between
  two transactions. Inferences are said as "likely";
- event triggers: Supabase's `pgrst_ddl_watch` / `pgrst_drop_watch`, the recipe's (and
  `install-auto-reload`'s) `pgrst_watch`, any other trigger whose function sends NOTIFY, with
  their enabled state from `pg_event_trigger`.

No name is ever formatted into SQL: the channel is compared in Python, values are parameters.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, TypeVar

import psycopg

from runbook.evidence import EvidenceRow
from runbook.servers.catalog import listen_channel, scalar
from runbook.servers.pooler import (
    PoolerGuess,
    backend_pid_changes,
    dialled,
    pooler_console,
    pooler_from_dsn,
)

T = TypeVar("T")

AUTO_RELOAD_TRIGGERS = ("pgrst_ddl_watch", "pgrst_drop_watch", "pgrst_watch")
SUPABASE_TRIGGERS = ("pgrst_ddl_watch", "pgrst_drop_watch")
QUEUE_WARN = 0.5  # half full: PostgreSQL warns; full stops NOTIFY
_ENABLED = {"O": "enabled", "D": "disabled", "R": "replica only", "A": "always"}


@dataclass(frozen=True)
class ListenerBackend:
    """A backend that ran `LISTEN <channel>` (or a PostgREST session that did not)."""

    pid: int
    application_name: str
    state: str
    backend_start: datetime | None
    client: str  # "addr:port", "local socket", or "" when hidden

    @property
    def is_postgrest(self) -> bool:
        return self.application_name.startswith("PostgREST")

    def describe(self) -> str:
        since = f" since {self.backend_start.isoformat()}" if self.backend_start else ""
        who = self.application_name or "no application_name"
        return f"pid {self.pid} ({who}){since}" + (f" from {self.client}" if self.client else "")


@dataclass(frozen=True)
class EventTriggerState:
    """An event trigger, its enabled state (`pg_event_trigger.evtenabled`), and its function."""

    name: str
    event: str
    enabled: str  # enabled | disabled | replica only | always
    function: str
    notifies: bool  # the function's source sends NOTIFY / pg_notify

    @property
    def fires(self) -> bool:
        """Fires for ordinary sessions (`disabled` and `replica only` do not)."""
        return self.enabled in ("enabled", "always")


@dataclass
class PlumbingReport:
    """Everything `check_plumbing` learnt; `None` means "could not be checked" (see notes)."""

    channel: str
    listeners: list[ListenerBackend] | None = None
    postgrest_sessions: list[ListenerBackend] | None = None  # PostgREST's, listening or not
    listeners_visible: bool = True  # False: other roles' queries were hidden from us
    in_recovery: bool | None = None
    queue_usage: float | None = None
    pooler: PoolerGuess = field(default_factory=PoolerGuess)
    event_triggers: list[EventTriggerState] | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def listening(self) -> bool | None:
        """True/False when known; None when nothing listens but we could not see everything."""
        if self.listeners is None:
            return None
        if self.listeners:
            return True
        return False if self.listeners_visible else None

    def auto_reload(self) -> list[EventTriggerState]:
        """Event triggers that send NOTIFY and fire (the auto-reload)."""
        return [e for e in self.event_triggers or [] if e.notifies and e.fires]

    def problems(self) -> list[str]:
        """Contributing factors, one sentence each (what would stop a reload reaching PostgREST)."""
        out = []
        if self.listening is False:
            extra = ""
            if self.postgrest_sessions:
                extra = (
                    f" although {len(self.postgrest_sessions)} PostgREST session(s) are "
                    "connected: its listener is lost"
                )
            out.append(f"no session LISTENs on channel {self.channel!r}{extra}")
        if self.in_recovery:
            out.append("this database is a read replica: LISTEN/NOTIFY do not work on it")
        if self.queue_usage is not None and self.queue_usage >= QUEUE_WARN:
            out.append(f"the notification queue is {self.queue_usage:.0%} full")
        if self.pooler.likely:
            out.append(
                f"the connection is {self.pooler.describe()} (LISTEN does not work through a "
                "transaction pooler)"
            )
        if self.event_triggers is not None:
            for name in SUPABASE_TRIGGERS:
                found = next((e for e in self.event_triggers if e.name == name), None)
                if found is not None and not found.fires:
                    out.append(f"event trigger {name} is {found.enabled}")
            if not self.auto_reload():
                out.append("no auto-reload event trigger (pgrst_ddl_watch/pgrst_watch) fires")
        return out

    def evidence(self) -> list[EvidenceRow]:
        """Rows for the inspect step, in a fixed order."""
        return [row for _, row in self.keyed_evidence()]

    def keyed_evidence(self) -> list[tuple[str, EvidenceRow]]:
        """(stable key, row) pairs: `plumbing.listener`, `plumbing.replica`, ..."""
        rows: list[tuple[str, EvidenceRow]] = []
        if self.listeners is not None:
            detail = ", ".join(x.describe() for x in self.listeners)
            if not self.listeners:
                detail = (
                    "none"
                    if self.listeners_visible
                    else "none visible: other roles' queries are hidden from this user "
                    "(connect as a superuser or a member of pg_read_all_stats)"
                )
            rows.append(
                (
                    "plumbing.listener",
                    EvidenceRow(
                        "database",
                        f"a session LISTENs on channel {self.channel!r}",
                        self.listening,
                        detail,
                    ),
                )
            )
        if self.postgrest_sessions is not None:
            rows.append(
                (
                    "plumbing.postgrest_sessions",
                    EvidenceRow(
                        "database",
                        "PostgREST sessions connected to this database",
                        bool(self.postgrest_sessions)
                        if self.postgrest_sessions or self.listeners_visible
                        else None,
                        f"{len(self.postgrest_sessions)}: "
                        + ", ".join(x.describe() for x in self.postgrest_sessions[:5])
                        if self.postgrest_sessions
                        else "none (application_name 'PostgREST %')",
                    ),
                )
            )
        if self.in_recovery is not None:
            rows.append(
                (
                    "plumbing.replica",
                    EvidenceRow(
                        "database",
                        "database is a read replica (pg_is_in_recovery)",
                        self.in_recovery,
                        recovery_meaning(self.in_recovery),
                    ),
                )
            )
        if self.queue_usage is not None:
            rows.append(
                (
                    "plumbing.queue",
                    EvidenceRow(
                        "database",
                        "notification queue has room (pg_notification_queue_usage)",
                        self.queue_usage < QUEUE_WARN,
                        f"{self.queue_usage:.1%} used",
                    ),
                )
            )
        rows.append(
            (
                "plumbing.pooler",
                EvidenceRow(
                    "config",
                    "connection goes through a pooler",
                    self.pooler.likely,
                    self.pooler.describe(),
                ),
            )
        )
        if self.event_triggers is not None:
            present = ", ".join(
                f"{e.name} ({e.enabled}{', sends NOTIFY' if e.notifies else ''})"
                for e in self.event_triggers
                if e.name in AUTO_RELOAD_TRIGGERS or e.notifies
            )
            rows.append(
                (
                    "plumbing.event_triggers",
                    EvidenceRow(
                        "database",
                        "auto-reload event triggers present and enabled",
                        bool(self.auto_reload()),
                        present or "none of pgrst_ddl_watch, pgrst_drop_watch, pgrst_watch",
                    ),
                )
            )
        return rows

    def as_dict(self) -> dict[str, Any]:
        def backend(x: ListenerBackend) -> dict[str, Any]:
            return {
                "pid": x.pid,
                "application_name": x.application_name,
                "state": x.state,
                "backend_start": x.backend_start.isoformat() if x.backend_start else None,
                "client": x.client,
            }

        return {
            "channel": self.channel,
            "listening": self.listening,
            "listeners": None if self.listeners is None else [backend(x) for x in self.listeners],
            "postgrest_sessions": None
            if self.postgrest_sessions is None
            else [backend(x) for x in self.postgrest_sessions],
            "listeners_visible": self.listeners_visible,
            "in_recovery": self.in_recovery,
            "queue_usage": self.queue_usage,
            "pooler": {
                "likely": self.pooler.likely,
                "certain": self.pooler.certain,
                "reasons": self.pooler.reasons,
            },
            "event_triggers": None
            if self.event_triggers is None
            else [e.__dict__ for e in self.event_triggers],
            "problems": self.problems(),
            "notes": self.notes,
        }


def recovery_meaning(in_recovery: bool) -> str:
    """What `pg_is_in_recovery()` means for reloads."""
    if in_recovery:
        return (
            "true: a replica; LISTEN/NOTIFY do not work here, send NOTIFY to the primary and "
            "point PostgREST's listener (db-uri) at the primary"
        )
    return "false: the primary (LISTEN/NOTIFY work here)"


# -- the checks ----------------------------------------------------------------------------


def check_plumbing(
    conn: psycopg.Connection, *, channel: str = "pgrst", dsn: str = ""
) -> PlumbingReport:
    """Every read-only plumbing check on `conn`; failures become notes, never exceptions.

    `dsn` (may be empty: libpq's `PG*` variables) is only read for host and port conventions.
    """
    report = PlumbingReport(channel)
    found = _savepoint(report, conn, "listeners", lambda: _backends(conn, channel))
    if found is not None:
        report.listeners, report.postgrest_sessions, report.listeners_visible = found
    report.in_recovery = _savepoint(
        report, conn, "recovery", lambda: scalar(conn, "SELECT pg_catalog.pg_is_in_recovery()")
    )
    usage = _savepoint(
        report,
        conn,
        "notification queue",
        lambda: scalar(conn, "SELECT pg_catalog.pg_notification_queue_usage()"),
    )
    report.queue_usage = float(usage) if usage is not None else None
    report.event_triggers = _savepoint(
        report, conn, "event triggers", lambda: _event_triggers(conn)
    )
    report.pooler = pooler_from_dsn(dsn)
    console = pooler_console(conn)
    for reason in console.reasons:
        report.pooler.add(reason, certain=console.certain)
    server_port = _savepoint(
        report, conn, "server port", lambda: scalar(conn, "SELECT inet_server_port()")
    )
    dialled_port = dialled(dsn).get("port")
    if server_port is not None and dialled_port and str(server_port) != dialled_port:
        report.pooler.add(
            f"dialled port {dialled_port} but the server listens on {server_port}: something in "
            "between forwards the connection"
        )
    if report.pooler.likely and not report.pooler.certain and dsn:
        changed = backend_pid_changes(dsn)
        if changed:
            report.pooler.add(
                "the backend changed between two transactions: transaction pooling", certain=True
            )
        elif changed is False:
            report.pooler.reasons.append(
                "the backend stayed the same across two transactions (session mode or a plain "
                "proxy)"
            )
    return report


def _backends(
    conn: psycopg.Connection, channel: str
) -> tuple[list[ListenerBackend], list[ListenerBackend], bool]:
    rows = conn.execute(
        """
        SELECT pid, coalesce(application_name, ''), coalesce(state, ''), backend_start,
               CASE WHEN client_addr IS NULL THEN
                    CASE WHEN client_port = -1 THEN 'local socket' ELSE '' END
                    ELSE host(client_addr) || ':' || client_port END,
               coalesce(query, '')
        FROM pg_catalog.pg_stat_activity
        WHERE ((backend_type = 'client backend' AND datname = current_database())
               OR backend_type IS NULL)  -- other roles' sessions: hidden, unless we may see them
          AND pid <> pg_catalog.pg_backend_pid()
        ORDER BY backend_start
        """
    ).fetchall()
    listening, postgrest, visible = [], [], True
    for pid, app, state, started, client, query in rows:
        backend = ListenerBackend(int(pid), app, state, started, client)
        if query == "<insufficient privilege>":
            visible = False
        elif listen_channel(query) == channel:
            listening.append(backend)
        if backend.is_postgrest:
            postgrest.append(backend)
    return listening, postgrest, visible


def _event_triggers(conn: psycopg.Connection) -> list[EventTriggerState]:
    rows = conn.execute(
        """
        SELECT e.evtname::text, e.evtevent::text, e.evtenabled::text,
               p.oid::regprocedure::text, p.prosrc ~* '(notify|pg_notify)'
        FROM pg_catalog.pg_event_trigger e JOIN pg_catalog.pg_proc p ON p.oid = e.evtfoid
        ORDER BY e.evtname
        """
    ).fetchall()
    return [
        EventTriggerState(name, event, _ENABLED.get(state, state or ""), fn, bool(notifies))
        for name, event, state, fn, notifies in rows
    ]


def _savepoint(
    report: PlumbingReport, conn: psycopg.Connection, what: str, query: Callable[[], T]
) -> T | None:
    try:
        with conn.transaction():
            return query()
    except psycopg.errors.QueryCanceled:
        raise
    except psycopg.Error as exc:
        report.notes.append(f"{what}: {' '.join(str(exc).split())}")
        return None


