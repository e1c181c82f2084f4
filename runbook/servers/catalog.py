"""Read-only questions to PostgreSQL's catalogs, each a typed answer.

All functions take an open connection (from `runbook.servers.db.read_only`) and pass every name as a
query parameter: table and column names come from logs and are never part of the SQL text.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import psycopg

# Relation kinds PostgREST exposes: tables, views, materialized views, foreign and partitioned tables.
_EXPOSED_KINDS = ["r", "v", "m", "f", "p"]
_KIND_NAMES = {
    "r": "table",
    "v": "view",
    "m": "materialized view",
    "f": "foreign table",
    "p": "partitioned table",
}


@dataclass(frozen=True)
class Relation:
    """A table-like relation: its oid, schema, exact name and kind ("table", "view", ...)."""

    oid: int
    schema: str
    name: str
    kind: str


@dataclass(frozen=True)
class Column:
    """A column with its exact name, SQL type, nullability and generated/identity flags."""

    name: str
    type: str
    not_null: bool
    generated: bool
    identity: bool


@dataclass(frozen=True)
class Privilege:
    """Whether `role` may INSERT/UPDATE the table (and the column, when one is named)."""

    role: str
    table_insert: bool
    table_update: bool
    column_insert: bool | None
    column_update: bool | None


@dataclass(frozen=True)
class Listener:
    """A backend that ran `LISTEN` on the channel (PostgREST's listener)."""

    pid: int
    application_name: str
    state: str
    backend_start: str


@dataclass(frozen=True)
class EventTrigger:
    """An event trigger, its event, whether enabled, and whether its function sends NOTIFY."""

    name: str
    event: str
    enabled: bool
    function: str
    notifies: bool


def find_relation(conn: psycopg.Connection, schema: str, name: str) -> Relation | None:
    """The relation `schema.name` (exact, case-sensitive), or None."""
    row = conn.execute(
        """
        SELECT c.oid::int8, n.nspname, c.relname, c.relkind::text
        FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
        WHERE n.nspname = %s AND c.relname = %s AND c.relkind::text = ANY(%s)
        """,
        [schema, name, _EXPOSED_KINDS],
    ).fetchone()
    return _relation(row) if row else None


def similar_relations(conn: psycopg.Connection, name: str) -> list[Relation]:
    """Relations in any user schema whose name equals `name` ignoring case."""
    rows = conn.execute(
        """
        SELECT c.oid::int8, n.nspname, c.relname, c.relkind::text
        FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
        WHERE lower(c.relname) = lower(%s) AND c.relkind::text = ANY(%s)
          AND n.nspname NOT IN ('pg_catalog', 'information_schema')
          AND n.nspname NOT LIKE 'pg\\_toast%%'
        ORDER BY n.nspname, c.relname
        """,
        [name, _EXPOSED_KINDS],
    ).fetchall()
    return [_relation(r) for r in rows]


def relation_names(conn: psycopg.Connection, schema: str) -> list[str]:
    """Names of the exposed-kind relations in `schema` (for "did you mean" on tables)."""
    rows = conn.execute(
        """
        SELECT c.relname FROM pg_catalog.pg_class c
        JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
        WHERE n.nspname = %s AND c.relkind::text = ANY(%s) ORDER BY 1
        """,
        [schema, _EXPOSED_KINDS],
    ).fetchall()
    return [r[0] for r in rows]


def columns(conn: psycopg.Connection, relation_oid: int) -> list[Column]:
    """The live columns of a relation in attribute order."""
    rows = conn.execute(
        """
        SELECT a.attname, pg_catalog.format_type(a.atttypid, a.atttypmod), a.attnotnull,
               a.attgenerated <> '', a.attidentity <> ''
        FROM pg_catalog.pg_attribute a
        WHERE a.attrelid = %s AND a.attnum > 0 AND NOT a.attisdropped
        ORDER BY a.attnum
        """,
        [relation_oid],
    ).fetchall()
    return [Column(*r) for r in rows]


def schema_columns(conn: psycopg.Connection, schemas: list[str]) -> dict[tuple[str, str], set[str]]:
    """Every exposed-kind relation in `schemas` -> its column names (for `check`)."""
    rows = conn.execute(
        """
        SELECT n.nspname, c.relname, a.attname
        FROM pg_catalog.pg_class c
        JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
        LEFT JOIN pg_catalog.pg_attribute a
          ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
        WHERE n.nspname = ANY(%s) AND c.relkind::text = ANY(%s)
        """,
        [schemas, _EXPOSED_KINDS],
    ).fetchall()
    out: dict[tuple[str, str], set[str]] = {}
    for schema, table, column in rows:
        cols = out.setdefault((schema, table), set())
        if column is not None:
            cols.add(column)
    return out


def existing_roles(conn: psycopg.Connection, candidates: list[str]) -> list[str]:
    """Which of `candidates` exist as roles, in the given order."""
    rows = conn.execute(
        "SELECT rolname FROM pg_catalog.pg_roles WHERE rolname = ANY(%s)", [candidates]
    ).fetchall()
    present = {r[0] for r in rows}
    return [c for c in candidates if c in present]


def privileges(
    conn: psycopg.Connection, relation_oid: int, column: str | None, roles: list[str]
) -> list[Privilege]:
    """INSERT/UPDATE privileges of each role on the relation, and on `column` if it exists."""
    out = []
    for role in roles:
        row = conn.execute(
            """
            SELECT has_table_privilege(%(role)s, %(oid)s::oid, 'INSERT'),
                   has_table_privilege(%(role)s, %(oid)s::oid, 'UPDATE'),
                   CASE WHEN %(col)s::text IS NULL THEN NULL
                        ELSE has_column_privilege(%(role)s, %(oid)s::oid, %(col)s::text, 'INSERT') END,
                   CASE WHEN %(col)s::text IS NULL THEN NULL
                        ELSE has_column_privilege(%(role)s, %(oid)s::oid, %(col)s::text, 'UPDATE') END
            """,
            {"role": role, "oid": relation_oid, "col": column},
        ).fetchone()
        assert row is not None
        out.append(Privilege(role, *row))
    return out


def listeners(conn: psycopg.Connection, channel: str) -> tuple[list[Listener], bool]:
    """Backends whose last query was `LISTEN <channel>`, and whether all queries were visible.

    Without superuser or `pg_read_all_stats`, other roles' query texts read
    `<insufficient privilege>`, so an empty list then proves nothing: the flag says so.
    """
    rows = conn.execute(
        """
        SELECT pid, coalesce(application_name, ''), coalesce(state, ''),
               coalesce(backend_start::text, ''), coalesce(query, '')
        FROM pg_catalog.pg_stat_activity
        WHERE backend_type = 'client backend'
        """
    ).fetchall()
    found = []
    all_visible = True
    for pid, app, state, started, query in rows:
        if query == "<insufficient privilege>":
            all_visible = False
            continue
        if listen_channel(query) == channel:
            found.append(Listener(pid, app, state, started))
    return found, all_visible


def listen_channel(query: str) -> str | None:
    """The channel of a `LISTEN x` / `LISTEN "x"` statement text, or None for other queries."""
    text = query.strip().rstrip(";").strip()
    if text[:6].upper() != "LISTEN" or len(text) < 8 or not text[6].isspace():
        return None
    name = text[7:].strip()
    if len(name) >= 2 and name[0] == name[-1] == '"':
        return name[1:-1].replace('""', '"')
    return name.lower()


def in_recovery(conn: psycopg.Connection) -> bool:
    """True on a read replica (LISTEN/NOTIFY do not work there)."""
    row = conn.execute("SELECT pg_catalog.pg_is_in_recovery()").fetchone()
    return bool(row and row[0])


def event_triggers(conn: psycopg.Connection) -> list[EventTrigger]:
    """All event triggers, flagging those whose function sends a NOTIFY (auto-reload)."""
    rows = conn.execute(
        """
        SELECT e.evtname, e.evtevent, e.evtenabled <> 'D', p.oid::regprocedure::text,
               p.prosrc ~* '(notify|pg_notify)'
        FROM pg_catalog.pg_event_trigger e JOIN pg_catalog.pg_proc p ON p.oid = e.evtfoid
        ORDER BY e.evtname
        """
    ).fetchall()
    return [EventTrigger(*r) for r in rows]


def applied_migration_versions(conn: psycopg.Connection) -> set[str] | None:
    """Versions in Supabase's migration ledger, or None when the database has no ledger."""
    row = conn.execute(
        "SELECT to_regclass('supabase_migrations.schema_migrations') IS NOT NULL"
    ).fetchone()
    if not row or not row[0]:
        return None
    rows = conn.execute(
        "SELECT version::text FROM supabase_migrations.schema_migrations"
    ).fetchall()
    return {r[0] for r in rows}


def server_facts(conn: psycopg.Connection) -> dict[str, str]:
    """`server_version`, `current_user` and `database` of the connection."""
    row = conn.execute(
        "SELECT current_setting('server_version'), current_user::text, current_database()::text"
    ).fetchone()
    assert row is not None
    return {"server_version": row[0], "current_user": row[1], "database": row[2]}


def _relation(row: tuple) -> Relation:
    oid, schema, name, kind = row
    return Relation(int(oid), schema, name, _KIND_NAMES.get(kind, kind))


def api_restarted_after(conn: psycopg.Connection, when: str) -> bool | None:
    """Whether every database session of PostgREST (`application_name` `PostgREST <version>`)
    started after `when` (ISO-8601): the process was restarted since. None when no such
    session is visible (none open, or another role's sessions hidden)."""
    row = conn.execute(
        """
        SELECT count(*), bool_and(backend_start > %s::timestamptz)
        FROM pg_catalog.pg_stat_activity
        WHERE backend_type = 'client backend' AND application_name LIKE 'PostgREST %%'
        """,
        [when],
    ).fetchone()
    if row is None or not row[0]:
        return None
    return bool(row[1])


def scalar(conn: psycopg.Connection, query: str) -> Any:
    """The one value of a constant query (None without a row)."""
    row = conn.execute(query).fetchone()  # constant SQL
    return row[0] if row else None
