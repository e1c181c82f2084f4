"""Scan inputs into one merged event table: the entry point of ingestion.

`scan_paths(["logs/", "-"])` expands the inputs, detects each source's format, streams it
through a `SourceScanner` and merges every source's events on time. Unreadable inputs are
reported by name and never stop the others.
"""

from __future__ import annotations

import contextlib
import functools
import io
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, BinaryIO, NotRequired, TypedDict

import polars as pl

from parsers import registry
from parsers.base import LogFormat
from runbook.events import concat_events, empty_events
from runbook.ingest.compressed import Damage
from runbook.ingest.mixed import MIXED, MixedScanner, mixed_formats
from runbook.ingest.options import ScanOptions
from runbook.ingest.scanner import FILE_BATCH_ROWS, SourceScanner, SourceStats
from runbook.ingest.sources import (
    FileIdentity,
    InputProblem,
    Reading,
    Source,
    expand,
    is_compressed,
    is_cr_only,
)
from runbook.ingest.stores import is_store_url, scan_store

if TYPE_CHECKING:  # the process pool loads only when a scan would use it
    from runbook.ingest.parallel import ParallelScan

SNIFF_BYTES = 64 * 1024

# fold(state, batch) -> the state with the batch's events folded in, or None when the batch's
# source is to be read without folding (`runbook.incidents.compaction.fold`)
Fold = Callable[[pl.DataFrame, pl.DataFrame], pl.DataFrame | None]


class UnknownFormat(ValueError):
    """A format name given by the user that no parser has."""


class Unreadable(TypedDict):
    """An input that could not be read (or a store window that did not answer), and why."""

    source: str
    reason: str


class Skipped(TypedDict):
    """Candidate lines of a source that no parser of its format took."""

    source: str
    format: str
    lines: int


class ScanStats(TypedDict):
    """The `stats` object of `scan --format json` (stable names; `stores` only when read)."""

    files: int
    bytes_read: int
    lines_read: int
    lines_skipped: int
    invalid_utf8_lines: int
    lines_cut: int
    events: int
    formats: dict[str, int]
    unreadable: list[Unreadable]
    partial: list[Unreadable]  # inputs read only in part, and why
    skipped: list[Skipped]
    stores: NotRequired[list[dict[str, object]]]


@dataclass
class ScanResult:
    """The merged events and what was read from where."""

    events: pl.DataFrame
    sources: list[SourceStats]
    problems: list[InputProblem]
    # how many events were read when `events` holds them folded (None: one row each)
    events_read: int | None = None

    def stats(self) -> ScanStats:
        """The `stats` object of `scan --format json` (stable names)."""
        formats: dict[str, int] = {}
        for stat in self.sources:
            if stat.error is None:
                for name in stat.formats or (stat.format,):
                    formats[name] = formats.get(name, 0) + 1
        stores = [s.store for s in self.sources if s.store is not None]
        unreadable: list[Unreadable] = [{"source": p.name, "reason": p.reason} for p in self.problems]
        unreadable += [{"source": s.source, "reason": s.error} for s in self.sources if s.error]
        unreadable += [
            {"source": s.source, "reason": f"no answer for {w['start']} – {w['end']}: {w['reason']}"}
            for s in self.sources
            for w in _dark_windows(s.store)
        ]
        stats: ScanStats = {
            "files": sum(1 for s in self.sources if s.error is None),
            "bytes_read": sum(s.bytes_read for s in self.sources),
            "lines_read": sum(s.lines_read for s in self.sources),
            "lines_skipped": sum(s.lines_skipped for s in self.sources),
            "invalid_utf8_lines": sum(s.invalid_utf8_lines for s in self.sources),
            "lines_cut": sum(s.lines_cut for s in self.sources),
            "events": self.events.height if self.events_read is None else self.events_read,
            "formats": formats,
            "unreadable": unreadable,
            "partial": [
                {"source": s.source, "reason": s.partial} for s in self.sources if s.partial
            ],
            "skipped": [
                {"source": s.source, "format": s.format, "lines": s.lines_skipped}
                for s in self.sources
                if s.lines_skipped
            ],
        }
        if stores:
            stats["stores"] = stores
        return stats


def _dark_windows(store: dict[str, object] | None) -> list[dict[str, str]]:
    """The windows a log store did not answer for, from its own stats."""
    windows = (store or {}).get("dark_windows")
    return windows if isinstance(windows, list) else []


def resolve_format(name: str) -> LogFormat:
    try:
        return registry.BY_NAME[name]
    except KeyError:
        raise UnknownFormat(
            f"unknown format {name!r}; known: {', '.join(registry.names())}"
        ) from None


