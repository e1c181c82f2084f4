"""Turn the bytes of one source into events, chunk by chunk, in bounded memory.

Why bytes and not a polars line scan: splitting a GiB into a polars string column costs ~2 s
and over 1 GiB of memory here, for a file where one line in a hundred can matter. Instead the
format's literal keywords are found in the raw bytes (`runbook.ingest.candidates`: Hyperscan,
else `bytes.find`); only the lines around a hit are cut out, decoded and handed to the format's
polars parser. A tail of already
seen bytes is kept so that a continuation line (a traceback's last line) can reach the first
line of its record even across a chunk boundary.

The same `SourceScanner` serves whole files, stdin, live follow and replay: callers `feed()`
bytes as they come and `finish()` at the end.
"""

from __future__ import annotations

import itertools
import operator
from dataclasses import dataclass

import polars as pl

from parsers.base import LogFormat
from parsers.error_body import FOLLOW_LINES, joined_wording, wants_following
from parsers.registry import line_format
from parsers.timestamps import out_of_range
from runbook.events import EVENT_COLUMNS, RAW_MAX_CHARS, conform, empty_events
from runbook.ingest.candidates import finder, tally_lines
from runbook.redact import redact_expr

CONTEXT_BYTES = 256 * 1024  # how far back a continuation line may look for its record start
MAX_LOOKBACK_LINES = 400
FILE_BATCH_ROWS = 50_000  # candidate lines per parse when scanning whole files
TALLY_BATCH_LINES = 50_000  # counted request lines (`LogFormat.tally`) held before they fold
RECENT_EVENTS = 10_000  # events whose lines a `MixedScanner` taking over must not read again
FOREIGN_CHECKS = 200  # candidate lines asked whether another format writes them, then
FOREIGN_EVERY = 64  # one candidate in this many
# From this many candidate lines in a region, one-line records go by column (the plain engine
# keeps the line loop, the reference the column path is tested against).
COLUMN_CANDIDATES = 64
# The most kept of one line, whether it comes whole in a chunk or spans several: a line
# without end (`/dev/zero`, a decompressed run of zeros, a 200 MB JSON blob) must not grow the
# scanner's buffer, be re-joined on every chunk, or reach a parser whole (polars takes about
# 130 MB per MiB of a candidate line). The rest of such a line is read and dropped, counted in
# `lines_cut`. 1.5 MiB keeps a JSON record whose error body follows a 1 MB payload field.
MAX_LINE_BYTES = 1536 * 1024


@dataclass
class SourceStats:
    """What was read from one source. `lines_skipped` are candidate lines that yielded nothing."""

    source: str
    format: str
    bytes_read: int = 0
    lines_read: int = 0
    candidate_lines: int = 0
    lines_skipped: int = 0
    invalid_utf8_lines: int = 0
    lines_cut: int = 0  # lines longer than MAX_LINE_BYTES: their first MAX_LINE_BYTES were read
    events: int = 0
    requests_counted: int = 0  # request lines folded into weighted rows (`LogFormat.tally`)
    error: str | None = None  # why it could not be read (its events, if any, are partial)
    partial: str | None = None  # why it was read only in part: damaged, bombed, truncated
    store: dict[str, object] | None = None  # a log store's own stats (runbook.ingest.stores)
    formats: tuple[str, ...] = ()  # a mixed source's formats (runbook.ingest.mixed)


def with_raw(parsed: pl.DataFrame | pl.LazyFrame) -> pl.LazyFrame:
    """Fill `raw` from the record's first line and the matching line where a parser did not."""
    lazy = parsed.lazy()
    names = lazy.collect_schema().names()
    if "raw" in names or "line" not in names:
        return lazy
    head = pl.col("head") if "head" in names else pl.col("line")
    return lazy.with_columns(
        pl.when(head == pl.col("line"))
        .then(pl.col("line"))
        .otherwise(pl.concat_str(head, pl.lit("\n"), pl.col("line")))
        .alias("raw")
    )


