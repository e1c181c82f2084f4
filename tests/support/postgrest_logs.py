"""PostgREST's log lines, word for word, for the version being imitated.

Every template here comes from reference/postgrest.md §1-§2 (Logger.hs / AppState.hs at the
release tags). The version-dependent wording lives in `Profile`, so the server code asks
"what does version X say here?" instead of scattering version checks.
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import IO, Any

Version = tuple[int, int, int]
LEVELS = ("crit", "error", "warn", "info", "debug")
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def parse_version(text: str) -> Version:
    """'16.2' -> (16, 2, 0); '12.0.2' -> (12, 0, 2)."""
    parts = [int(p) for p in text.split(".")]
    parts += [0] * (3 - len(parts))
    return (parts[0], parts[1], parts[2])


def zoned_time(now: datetime | None = None) -> str:
    """`%d/%b/%Y:%T %z` in the process time zone (TZ), with C-locale month names."""
    t = (now or datetime.now()).astimezone()
    return f"{t:%d}/{_MONTHS[t.month - 1]}/{t:%Y:%H:%M:%S %z}"


def error_json(code: str, message: str, details: Any = None, hint: Any = None) -> str:
    """PostgREST's verbose error body: alphabetical keys, compact, UTF-8 unescaped."""
    body = {"code": code, "details": details, "hint": hint, "message": message}
    return json.dumps(body, ensure_ascii=False, separators=(",", ":"))


def show_millis(ms: float) -> str:
    """Haskell `showFFloat (Just 1)`: one decimal."""
    return f"{ms:.1f}"


def haskell_double(x: float) -> str:
    """Haskell `show :: Double` as the Prometheus exposition prints it (1.0, 0.1, 1.2e-2)."""
    if x == 0:
        return "0.0"
    if 0.1 <= abs(x) < 1e7:
        r = repr(float(x))
        return r if "." in r else r + ".0"
    sign, digits, exp = Decimal(repr(float(x))).normalize().as_tuple()
    assert isinstance(exp, int)
    ds = "".join(map(str, digits))
    e10 = exp + len(ds) - 1
    mant = ds[0] + "." + (ds[1:] or "0")
    return ("-" if sign else "") + f"{mant}e{e10}"


