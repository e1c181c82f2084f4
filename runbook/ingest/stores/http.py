"""What both store clients share on the wire: counting bytes, backoff, secrets kept out of text.

`Wire` wraps one `httpx.Client`: `send()` performs a request and counts the bytes both ways in
the store's stats; `scrub()` turns any text (an exception, an error body) into one redacted line
with the client's own secrets masked even where the generic redaction would not see them.
"""

from __future__ import annotations

import email.utils
from datetime import UTC, datetime

import httpx

from runbook.ingest.stores import Clock, Progress
from runbook.ingest.stores.stats import StoreStats
from runbook.redact import MASK, redact

MAX_REASON = 300
BACKOFF_BASE = 1.0
BACKOFF_MAX = 30.0


class Wire:
    """One HTTP client of one store, with byte counting, backoff and secret scrubbing."""

    def __init__(
        self,
        client: httpx.Client,
        stats: StoreStats,
        clock: Clock,
        secrets: list[str],
        progress: Progress | None = None,
    ) -> None:
        self.client = client
        self.stats = stats
        self.clock = clock
        self._secrets = [s for s in secrets if s]
        self._progress = progress

    def close(self) -> None:
        self.client.close()

    def send(self, request: httpx.Request) -> httpx.Response:
        """Send `request` and read the whole reply; transport errors propagate (httpx)."""
        self.stats.requests += 1
        self.stats.bytes_sent += len(str(request.url)) + len(request.content or b"")
        response = self.client.send(request)
        try:
            response.read()
        finally:
            self.stats.bytes_received += response.num_bytes_downloaded
            response.close()
        return response

    def scrub(self, text: str) -> str:
        """One line, secrets masked, at most `MAX_REASON` characters."""
        for secret in self._secrets:
            text = text.replace(secret, MASK)
        line = " ".join((redact(text) or "").split())
        return line if len(line) <= MAX_REASON else line[: MAX_REASON - 1] + "…"

    def describe(self, exc: httpx.HTTPError) -> str:
        """A transport failure in a few words, without the request's URL parameters."""
        kind = type(exc).__name__
        detail = str(exc) or kind
        return self.scrub(f"{kind}: {detail}")

    def wait(self, seconds: float, why: str) -> None:
        """Sleep on the store's clock, counted in the stats and shown as progress."""
        if seconds <= 0:
            return
        if self._progress:
            self._progress(0, None, f"{self.stats.store}: waiting {seconds:.0f} s ({why})")
        self.stats.waited_seconds += seconds
        self.clock.sleep(seconds)

    def backoff(self, attempt: int, why: str) -> None:
        """Wait 1, 2, 4 ... seconds (capped) before try `attempt + 1`."""
        self.stats.retries += 1
        self.wait(min(BACKOFF_MAX, BACKOFF_BASE * 2 ** (attempt - 1)), why)


def is_unreachable(exc: httpx.HTTPError) -> bool:
    """No connection was made at all (as opposed to a reply cut short)."""
    return isinstance(exc, httpx.ConnectError | httpx.ConnectTimeout)


def retry_after(response: httpx.Response, now: datetime) -> float | None:
    """Seconds to wait from `Retry-After` (seconds or an HTTP date), or None."""
    value = response.headers.get("retry-after")
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - now).total_seconds())