def scanner_for(source: Source, sample: bytes, options: ScanOptions) -> SourceScanner | MixedScanner:
    """A scanner for `source`, its format forced by the options or detected from `sample`;
    a `MixedScanner` when the first lines already show several formats."""
    forced = options.format_of.get(source.name) or options.default_format
    if forced:
        return SourceScanner(source.name, resolve_format(forced), options.tz)
    if not sample:  # an empty file: nothing to detect (a folder may hold 100,000 of them)
        return SourceScanner(source.name, _format_of_nothing(), options.tz)
    lines = registry.sample_lines(sample[:SNIFF_BYTES])
    if mixed_formats(lines, registry.FORMATS):
        return MixedScanner(source.name, registry.FORMATS, options.tz)
    return SourceScanner(source.name, registry.detect_lines(lines), options.tz, detect_foreign=True)


@functools.cache
def _format_of_nothing() -> LogFormat:
    """The format detected from no lines (the fallback), found once."""
    return registry.detect_lines([])


class Folding:
    """The folded events of one source as it is read (`scan_paths(fold=...)`), and how many
    events were read. `gave_up` when the source must be read again line by line."""

    def __init__(self, fold: Fold, options: ScanOptions) -> None:
        self.fold = fold
        self.since, self.until = options.since, options.until
        self.state = empty_events()
        self.read = 0
        self.gave_up = False

    def add(self, frame: pl.DataFrame) -> None:
        frame = within(frame, self.since, self.until)
        if frame.height == 0 or self.gave_up:
            return
        state = self.fold(self.state, frame)
        if state is None:
            self.gave_up = True
            self.state = empty_events()
            return
        self.state = state
        self.read += frame.height


def scan_source(
    source: Source,
    options: ScanOptions,
    done: int = 0,
    total: int | None = None,
    folding: Folding | None = None,
) -> tuple[pl.DataFrame, SourceStats]:
    """Events of one source. Read errors end this source only, recorded in its stats.

    A source read in one format that turns out to hold records of other formats further down
    is read again from its start, record by record (`MixedScanner`). Stdin is copied to a
    temporary file while it is read, so that what was read can be read again. With `folding`
    (files only), the events come folded (`Folding.state`); a file whose folding gave up is
    read again without it, and `folding.gave_up` tells.
    """
    forced = bool(options.format_of.get(source.name) or options.default_format)
    spooled = spool = tempfile.TemporaryFile() if source.is_stdin and not forced else None
    if source.is_stdin:
        folding = None
    reading: Reading | None = None
    try:
        reading = source.reading(options.max_ratio)
        with contextlib.ExitStack() as open_streams:
            stream: BinaryIO | _Joined = open_streams.enter_context(reading.stream)
            scanner: SourceScanner | MixedScanner | None = None
            again_with: SourceScanner | MixedScanner | None = None
            while True:
                frame, scanner, error = _read_source(
                    source, stream, options, done, total, again_with, spool, folding
                )
                foreign = isinstance(scanner, SourceScanner) and bool(scanner.foreign_lines)
                lines = folding is not None and folding.gave_up
                if error is not None or not (foreign or lines):
                    break
                if foreign or isinstance(scanner, MixedScanner):
                    again_with = MixedScanner(source.name, registry.FORMATS, options.tz)
                else:
                    again_with = None
                if folding is not None and not lines:
                    folding.state, folding.read = empty_events(), 0
                elif folding is not None:
                    folding = None  # folding.gave_up stays set for the caller
                if spool is not None:
                    spool.seek(0)
                    stream = open_streams.enter_context(_Joined(spool, stream))
                    spool = None
                else:
                    stream.close()
                    first, reading = reading, source.reading(options.max_ratio)
                    reading.identity = first.identity  # changes are told since the first opening
                    stream = open_streams.enter_context(reading.stream)
    except (OSError, EOFError, ValueError) as exc:
        if isinstance(exc, UnknownFormat):
            raise
        frame, scanner, error = empty_events(), None, _reason(exc)
    finally:
        if spooled is not None:
            spooled.close()
    stats = scanner.stats if scanner else SourceStats(source=source.name, format="unknown")
    if error is not None:
        stats.error = error
    elif reading is not None:
        stats.partial = partial_reason(
            stats, reading.identity, reading.damage(), reading.decompressed is not None
        )
    return frame, stats


