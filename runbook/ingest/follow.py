"""Read log sources to the end and, when asked, keep reading them as they grow (`tail -F`).

`Follower(["logs/", "-"], options, follow=True)` opens every input of `scan`, reads what is
there, then polls: bytes appended to a file are fed to that source's `SourceScanner`, and the
events they yield come back in `FollowBatch`es. A file that is rotated (its name now points to
another inode) is drained, then reopened from its start; a file that shrinks (truncated, or
`copytruncate` rotation) is read again from its start. Files are read with `read()` at an
offset, never mapped: a file truncated under a map would crash the reader.

Line numbers keep counting across rotation and truncation (one scanner per followed name), so
every event of a followed source has a distinct `(source, line_no)`, which grouping relies on.

Compressed files and whole-file formats (JSON/CSV exports) are read once, not followed. Stdin
is read without blocking (`select`) until it ends. No Textual here: the TUI and the headless
commands drive the same `Follower`.
"""

from __future__ import annotations

import os
import select
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import BinaryIO

import polars as pl

from parsers import registry
from runbook.events import concat_events, empty_events
from runbook.ingest.mixed import MixedScanner
from runbook.ingest.scan import SNIFF_BYTES, ScanOptions, scanner_for
from runbook.ingest.scanner import SourceScanner, SourceStats
from runbook.ingest.sources import (
    STDIN,
    InputProblem,
    Source,
    damage_of,
    decompressing,
    expand,
    is_compressed,
)
from runbook.ingest.store_follow import StorePosition, StoreTail
from runbook.ingest.stores import is_store_url

CHUNK_BYTES = 4 * 1024 * 1024  # small enough that a time slice is never much overrun


@dataclass
class FollowBatch:
    """What one read produced: new events (any sources), and where reading stands."""

    events: pl.DataFrame
    bytes_done: int  # bytes consumed from every source so far (compressed size for .gz)
    bytes_total: int | None  # the sizes when reading began; None when stdin is an input
    caught_up: bool  # every source is at its end (for now, when following)
    finished: bool  # nothing more will ever come (not following, everything read)
    current: str = ""  # the source read last
    notices: list[str] = field(default_factory=list)  # rotations, truncations, read errors


@dataclass(frozen=True)
class TailPosition:
    """How far a file was read and scanned: where a later reader may go on from.

    `offset` counts the bytes whose lines were scanned (a held-back line or record is not
    included), `line_no` the lines before it. `read_once` marks a compressed file or a
    whole-file document that was read to its end: there is nothing to resume in it.
    """

    device: int
    inode: int
    offset: int
    line_no: int
    read_once: bool = False


