"""Supabase's project logs through the Management API (`supabase://<project-ref>`).

`GET {api}/v1/projects/{ref}/analytics/endpoints/logs?sql=...&iso_timestamp_start=...&
iso_timestamp_end=...` with `Authorization: Bearer <token>` (reference/log-stores.md §1). What
the endpoint does and how this client meets it:
- it binds nothing: values are inlined as escaped literals (`sql.Inlined`), source names are
  checked against `^[a-z_]+$`;
- at most 24 h per query and an inclusive end: windows of at most 24 h, the half-open bound
  repeated in the SQL;
- at most 1000 rows per reply, silently: `row_cap`, the window is split;
- SQL errors and backend hiccups come back as HTTP 200 with `error`: backend errors are retried
  with backoff, other errors end the window (dark);
- 10 requests a minute: paced on `x-ratelimit-remaining` / `x-ratelimit-reset`; a 429 waits for
  `retry-after` (within `max_wait`).
The token travels only in the Authorization header and never reaches output, stats or errors.
"""

from __future__ import annotations

import os
import re
from typing import Any

import httpx
import polars as pl

from runbook.errors import UsageError
from runbook.ingest.stores import (
    DEFAULT_MANAGEMENT_API,
    SUPABASE_SCHEME,
    Progress,
    StoreSettings,
    StoreUnreachable,
)
from runbook.ingest.stores.http import Wire, is_unreachable, retry_after
from runbook.ingest.stores.pushdown import WindowFailed
from runbook.ingest.stores.rows import parse_export_rows
from runbook.ingest.stores.sql import Binder, Inlined, LogTable, check_source_names
from runbook.ingest.stores.stats import StoreStats
from runbook.ingest.stores.windows import Window

ROW_CAP = 1000
PROJECT_REF = re.compile(r"^[a-z0-9][a-z0-9-]{0,62}$")
LOGS_TABLE = LogTable(
    database=None,
    name="logs",
    ts="timestamp",
    message="event_message",
    service="source",
    context_services=("postgrest_logs", "postgres_logs"),  # reloads and DDL live there
)
TRANSIENT = re.compile(r"(?i)backend error|retry|timed? ?out|temporar|too many|unavailable")
TOKEN_HELP = (
    "create a personal access token (Dashboard > Account > Access Tokens) and export "
    "SUPABASE_ACCESS_TOKEN, or pass --access-token"
)


def iso_z(moment: Any) -> str:
    """`2026-11-18T09:00:00.000Z`, the form the endpoint is known to accept."""
    return f"{moment:%Y-%m-%dT%H:%M:%S}.{moment.microsecond // 1000:03d}Z"


