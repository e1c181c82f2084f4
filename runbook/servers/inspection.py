"""The inspect step: what the database and PostgREST each say about the incident's column.

`inspect_target(target, settings, client)` is read-only: the database work runs in one READ ONLY
transaction, the API work is `GET` requests only. Unreachable parts are recorded (`DbView.error`,
`ApiView.errors`) rather than raised, so diagnosis can say what could and could not be
established. The write probe is not part of it: it needs consent (see `runbook.steps.session`).

`Inspection.rows` maps stable keys ("db.column", "openapi.column", "probe.read", ...) to
`EvidenceRow`s; `Inspection.evidence` lists them in a fixed order.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

import psycopg

from runbook.config import Settings
from runbook.errors import ApiUnreachable, RunbookError
from runbook.evidence import EvidenceRow, Target
from runbook.servers import catalog, db
from runbook.servers.api import CacheView, Metrics, PostgrestClient, ProbeResult
from runbook.servers.migration_files import MigrationScan, column_added_by, scan_migrations
from runbook.servers.plumbing import PlumbingReport, check_plumbing

# Roles PostgREST deployments commonly use; checked when no API role is configured.
COMMON_API_ROLES = ["anon", "authenticated", "service_role", "web_anon", "authenticator"]

T = TypeVar("T")


@dataclass
class DbView:
    """The database's answers. `error` is set when the database could not be asked at all."""

    error: RunbookError | None = None
    facts: dict[str, str] = field(default_factory=dict)
    relation: catalog.Relation | None = None
    similar_relations: list[catalog.Relation] = field(default_factory=list)
    schema_relations: list[str] = field(default_factory=list)
    columns: list[catalog.Column] = field(default_factory=list)
    privileges: list[catalog.Privilege] = field(default_factory=list)
    listeners: list[catalog.Listener] | None = None
    listeners_visible: bool = True
    in_recovery: bool | None = None
    event_triggers: list[catalog.EventTrigger] | None = None
    applied_versions: set[str] | None = None
    notes: list[str] = field(default_factory=list)  # optional checks that failed, and why
    plumbing: PlumbingReport | None = None  # reload plumbing (runbook.servers.plumbing)

    @property
    def reachable(self) -> bool:
        return self.error is None

    def column(self, name: str) -> catalog.Column | None:
        return next((c for c in self.columns if c.name == name), None)


@dataclass
class ApiView:
    """PostgREST's answers; each part may be missing, with the error that explains why."""

    openapi: CacheView | None = None
    admin: CacheView | None = None
    metrics: Metrics | None = None
    read_probe: ProbeResult | None = None
    write_probe: ProbeResult | None = None
    errors: dict[str, RunbookError] = field(default_factory=dict)  # part -> why it is missing

    @property
    def reachable(self) -> bool:
        return any((self.openapi, self.admin, self.metrics, self.read_probe, self.write_probe))


@dataclass
class Inspection:
    """Everything the inspect step learnt, plus the evidence rows derived from it."""

    target: Target
    db: DbView
    api: ApiView
    migrations: MigrationScan | None = None
    rows: dict[str, EvidenceRow] = field(default_factory=dict)

    @property
    def evidence(self) -> list[EvidenceRow]:
        return list(self.rows.values())

    def errors(self) -> list[RunbookError]:
        """The unreachable/failed parts, database first."""
        out = [self.db.error] if self.db.error else []
        seen = {e.one_line() for e in out}
        for err in self.api.errors.values():
            if err.one_line() not in seen:
                seen.add(err.one_line())
                out.append(err)
        return out


def inspect_target(
    target: Target,
    settings: Settings,
    client: PostgrestClient,
    *,
    migrations_dir: Path | None = None,
) -> Inspection:
    """Run every read-only check for `target` and return the `Inspection` (never raises
    `RunbookError`: failures are recorded in it)."""
    insp = Inspection(
        target, inspect_database(target, settings), inspect_api(target, settings, client)
    )
    if migrations_dir is not None:
        insp.migrations = scan_migrations(migrations_dir, default_schema=target.schema)
    build_rows(insp, settings)
    return insp