class Tail:
    """One input, read chunk by chunk from where it was left; follows rotation and truncation."""

    def __init__(self, source: Source, options: ScanOptions, *, follow: bool) -> None:
        self.source = source
        self.options = options
        self.follow = follow
        self.scanner: SourceScanner | MixedScanner | None = None
        self.size_at_start = source.size() or 0
        self.bytes_done = 0  # raw bytes consumed (what progress counts)
        self.finished = False  # read to the end and not followed (or failed for good)
        self.error: str | None = None
        self.partial: str | None = None  # why it was read only in part (a damaged stream)
        self._fh: BinaryIO | None = None
        self._ident: tuple[int, int] | None = None
        self._offset = 0
        self._stream: BinaryIO | None = None  # decompressing reader (read-once files)
        self._held = b""  # bytes read before the format is known
        self._whole: list[bytes] | None = None  # a whole-file format collects everything
        self._read_once = False  # compressed: decompressed as a stream, never resumed
        self._notices: list[str] = []  # what reading found out (told with the next batch)
        self._resume: TailPosition | None = None  # where to go on from, if the file is the same
        self._line_base = 0  # lines before the offset reading resumed at

    def resume_from(self, position: TailPosition) -> None:
        """Go on from `position` when the file opened next is the one it was taken from
        (same device and inode, not shorter); otherwise read from the start as usual."""
        self._resume = position

    def position(self) -> TailPosition | None:
        """Where reading stands, counting only bytes whose lines were scanned (None: stdin,
        or no file opened yet)."""
        if self._ident is None or isinstance(self, StdinTail):
            return None
        device, inode = self._ident
        if self._read_once or (self.scanner is not None and self.scanner.fmt.whole_file):
            if self.finished:
                return TailPosition(device, inode, self._offset, self._lines(), read_once=True)
            return TailPosition(device, inode, 0, 0)  # a document is scanned when it ends
        held = len(self._held) + _unscanned(self.scanner)
        return TailPosition(device, inode, max(0, self._offset - held), self._lines())

    def _lines(self) -> int:
        return self.scanner.lines_done if self.scanner is not None else self._line_base

    @property
    def name(self) -> str:
        return self.source.name

    def stats(self) -> SourceStats:
        if self.scanner is not None:
            stats = self.scanner.stats
        else:
            stats = SourceStats(source=self.name, format="unknown")
        stats.error = self.error
        stats.partial = self.partial
        return stats

    def read(self, max_bytes: int, notices: list[str]) -> tuple[pl.DataFrame, bool]:
        """Events from up to `max_bytes` new bytes, and whether the source is at its end."""
        events, at_end = self._read(max_bytes, notices)
        notices.extend(self._notices)
        self._notices.clear()
        return events, at_end

    def _read(self, max_bytes: int, notices: list[str]) -> tuple[pl.DataFrame, bool]:
        if self.finished:
            return empty_events(), True
        try:
            if self._stream is not None:
                return self._read_stream(max_bytes)
            return self._read_file(max_bytes, notices)
        except (OSError, EOFError, ValueError) as exc:
            self.error = _reason(exc)
            notices.append(f"{self.name}: {self.error}")
            self._close()
            self.finished = True
            return self._flush(), True

    # -- plain files -----------------------------------------------------------------------

    def _read_file(self, max_bytes: int, notices: list[str]) -> tuple[pl.DataFrame, bool]:
        if self._fh is None and not self._open():
            return empty_events(), True  # not there (yet): a followed name may appear later
        assert self._fh is not None
        if self._offset == 0 and self._fh.tell() == 0 and self._starts_compressed():
            return self._read_stream(max_bytes)
        data = self._fh.read(max_bytes)
        if data:
            self._offset += len(data)
            self.bytes_done += len(data)
            return self._feed(data), False
        # At the end of what the open file holds: has the name moved on, or the file shrunk?
        if not self.follow:
            self._close()
            self.finished = True
            return self._flush(), True
        quiet = self._quiet()
        return concat_events([quiet, self._check_rotation(notices)]), True

    def _check_rotation(self, notices: list[str]) -> pl.DataFrame:
        assert self._fh is not None
        try:
            st = os.stat(self.name)
        except FileNotFoundError:
            return empty_events()  # moved away, the new one not created yet: keep the old open
        if (st.st_dev, st.st_ino) != self._ident:
            notices.append(f"{self.name}: rotated, reading the new file")
            events = self._flush()
            self._close()
            self._offset = 0
            return events
        if st.st_size < self._offset:
            notices.append(f"{self.name}: truncated, reading again from its start")
            events = self._flush()
            self._fh.seek(0)
            self._offset = 0
            return events
        return empty_events()

    def _open(self) -> bool:
        try:
            fh = open(self.name, "rb", buffering=0)  # kept open between polls
        except FileNotFoundError:
            if not self.follow:
                raise
            return False
        st = os.fstat(fh.fileno())
        self._fh, self._ident, self._offset = fh, (st.st_dev, st.st_ino), 0
        resume, self._resume = self._resume, None
        if resume is not None and (resume.device, resume.inode) == self._ident:
            if resume.read_once:
                self._offset, self._line_base, self._read_once = resume.offset, resume.line_no, True
                self._close()
                self.finished = True  # read to its end before: nothing new can be in it
                return False
            if 0 < resume.offset <= st.st_size:
                fh.seek(resume.offset)
                self._offset = resume.offset
                self.bytes_done = resume.offset
                self._line_base = resume.line_no
        return True

    def _starts_compressed(self) -> bool:
        assert self._fh is not None
        head = self._fh.read(4)
        self._fh.seek(0)
        if not is_compressed(head):
            return False
        # Compressed: decompress as a stream, read once, never follow.
        self._stream = decompressing(self._fh, self.options.max_ratio)
        self.follow = False
        self._read_once = True
        return True

    # -- compressed files and stdin --------------------------------------------------------

    def _read_stream(self, max_bytes: int) -> tuple[pl.DataFrame, bool]:
        assert self._stream is not None
        data = self._stream.read(max_bytes)
        if self._fh is not None:
            self.bytes_done = self._fh.tell()
        if data:
            return self._feed(data), False
        damage = damage_of(self._stream)
        events = self._flush()
        if damage is not None:
            self.partial = damage.describe(self._lines())
            self._notices.append(f"{self.name}: {self.partial}")
        self._close()
        self.finished = True
        return events, True

    # -- scanning --------------------------------------------------------------------------

    def _feed(self, data: bytes) -> pl.DataFrame:
        if self.scanner is None:
            self._held += data
            if len(self._held) < SNIFF_BYTES and b"\n" not in self._held:
                return empty_events()  # not one whole line yet: too early to tell the format
            data, self._held = self._held, b""
            self.scanner = self._new_scanner(data)
            if self.scanner.fmt.whole_file:
                self._whole = []
                self.follow = False  # an export is a document: read it once
        if self._whole is not None:
            self._whole.append(data)
            return empty_events()
        events = self.scanner.feed(data)
        if isinstance(self.scanner, SourceScanner) and self.scanner.foreign_lines and not (
            self.options.format_of.get(self.name) or self.options.default_format
        ):
            # Lines of another format further down (`kubectl logs --all-containers`): from
            # here on every record goes to the format it is written in.
            self.scanner = MixedScanner.taking_over(self.scanner, registry.FORMATS)
            self._notices.append(
                f"{self.name}: more than one log format; reading it record by record "
                f"from line {self.scanner.lines_done + 1}"
            )
        return events

    def _new_scanner(self, sample: bytes) -> SourceScanner | MixedScanner:
        scanner = scanner_for(self.source, sample, self.options)
        if self._line_base:
            scanner.resume_at(self._line_base)  # resumed: line numbers go on from there
        return scanner

    def _quiet(self) -> pl.DataFrame:
        """The input went quiet: scan the last record the scanner holds back for continuations."""
        flush = getattr(self.scanner, "flush", None)  # scanners of multi-line formats have it
        if flush is None or self._whole is not None:
            return empty_events()
        return flush()

    def _flush(self) -> pl.DataFrame:
        """Scan what is held back: a last line without a newline, or a whole document."""
        if self.scanner is None and self._held:
            data, self._held = self._held, b""
            self.scanner = self._new_scanner(data)
            if self.scanner.fmt.whole_file:
                self._whole = [data]
            else:
                return concat_events([self.scanner.feed(data), self.scanner.finish()])
        if self.scanner is None:
            return empty_events()
        if self._whole is not None:
            data = b"".join(self._whole)
            self._whole = [] if self.follow else None
            return self.scanner.document(data) if data else empty_events()
        return self.scanner.finish()

    def _close(self) -> None:
        for handle in (self._stream, self._fh):
            if handle is not None:
                try:
                    handle.close()
                except OSError:
                    pass
        self._stream = self._fh = None