class LineCap:
    """Keeps the first MAX_LINE_BYTES of a line that goes on and on, drops the rest as it comes.

    `cut(pending)` trims the unfinished last line held for the next read; `rest(data)` is
    `data` after the rest of a line being cut (None: `data` is all of that rest)."""

    def __init__(self) -> None:
        self.cutting = False
        self.lines_cut = 0

    def rest(self, data: bytes | bytearray, final: bool) -> bytes | bytearray | None:
        if not self.cutting:
            return data
        newline = data.find(b"\n")
        if newline == -1 and not final:
            return None  # still inside the cut line
        self.cutting = False
        return data[newline:] if newline != -1 else b""  # the newline ends the kept part

    def cut(self, pending: bytes) -> bytes:
        last = pending.rfind(b"\n") + 1
        if len(pending) - last <= MAX_LINE_BYTES:
            return pending
        self.cutting = True
        self.lines_cut += 1
        return pending[: last + MAX_LINE_BYTES]


def decode_line(raw: bytes) -> tuple[str, bool]:
    """A line's text (without a trailing CR) and whether it was valid UTF-8 (else replaced)."""
    if raw.endswith(b"\r"):
        raw = raw[:-1]
    try:
        return raw.decode("utf-8"), True
    except UnicodeDecodeError:
        return raw.decode("utf-8", "replace"), False