def inspect_database(target: Target, settings: Settings) -> DbView:
    """The database half of the inspection, in one READ ONLY transaction."""
    view = DbView()
    try:
        with db.read_only(settings) as conn:
            view.facts = catalog.server_facts(conn)
            view.relation = catalog.find_relation(conn, target.schema, target.table)
            if view.relation is None:
                view.similar_relations = catalog.similar_relations(conn, target.table)
                view.schema_relations = catalog.relation_names(conn, target.schema)
            else:
                view.columns = catalog.columns(conn, view.relation.oid)
                roles = [settings.api_role] if settings.api_role else COMMON_API_ROLES
                existing = _optional(
                    view, conn, "roles", lambda: catalog.existing_roles(conn, roles)
                )
                present = target.column if view.column(target.column) else None
                oid = view.relation.oid
                view.privileges = (
                    _optional(
                        view,
                        conn,
                        "privileges",
                        lambda: catalog.privileges(conn, oid, present, existing or []),
                    )
                    or []
                )
            _plumbing(view, conn, settings)
            view.applied_versions = _optional(
                view, conn, "migration ledger", lambda: catalog.applied_migration_versions(conn)
            )
    except RunbookError as exc:
        view.error = exc
    return view


def _plumbing(view: DbView, conn: psycopg.Connection, settings: Settings) -> None:
    """Reload plumbing (`runbook.servers.plumbing`), also kept in the listener/recovery/trigger fields.

    Sessions hidden from an unprivileged user (NULL backend_type, `<insufficient privilege>`)
    make "no listener" unknown rather than proven.
    """
    report = check_plumbing(conn, channel=settings.channel, dsn=settings.dsn)
    view.plumbing = report
    view.notes += report.notes
    if report.listeners is not None:
        view.listeners = [
            catalog.Listener(
                x.pid,
                x.application_name,
                x.state,
                x.backend_start.isoformat() if x.backend_start else "",
            )
            for x in report.listeners
        ]
        view.listeners_visible = report.listeners_visible
    view.in_recovery = report.in_recovery
    if report.event_triggers is not None:
        view.event_triggers = [
            catalog.EventTrigger(e.name, e.event, e.fires, e.function, e.notifies)
            for e in report.event_triggers
        ]


def _optional(
    view: DbView, conn: psycopg.Connection, what: str, query: Callable[[], T]
) -> T | None:
    """Run an optional catalog query in a savepoint; a failure becomes a note, not an abort."""
    try:
        with conn.transaction():
            return query()
    except psycopg.errors.QueryCanceled:
        raise
    except psycopg.Error as exc:
        view.notes.append(f"{what}: {' '.join(str(exc).split())}")
        return None


def inspect_api(target: Target, settings: Settings, client: PostgrestClient) -> ApiView:
    """The API half: OpenAPI, admin `/schema_cache` and `/metrics`, and the read probe."""
    view = ApiView()
    if client.has_api:
        view.read_probe = _attempt(
            view,
            "read_probe",
            lambda: client.read_probe(target.schema, target.table, target.column),
        )
        if "read_probe" not in view.errors or not _is_unreachable(view.errors["read_probe"]):
            view.openapi = _attempt(view, "openapi", lambda: client.openapi(target.schema))
    else:
        view.errors["api"] = ApiUnreachable(
            "no API URL configured, so PostgREST's cache was not checked",
            title="API not configured",
            next_step="pass --api-url (or --supabase-url), or set POSTGREST_URL",
        )
    if client.has_admin:
        view.admin = _attempt(view, "admin", client.admin_schema_cache)
        if "admin" not in view.errors or not _is_unreachable(view.errors["admin"]):
            view.metrics = _attempt(view, "metrics", client.metrics)
    return view


def _attempt(view: ApiView, part: str, call: Callable[[], T]) -> T | None:
    try:
        return call()
    except RunbookError as exc:
        view.errors[part] = exc
        return None


def _is_unreachable(err: RunbookError) -> bool:
    return err.exit_code == 4


# -- evidence rows -----------------------------------------------------------------------------


