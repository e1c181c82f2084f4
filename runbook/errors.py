"""User-facing errors: a title, a one-line message (the cause) and the next step.

Every failure an operator can meet (database down, wrong password, API unreachable, timeouts,
bad flags) is one of these, so the CLI prints one line and the TUI shows one modal instead of a
traceback. Messages name the host, port, database and user only, never a password or API key:
they pass through `redact()` on the way in.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from runbook.exit_codes import Exit
from runbook.redact import redact


class RunbookError(Exception):
    """Base of every error meant for the operator.

    `title` is a few words ("Database unreachable"), `message` the cause in one line,
    `next_step` what to try. `exit_code` is what a CLI command returns for it.
    """

    exit_code: Exit = Exit.NOT_FIXED
    default_title = "Runbook error"

    def __init__(self, message: str, *, title: str | None = None, next_step: str = "") -> None:
        self.title = title or self.default_title
        self.message = _one_line(redact(message) or "")
        self.next_step = _one_line(redact(next_step) or "")
        super().__init__(self.one_line())

    def one_line(self) -> str:
        """`title: message. next step` on one line, for stderr and logs."""
        text = f"{self.title}: {self.message}"
        if self.next_step:
            text += f" — {self.next_step}"
        return text

    def to_dict(self) -> dict[str, str]:
        """The JSON/journal form: `{"kind", "title", "message", "next_step"}`."""
        return {
            "kind": type(self).__name__,
            "title": self.title,
            "message": self.message,
            "next_step": self.next_step,
        }


class UsageError(RunbookError):
    """Bad flags, arguments or configuration values."""

    exit_code = Exit.USAGE
    default_title = "Invalid usage"


class ConfigError(UsageError):
    """The configuration file cannot be read or has a bad value."""

    default_title = "Invalid configuration"


class DatabaseUnreachable(RunbookError):
    """No connection to PostgreSQL: refused, unknown host, network down."""

    exit_code = Exit.UNREACHABLE
    default_title = "Database unreachable"


class ApiUnreachable(RunbookError):
    """No answer from PostgREST (API or admin server)."""

    exit_code = Exit.UNREACHABLE
    default_title = "API unreachable"


class AuthFailed(RunbookError):
    """Credentials rejected: a wrong database password or a rejected API key."""

    exit_code = Exit.UNREACHABLE
    default_title = "Authentication failed"


class TimeoutExceeded(RunbookError):
    """A connect, statement or HTTP timeout ran out."""

    exit_code = Exit.UNREACHABLE
    default_title = "Timed out"


class PermissionDenied(RunbookError):
    """The database or API refused an operation for lack of privileges."""

    exit_code = Exit.NOT_FIXED
    default_title = "Permission denied"


class ApiError(RunbookError):
    """PostgREST answered, but not in a way the runbook can use (bad status or body)."""

    exit_code = Exit.NOT_FIXED
    default_title = "Unexpected API answer"


class JournalError(RunbookError):
    """The journal cannot be written or the session to resume does not exist."""

    exit_code = Exit.USAGE
    default_title = "Journal problem"


@dataclass(frozen=True)
class DbTarget:
    """Where a database connection goes, without the password: host, port, dbname, user."""

    host: str
    port: str
    dbname: str
    user: str

    def __str__(self) -> str:
        return f"{self.user}@{self.host}:{self.port}/{self.dbname}"

    @classmethod
    def from_params(cls, params: Mapping[str, object]) -> DbTarget:
        """Build from libpq parameters (`conninfo_to_dict`, or `conn.info.get_parameters()`)."""

        def get(key: str, default: str) -> str:
            value = params.get(key)
            return str(value) if value not in (None, "") else default

        host = get("host", get("hostaddr", "localhost"))
        if host.startswith("/"):
            host = f"socket {host}"
        port, dbname = get("port", "5432"), get("dbname", get("user", "?"))
        # A URL whose password holds `/` or `@` is misread by libpq: the password lands in the
        # port or the database name. Such values are never shown.
        if not all(p.strip().isdigit() for p in port.split(",")):
            port = "?"
        if "@" in dbname or ":" in dbname:
            dbname = "?"
        return cls(host=host, port=port, dbname=dbname, user=get("user", "?"))


def _one_line(text: str) -> str:
    return " ".join(text.split())
