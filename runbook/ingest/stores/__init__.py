"""Central log stores as scan sources: Supabase's logs API and ClickHouse over HTTP.

A store is one more input of `runbook.ingest.scan.scan_paths`: `supabase://<project-ref>` and
`clickhouse+http(s)://[user[:password]@]host[:port]/<database>/<table>`. Detection and grouping
run in the store's engine (`runbook.ingest.stores.sql`); only per-minute counts, a few sample lines and
the rare reload/DDL lines come back, and the parsers read those lines as they read files.

`scan_store(url, since, until, settings, progress)` returns the store's events and a
`SourceStats` whose `store` dict holds the windows, dark windows, rows scanned and bytes moved.
It raises `StoreUnreachable` (exit code 4) when the store cannot be reached at all or rejects
the credentials; a window it could not answer later is reported as dark, never as zero.

This module stays light (no httpx import) so that scanning files never pays for it.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Protocol

from runbook.errors import RunbookError
from runbook.exit_codes import Exit

if TYPE_CHECKING:
    import polars as pl

    from runbook.ingest.scanner import SourceStats
    from runbook.ingest.stores.clickhouse import ClickHouseStore
    from runbook.ingest.stores.supabase import SupabaseStore

SUPABASE_SCHEME = "supabase://"
CLICKHOUSE_SCHEMES = ("clickhouse+http://", "clickhouse+https://")
DEFAULT_RANGE = timedelta(hours=24)
DEFAULT_MANAGEMENT_API = "https://api.supabase.com"
SOURCE_NAME = re.compile(r"^[a-z_]+$")  # a Supabase source name, checked before it is inlined

# progress(windows_done, windows_total, "supabase://ref: window 2/3 2026-11-18 09:00 – ...")
Progress = Callable[[int, int | None, str], None]


def is_store_url(text: str) -> bool:
    """True for `supabase://...`, `clickhouse+http://...` and `clickhouse+https://...`."""
    lowered = text.lower()
    return lowered.startswith(SUPABASE_SCHEME) or lowered.startswith(CLICKHOUSE_SCHEMES)


class Clock(Protocol):
    """Wall time and waiting; tests pass a fast fake one."""

    def now(self) -> datetime: ...

    def sleep(self, seconds: float) -> None: ...


class SystemClock:
    """The real clock."""

    def now(self) -> datetime:
        return datetime.now(UTC)

    def sleep(self, seconds: float) -> None:
        time.sleep(max(0.0, seconds))


@dataclass
class StoreSettings:
    """How to reach and read the stores. Unset secrets and URLs come from the environment
    (`SUPABASE_ACCESS_TOKEN`, `SUPABASE_MANAGEMENT_API_URL`, `CLICKHOUSE_PASSWORD`) when a
    store is opened. Secrets are kept out of `repr()`.
    """

    access_token: str | None = field(default=None, repr=False)
    management_api_url: str | None = None
    clickhouse_password: str | None = field(default=None, repr=False)
    sources: tuple[str, ...] = ()  # narrow the source/service column; empty = all
    ts_column: str | None = None
    message_column: str | None = None
    service_column: str | None = None
    timeout: float = 120.0  # seconds per HTTP request
    attempts: int = 4  # tries per query for transient failures (backoff 1, 2, 4 s ...)
    max_wait: float = 300.0  # seconds a query may wait on rate limits before it is given up
    samples_per_pair: int = 5
    poll_seconds: float = 60.0  # when followed: how often the store is asked for what is new
    clock: Clock = field(default_factory=SystemClock, repr=False)


class StoreUnreachable(RunbookError):
    """The store could not be reached at all, or rejected the credentials."""

    exit_code = Exit.UNREACHABLE
    default_title = "Log store unreachable"


class StoreInputError(Exception):
    """The store answered but this input cannot be read (no such table, unknown columns)."""


def store_range(
    since: datetime | None, until: datetime | None, clock: Clock
) -> tuple[datetime, datetime]:
    """The scan range of a store: the given bounds, else the last 24 h (ending now)."""
    end = until or clock.now()
    start = since or end - DEFAULT_RANGE
    return start.astimezone(UTC), end.astimezone(UTC)


def scan_store(
    url: str,
    since: datetime | None,
    until: datetime | None,
    settings: StoreSettings | None = None,
    progress: Progress | None = None,
) -> tuple[pl.DataFrame, SourceStats]:
    """Events of one store over `[since, until)` (default: the last 24 h) and its stats.

    Raises `StoreUnreachable` (nothing could be read) and `runbook.errors.UsageError`
    (a malformed URL or source name). A table that does not exist is reported in the stats.
    """
    from runbook.events import empty_events
    from runbook.ingest.scanner import SourceStats
    from runbook.ingest.stores.pushdown import scan_windows

    settings = settings or StoreSettings()
    start, end = store_range(since, until, settings.clock)
    store: SupabaseStore | ClickHouseStore
    if url.lower().startswith(SUPABASE_SCHEME):
        from runbook.ingest.stores.supabase import open_supabase

        store = open_supabase(url, settings, progress)
    else:
        from runbook.ingest.stores.clickhouse import open_clickhouse

        store = open_clickhouse(url, settings, progress)
    with store:
        try:
            store.prepare()
        except StoreInputError as exc:
            stats = SourceStats(source=store.name, format=store.kind, error=str(exc))
            stats.bytes_read = store.stats.bytes_moved
            return empty_events(), stats
        return scan_windows(store, start, end, settings, progress)