def partial_reason(
    stats: SourceStats, identity: FileIdentity | None, damage: Damage | None = None, compressed: bool = False
) -> str | None:
    """Why a source that was read was not read whole, in words (None: it was): its compressed
    stream was damaged or too expansive (`damage`), or the file (`identity` as opened) was
    truncated or replaced meanwhile."""
    reasons: list[str] = []
    if damage is not None:
        reasons.append(damage.describe(stats.lines_read))
    changed = identity.changed() if identity is not None else None
    if changed is None and identity is not None and not compressed and stats.bytes_read < identity.size:
        changed = (
            f"truncated while it was read ({identity.size} bytes when opened, "
            f"{stats.bytes_read} could be read): the lines cut from it were not read"
        )
    if changed is not None:
        reasons.append(f"{changed}; counted the {stats.lines_read} lines read")
    return "; ".join(reasons) or None


def _read_source(
    source: Source,
    stream: BinaryIO | _Joined,
    options: ScanOptions,
    done: int,
    total: int | None,
    scanner: SourceScanner | MixedScanner | None,
    spool: BinaryIO | None,
    folding: Folding | None = None,
) -> tuple[pl.DataFrame, SourceScanner | MixedScanner | None, str | None]:
    """Read `stream` with `scanner` (else the detected one), copying what is read to `spool`
    when given. Returns the events (folded into `folding` when given), the scanner and the
    reason reading stopped early, if it did. A one-format scanner that meets another format's
    records stops there, and so does a folding that gave up."""
    frames = _Frames(folding)
    try:
        first = _tee(stream.read(max(options.chunk_bytes, SNIFF_BYTES)), spool)
        scanner = scanner or scanner_for(source, first, options)
        scanner.batch_rows = FILE_BATCH_ROWS  # a whole file: few large parses (live: per feed)
        if scanner.fmt.whole_file:
            frames.append(scanner.document(first + _tee(stream.read(), spool)))
        else:
            # Read one chunk ahead, so that the last chunk is fed as final: a small input
            # is then parsed in one call, with its last record and its neighbours together.
            chunk = first
            while chunk:
                following = _tee(stream.read(options.chunk_bytes), spool)
                frames.append(scanner.feed(chunk, final=not following))
                if isinstance(scanner, SourceScanner) and scanner.foreign_lines or frames.gave_up:
                    return frames.events(), scanner, None
                if options.progress:
                    options.progress(done + scanner.stats.bytes_read, total, source.name)
                chunk = following
            frames.append(scanner.finish())
    except (OSError, EOFError, ValueError) as exc:
        if isinstance(exc, UnknownFormat):
            raise
        return frames.events(), scanner, _reason(exc)
    return frames.events(), scanner, None


class _Frames:
    """The event batches of one reading: kept, or folded as they come."""

    def __init__(self, folding: Folding | None) -> None:
        self.folding = folding
        self.frames: list[pl.DataFrame] = []

    def append(self, frame: pl.DataFrame) -> None:
        if self.folding is None:
            self.frames.append(frame)
        else:
            self.folding.add(frame)

    @property
    def gave_up(self) -> bool:
        return self.folding is not None and self.folding.gave_up

    def events(self) -> pl.DataFrame:
        return concat_events(self.frames) if self.folding is None else self.folding.state


class _Joined(io.RawIOBase):
    """What was spooled, then the rest of the stream it came from."""

    def __init__(self, first: BinaryIO, rest: BinaryIO | _Joined) -> None:
        self._parts: list[BinaryIO | _Joined] = [first, rest]

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        out = b""
        while self._parts and (size < 0 or len(out) < size):
            data = self._parts[0].read(-1 if size < 0 else size - len(out))
            if data:
                out += data
            else:
                self._parts.pop(0)
        return out


def _tee(data: bytes, spool: BinaryIO | None) -> bytes:
    if spool is not None and data:
        spool.write(data)
    return data


def _start_parallel(
    sources: list[Source], options: ScanOptions, identities: dict[str, FileIdentity]
) -> ParallelScan | None:
    """Submit the large plain files to a process pool, or None when it would not pay.
    Each submitted file's identity when planned goes into `identities`."""
    if not options.parallel:
        return None
    from runbook.ingest.parallel import (
        PARALLEL_FILE_BYTES,
        PARALLEL_MIN_BYTES,
        ParallelScan,
        workers,
    )

    if workers() < 2:
        return None
    eligible: list[tuple[Source, str, int]] = []
    for source in sources:
        size = source.size() or 0
        if source.is_stdin or size < PARALLEL_FILE_BYTES:
            continue
        try:
            with open(source.name, "rb") as f:
                head = f.read(SNIFF_BYTES)
                identity = FileIdentity.of(source.name, f)
        except OSError:
            continue  # the sequential path reports it
        if identity is None:
            continue
        if is_compressed(head) or is_cr_only(head):
            continue
        fmt = scanner_for(source, head, options).fmt
        if not fmt.whole_file and fmt.name != MIXED:
            eligible.append((source, fmt.name, identity.size))
            identities[source.name] = identity
    if sum(size for _, _, size in eligible) < PARALLEL_MIN_BYTES:
        return None
    pool = ParallelScan()
    try:
        for source, fmt_name, size in eligible:
            forced = bool(options.format_of.get(source.name) or options.default_format)
            pool.submit(source.name, fmt_name, options.tz, size, options.chunk_bytes, not forced)
    except BaseException:  # a Ctrl-C, a file gone: the workers started are stopped first
        pool.close()
        raise
    return pool


