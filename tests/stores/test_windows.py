"""Window planning: at most 24 h, whole minutes, half-open, split in two on the row cap."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from runbook.ingest.stores.windows import MAX_SPAN, Window, plan


def t(day: int, hour: int, minute: int = 0, second: int = 0, micro: int = 0) -> datetime:
    return datetime(2026, 11, day, hour, minute, second, micro, tzinfo=UTC)


def test_a_range_over_48_hours_becomes_windows_of_at_most_24_hours_that_meet() -> None:
    windows = plan(t(16, 6), t(18, 18))
    assert [w.span for w in windows] == [MAX_SPAN, MAX_SPAN, timedelta(hours=12)]
    assert all(a.end == b.start for a, b in zip(windows, windows[1:], strict=False))
    assert windows[0].start == t(16, 6) and windows[-1].end == t(18, 18)


def test_windows_are_aligned_to_whole_minutes_and_cover_the_exact_range() -> None:
    since, until = t(16, 6, 0, 30, 5), t(16, 7, 15, 0, 1)
    (window,) = plan(since, until)
    assert window == Window(t(16, 6), t(16, 7, 16))
    # The exact bounds are repeated in the SQL, half-open.
    assert window.clip(since, until) == (since, until)


def test_an_empty_or_reversed_range_has_no_windows() -> None:
    assert plan(t(16, 6), t(16, 6)) == []
    assert plan(t(16, 7), t(16, 6)) == []


def test_split_halves_meet_on_a_minute_and_a_minute_does_not_split() -> None:
    first, second = Window(t(16, 6), t(17, 6)).split()  # type: ignore[misc]
    assert first.end == second.start == t(16, 18)
    odd = Window(t(16, 6), t(16, 6, 3)).split()
    assert (
        odd is not None
        and odd[0].span == timedelta(minutes=1)
        and odd[1].span == timedelta(minutes=2)
    )
    assert Window(t(16, 6), t(16, 6, 1)).split() is None


def test_clip_keeps_the_scan_bounds_inside_the_window() -> None:
    window = Window(t(16, 6), t(17, 6))
    assert window.clip(t(16, 6, 0, 30), t(20, 0)) == (t(16, 6, 0, 30), t(17, 6))