@dataclass(frozen=True)
class Profile:
    """What PostgREST <version> prints and does, where versions differ (reference §1.4, §2.1)."""

    version: Version
    text: str

    @classmethod
    def of(cls, text: str) -> Profile:
        return cls(parse_version(text), text)

    # -- behaviour switches --------------------------------------------------------------
    @property
    def legacy_worker(self) -> bool:
        """v9-v12.1: a reload reruns the whole connection worker."""
        return self.version < (12, 2, 0)

    @property
    def start_line_every_run(self) -> bool:
        """v11.2.0-v12.0.2 log `Starting PostgREST` on every worker run (#3149)."""
        return (11, 2, 0) <= self.version < (12, 0, 3)

    @property
    def start_line_once(self) -> bool:
        return self.version >= (12, 0, 3)

    @property
    def has_admin(self) -> bool:
        return self.version >= (10, 0, 0)

    @property
    def has_metrics(self) -> bool:
        """/metrics and /schema_cache exist from v12.2.0."""
        return self.version >= (12, 2, 0)

    @property
    def column_check(self) -> bool:
        """PGRST204 (cache check of write columns) exists from v11.0.0."""
        return self.version >= (11, 0, 0)

    @property
    def table_check(self) -> bool:
        """PGRST205 exists from v13.0.0; before, a missing table is PostgreSQL's 42P01."""
        return self.version >= (13, 0, 0)

    @property
    def proxy_status(self) -> bool:
        return self.version >= (13, 0, 0)

    @property
    def keeps_cache_on_failure(self) -> bool:
        """v16 keeps serving the old cache; v10-v14 drop it (PGRST002 until a retry works)."""
        return self.version >= (16, 0, 0) or self.version < (10, 0, 0)

    @property
    def drops_reloads_while_running(self) -> bool:
        """v9-v11.0.x ignore reload requests that arrive during a reload."""
        return self.version < (11, 1, 0)

    @property
    def logs_received_message(self) -> bool:
        return self.version >= (12, 2, 0)

    @property
    def access_role(self) -> bool:
        """v9 always prints `-` as the role."""
        return self.version >= (10, 0, 0)

    @property
    def access_size(self) -> bool:
        """The size field is numeric from v13.0.0, `-` before."""
        return self.version >= (13, 0, 0)

    @property
    def int_formats(self) -> bool:
        """OpenAPI `format` int32/int64 from v14.8."""
        return self.version >= (14, 8, 0)

    @property
    def metrics_in_ms(self) -> bool:
        return self.version >= (14, 2, 0)

    @property
    def void_rpc_204(self) -> bool:
        """[UNCONFIRMED] void functions answer 204 from v11; earlier 200 `null`."""
        return self.version >= (11, 0, 0)

    # -- startup lines -----------------------------------------------------------------------
    def starting(self) -> str:
        return f"Starting PostgREST {self.text}..."

    def api_listening(self, host: str, port: int) -> str:
        if self.version >= (13, 0, 0):
            return f"API server listening on {host}:{port}"
        return f"Listening on port {port}"

    def admin_listening(self, host: str, port: int) -> str:
        if self.version >= (13, 0, 0):
            return f"Admin server listening on {host}:{port}"
        return f"Admin server listening on port {port}"

    def connect_lines(self, pg_full_version: str, pool_size: int) -> list[str]:
        """Lines for a successful connection (legacy worker and v12.2+ loader alike)."""
        v = self.version
        if v < (12, 2, 0):
            return ["Attempting to connect to the database...", "Connection successful"]
        lines = [f"Successfully connected to {pg_full_version}"]
        if v < (12, 2, 2):
            lines.insert(0, "Attempting to connect to the database...")
        if v >= (13, 0, 0):
            lines.append(
                f"Connection Pool initialized with a maximum size of {pool_size} connections"
            )
        return lines

    def config_reloaded(self) -> str:
        return "Config re-loaded" if self.version < (10, 0, 0) else "Config reloaded"

    # -- listener ------------------------------------------------------------------------------
    def listener_started(self, channel: str, pg_full_version: str, hostport: str) -> str:
        v = self.version
        if v >= (14, 9, 0):
            return (
                f'Listener connected to {pg_full_version} on "{hostport}" and listening for '
                f'database notifications on the "{channel}" channel'
            )
        if v >= (13, 0, 0):
            return f'Listening for database notifications on the "{channel}" channel'
        if v >= (12, 2, 0):
            return f'Listening for notifications on the "{channel}" channel'
        return f"Listening for notifications on the {channel} channel"

    def listener_failed(self, channel: str, error: str, delay: int) -> list[str]:
        v = self.version
        if v < (12, 2, 0):
            return [f"Retrying listening for notifications on the {channel} channel.."]
        what = "database notifications" if v >= (13, 0, 0) else "notifications"
        return [
            f'Failed listening for {what} on the "{channel}" channel. {error}',
            f"Retrying listening for {what} in {delay} seconds...",
        ]

    def received_schema(self, channel: str) -> str:
        return f'Received a schema cache reload message on the "{channel}" channel'

    def received_config(self, channel: str) -> str:
        return f'Received a config reload message on the "{channel}" channel'

    # -- schema cache ---------------------------------------------------------------------------
    def cache_loaded(
        self, counts: dict[str, int], query_ms: float, load_ms: float, level: str
    ) -> list[str]:
        """The success lines of one schema cache load."""
        v = self.version
        if v < (12, 2, 0):
            return ["Schema cache loaded"]
        trailing = " " if v >= (16, 0, 0) else ""
        rpcs = "RPCs" if v >= (14, 11, 0) else "Functions"
        summary = (
            f"{counts['relations']} Relations, {counts['relationships']} Relationships, "
            f"{counts['routines']} {rpcs}, {counts['representations']} Domain Representations, "
            f"{counts['media_handlers']} Media Type Handlers"
        )
        if (12, 2, 2) <= v < (16, 0, 0):
            summary += f", {counts['timezones']} Timezones"
        lines = [f"Schema cache queried in {show_millis(query_ms)} milliseconds{trailing}"]
        if level == "debug" and v >= (16, 0, 0):
            parts = ("tables", "keydeps", "rels", "funcs", "comprels", "dreps", "mhandlers")
            lines.append(", ".join(f"{p}: {show_millis(query_ms / len(parts))} ms" for p in parts))
        lines.append(f"Schema cache loaded {summary}")
        if v >= (12, 2, 4) or level == "debug":
            lines.append(f"Schema cache loaded in {show_millis(load_ms)} milliseconds")
        return lines

    def cache_failed(self, schemas: list[str], extra_search_path: list[str], err: str) -> list[str]:
        v = self.version
        if v < (12, 2, 0):
            return ["An error ocurred when loading the schema cache", err]
        if v < (13, 0, 1):
            return [f"Failed to load the schema cache. {err}"]
        return [
            f"Failed to load the schema cache using db-schemas={','.join(schemas)} and "
            f"db-extra-search-path={','.join(extra_search_path)}. {err}"
        ]

    def pg_version_failed(self, err: str) -> str:
        """[UNCONFIRMED before v14] v16 wording; older versions print the bare JSON."""
        return (
            f"Failed to query the PostgreSQL version. {err}" if self.version >= (14, 0, 0) else err
        )

    def reconnect_in(self, delay: int) -> str:
        return f"Attempting to reconnect to the database in {delay} seconds..."

    def connection_error_json(self, details: str) -> str:
        msg = "Database connection error."
        if self.version < (14, 13, 0):
            msg = "Database connection error. Retrying the connection."
        return error_json("PGRST000", msg, details=details)