class SupabaseStore:
    """One project's `logs` table behind the Management API."""

    kind = "supabase"
    row_cap: int | None = ROW_CAP
    table = LOGS_TABLE

    def __init__(
        self, ref: str, token: str, api_url: str, settings: StoreSettings, progress: Progress | None
    ) -> None:
        self.ref = ref
        self.name = f"{SUPABASE_SCHEME}{ref}"
        self.settings = settings
        self.stats = StoreStats(store=self.name, kind=self.kind, layout="logs")
        client = httpx.Client(
            base_url=api_url.rstrip("/"),
            headers={"Authorization": f"Bearer {token}", "Accept": "application/json"},
            timeout=settings.timeout,
            verify=api_url.startswith(
                "https://"
            ),  # plain HTTP (a test stand-in) needs no TLS context
        )
        self.wire = Wire(client, self.stats, settings.clock, [token], progress)
        self.path = f"/v1/projects/{ref}/analytics/endpoints/logs"
        self._remaining: int | None = None
        self._reset_at: float = 0.0

    def __enter__(self) -> SupabaseStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.wire.close()

    def prepare(self) -> None:
        """Nothing to learn: the `logs` table has a fixed shape. Access shows on the first query."""

    def binder(self) -> Binder:
        return Inlined()

    def parse_rows(self, rows: list[dict[str, Any]]) -> pl.DataFrame:
        return parse_export_rows(rows, self.name)

    # -- the wire --------------------------------------------------------------------------

    def query(self, sql: str, binder: Binder, window: Window) -> list[dict[str, Any]]:
        """The `result` rows of `sql` over `window`; WindowFailed / StoreUnreachable otherwise."""
        params = {
            "sql": sql,
            "iso_timestamp_start": iso_z(window.start),
            "iso_timestamp_end": iso_z(window.end),
        }
        waited, attempt = 0.0, 0
        while True:
            self._pace()
            request = self.wire.client.build_request("GET", self.path, params=params)
            try:
                response = self.wire.send(request)
            except httpx.HTTPError as exc:
                attempt += 1
                if attempt >= self.settings.attempts:
                    raise WindowFailed(
                        self.wire.describe(exc), unreachable=is_unreachable(exc)
                    ) from None
                self.wire.backoff(attempt, "connection failed")
                continue
            self._remember_limits(response)
            status = response.status_code
            self._refuse(status)
            if status == 429:
                self.stats.rate_limited += 1
                wait = retry_after(response, self.settings.clock.now())
                wait = 60.0 if wait is None else wait
                if waited + wait > self.settings.max_wait:
                    raise WindowFailed(
                        f"rate limited (HTTP 429) for more than {self.settings.max_wait:.0f} s"
                    )
                self.wire.wait(wait, "rate limit, HTTP 429")
                waited += wait
                continue
            outcome = self._read(response)
            if isinstance(outcome, list):
                return outcome
            reason, transient = outcome
            attempt += 1
            if not transient or attempt >= self.settings.attempts:
                raise WindowFailed(reason)
            self.wire.backoff(attempt, reason)

    def _refuse(self, status: int) -> None:
        """Raise StoreUnreachable for the answers no retry can change."""
        if status == 401:
            raise StoreUnreachable(
                f"the Supabase Management API rejected the access token (HTTP 401) for {self.name}",
                title="Supabase token rejected",
                next_step=TOKEN_HELP,
            )
        if status == 403:
            raise StoreUnreachable(
                f"the access token may not read the logs of {self.name} (HTTP 403)",
                title="Supabase access denied",
                next_step="use a token of a member of the project's organization, or an OAuth token with analytics:read",
            )
        if status == 404:
            raise StoreUnreachable(
                f"project {self.ref} or its logs endpoint was not found (HTTP 404)",
                title="Supabase project not found",
                next_step="check the project ref (Dashboard > Project Settings > General) and SUPABASE_MANAGEMENT_API_URL",
            )
        if status == 410:
            raise StoreUnreachable(
                "the logs endpoint this version uses is gone (HTTP 410)",
                title="Supabase logs endpoint removed",
                next_step="upgrade pgrst-runbook",
            )

    def _read(self, response: httpx.Response) -> list[dict[str, Any]] | tuple[str, bool]:
        """The result rows, or (reason, transient) for a reply that is no answer."""
        status = response.status_code
        if status != 200:
            return f"HTTP {status}", status >= 500
        try:
            body = response.json()
        except ValueError:
            return "the reply is not JSON (cut off?)", True
        error = body.get("error") if isinstance(body, dict) else "unexpected reply"
        if error:
            text = (
                error
                if isinstance(error, str)
                else str(error.get("message", error))
                if isinstance(error, dict)
                else str(error)
            )
            reason = self.wire.scrub(text)
            return reason, bool(TRANSIENT.search(reason))
        result = body.get("result")
        if not isinstance(result, list):
            return "the reply has no result", True
        return [row for row in result if isinstance(row, dict)]

    def _now(self) -> float:
        return self.settings.clock.now().timestamp()

    def _remember_limits(self, response: httpx.Response) -> None:
        remaining = response.headers.get("x-ratelimit-remaining")
        reset = response.headers.get("x-ratelimit-reset")
        try:
            self._remaining = int(remaining) if remaining is not None else None
            if reset is not None:
                value = float(reset)
                # Seconds until the reset (the throttler's form), or an epoch time.
                self._reset_at = value if value > 1e9 else self._now() + value
        except ValueError:
            self._remaining = None

    def _pace(self) -> None:
        if self._remaining is not None and self._remaining <= 0:
            self.wire.wait(self._reset_at - self._now(), "rate limit pacing")
            self._remaining = None


def open_supabase(url: str, settings: StoreSettings, progress: Progress | None) -> SupabaseStore:
    """A client for `supabase://<ref>`; the token and API from settings, else the environment."""
    ref = url[len(SUPABASE_SCHEME) :].strip("/")
    if not PROJECT_REF.match(ref):
        raise UsageError(
            f"not a Supabase project ref: {ref!r}", next_step="use supabase://<project-ref>"
        )
    try:
        check_source_names(settings.sources)
    except ValueError as exc:
        raise UsageError(str(exc), next_step="e.g. --source edge_logs,function_logs") from None
    token = settings.access_token or os.environ.get("SUPABASE_ACCESS_TOKEN")
    if not token:
        raise StoreUnreachable(
            f"no Supabase access token for {SUPABASE_SCHEME}{ref}",
            title="Supabase token missing",
            next_step=TOKEN_HELP,
        )
    api_url = (
        settings.management_api_url
        or os.environ.get("SUPABASE_MANAGEMENT_API_URL")
        or DEFAULT_MANAGEMENT_API
    )
    return SupabaseStore(ref, token, api_url, settings, progress)