def scan_paths(
    inputs: list[str], options: ScanOptions | None = None, fold: Fold | None = None
) -> ScanResult:
    """Scan files, folders, globs, `-` (stdin) and log stores into one event table sorted by time.

    With `fold` (`runbook.incidents.compaction.fold`), each batch of a file is folded into the
    table as it is read, so the table holds what `document()` reads, not every line, and
    `events_read` says how many events it stands for (stdin and stores are kept as lines).

    Store URLs (`supabase://`, `clickhouse+http(s)://`) are read by `runbook.ingest.stores`, which
    raises `StoreUnreachable` when one cannot be reached at all.
    """
    options = options or ScanOptions()
    store_urls = [item for item in inputs if is_store_url(item)]
    inputs = [item for item in inputs if not is_store_url(item)]
    for name in options.format_of.values():
        resolve_format(name)
    if options.default_format:
        resolve_format(options.default_format)
    sources, problems = expand(inputs)
    sizes = [s.size() for s in sources]
    total = None if any(size is None for size in sizes) else sum(s or 0 for s in sizes)
    frames: list[pl.DataFrame] = []
    stats: list[SourceStats] = []
    for url in store_urls:
        frame, stat = scan_store(url, options.since, options.until, options.store, options.progress)
        frames.append(frame)
        stats.append(stat)
    folded: list[pl.DataFrame] = []  # sources read with `fold`: rows already folded
    folded_read = 0  # how many events those rows stand for
    identities: dict[str, FileIdentity] = {}
    pool = _start_parallel(sources, options, identities)
    done = 0
    try:
        for source in sources:
            parted = None
            folding = Folding(fold, options) if fold is not None and not source.is_stdin else None
            if pool is not None and pool.has(source.name):
                try:
                    parted = pool.result(source.name)
                except OSError as exc:
                    parted = empty_events(), SourceStats(source=source.name, format="unknown")
                    parted[1].error = _reason(exc)
            if parted is not None:
                frame, stat = parted
                if folding is not None:
                    folding.add(frame)
                    frame = frame if folding.gave_up else folding.state
                if stat.error is None:
                    stat.partial = partial_reason(stat, identities[source.name])
                if options.progress:
                    options.progress(done + stat.bytes_read, total, source.name)
            else:  # not parted, or a part met another format: read it whole, record by record
                frame, stat = scan_source(source, options, done, total, folding)
            done += stat.bytes_read
            if folding is not None and not folding.gave_up:
                folded.append(folding.state)
                folded_read += folding.read
            elif frame.height:  # a source without events costs its stats only
                frames.append(frame)
            stats.append(stat)
    finally:
        if pool is not None:
            pool.close()
    events = within(merge(frames), options.since, options.until)
    if fold is None:
        return ScanResult(events=events, sources=stats, problems=problems)
    return ScanResult(
        events=merge([events, *folded]),
        sources=stats,
        problems=problems,
        events_read=events.height + folded_read,
    )


def merge(frames: list[pl.DataFrame]) -> pl.DataFrame:
    """Events of several sources in one table, ordered by time (untimed last), then position."""
    return concat_events(frames).sort(["ts", "source", "line_no"], nulls_last=True)


def within(events: pl.DataFrame, since: datetime | None, until: datetime | None) -> pl.DataFrame:
    """Events whose time is in [since, until); untimed events are kept only without bounds."""
    if since is None and until is None:
        return events
    condition = pl.col("ts").is_not_null()
    if since is not None:
        condition &= pl.col("ts") >= since
    if until is not None:
        condition &= pl.col("ts") < until
    return events.filter(condition)




def _reason(exc: BaseException) -> str:
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror.lower()
    return str(exc) or type(exc).__name__


def document(result: ScanResult) -> dict[str, Any]:
    """The `scan --format json` object: incidents, related events and stats (stable names)."""
    from runbook.incidents.grouping import (
        group_incidents,
        read_totals,
        related_events,
        write_totals,
    )

    return {
        "incidents": [incident.to_dict() for incident in group_incidents(result.events)],
        "related": [related.to_dict() for related in related_events(result.events)],
        "writes": write_totals(result.events),
        "reads": read_totals(result.events),
        "stats": result.stats(),
    }
