"""The ingestion loop the app runs in a thread worker: scan, follow or replay, posting messages.

It reads in time slices (`Follower.read`, ~0.1 s each), posts progress after every slice and
the regrouped incidents every `REGROUP_SECONDS` (and as soon as a source is caught up), so
the first rows show long before a big input is read, and `cancelled()` is checked between
slices (Esc). The only way out to the UI is `post` (thread-safe `post_message`).
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable
from dataclasses import replace
from typing import TYPE_CHECKING

import polars as pl
from textual.message import Message

from runbook.diagnosis.logs_verdict import LogInputs, verdict_from_logs
from runbook.events import empty_events
from runbook.incidents.live import IncidentTracker
from runbook.ingest.follow import Follower
from runbook.ingest.replay import Clock, replay
from runbook.ingest.stores import is_store_url
from runbook.terminal import printable
from runbook.tui.messages import (
    CANCELLED,
    DONE,
    FOLLOWING,
    REPLAYING,
    SCANNING,
    IncidentsChanged,
    IngestFinished,
    IngestNotice,
    IngestProgress,
    IngestStarted,
)
from runbook.tui.options import AppOptions

if TYPE_CHECKING:
    from runbook.ingest.scan import ScanOptions

REGROUP_SECONDS = 0.3
NICE = 10  # the ingest thread's niceness: below the UI thread's
SLICE_SECONDS = 0.1

Post = Callable[[Message], object]


class _Publisher:
    """Posts the incidents when they changed, at most every `REGROUP_SECONDS` unless forced."""

    def __init__(self, post: Post, tracker: IncidentTracker, follower: Follower) -> None:
        self.post = post
        self.tracker = tracker
        self.follower = follower
        self.last = 0.0

    def maybe(self, force: bool = False) -> None:
        now = time.monotonic()
        if self.tracker.dirty and (force or now - self.last >= REGROUP_SECONDS):
            incidents = self.tracker.incidents()
            events = self.tracker.events
            stats = [replace(s) for s in self.follower.stats()]  # copies: the worker goes on
            inputs = LogInputs(events=events)
            verdicts = {
                f"{inc.table}\x00{inc.column}": verdict_from_logs(inc.to_dict(), inputs)
                for inc in incidents
            }
            self.post(IncidentsChanged(list(incidents), len(self.tracker), events, stats, verdicts))
            self.last = now


def run_ingest(
    options: AppOptions,
    post: Post,
    cancelled: Callable[[], bool],
    *,
    replay_clock: Clock | None = None,
) -> None:
    """Read `options.paths` as the mode says (scan, follow, replay) until done or cancelled."""
    _lower_priority()
    scan = options.scan_options()
    stores = [path for path in options.paths if is_store_url(path)]
    files = [path for path in options.paths if not is_store_url(path)]
    follower = Follower(files, scan, follow=options.follow, stdin_fd=options.stdin_fd)
    post(IngestStarted(len(follower.tails), follower.bytes_total, list(follower.problems)))
    tracker = IncidentTracker(scan.since, scan.until)
    publisher = _Publisher(post, tracker, follower)
    for url in stores:  # the store's engine does the work; its answer arrives at once
        if cancelled():
            break
        tracker.add(_scan_store(url, scan, post))
        publisher.maybe(force=True)
    replaying = options.replay_speed is not None
    recorded: list[pl.DataFrame] = []
    phase = SCANNING
    try:
        for batch in follower.batches(stop=cancelled, slice_seconds=SLICE_SECONDS):
            if replaying:
                recorded.append(batch.events)
            else:
                tracker.add(batch.events)
            if not replaying:  # before the progress: the app announces what comes after "following"
                publisher.maybe(force=batch.caught_up or batch.finished)
            if batch.caught_up and options.follow:
                phase = FOLLOWING
            post(
                IngestProgress(
                    phase, batch.bytes_done, batch.bytes_total, batch.current, len(tracker)
                )
            )
            for notice in batch.notices:
                post(IngestNotice(notice))
        if replaying and not cancelled():
            _replay(options, post, cancelled, tracker, publisher, recorded, follower, replay_clock)
    finally:
        follower.close()
    publisher.maybe(force=True)
    post(
        IngestFinished(
            CANCELLED if cancelled() else DONE,
            follower.stats(),
            list(follower.problems),
            len(tracker),
        )
    )


def _scan_store(url: str, scan: ScanOptions, post: Post) -> pl.DataFrame:
    """Events of one log store (pushed-down counts and sample lines); failures become notices."""
    from runbook.errors import RunbookError
    from runbook.ingest.scan import scan_paths

    def progress(done: int, total: int | None, name: str) -> None:
        post(IngestNotice(printable(name)))

    try:
        result = scan_paths([url], replace(scan, progress=progress))
    except RunbookError as exc:
        post(IngestNotice(exc.one_line()))
        return empty_events()
    stats = result.stats()
    for problem in stats["unreadable"] + stats["partial"]:
        post(IngestNotice(f"{problem['source']}: {problem['reason']}"))
    return result.events


def _lower_priority() -> None:
    """Make this thread yield the CPU to the UI thread when both want it (Linux: per thread)."""
    try:
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), NICE)
    except (AttributeError, OSError):
        pass  # not Linux, or not allowed: the UI is still responsive, only less under load


def _replay(
    options: AppOptions,
    post: Post,
    cancelled: Callable[[], bool],
    tracker: IncidentTracker,
    publisher: _Publisher,
    recorded: list[pl.DataFrame],
    follower: Follower,
    clock: Clock | None,
) -> None:
    frames = [f for f in recorded if f.height]
    if not frames:
        return
    events = pl.concat(frames)
    assert options.replay_speed is not None
    for batch in replay(
        events, options.replay_speed, clock=clock, max_gap=options.max_gap, stop=cancelled
    ):
        tracker.add(batch.events)
        post(
            IngestProgress(
                REPLAYING,
                follower.bytes_done,
                follower.bytes_total,
                "",
                len(tracker),
                recorded_at=batch.recorded_at,
                replayed=batch.done,
                replay_total=batch.total,
            )
        )
        publisher.maybe(force=batch.finished)
