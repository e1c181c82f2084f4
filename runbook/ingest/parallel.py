"""Scan one large plain file on every core: byte ranges cut at line ends, one process each.

`bytes.find` holds the GIL, so threads would not help; processes do. Each worker scans its
range with the bytes just before it as context (so a continuation line still reaches its record
start), counts its lines, and returns its events with range-local line numbers; the parent adds
the line offsets of the ranges before it. Results are identical to a sequential scan.
"""

from __future__ import annotations

import io
import multiprocessing
import os
import signal
import threading
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from contextlib import contextmanager
from dataclasses import asdict

import polars as pl

from parsers import registry
from parsers.base import LogFormat
from runbook.ingest.scanner import (
    CONTEXT_BYTES,
    FILE_BATCH_ROWS,
    MAX_LOOKBACK_LINES,
    SourceScanner,
    SourceStats,
)

PARALLEL_MIN_BYTES = 256 * 1024 * 1024  # below this, starting processes costs more than it saves
PARALLEL_FILE_BYTES = 32 * 1024 * 1024  # smaller files are scanned in this process


def workers() -> int:
    return max(1, min(8, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1))


def _record_start_at_or_after(f: io.BufferedReader, pos: int, fmt: LogFormat) -> int:
    """The first line start at or after `pos` that begins a record of `fmt`.

    A multi-line record (a traceback, an ERROR and its STATEMENT) must not be cut in two, so a
    range begins where a record does; if none begins within the look-back limit, at a line.
    """
    if pos == 0:
        return 0
    f.seek(pos - 1)
    block = f.read(CONTEXT_BYTES)
    nl = block.find(b"\n")
    if nl == -1:  # a line longer than the look-back: cut after it
        f.seek(pos - 1 + len(block))
        while chunk := f.read(1 << 20):
            at = chunk.find(b"\n")
            if at != -1:
                return f.tell() - len(chunk) + at + 1
        return f.tell()
    first = start = pos + nl
    for _ in range(MAX_LOOKBACK_LINES):
        end = block.find(b"\n", start - pos + 1)
        if end == -1:
            break
        line = block[start - pos + 1 : end].decode("utf-8", "replace").rstrip("\r")
        if fmt.is_record_start(line):
            return start
        start = pos + end
    return first


def plan_ranges(path: str, size: int, parts: int, fmt: LogFormat) -> list[tuple[int, int]]:
    """`parts` byte ranges covering the file, each starting where a record starts."""
    with open(path, "rb") as f:
        cuts = sorted(
            {_record_start_at_or_after(f, size * i // parts, fmt) for i in range(parts)} | {size}
        )
    return [(a, b) for a, b in zip(cuts, cuts[1:], strict=False) if b > a]


def _scan_range(
    path: str, fmt_name: str, tz: str, start: int, end: int, chunk: int, detect_foreign: bool
) -> tuple[bytes, dict, int, bool]:
    """One byte range's events (IPC), stats, lines, and whether another format's records
    were met (the range stops there: the whole file must then be read record by record)."""
    scanner = SourceScanner(
        path, registry.BY_NAME[fmt_name], tz, batch_rows=FILE_BATCH_ROWS, detect_foreign=detect_foreign
    )
    frames = []
    with open(path, "rb") as f:
        if start:
            ctx_from = max(0, start - CONTEXT_BYTES)
            f.seek(ctx_from)
            context = f.read(start - ctx_from)
            if ctx_from:
                context = context[context.find(b"\n") + 1 :]
            scanner.prime(context)
        f.seek(start)
        left = end - start
        while left > 0:
            data = f.read(min(chunk, left))
            if not data:
                break
            left -= len(data)
            frames.append(scanner.feed(data))
            if scanner.foreign_lines:
                return b"", asdict(scanner.stats), scanner.lines_done, True
        frames.append(scanner.finish())
        if scanner.foreign_lines:
            return b"", asdict(scanner.stats), scanner.lines_done, True
    frames = [fr for fr in frames if fr.height]
    events = pl.concat(frames) if frames else scanner.finish()
    buffer = io.BytesIO()
    events.write_ipc(buffer)
    return buffer.getvalue(), asdict(scanner.stats), scanner.lines_done, False


@contextmanager
def interrupts_held() -> Iterator[None]:
    """A Ctrl-C meanwhile waits until this ends, and SIGINT is blocked in this thread, so that
    the worker processes started meanwhile inherit the block (it lasts across exec) and never
    take a Ctrl-C: the terminal sends it to every process of the group, and a worker would
    print a traceback of whatever it was doing, or of a start cut short. The scan here takes
    the Ctrl-C once this ends, and stops its workers."""
    if not hasattr(signal, "pthread_sigmask") or threading.current_thread() is not threading.main_thread():
        yield
        return
    came: list[int] = []
    previous = signal.signal(signal.SIGINT, lambda signum, frame: came.append(signum))
    held = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, held)
        signal.signal(signal.SIGINT, previous)
        if came and callable(previous):
            previous(signal.SIGINT, None)


class ParallelScan:
    """Large plain files scanned in byte ranges by a pool of processes, one per core.

    `submit()` every eligible file first, scan the others in this process meanwhile, then
    `result()` each submitted file in input order.
    """

    def __init__(self) -> None:
        self._pool = ProcessPoolExecutor(max_workers=workers(), mp_context=multiprocessing.get_context("spawn"))
        self._jobs: dict[str, tuple[str, list]] = {}

    def submit(
        self, path: str, fmt_name: str, tz: str, size: int, chunk: int, detect_foreign: bool = True
    ) -> None:
        """`detect_foreign`: the format was detected, not forced, so a range that meets another
        format's records says so (see `result`)."""
        parts = max(1, min(workers() * 2, size // PARALLEL_FILE_BYTES))
        ranges = plan_ranges(path, size, parts, registry.BY_NAME[fmt_name])
        with interrupts_held():  # the workers start as the ranges are submitted
            futures = [
                self._pool.submit(_scan_range, path, fmt_name, tz, a, b, chunk, detect_foreign)
                for a, b in ranges
            ]
        self._jobs[path] = (fmt_name, futures)

    def result(self, path: str) -> tuple[pl.DataFrame, SourceStats] | None:
        """Events (global line numbers) and stats of a submitted file, or None when a part of
        it holds another format's records (the caller reads it record by record instead).
        Raises OSError as read."""
        fmt_name, futures = self._jobs.pop(path)
        stats = SourceStats(source=path, format=fmt_name)
        frames: list[pl.DataFrame] = []
        offset = 0
        parts = [future.result() for future in futures]
        if any(foreign for *_, foreign in parts):
            return None
        for ipc, part, lines, _ in parts:
            frame = pl.read_ipc(io.BytesIO(ipc))
            if frame.height:
                frames.append(frame.with_columns(pl.col("line_no") + offset, pl.col("record_no") + offset))
            for key in _COUNTERS:
                setattr(stats, key, getattr(stats, key) + part[key])
            offset += lines
        empty = SourceScanner(path, registry.BY_NAME[fmt_name]).finish()
        return (pl.concat(frames) if frames else empty), stats

    def has(self, path: str) -> bool:
        return path in self._jobs

    def close(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)


_COUNTERS = ("bytes_read", "lines_read", "candidate_lines", "lines_skipped", "invalid_utf8_lines", "lines_cut",
             "events", "requests_counted")