class StdinTail(Tail):
    """Stdin (or any pipe given as a descriptor), read without blocking until it ends."""

    def __init__(self, options: ScanOptions, fd: int | None = None) -> None:
        super().__init__(Source(STDIN), options, follow=False)
        self.fd = 0 if fd is None else fd

    def read(self, max_bytes: int, notices: list[str]) -> tuple[pl.DataFrame, bool]:
        if self.finished:
            return empty_events(), True
        try:
            ready, _, _ = select.select([self.fd], [], [], 0)
            if not ready:
                return self._quiet(), True  # nothing now; more may come
            data = os.read(self.fd, max_bytes)
        except (OSError, ValueError) as exc:
            self.error = _reason(exc)
            notices.append(f"stdin: {self.error}")
            self.finished = True
            return self._flush(), True
        if not data:
            self.finished = True
            return self._flush(), True
        self.bytes_done += len(data)
        return self._feed(data), False


class Follower:
    """Every input of a scan, read to its end and then (with `follow=True`) followed.

    `stdin_fd` is the descriptor to read for `-` (the TUI moves the pipe off fd 0 so that the
    keyboard can have it). Inputs that cannot be found are in `problems`, like `scan`'s.
    """

    def __init__(
        self,
        inputs: list[str],
        options: ScanOptions | None = None,
        *,
        follow: bool = False,
        stdin_fd: int | None = None,
        chunk_bytes: int = CHUNK_BYTES,
        resume: Mapping[str, TailPosition | StorePosition] | None = None,
    ) -> None:
        self.options = options or ScanOptions()
        self.follow = follow
        self.chunk_bytes = chunk_bytes
        stores = [item for item in inputs if is_store_url(item)]
        sources, self.problems = _expand_for_follow([i for i in inputs if not is_store_url(i)], follow)
        self.tails: list[Tail | StoreTail] = [
            StdinTail(self.options, stdin_fd) if s.is_stdin else Tail(s, self.options, follow=follow)
            for s in sources
        ]
        self.tails += [StoreTail(url, self.options, follow=follow) for url in stores]
        for tail in self.tails:
            position = (resume or {}).get(tail.name)
            if isinstance(tail, StoreTail) and isinstance(position, StorePosition):
                tail.resume_from(position)
            elif isinstance(tail, Tail) and isinstance(position, TailPosition):
                tail.resume_from(position)
        self.bytes_total: int | None = (
            None if any(s.is_stdin for s in sources) else sum(t.size_at_start for t in self.tails)
        )
        self._next = 0  # round-robin position once every source has been read once

    @property
    def bytes_done(self) -> int:
        return sum(t.bytes_done for t in self.tails)

    @property
    def finished(self) -> bool:
        return all(t.finished for t in self.tails)

    def stats(self) -> list[SourceStats]:
        return [t.stats() for t in self.tails]

    def read(self, slice_seconds: float = 0.25, clock: Callable[[], float] = time.monotonic) -> FollowBatch:
        """Read for about `slice_seconds` (at least one chunk), source by source.

        Sources are read in order, each to its end before the next, so the first incidents come
        from whole files; once all are caught up, every read visits every source.
        """
        deadline = clock() + slice_seconds
        frames: list[pl.DataFrame] = []
        notices: list[str] = []
        current = ""
        idle = 0  # consecutive sources found at their end
        n = len(self.tails)
        while n and idle < n:
            tail = self.tails[self._next]
            events, at_end = tail.read(self.chunk_bytes, notices)
            current = tail.name
            if events.height:
                frames.append(events)
            if at_end:
                idle += 1
                self._next = (self._next + 1) % n
            else:
                idle = 0
            if clock() >= deadline:
                break
        return FollowBatch(
            events=concat_events(frames),
            bytes_done=self.bytes_done,
            bytes_total=self.bytes_total,
            caught_up=idle >= n,
            finished=self.finished,
            current=current,
            notices=notices,
        )

    def batches(
        self,
        *,
        stop: Callable[[], bool] = lambda: False,
        poll_interval: float = 0.25,
        slice_seconds: float = 0.25,
        sleep: Callable[[float], None] = time.sleep,
    ) -> Iterator[FollowBatch]:
        """Batches until everything is read (or, when following, until `stop()`)."""
        while not stop():
            batch = self.read(slice_seconds)
            yield batch
            if batch.finished:
                return
            if batch.caught_up:
                sleep(poll_interval)

    def close(self) -> None:
        for tail in self.tails:
            tail._close()


def _expand_for_follow(inputs: list[str], follow: bool) -> tuple[list[Source], list[InputProblem]]:
    """`expand()`, except that an existing file is taken by its name even when the name looks
    like a glob (`[red]app.log`), and a followed file that does not exist yet is waited for."""
    sources: list[Source] = []
    problems: list[InputProblem] = []
    for item in inputs:
        missing: list[InputProblem] = []
        if item != STDIN and os.path.isfile(item):
            found = [Source(item)]
        else:
            found, missing = expand([item])
        sources += [s for s in found if s not in sources]
        for problem in missing:
            if follow and problem.reason == "no such file or directory":
                sources.append(Source(problem.name))
            else:
                problems.append(problem)
    return sources, problems


def _unscanned(scanner: SourceScanner | MixedScanner | None) -> int:
    """Bytes a scanner was fed but holds back (an unfinished line or record)."""
    if scanner is None:
        return 0
    if isinstance(scanner, MixedScanner):
        return scanner.held_bytes
    return len(scanner.pending)




def _reason(exc: BaseException) -> str:
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror.lower()
    return str(exc) or type(exc).__name__
