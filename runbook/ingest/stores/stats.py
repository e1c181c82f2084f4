"""What a store scan did: windows, dark windows, requests, waits, rows scanned, bytes moved.

`StoreStats.to_dict()` is one entry of `stats.stores` in `scan --format json`; its dark windows
also go to `stats.unreadable` (see `runbook.ingest.scan.ScanResult.stats`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime


@dataclass
class StoreStats:
    """What a store scan did; `to_dict()` is the `stats.stores[]` entry of `scan --format json`."""

    store: str
    kind: str
    since: datetime | None = None
    until: datetime | None = None
    layout: str | None = None
    windows: int = 0
    windows_answered: int = 0
    windows_split: int = 0
    dark_windows: list[dict[str, str]] = field(default_factory=list)
    capped_windows: list[dict[str, str]] = field(default_factory=list)
    requests: int = 0
    retries: int = 0
    rate_limited: int = 0
    waited_seconds: float = 0.0
    rows_in_range: int = 0  # the control counts: rows of the scanned sources in range
    rows_read: int | None = None  # the engine's own summary, where it gives one
    bytes_sent: int = 0
    bytes_received: int = 0
    error_rows: int = 0  # PGRST204 rows counted in the engine
    aggregate_rows: int = 0
    sample_rows: int = 0
    context_rows: int = 0
    related_rows: int = 0  # PGRST200-205 (not 204) and 42703/42P01 rows, read by the parsers
    context_truncated: int = 0  # windows whose context rows hit CONTEXT_LIMIT
    pairs_without_sample: int = 0  # names taken as the SQL cut them (no parsed sample)

    @property
    def bytes_moved(self) -> int:
        return self.bytes_sent + self.bytes_received

    @property
    def partial(self) -> bool:
        return bool(self.dark_windows or self.capped_windows)

    def add_rows_read(self, rows: int | None) -> None:
        if rows is not None:
            self.rows_read = (self.rows_read or 0) + rows

    def to_dict(self) -> dict[str, object]:
        return {
            "store": self.store,
            "kind": self.kind,
            "since": self.since.isoformat() if self.since else None,
            "until": self.until.isoformat() if self.until else None,
            "layout": self.layout,
            "windows": self.windows,
            "windows_answered": self.windows_answered,
            "windows_split": self.windows_split,
            "dark_windows": self.dark_windows,
            "capped_windows": self.capped_windows,
            "partial": self.partial,
            "requests": self.requests,
            "retries": self.retries,
            "rate_limited": self.rate_limited,
            "waited_seconds": round(self.waited_seconds, 3),
            "rows_in_range": self.rows_in_range,
            "rows_read": self.rows_read,
            "bytes_sent": self.bytes_sent,
            "bytes_received": self.bytes_received,
            "bytes_moved": self.bytes_moved,
            "error_rows": self.error_rows,
            "aggregate_rows": self.aggregate_rows,
            "sample_rows": self.sample_rows,
            "context_rows": self.context_rows,
            "related_rows": self.related_rows,
            "context_truncated": self.context_truncated,
            "pairs_without_sample": self.pairs_without_sample,
        }
