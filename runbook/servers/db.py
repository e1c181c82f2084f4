"""PostgreSQL connections for the runbook: timeouts, read-only transactions, clear errors.

- `read_only(settings)`: a connection inside a `BEGIN READ ONLY` transaction (the inspect step).
- `autocommit(settings)`: a connection in autocommit mode for the few state-changing actions
  (`NOTIFY`, installing the auto-reload trigger), each run only after consent.

Both apply `connect_timeout` and a session `statement_timeout`. Every psycopg failure is
translated into a `RunbookError` that names host, port, database and user, never the password.
Callers pass identifiers as `psycopg.sql.Identifier` and values as parameters: nothing from a log
is ever formatted into SQL text.
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterator, Mapping
from contextlib import contextmanager

import psycopg
from psycopg import errors as pg_errors
from psycopg.conninfo import conninfo_to_dict

from runbook.config import Settings
from runbook.errors import (
    AuthFailed,
    DatabaseUnreachable,
    DbTarget,
    PermissionDenied,
    RunbookError,
    TimeoutExceeded,
    UsageError,
)
from runbook.redact import dsn_secrets, mask_secrets

_ENV_PARAMS = {"host": "PGHOST", "port": "PGPORT", "dbname": "PGDATABASE", "user": "PGUSER"}


def db_target(dsn: str, env: Mapping[str, str] | None = None) -> DbTarget:
    """Host, port, database and user a DSN points at (libpq `PG*` variables fill the gaps)."""
    env = os.environ if env is None else env
    try:
        params: dict[str, object] = dict(conninfo_to_dict(dsn))
    except psycopg.ProgrammingError:
        params = {}
    for key, var in _ENV_PARAMS.items():
        if not params.get(key) and env.get(var):
            params[key] = env[var]
    if not params.get("user"):
        params["user"] = env.get("USER", "?")
    return DbTarget.from_params(params)


def translate_error(exc: BaseException, target: DbTarget) -> RunbookError:
    """Map a psycopg exception to the operator-facing error for it (one line, no secrets)."""
    text = " ".join(str(exc).split())
    lowered = text.lower()
    if isinstance(exc, pg_errors.QueryCanceled):
        return TimeoutExceeded(
            f"a query on {target} exceeded the statement timeout",
            next_step="raise --timeout, or check for locks and load on the database",
        )
    if isinstance(exc, pg_errors.InsufficientPrivilege):
        return PermissionDenied(
            f"{target}: {text}",
            next_step="connect as a role that owns the objects or has the needed privilege",
        )
    if isinstance(exc, psycopg.OperationalError):
        if "password authentication failed" in lowered or "no password supplied" in lowered:
            return AuthFailed(
                f"the database rejected the password for {target}",
                next_step="check the password in --dsn / DATABASE_URL / PGPASSWORD",
            )
        if "role" in lowered and "does not exist" in lowered:
            return AuthFailed(
                f"the database has no role {target.user!r} ({target})",
                next_step="check the user in --dsn / DATABASE_URL / PGUSER",
            )
        if "timeout expired" in lowered or "timed out" in lowered:
            return TimeoutExceeded(
                f"no answer from the database at {target} within the connect timeout",
                next_step="check host and port, firewalls, or raise --timeout",
            )
        if "database" in lowered and "does not exist" in lowered:
            return DatabaseUnreachable(
                f"database {target.dbname!r} does not exist on {target.host}:{target.port}",
                next_step="check the database name in --dsn / DATABASE_URL / PGDATABASE",
            )
        return DatabaseUnreachable(
            f"cannot connect to {target}: {_short_cause(text)}",
            next_step="check that PostgreSQL is running and --dsn / DATABASE_URL is right",
        )
    if isinstance(exc, psycopg.ProgrammingError) and "conninfo" in lowered:
        return UsageError(f"invalid database DSN: {text}", next_step="check --dsn / DATABASE_URL")
    if isinstance(exc, psycopg.Error):
        return DatabaseUnreachable(f"{target}: {text}", title="Database error")
    return DatabaseUnreachable(f"{target}: {text}", title="Database error")


def _short_cause(text: str) -> str:
    """The useful tail of a libpq message ("Connection refused"), without the hint sentence."""
    for marker in ("failed:", "error:"):
        if marker in text:
            text = text.rsplit(marker, 1)[1]
    return text.split(" Is the server running")[0].strip() or "connection failed"


def _masked(error: RunbookError, dsn: str) -> RunbookError:
    """libpq echoes parts of a DSN it misread (a password with `@`, `/` or a space): never
    pass them on."""
    secrets = dsn_secrets(dsn)
    if secrets:
        error.message = mask_secrets(error.message, secrets)
    return error


@contextmanager
def _connection(settings: Settings) -> Iterator[psycopg.Connection]:
    target = db_target(settings.dsn)
    try:
        conn = psycopg.connect(
            settings.dsn,
            autocommit=True,
            connect_timeout=max(1, math.ceil(settings.connect_timeout)),
            application_name="pgrst-runbook",
        )
    except (psycopg.Error, OSError) as exc:
        raise _masked(translate_error(exc, target), settings.dsn) from None
    try:
        # Set after connecting rather than via `options=`: poolers such as PgBouncer refuse
        # unknown startup parameters.
        conn.execute(
            "SELECT set_config('statement_timeout', %s, false)",
            [f"{int(settings.statement_timeout * 1000)}ms"],
        )
        yield conn
    except psycopg.Error as exc:
        raise translate_error(exc, target) from None
    finally:
        conn.close()


@contextmanager
def read_only(settings: Settings) -> Iterator[psycopg.Connection]:
    """A connection inside a READ ONLY transaction, rolled back at the end (nothing to keep).

    Raises a `RunbookError` subclass (`DatabaseUnreachable`, `AuthFailed`, `TimeoutExceeded`,
    `PermissionDenied`) instead of psycopg exceptions.
    """
    with _connection(settings) as conn:
        conn.read_only = True
        tx = conn.transaction(force_rollback=True)
        with tx:
            yield conn


@contextmanager
def autocommit(settings: Settings) -> Iterator[psycopg.Connection]:
    """An autocommit connection for a confirmed state-changing action (same error mapping)."""
    with _connection(settings) as conn:
        yield conn
