"""The per-minute series an `e` row carries, and what follows from it.

In: the `m` text of an aggregate row, `minute:count:first:last,...` (`sql.window_sql`). Out:
`Point`s (one per minute with errors: count, first and last time in µs since the epoch), the
weighted events they become, and the narrow time range in which the first few rows of a pair
lie, so that sample queries read minutes instead of a whole window.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import NamedTuple

MINUTE_US = 60_000_000


class Point(NamedTuple):
    """Errors of one (table, column) in one minute."""

    first_us: int
    last_us: int
    errors: int


def parse_series(text: str) -> list[Point]:
    """`29_833_200:3:7250000:59000000,...` -> points, in time order. Raises ValueError."""
    points = []
    for item in text.split(","):
        if not item:
            continue
        minute, count, first, last = (int(part) for part in item.split(":"))
        base = minute * MINUTE_US
        points.append(Point(base + first, base + last, count))
    return sorted(points)


def first_rows_range(points: list[Point], rows: int) -> tuple[int, int]:
    """`[start, end)` in µs holding the first `rows` errors of these points (or all of them)."""
    if not points:
        raise ValueError("no points")
    seen = 0
    for point in points:
        seen += point.errors
        if seen >= rows:
            return points[0].first_us, point.last_us + 1
    return points[0].first_us, points[-1].last_us + 1


def from_micros(value: int | str) -> datetime:
    """µs since the epoch (as a number or its text) -> an aware UTC datetime."""
    micros = int(value)
    seconds, rest = divmod(micros, 1_000_000)
    return datetime.fromtimestamp(seconds, tz=UTC).replace(microsecond=rest)