def build_rows(insp: Inspection, settings: Settings) -> None:
    """(Re)build `insp.rows` from the views; called again after the write probe."""
    t = insp.target
    rows: dict[str, EvidenceRow] = {}
    d = insp.db
    if d.error:
        rows["db.reachable"] = EvidenceRow(
            "database", "database reachable", False, d.error.one_line()
        )
    else:
        rows["db.table"] = EvidenceRow(
            "database",
            f"table {t.schema}.{t.table} exists",
            d.relation is not None,
            d.relation.kind if d.relation else _similar_text(d),
        )
        if d.relation is not None:
            col = d.column(t.column)
            if col is not None:
                flags = [
                    x for x, on in (("not null", col.not_null), ("generated", col.generated)) if on
                ]
                detail = " ".join([col.type, *flags])
            else:
                detail = "columns: " + ", ".join(c.name for c in d.columns)
            rows["db.column"] = EvidenceRow(
                "database", f"column {t.column} exists in the database", col is not None, detail
            )
            if d.privileges:
                rows["db.privileges"] = EvidenceRow(
                    "database",
                    "API roles may insert",
                    any(p.table_insert for p in d.privileges),
                    "; ".join(_privilege_text(p) for p in d.privileges),
                )
        if d.listeners is not None:
            listening = bool(d.listeners)
            rows["db.listener"] = EvidenceRow(
                "database",
                f"a session is listening on channel {settings.channel!r}",
                listening if (listening or d.listeners_visible) else None,
                ", ".join(f"pid {x.pid} ({x.application_name or 'no name'})" for x in d.listeners)
                or (
                    "" if d.listeners_visible else "other roles' queries are hidden from this user"
                ),
            )
        if d.in_recovery is not None:
            rows["db.recovery"] = EvidenceRow(
                "database",
                "database is a read replica",
                d.in_recovery,
                "LISTEN/NOTIFY do not work on replicas" if d.in_recovery else "primary",
            )
        if d.event_triggers is not None:
            notifying = [e for e in d.event_triggers if e.notifies and e.enabled]
            rows["db.auto_reload"] = EvidenceRow(
                "database",
                "auto-reload event trigger installed",
                bool(notifying),
                ", ".join(e.name for e in notifying) or "none sends NOTIFY",
            )
    a = insp.api
    if a.read_probe is not None:
        rows["probe.read"] = EvidenceRow(
            "probe",
            "read probe (answered by the database)",
            a.read_probe.ok,
            f"{a.read_probe.action} -> {a.read_probe.describe()}",
        )
    if a.write_probe is not None:
        wp = a.write_probe
        rows["probe.write"] = EvidenceRow(
            "probe",
            "write probe (checked against the cache)",
            True if wp.ok else (False if wp.code == "PGRST204" else None),
            f"{wp.action} -> {wp.describe()}"
            + (
                "; rolled back"
                if wp.rolled_back
                else ("; rollback not confirmed (0 rows)" if wp.ok else "")
            ),
        )
    for key, view in (("openapi", a.openapi), ("admin", a.admin)):
        if view is None:
            continue
        cols = view.columns(t.schema, t.table)
        if cols is None:
            rows[f"{key}.table"] = EvidenceRow(
                key,
                f"table {t.table} in the schema cache",
                False,
                "absent"
                + (" (OpenAPI lists only tables the API role can see)" if key == "openapi" else ""),
            )
        else:
            rows[f"{key}.column"] = EvidenceRow(
                key,
                f"column {t.column} in the schema cache",
                t.column in cols,
                f"cached columns: {', '.join(sorted(cols))}",
            )
    if a.metrics is not None:
        loads = a.metrics.schema_cache_loads()
        rows["metrics.loads"] = EvidenceRow(
            "metrics",
            "schema cache loads (SUCCESS)",
            None if loads is None else True,
            "metric absent (PostgREST < 12.2?)" if loads is None else f"{loads:g}",
        )
    for part, err in a.errors.items():
        rows[f"api.{part}"] = EvidenceRow(
            "api", f"{part.replace('_', ' ')} answered", None, err.one_line()
        )
    if insp.migrations is not None:
        m = insp.migrations
        change = column_added_by(m, t.schema, t.table, t.column)
        rows["migrations.column"] = EvidenceRow(
            "migrations",
            f"a local migration adds {t.column}",
            change is not None,
            f"{change.path}:{change.line}: {change.statement}"
            if change
            else f"{len(m.files)} files read in {m.directory}"
            + (f"; {len(m.problems)} parse problems" if m.problems else ""),
        )
        if change is not None and change.version and d.applied_versions is not None:
            applied = change.version in d.applied_versions
            rows["migrations.ledger"] = EvidenceRow(
                "migrations",
                f"migration {change.version} recorded as applied",
                applied,
                "supabase_migrations.schema_migrations",
            )
    insp.rows = rows


def _similar_text(d: DbView) -> str:
    if d.similar_relations:
        return "similar: " + ", ".join(
            f"{r.schema}.{r.name} ({r.kind})" for r in d.similar_relations
        )
    return "no table of that name in any schema"


def _privilege_text(p: catalog.Privilege) -> str:
    parts = [
        f"insert={'yes' if p.table_insert else 'no'}",
        f"update={'yes' if p.table_update else 'no'}",
    ]
    if p.column_insert is not None:
        parts.append(f"column insert={'yes' if p.column_insert else 'no'}")
    return f"{p.role}: {' '.join(parts)}"
