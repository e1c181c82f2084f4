"""`Follower`: read to the end, then follow appends, rotation, truncation, late files and stdin."""

from __future__ import annotations

import os
from pathlib import Path

import polars as pl

from runbook.incidents.live import IncidentTracker
from runbook.ingest.follow import Follower

LINE = (
    '2026-11-18T09:{m:02d}:00Z error {{"code":"PGRST204","details":null,"hint":null,'
    '"message":"Could not find the \'{col}\' column of \'mypoolr\' in the schema cache"}}\n'
)


def error_lines(n: int, col: str = "adminname", start: int = 0) -> str:
    return "".join(LINE.format(m=(start + i) % 60, col=col) for i in range(n))


def drain(follower: Follower) -> pl.DataFrame:
    """Read until every source is at its end; the events read."""
    frames = []
    while True:
        batch = follower.read(slice_seconds=5)
        frames.append(batch.events)
        if batch.caught_up:
            return pl.concat(frames)


def test_reads_existing_content_then_finishes(tmp_path: Path) -> None:
    log = tmp_path / "app.log"
    log.write_text(error_lines(3) + "no newline at the end " + LINE.format(m=9, col="x").rstrip("\n"))
    follower = Follower([str(log)])
    batches = list(follower.batches())
    events = pl.concat([b.events for b in batches])
    assert events.height == 4  # the last line counts although it has no newline
    assert batches[-1].finished
    assert batches[-1].bytes_done == batches[-1].bytes_total == log.stat().st_size


def test_follow_sees_appended_lines_but_never_half_a_line(tmp_path: Path) -> None:
    log = tmp_path / "app.log"
    log.write_text(error_lines(2))
    follower = Follower([str(log)], follow=True)
    assert drain(follower).height == 2
    with log.open("a") as fh:
        fh.write(error_lines(1, start=5))
        fh.write(LINE.format(m=7, col="adminname")[:40])  # a writer mid-line
    new = drain(follower)
    assert new.height == 1
    with log.open("a") as fh:
        fh.write(LINE.format(m=7, col="adminname")[40:])
    completed = drain(follower)
    assert completed.height == 1 and completed["line_no"].to_list() == [4]


def test_follow_survives_rotation_by_rename(tmp_path: Path) -> None:
    log = tmp_path / "app.log"
    log.write_text(error_lines(2))
    follower = Follower([str(log)], follow=True)
    tracker = IncidentTracker()
    tracker.add(drain(follower))
    with log.open("a") as fh:  # written just before the rotation: must not be lost
        fh.write(error_lines(1, start=10))
    os.rename(log, tmp_path / "app.log.1")
    log.write_text(error_lines(2, start=20))
    tracker.add(drain(follower))
    tracker.add(drain(follower))
    events = tracker.events
    assert events.height == 5
    # Line numbers keep counting through the rotation, so no request is merged with another.
    assert events["line_no"].to_list() == [1, 2, 3, 4, 5]
    assert tracker.incidents()[0].count == 5


def test_follow_survives_truncation(tmp_path: Path) -> None:
    log = tmp_path / "app.log"
    log.write_text(error_lines(3))
    follower = Follower([str(log)], follow=True)
    assert drain(follower).height == 3
    with log.open("w") as fh:  # copytruncate: same inode, shorter file
        fh.write(error_lines(1, col="note", start=30))
    drain(follower)  # notices the truncation
    again = drain(follower)
    assert again["column"].to_list() == ["note"]


def test_follow_waits_for_a_file_that_does_not_exist_yet(tmp_path: Path) -> None:
    log = tmp_path / "later.log"
    follower = Follower([str(log)], follow=True)
    assert follower.problems == []
    assert drain(follower).height == 0
    log.write_text(error_lines(2))
    assert drain(follower).height == 2


def test_missing_file_is_a_problem_when_not_following(tmp_path: Path) -> None:
    follower = Follower([str(tmp_path / "nope.log")])
    assert [p.reason for p in follower.problems] == ["no such file or directory"]
    assert follower.finished


def test_gzip_is_read_once(tmp_path: Path) -> None:
    import gzip

    path = tmp_path / "old.log.gz"
    path.write_bytes(gzip.compress(error_lines(4).encode()))
    follower = Follower([str(path)], follow=True)
    assert drain(follower).height == 4
    assert follower.finished  # a compressed file is not followed


def test_stdin_pipe_until_it_ends(tmp_path: Path) -> None:
    read_fd, write_fd = os.pipe()
    follower = Follower(["-"], follow=True, stdin_fd=read_fd)
    assert follower.bytes_total is None
    os.write(write_fd, error_lines(2).encode())
    assert drain(follower).height == 2
    os.write(write_fd, error_lines(1, start=3).encode())
    os.close(write_fd)
    frames = [b.events for b in follower.batches(sleep=lambda s: None)]
    assert pl.concat(frames).height == 1
    assert follower.finished
    os.close(read_fd)


def test_large_input_is_read_in_slices(tmp_path: Path) -> None:
    log = tmp_path / "big.log"
    log.write_text(error_lines(20000))
    follower = Follower([str(log)], chunk_bytes=64 * 1024)
    ticks = iter(range(1000000))
    first = follower.read(slice_seconds=1, clock=lambda: next(ticks))  # one chunk per slice
    assert 0 < first.bytes_done < log.stat().st_size and not first.caught_up
    rest = list(follower.batches())
    assert first.events.height + sum(b.events.height for b in rest) == 20000
