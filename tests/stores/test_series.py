"""The per-minute series of an aggregate row, and the sample range it gives."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from runbook.ingest.stores.series import (
    MINUTE_US,
    Point,
    first_rows_range,
    from_micros,
    parse_series,
)


def test_series_text_becomes_points_in_time_order() -> None:
    minute = 29_831_040  # 2026-09-20 00:00 UTC, in minutes since the epoch
    points = parse_series(f"{minute + 1}:2:5:59999999,{minute}:3:7250000:59000000")
    assert points == [
        Point(minute * MINUTE_US + 7_250_000, minute * MINUTE_US + 59_000_000, 3),
        Point((minute + 1) * MINUTE_US + 5, (minute + 1) * MINUTE_US + 59_999_999, 2),
    ]
    assert from_micros(points[0].first_us) == datetime(2026, 9, 20, 0, 0, 7, 250000, tzinfo=UTC)
    with pytest.raises(ValueError):
        parse_series("1:2:3")


def test_the_first_rows_lie_in_the_first_minutes() -> None:
    points = [Point(100, 200, 2), Point(1000, 1500, 2), Point(5000, 6000, 9)]
    assert first_rows_range(points, 3) == (100, 1501)
    assert first_rows_range(points, 2) == (100, 201)
    assert first_rows_range(points, 50) == (100, 6001)