class LineSink:
    """Appends text to a file and/or a stream, flushing every write so tests can poll it."""

    def __init__(self, target: Path | None, stream: IO[str] | None) -> None:
        self._lock = threading.Lock()
        self._file: IO[str] | None = target.open("a", encoding="utf-8") if target else None
        self._stream = stream

    def emit(self, text: str) -> None:
        with self._lock:
            for out in (self._file, self._stream):
                if out is not None:
                    out.write(text)
                    out.flush()

    def close(self) -> None:
        if self._file:
            self._file.close()


class StderrLog:
    """Writes prefixed diagnostic lines (reference §1.1), one timestamped line per element."""

    def __init__(self, sink: LineSink, level: str) -> None:
        self.sink = sink
        self.level = level

    def level_at_least(self, level: str) -> bool:
        return LEVELS.index(self.level) >= LEVELS.index(level)

    def write(self, *lines: str) -> None:
        # Newlines inside a message are collapsed, as `showOnSingleLine` does.
        prefix = zoned_time() + ": "
        self.sink.emit("".join(prefix + " ".join(line.splitlines()) + "\n" for line in lines))


class AccessLog:
    """Apache-style lines (reference §2.1), filtered by log level like `shouldLogResponse`."""

    def __init__(self, sink: LineSink, level: str, profile: Profile) -> None:
        self.sink = sink
        self.level = level
        self.profile = profile

    def should_log(self, status: int) -> bool:
        return {"crit": False, "error": status >= 500, "warn": status >= 400}.get(self.level, True)

    def line(
        self,
        source: str,
        role: str | None,
        request_line: str,
        status: int,
        size: int | None,
        referer: str,
        user_agent: str,
    ) -> str:
        role_field = role if (role and self.profile.access_role) else "-"
        size_field = str(size) if (size is not None and self.profile.access_size) else "-"
        return (
            f'{source} - {role_field} [{zoned_time()}] "{request_line}" {status} {size_field} '
            f'"{referer}" "{user_agent}"'
        )

    def write(self, line: str, status: int) -> None:
        if self.should_log(status):
            self.sink.emit(line + "\n")
