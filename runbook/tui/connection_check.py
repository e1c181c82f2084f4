"""The "test connection" action: can the database and the API be reached with these settings?

Read-only: one `SELECT` in a read-only transaction, `GET /` on the API, `GET /ready` on the
admin server. Each answer is one line; failures carry the operator-facing error text.
"""

from __future__ import annotations

from dataclasses import dataclass

from runbook.config import Settings
from runbook.errors import RunbookError
from runbook.servers import db
from runbook.servers.api import PostgrestClient


@dataclass(frozen=True)
class CheckLine:
    """`ok` True/False, or None when not configured (then it was not tried)."""

    what: str
    ok: bool | None
    detail: str


def check_connection(settings: Settings) -> list[CheckLine]:
    """Database, API and admin server, each tried once with the configured timeouts."""
    lines: list[CheckLine] = []
    target = db.db_target(settings.dsn)
    try:
        with db.read_only(settings) as conn:
            row = conn.execute("SELECT current_setting('server_version')").fetchone()
        version = row[0] if row else "?"
        lines.append(CheckLine("database", True, f"connected to {target} (PostgreSQL {version})"))
    except RunbookError as exc:
        lines.append(CheckLine("database", False, exc.one_line()))
    with PostgrestClient(settings) as client:
        if client.has_api:
            schema = settings.schemas[0]
            try:
                view = client.openapi(schema)
                lines.append(
                    CheckLine(
                        "API",
                        True,
                        f"GET / answered: {len(view.tables)} relations cached in {schema!r}",
                    )
                )
            except RunbookError as exc:
                lines.append(CheckLine("API", False, exc.one_line()))
        else:
            lines.append(CheckLine("API", None, "no API URL set"))
        if client.has_admin:
            try:
                status = client.ready()
                state = "schema cache loaded" if status == 200 else "not ready (loading?)"
                lines.append(CheckLine("admin", status == 200, f"GET /ready -> {status}: {state}"))
            except RunbookError as exc:
                lines.append(CheckLine("admin", False, exc.one_line()))
        else:
            lines.append(CheckLine("admin", None, "no admin URL set"))
    return lines
