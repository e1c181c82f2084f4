"""Prevention: the auto-reload event trigger, and the post-migration drift check.

- `install_script(channel)` / `uninstall_script()`: the event-trigger recipe of
  PostgREST's "Schema Cache" documentation (a function that sends `NOTIFY <channel>,
  'reload schema'`, fired on `ddl_command_end`), made idempotent; `apply_script()` runs one in a
  single transaction. Creating event triggers needs a superuser (or Supabase's `postgres`).
- `check_drift(settings, client)`: every table's columns in the exposed schemas, database vs
  PostgREST's cache (admin `/schema_cache`, else OpenAPI per schema). Drift means the cache is
  stale: a CI step after migrations can fail on it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from psycopg import sql

from runbook.config import Settings
from runbook.diagnosis.fix_plans import dollar_tag
from runbook.errors import RunbookError
from runbook.servers import catalog, db
from runbook.servers.api import CacheView, PostgrestClient

TRIGGER_NAME = "pgrst_watch"
FUNCTION_SCHEMA = "public"


def install_script(channel: str) -> list[sql.Composed | sql.SQL]:
    """Statements that install (or refresh) the auto-reload trigger; safe to run again."""
    notify = sql.SQL("NOTIFY {}, 'reload schema'").format(sql.Identifier(channel)).as_string()
    body = f"\nBEGIN\n  {notify};\nEND;\n"
    tag = dollar_tag(body)
    function = sql.Identifier(FUNCTION_SCHEMA, TRIGGER_NAME)
    return [
        sql.SQL(
            "CREATE OR REPLACE FUNCTION {}() RETURNS event_trigger\n  LANGUAGE plpgsql\n  AS "
        ).format(function)
        + sql.SQL(tag + body + tag),  # body holds only a quoted identifier; tag is unique
        sql.SQL(
            "DO $do$\nBEGIN\n  IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_event_trigger "
            "WHERE evtname = {name}) THEN\n"
            "    CREATE EVENT TRIGGER {trigger} ON ddl_command_end EXECUTE PROCEDURE {fn}();\n"
            "  END IF;\nEND\n$do$"
        ).format(name=sql.Literal(TRIGGER_NAME), trigger=sql.Identifier(TRIGGER_NAME), fn=function),
        sql.SQL("ALTER EVENT TRIGGER {} ENABLE").format(sql.Identifier(TRIGGER_NAME)),
    ]


def uninstall_script() -> list[sql.Composed | sql.SQL]:
    """Statements that remove the trigger and its function; safe when they are absent."""
    return [
        sql.SQL("DROP EVENT TRIGGER IF EXISTS {}").format(sql.Identifier(TRIGGER_NAME)),
        sql.SQL("DROP FUNCTION IF EXISTS {}()").format(
            sql.Identifier(FUNCTION_SCHEMA, TRIGGER_NAME)
        ),
    ]


def script_text(statements: list[sql.Composed | sql.SQL]) -> str:
    """The statements as one SQL script, exactly as they will be sent."""
    return "\n".join(s.as_string() + ";" for s in statements) + "\n"


def apply_script(settings: Settings, statements: list[sql.Composed | sql.SQL]) -> None:
    """Run the statements in one transaction (raises a `RunbookError` on failure)."""
    with db.autocommit(settings) as conn, conn.transaction():
        for statement in statements:
            conn.execute(statement)


def auto_reload_triggers(settings: Settings) -> list[catalog.EventTrigger]:
    """The enabled event triggers whose function sends a NOTIFY."""
    with db.read_only(settings) as conn:
        return [t for t in catalog.event_triggers(conn) if t.enabled and t.notifies]


# -- drift check ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Drift:
    """One difference between the database and the cache.

    `kind`: "table_not_in_cache", "columns_not_in_cache", "columns_not_in_db",
    "table_not_in_db".
    """

    schema: str
    table: str
    kind: str
    columns: tuple[str, ...] = ()

    def describe(self) -> str:
        cols = f": {', '.join(self.columns)}" if self.columns else ""
        return f"{self.schema}.{self.table} {self.kind.replace('_', ' ')}{cols}"


@dataclass
class DriftReport:
    """The outcome of `check_drift`: drifts, plus what could not be compared and why."""

    source: str  # "admin" or "openapi"
    schemas: tuple[str, ...]
    tables_compared: int = 0
    drifts: list[Drift] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    @property
    def clean(self) -> bool:
        return not self.drifts


def check_drift(settings: Settings, client: PostgrestClient) -> DriftReport:
    """Compare the database's columns with PostgREST's cache for every exposed schema.

    Raises `RunbookError` when the database, or every view of the cache, is unreachable.
    """
    schemas = list(settings.schemas)
    with db.read_only(settings) as conn:
        in_db = catalog.schema_columns(conn, schemas)
    views, source, warnings = _cache_views(client, schemas)
    report = DriftReport(source, tuple(schemas), warnings=warnings)
    for view in views:
        for schema in sorted(view.schemas):
            if schema not in schemas:
                continue
            _compare_schema(report, view, schema, in_db)
    return report


def _cache_views(
    client: PostgrestClient, schemas: list[str]
) -> tuple[list[CacheView], str, list[str]]:
    warnings: list[str] = []
    if client.has_admin:
        try:
            view = client.admin_schema_cache()
            # An exposed schema with no tables yet is still covered by the admin cache.
            return [CacheView("admin", view.tables, frozenset(schemas))], "admin", warnings
        except RunbookError as exc:
            if not client.has_api:
                raise
            warnings.append(f"admin /schema_cache unusable, using OpenAPI: {exc.one_line()}")
    views = []
    last_error: RunbookError | None = None
    for schema in schemas:
        try:
            views.append(client.openapi(schema))
        except RunbookError as exc:
            last_error = exc
            warnings.append(f"OpenAPI for schema {schema!r} unusable: {exc.one_line()}")
    if not views:
        if last_error is not None:
            raise last_error
        client.openapi(schemas[0])  # raises the "not configured" error
    return views, "openapi", warnings


def _compare_schema(
    report: DriftReport,
    view: CacheView,
    schema: str,
    in_db: dict[tuple[str, str], set[str]],
) -> None:
    db_tables = {t for (s, t) in in_db if s == schema}
    cache_tables = {t for (s, t) in view.tables if s == schema}
    for table in sorted(db_tables | cache_tables):
        cached = view.columns(schema, table)
        actual = in_db.get((schema, table))
        if actual is None:
            report.drifts.append(Drift(schema, table, "table_not_in_db"))
            continue
        if cached is None:
            if view.source == "admin":
                report.drifts.append(Drift(schema, table, "table_not_in_cache"))
            else:  # OpenAPI hides tables the API role cannot access: not proof of drift
                report.warnings.append(
                    f"{schema}.{table} is not in OpenAPI (stale cache, or no privileges "
                    "for the API role): use --admin-url to be sure"
                )
            continue
        report.tables_compared += 1
        missing = tuple(sorted(actual - cached))
        extra = tuple(sorted(cached - actual))
        if missing:
            report.drifts.append(Drift(schema, table, "columns_not_in_cache", missing))
        if extra:
            report.drifts.append(Drift(schema, table, "columns_not_in_db", extra))
