"""The write error ratio, and the SRE workbook's multiwindow, multi-burn-rate page.

Counted per minute as (write requests, failed writes) from the server's access or gateway
lines (`runbook.incidents.writes`: a client's own line of the same request does not count
twice), successful writes included: the scanner counts them as weighted rows. Burn rate = error ratio / (1 - SLO). A page is due when a pair
of windows both burn faster than its factor (SRE Workbook ch. 5, table 5-8): 1 h and 5 min at
14.4x, or 6 h and 30 min at 6x; the short window (1/12 of the long one) makes it reset soon
after the errors stop. Low traffic makes a ratio meaningless, so a window pair is judged only
when the long window saw at least `min_requests` writes (and the short one at least one), and
only once the inputs have shown a write that did not fail: an access log written at
`log-level=warn` holds only the failed requests, and a ratio whose denominator holds only
failures is 100% by construction, not an error rate.
Time is whatever clock the caller passes (log time in `watch`): recorded logs give the answer
live ones would.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

import polars as pl

from runbook.incidents.writes import write_requests


@dataclass(frozen=True)
class WindowPair:
    long_seconds: int
    short_seconds: int
    factor: float

    @property
    def name(self) -> str:
        return f"{_span(self.long_seconds)}/{_span(self.short_seconds)}"


PAGE_PAIRS = (WindowPair(3600, 300, 14.4), WindowPair(21600, 1800, 6.0))


@dataclass(frozen=True)
class Burn:
    """A window pair's reading at one moment."""

    pair: WindowPair
    long_rate: float
    short_rate: float
    long_requests: int
    long_failed: int
    firing: bool


def failed_status(status: int) -> bool:
    """A failed write: PostgREST's schema cache errors answer 400 (PGRST204), server faults 5xx."""
    return status == 400 or status >= 500


def status_class(status: int) -> str:
    return f"{status // 100}xx"


@dataclass
class BurnRate:
    slo: float = 0.999
    min_requests: int = 100
    pairs: tuple[WindowPair, ...] = PAGE_PAIRS
    _minutes: dict[int, list[int]] = field(default_factory=dict)  # minute -> [writes, failed]
    _seen_success: list[bool] = field(default_factory=lambda: [False])  # any write that did not fail

    def __post_init__(self) -> None:
        if not 0 < self.slo < 1:
            raise ValueError(f"the SLO must be between 0 and 1 (exclusive), not {self.slo}")

    def add(self, epoch: float, writes: int, failed: int) -> None:
        """`writes` requests at `epoch`, of which `failed` failed."""
        minute = int(epoch // 60)
        slot = self._minutes.get(minute)
        if slot is None:
            slot = self._minutes[minute] = [0, 0]
            self._forget(max(self._minutes))
        slot[0] += writes
        slot[1] += failed
        if writes > failed:
            self._seen_success[0] = True

    @property
    def judged(self) -> bool:
        """Whether the inputs count every write (some write that did not fail was seen)."""
        return self._seen_success[0]

    def add_events(self, events: pl.DataFrame) -> dict[str, int]:
        """Count the write requests among the events (lines and weighted rows); returns them
        by status class."""
        rows = write_requests(events).filter(pl.col("ts").is_not_null())
        by_class: dict[str, int] = {}
        for ts, status, n in rows.select("ts", "status", "_weight").iter_rows():
            self.add(ts.timestamp(), n, n if failed_status(int(status)) else 0)
            klass = status_class(int(status))
            by_class[klass] = by_class.get(klass, 0) + n
        return by_class

    def window(self, now: float, seconds: int) -> tuple[int, int]:
        """(writes, failed) in the `seconds` up to `now` (whole minutes, the current one in)."""
        last = int(now // 60)
        first = last - seconds // 60 + 1
        writes = failed = 0
        for minute in range(first, last + 1):
            slot = self._minutes.get(minute)
            if slot is not None:
                writes += slot[0]
                failed += slot[1]
        return writes, failed

    def burn(self, writes: int, failed: int) -> float:
        return (failed / writes) / (1 - self.slo) if writes else 0.0

    def evaluate(self, now: float) -> list[Burn]:
        out = []
        for pair in self.pairs:
            lw, lf = self.window(now, pair.long_seconds)
            sw, sf = self.window(now, pair.short_seconds)
            long_rate, short_rate = self.burn(lw, lf), self.burn(sw, sf)
            enough = self.judged and lw >= self.min_requests and sw > 0
            firing = enough and long_rate > pair.factor and short_rate > pair.factor
            out.append(Burn(pair, long_rate, short_rate, lw, lf, firing))
        return out

    def firing(self, now: float) -> list[Burn]:
        return [b for b in self.evaluate(now) if b.firing]

    def _forget(self, newest_minute: int) -> None:
        keep = max(p.long_seconds for p in self.pairs) // 60
        for minute in [m for m in self._minutes if m <= newest_minute - keep - 1]:
            del self._minutes[minute]


def describe(burns: Iterable[Burn], slo: float) -> str:
    parts = [
        f"{b.pair.name}: {b.long_rate:.1f}x and {b.short_rate:.1f}x (> {b.pair.factor:g}x; "
        f"{b.long_failed} of {b.long_requests} writes failed)"
        for b in burns
    ]
    return f"write error budget of a {slo * 100:g}% SLO burning: " + "; ".join(parts)


def _span(seconds: int) -> str:
    return f"{seconds // 3600}h" if seconds % 3600 == 0 else f"{seconds // 60}m"