class SourceScanner:
    """Incremental scanner for one source in one format."""

    def __init__(
        self,
        source: str,
        fmt: LogFormat,
        tz: str = "UTC",
        batch_rows: int = 0,
        *,
        detect_foreign: bool = False,
    ) -> None:
        """`batch_rows`: parse candidate lines once this many have gathered (or at the end),
        not per fed chunk. Planning a parser's polars query costs milliseconds, so a whole
        file is parsed in few large batches; live follow keeps 0 (every feed answers at once).
        `detect_foreign`: stop at the first record another format writes (for a detected
        format; a format the user forced reads everything).
        """
        self.source = source
        self.batch_rows = batch_rows
        self._batch: list[pl.DataFrame] = []
        self._batch_height = 0
        # request lines to count (`LogFormat.tally`), not keep: raw lines or a column of them
        self._tally: list[list[bytes] | pl.Series] = []
        self._tally_count = 0
        self.fmt = fmt
        self._finder = finder(fmt.keywords)
        self.tz = tz
        self.stats = SourceStats(source=source, format=fmt.name)
        self._pending = b""  # an incomplete last line, completed by the next feed
        self._cap = LineCap()  # a line past MAX_LINE_BYTES: its first part is kept
        self._context = b""  # the tail of processed complete lines (for record heads)
        self._lines_done = 0  # complete lines processed so far
        self._multiline = type(fmt).is_record_start is not LogFormat.is_record_start
        # Candidate lines of records that another format writes: the source mixes formats
        # after its first lines (`kubectl logs --all-containers`, `cat a.log b.jsonl`). Once
        # one is seen, the scanner reads no further: its caller must hand over (see
        # `MixedScanner.taking_over`) or read the source again.
        self.foreign_lines = 0
        self._foreign_checks = 0
        self._detect_foreign = detect_foreign and fmt.name != "generic"  # generic knows no line
        self._emitted: list[tuple[int, int]] = []  # (first, last line) of recent events' records

    def resume_at(self, lines: int) -> None:
        """Number the next line `lines + 1`: the input was read up to there before (a resumed
        follow, or a part of a mixed stream that starts further down)."""
        self._lines_done = lines

    @property
    def lines_done(self) -> int:
        """Complete lines scanned so far."""
        return self._lines_done

    @property
    def pending(self) -> bytes:
        """Bytes fed but not scanned yet (a last line without its newline, a held-back record)."""
        return self._pending

    def handed_over(self) -> tuple[bytes, bytes, set[int]]:
        """(the recent complete lines already scanned, the bytes not scanned yet, the line
        numbers among the recent ones that made events), for a `MixedScanner` that routes this
        source's lines from now on. This scanner goes on with the lines routed to it; it holds
        nothing back any more."""
        context, pending = self._context, self._pending
        self._pending = b""
        self.stats.bytes_read -= len(pending)
        first = self._lines_done - context.count(b"\n") + 1
        used = {
            n
            for start, end in self._emitted
            if end >= first
            for n in range(max(start, first), end + 1)
        }
        return context, pending, used

    def prime(self, context: bytes) -> None:
        """Start after `context` (complete lines read before this scanner's first byte)."""
        self._context = context[-CONTEXT_BYTES:]

    def feed(self, data: bytes | bytearray, final: bool = False) -> pl.DataFrame:
        """Scan `data` (any size, any split); returns the events of the complete lines in it.

        `final` says no more data follows: nothing is held back for a continuation then.
        """
        self.stats.bytes_read += len(data)
        rest = self._cap.rest(data, final)
        if rest is None:
            return empty_events()
        data = rest
        offset = len(self._context)
        if offset or self._pending:
            work = b"".join((self._context, self._pending, data))
        else:
            work = bytes(data)
        end = work.rfind(b"\n") + 1
        if final:
            if not work.endswith(b"\n"):
                work += b"\n"
            self._pending = b""
            return self._process(work, offset, len(work), force=True)
        if self._multiline and end > offset:
            # Hold back the last record: its continuation lines may come with the next feed,
            # and a record's lines must reach `parse` together to become one event.
            end = self._last_record_start(work, offset, end)
        if end <= offset:
            self._pending = self._cut(work[offset:])
            return empty_events()
        self._pending = self._cut(work[end:])
        return self._process(work, offset, end)

    def _cut(self, pending: bytes) -> bytes:
        """`pending` with its last, unfinished line cut at MAX_LINE_BYTES."""
        before = self._cap.lines_cut
        cut = self._cap.cut(pending)
        self.stats.lines_cut += self._cap.lines_cut - before
        return cut

    def flush(self) -> pl.DataFrame:
        """Scan the complete lines held back (the last, maybe unfinished, record) now.

        For live follow when the input goes quiet; a later continuation line then forms an
        event of its own, which incident counting still joins to its record.
        """
        if not self._pending:
            return self._drain()
        offset = len(self._context)
        work = self._context + self._pending
        end = work.rfind(b"\n") + 1
        if end <= offset:
            return self._drain()
        self._pending = work[end:]
        return self._process(work, offset, end, force=True)

    def finish(self) -> pl.DataFrame:
        """Scan what remains (the held-back record, a last line without a newline)."""
        if not self._pending:
            return self._drain()
        offset = len(self._context)
        tail = self._pending if self._pending.endswith(b"\n") else self._pending + b"\n"
        work = self._context + tail
        self._pending = b""
        return self._process(work, offset, len(work), force=True)

    def _last_record_start(self, work: bytes, offset: int, end: int) -> int:
        """Where the last record in `work[offset:end]` begins (or `end` if none is near)."""
        line_end = end - 1
        for _ in range(MAX_LOOKBACK_LINES):
            begin = work.rfind(b"\n", offset, line_end) + 1 or offset
            head = work[begin : min(line_end, begin + MAX_LINE_BYTES)]
            if self.fmt.is_record_start(self._decode(head, count=False)):
                return begin
            if begin <= offset:
                return end  # the record began before this region: nothing to hold back
            line_end = begin - 1
        return end

    def document(self, data: bytes) -> pl.DataFrame:
        """Scan a whole input at once, for formats whose records are not lines."""
        self.stats.bytes_read += len(data)
        self.stats.lines_read += data.count(b"\n") + (0 if data.endswith(b"\n") or not data else 1)
        parsed = with_raw(self.fmt.parse_document(data, self.tz)).collect()
        if "malformed" in parsed.columns:  # torn records the format recognised
            self.stats.lines_skipped += int(parsed["malformed"].fill_null(False).sum())
        return self._finish(conform(parsed).collect(), candidates=None)

    # -- internals -------------------------------------------------------------------------

    def _process(self, work: bytes, offset: int, end: int, force: bool = False) -> pl.DataFrame:
        """Scan the complete lines `work[offset:end]`; `work[:offset]` is context only."""
        starts = self._finder.find(work, offset, end)
        foreign = self.foreign_lines
        frame, lines = self._candidates(work, offset, end, starts)
        if self.foreign_lines > foreign:
            # Another format writes these lines: leave them unread for the `MixedScanner`
            # that takes over (or the fresh read) the caller now starts.
            if frame is not None:
                self.stats.candidate_lines -= frame.height
            self._pending = work[offset:end] + self._pending
            return self._drain()
        self._lines_done += lines
        self.stats.lines_read += lines
        if self.fmt.tally_keywords:  # request lines to count: no candidate line, no event
            native = self._finder.name != "python"
            tally = tally_lines(work, offset, end, self.fmt, starts, native)
            if len(tally):
                self._tally.append(tally)
                self._tally_count += len(tally)
        keep_from = max(0, end - CONTEXT_BYTES)
        if keep_from:
            keep_from = work.find(b"\n", keep_from, end) + 1 or end
        self._context = work[keep_from:end]
        if frame is not None:
            self._batch.append(frame)
            self._batch_height += frame.height
        gathered = self._batch_height or self._tally
        if gathered and (
            force
            or self._batch_height >= self.batch_rows
            or self._tally_count >= max(self.batch_rows, TALLY_BATCH_LINES)
        ):
            return self._drain()
        return empty_events()

    def _drain(self) -> pl.DataFrame:
        """Parse the gathered candidate lines, and fold the gathered request lines."""
        counted = self._counted()
        if not self._batch:
            return counted if counted is not None else empty_events()
        frame = self._batch[0] if len(self._batch) == 1 else pl.concat(self._batch)
        self._batch, self._batch_height = [], 0
        events = self._events(frame)
        if counted is None:
            return events
        return pl.concat([events, counted]) if events.height else counted

    def _counted(self) -> pl.DataFrame | None:
        """The gathered request lines as weighted rows (`LogFormat.tally`), or None."""
        if not self._tally:
            return None
        parts = [part if isinstance(part, pl.Series) else self._read_tally(part) for part in self._tally]
        lines = parts[0] if len(parts) == 1 else pl.concat(parts)
        self._tally, self._tally_count = [], 0
        rows, unread = self.fmt.tally(lines, self.tz)
        unusable = rows.filter(out_of_range(pl.col("ts")) | out_of_range(pl.col("ts_end")))
        if unusable.height:  # as `_finish` does for lines: no real log has such a time
            unread += int(unusable["weight"].sum())
            rows = rows.filter(~out_of_range(pl.col("ts")) & ~out_of_range(pl.col("ts_end")))
        self.stats.lines_skipped += unread
        if rows.height == 0:
            return None
        counted = conform(
            rows.with_columns(pl.lit(self.source).alias("source"), pl.lit(self.fmt.name).alias("format"))
        ).collect()
        self.stats.requests_counted += int(counted["weight"].sum())
        return counted

    def _read_tally(self, raw: list[bytes]) -> pl.Series:
        try:
            return pl.Series("line", raw, dtype=pl.Binary).cast(pl.String)
        except pl.exceptions.ComputeError:  # invalid UTF-8: read leniently, as candidate lines are
            return pl.Series("line", [self._decode(line) for line in raw], dtype=pl.String)

    def _candidates(
        self, work: bytes, offset: int, end: int, starts: list[int]
    ) -> tuple[pl.DataFrame | None, int]:
        """The candidate lines as a frame, and how many lines `work[offset:end]` holds.

        Lines are counted once, between candidates and after the last one: one pass in all.
        """
        if not self._multiline and len(starts) >= COLUMN_CANDIDATES and self._finder.name != "python":
            columns = self._record_lines(work, offset, end, starts)
            if columns is not None:
                return columns
        line_nos: list[int] = []
        record_nos: list[int] = []
        lines: list[str] = []
        heads: list[str] = []
        counted_to, line_no = offset, self._lines_done
        is_start = self.fmt.is_record_start
        for start in starts:
            line_no += work.count(b"\n", counted_to, start)
            counted_to = start
            line_end = work.find(b"\n", start, end)
            cut = line_end - start > MAX_LINE_BYTES  # a long line that came whole in one chunk
            if cut:
                self.stats.lines_cut += 1
                line_end = start + MAX_LINE_BYTES
            line = self._decode(work[start:line_end])
            if self._multiline and not cut and line_end != -1 and wants_following(line):
                line = self._read_on(work, line, line_end + 1, end)
            if is_start(line):
                head, record_no = line, line_no + 1
            else:
                head, record_no = self._find_head(work, start, line_no + 1)
            if self._detect_foreign:
                self._check_foreign(line, head)
            line_nos.append(line_no + 1)
            record_nos.append(record_no)
            lines.append(line)
            heads.append(head)
        line_no += work.count(b"\n", counted_to, end)
        if not lines:
            return None, line_no - self._lines_done
        self.stats.candidate_lines += len(lines)
        frame = pl.DataFrame(
            {"line_no": line_nos, "record_no": record_nos, "line": lines, "head": heads},
            schema={"line_no": pl.Int64, "record_no": pl.Int64, "line": pl.String, "head": pl.String},
        )
        return frame, line_no - self._lines_done

    def _record_lines(
        self, work: bytes, offset: int, end: int, starts: list[int]
    ) -> tuple[pl.DataFrame, int] | None:
        """`_candidates` for a format whose every line is a record, a column at a time: an
        access log's 404 lines come by the hundred thousand. None where a line needs the line
        loop's care: invalid UTF-8, a line cut at MAX_LINE_BYTES."""
        find, count = work.find, work.count
        ends = [find(b"\n", start, end) for start in starts]
        if min(ends) == -1 or max(map(operator.sub, ends, starts)) > MAX_LINE_BYTES:
            return None
        try:
            raw = pl.Series("line", list(map(work.__getitem__, map(slice, starts, ends))), dtype=pl.Binary)
            lines = raw.cast(pl.String).str.strip_suffix("\r")
        except pl.exceptions.ComputeError:  # invalid UTF-8
            return None
        gaps = [count(b"\n", a, b) for a, b in zip([offset, *starts], starts, strict=False)]
        line_nos = list(itertools.accumulate(gaps, initial=self._lines_done + 1))[1:]
        if self._detect_foreign:
            first = self._foreign_checks
            self._foreign_checks += len(starts)
            for index, check in enumerate(range(first + 1, self._foreign_checks + 1)):
                if check <= FOREIGN_CHECKS or check % FOREIGN_EVERY == 0:
                    line = lines[index]
                    self._foreign(line, line)
        self.stats.candidate_lines += len(starts)
        frame = pl.DataFrame(
            {"line_no": line_nos, "record_no": line_nos, "line": lines, "head": lines.alias("head")},
            schema={"line_no": pl.Int64, "record_no": pl.Int64, "line": pl.String, "head": pl.String},
        )
        lines_in = line_nos[-1] - 1 + count(b"\n", starts[-1], end) - self._lines_done
        return frame, lines_in

    def _read_on(self, work: bytes, line: str, pos: int, end: int) -> str:
        """`line` joined with the lines of its record after it when an error body's wording
        goes on there (see `parsers.error_body.joined_wording`); else `line` as it is."""
        following: list[str] = []
        while pos < end and len(following) < FOLLOW_LINES:
            stop = work.find(b"\n", pos, end)
            stop = end if stop == -1 else stop
            text = self._decode(work[pos : min(stop, pos + MAX_LINE_BYTES)], count=False)
            if self.fmt.is_record_start(text):
                break
            following.append(text)
            pos = stop + 1
        return (joined_wording(line, following) if following else None) or line

    def _find_head(self, work: bytes, start: int, line_no: int) -> tuple[str, int]:
        """Walk back from a continuation line to the first line of its record."""
        end = start - 1
        for back in range(1, MAX_LOOKBACK_LINES + 1):
            if end < 0:
                break
            begin = work.rfind(b"\n", 0, end) + 1
            line = self._decode(work[begin : min(end, begin + MAX_LINE_BYTES)], count=False)
            if self.fmt.is_record_start(line):
                return line, line_no - back
            end = begin - 1
        # No record start in reach: the line stands alone.
        line_end = work.find(b"\n", start)
        return self._decode(work[start : min(line_end, start + MAX_LINE_BYTES)], count=False), line_no

    def _decode(self, raw: bytes, count: bool = True) -> str:
        text, valid = decode_line(raw)
        if count and not valid:
            self.stats.invalid_utf8_lines += 1
        return text

    def _events(self, candidates: pl.DataFrame) -> pl.DataFrame:
        parsed = with_raw(self.fmt.parse(candidates, self.tz)).collect()
        malformed: list[int] = []
        if "malformed" in parsed.columns:  # lines a parser recognised as broken records
            malformed = parsed.filter(pl.col("malformed").fill_null(False))["line_no"].to_list()
        return self._finish(conform(parsed).collect(), candidates, malformed)

    def _check_foreign(self, line: str, head: str) -> None:
        """Count a candidate line when another format writes it or its record's first line.
        Asked of the first candidates, then of one in `FOREIGN_EVERY`: a change of format
        lasts."""
        self._foreign_checks += 1
        if self._foreign_checks > FOREIGN_CHECKS and self._foreign_checks % FOREIGN_EVERY:
            return
        self._foreign(line, head)

    def _foreign(self, line: str, head: str) -> None:
        """Count the line when another format writes it or its record's first line."""
        own = {self.fmt.name, *self.fmt.includes}
        for text in (head, line) if head != line else (line,):
            if self.fmt.sniff([text]) > 0:
                continue
            other = line_format(text)
            if other is not None and other.name not in own:
                self.foreign_lines += 1
                return

    def _finish(
        self, parsed: pl.DataFrame, candidates: pl.DataFrame | None, malformed: list[int] | None = None
    ) -> pl.DataFrame:
        events = parsed.filter(pl.col("kind").is_not_null())
        # A time no real log has (year 0, 9999, an epoch in the wrong unit) makes the line
        # unusable: skipped and counted, never carried into the datetime arithmetic downstream.
        unusable = events.filter(out_of_range(pl.col("ts")))
        if unusable.height:
            events = events.filter(~out_of_range(pl.col("ts")))
            if candidates is None:
                self.stats.lines_skipped += unusable.height
        if candidates is not None:
            # A candidate line is skipped when nothing came of its record (a line merged into
            # its record's event was used, not skipped).
            kept = events["record_no"].unique().to_list() if events.height else []
            skipped = candidates.filter(
                ~pl.col("record_no").is_in(kept) | pl.col("line_no").is_in(malformed or [])
            )
            self.stats.lines_skipped += skipped.height

        if events.height == 0:
            return empty_events()
        events = events.with_columns(
            pl.lit(self.source).alias("source"),
            pl.lit(self.fmt.name).alias("format"),
            redact_expr(pl.col("message")),
            redact_expr(pl.col("raw").str.slice(0, RAW_MAX_CHARS)),
        )
        self.stats.events += events.height
        spans = events.select(pl.col("record_no").fill_null(pl.col("line_no")), "line_no")
        self._emitted = self._emitted[-RECENT_EVENTS:] + list(spans.iter_rows())
        return events.select(EVENT_COLUMNS)
