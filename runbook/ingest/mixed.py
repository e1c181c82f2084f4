"""One stream that carries several log formats: each record goes to the format it is written in.

`cat app.jsonl postgres.csv access.log | pgrst-runbook scan -`, `kubectl logs --all-containers`,
an unprefixed `docker compose logs` and journald all give one stream whose lines come from
different programs. Judging every line by the format of the first few hundred would drop the
rest, so when the first lines of a source already show several formats (`mixed_formats`), a
`MixedScanner` reads it instead of a `SourceScanner`:

- every line that a format recognises on its own (`LogFormat.sniff([line])`) starts a record of
  that format; a line that none recognises (a traceback, the body of a pretty-printed object, a
  quoted newline of a CSV field) continues the record above it;
- each line format has its own `SourceScanner`, fed the stream's bytes with the other formats'
  lines blanked out, so line numbers stay those of the stream and a record's continuation lines
  stay next to their first line;
- a run of lines of a whole-file format (a csvlog or Supabase export inside the stream) is
  parsed as one document when the run ends, its line numbers shifted to the stream's.

Events carry the format that produced them; the source's stats name every format seen.
"""

from __future__ import annotations

from typing import ClassVar

import polars as pl

from parsers.base import LogFormat
from parsers.registry import line_format
from runbook.events import concat_events, empty_events
from runbook.ingest.scanner import MAX_LINE_BYTES, LineCap, SourceScanner, SourceStats, decode_line

MIXED = "mixed"
MIN_LINES = 2  # lines a second format needs among the first ones before a stream counts as mixed
# A run of a whole-file format (csvlog, a Supabase export) is parsed as one document when it
# ends; past this size it is parsed at its next record start, so memory stays bounded.
MAX_RUN_BYTES = 8 * 1024 * 1024


class MixedFormat(LogFormat):
    """What a mixed source's scanner reports as its format (its parts are in `stats.formats`)."""

    name: ClassVar[str] = MIXED
    description: ClassVar[str] = "several formats in one stream, told apart record by record"


def mixed_formats(lines: list[str], formats: list[LogFormat]) -> list[LogFormat]:
    """The formats of a source's first lines when more than one format writes them, else [].

    A file that one format reads whole (PostgREST's stderr and access log in one docker log,
    a csvlog with quoted newlines) is not mixed: only when the best single format covers less
    than the lines recognised one by one do the parts differ.
    """
    seen: dict[str, tuple[LogFormat, int]] = {}
    for line in lines:
        fmt = line_format(line, formats)
        if fmt is not None:
            seen[fmt.name] = (fmt, seen.get(fmt.name, (fmt, 0))[1] + 1)
    parts = [fmt for fmt, count in seen.values() if count >= MIN_LINES]
    if len(parts) < 2:
        return []
    recognised = sum(count for _, count in seen.values())
    best = max(fmt.sniff(lines) for fmt in formats)
    considered = sum(1 for line in lines if line.strip())
    return parts if best * considered < recognised * 0.95 else []


class MixedScanner:
    """Scans one source whose records come in several formats; the interface of `SourceScanner`."""

    fmt: LogFormat = MixedFormat()

    def __init__(
        self, source: str, formats: list[LogFormat], tz: str = "UTC", batch_rows: int = 0
    ) -> None:
        self.source = source
        self.tz = tz
        self._formats = [f for f in formats if f.name != "generic"]
        self._generic = next(f for f in formats if f.name == "generic")
        self._scanners: dict[str, SourceScanner] = {}
        self._batch_rows = batch_rows
        self._pending = b""
        self._cap = LineCap()  # a line past MAX_LINE_BYTES: its first part is kept
        self._lines_done = 0
        self._bytes_read = 0
        self._invalid_utf8 = 0
        self._current: LogFormat | None = None  # the format of the record being read
        self._run: list[bytes] = []  # lines of the whole-file format being collected
        self._run_bytes = 0
        self._run_start = 0  # stream line number (0-based) of the run's first line
        self._documents: list[SourceStats] = []  # stats of the whole-file runs parsed so far
        self._document_events = 0
        self._owned: set[str] = set()  # formats that recognised at least one line
        self._again: list[pl.DataFrame] = []  # events of lines read again when taking over

    @classmethod
    def taking_over(cls, scanner: SourceScanner, formats: list[LogFormat]) -> MixedScanner:
        """Go on where `scanner` (one format) is, once it has met lines of other formats.

        Its recent lines (the context it keeps for record heads) are read again for the other
        formats only: what it skipped there is not lost, and nothing it read counts twice.
        Lines of other formats further back are counted in its `lines_skipped`.
        """
        mixed = cls(scanner.source, formats, scanner.tz, scanner.batch_rows)
        mixed._bytes_read = scanner.stats.bytes_read
        mixed._invalid_utf8 = scanner.stats.invalid_utf8_lines
        context, mixed._pending, used = scanner.handed_over()
        mixed._lines_done = scanner.lines_done - context.count(b"\n")
        mixed._scanners[scanner.fmt.name] = scanner
        mixed._owned.add(scanner.fmt.name)
        mixed._again = mixed._route(context, already=scanner.fmt.name, used=used)
        return mixed

    @property
    def batch_rows(self) -> int:
        return self._batch_rows

    @batch_rows.setter
    def batch_rows(self, rows: int) -> None:
        self._batch_rows = rows
        for scanner in self._scanners.values():
            scanner.batch_rows = rows

    @property
    def lines_done(self) -> int:
        return self._lines_done

    def resume_at(self, lines: int) -> None:
        """Number the next line `lines + 1` (a resumed follow)."""
        self._lines_done = lines

    @property
    def held_bytes(self) -> int:
        """Bytes fed but not scanned yet: an unfinished line, a whole-file run being collected."""
        return len(self._pending) + self._run_bytes

    @property
    def stats(self) -> SourceStats:
        parts = [s.stats for s in self._scanners.values()] + self._documents
        names = sorted({s.format for s in parts if s.format in self._owned or s.candidate_lines})
        return SourceStats(
            source=self.source,
            format=MIXED,
            bytes_read=self._bytes_read,
            lines_read=self._lines_done,
            candidate_lines=sum(s.candidate_lines for s in parts),
            lines_skipped=sum(s.lines_skipped for s in parts),
            invalid_utf8_lines=self._invalid_utf8,
            lines_cut=self._cap.lines_cut + sum(s.lines_cut for s in parts),
            events=sum(s.stats.events for s in self._scanners.values()) + self._document_events,
            requests_counted=sum(s.stats.requests_counted for s in self._scanners.values()),
            formats=tuple(names),
        )

    def prime(self, context: bytes) -> None:
        """Mixed sources are read from their start only (never split across processes)."""

    def document(self, data: bytes) -> pl.DataFrame:
        return self.feed(data, final=True)

    def feed(self, data: bytes | bytearray, final: bool = False) -> pl.DataFrame:
        self._bytes_read += len(data)
        rest = self._cap.rest(data, final)
        if rest is None:
            return empty_events()
        work = self._pending + bytes(rest) if self._pending else bytes(rest)
        end = len(work) if final else work.rfind(b"\n") + 1
        self._pending = self._cap.cut(work[end:])
        frames = self._route(work[:end])
        if self._again:
            frames, self._again = self._again + frames, []
        if final:
            frames.extend(self._finish_all())
        return concat_events(frames)

    def flush(self) -> pl.DataFrame:
        frames = [scanner.flush() for scanner in self._scanners.values()]
        frames, self._again = self._again + frames, []
        return concat_events(frames)

    def finish(self) -> pl.DataFrame:
        frames = self._route(self._pending) if self._pending else []
        frames, self._again = self._again + frames, []
        self._pending = b""
        frames.extend(self._finish_all())
        return concat_events(frames)

    # -- internals -------------------------------------------------------------------------

    def _route(
        self, block: bytes, already: str | None = None, used: set[int] | None = None
    ) -> list[pl.DataFrame]:
        """Hand every complete line of `block` to the scanner of its record's format; the
        scanner of `already` has read these lines and gets none of them, nor does anyone get
        the lines (numbered from 1) in `used`: they made events already."""
        if not block:
            return []
        lines = block.split(b"\n")
        if lines and lines[-1] == b"":
            lines.pop()
        block_start = self._lines_done
        outputs: dict[str, list[bytes]] = {
            name: [] for name in self._scanners if name != already
        }
        frames: list[pl.DataFrame] = []
        for raw in lines:
            fmt = line_format(self._decode(raw[:MAX_LINE_BYTES]), self._formats)
            recognised = fmt is not None
            if fmt is not None:
                self._owned.add(fmt.name)
            else:
                fmt = self._current or self._generic
            if self._run and (fmt is not self._current or (recognised and self._run_bytes > MAX_RUN_BYTES)):
                frames.append(self._end_run())
            if fmt.whole_file:
                if not self._run:
                    self._run_start = self._lines_done
                self._run.append(raw)
                self._run_bytes += len(raw) + 1
                owner: str | None = None
            else:
                owner = fmt.name
                if owner not in outputs and owner != already:
                    self._scanner(fmt, block_start)
                    outputs[owner] = [b""] * (self._lines_done - block_start)
            self._current = fmt
            if used and self._lines_done + 1 in used:
                owner = None
            for name, out in outputs.items():
                out.append(raw if name == owner else b"")
            self._lines_done += 1
        for name, out in outputs.items():
            if out:
                frames.append(self._scanners[name].feed(b"\n".join(out) + b"\n"))
        return frames

    def _scanner(self, fmt: LogFormat, lines_before: int) -> SourceScanner:
        """A new scanner for `fmt` that numbers its lines after the stream's `lines_before`
        lines before this block (the lines of the block so far are blanked by the caller)."""
        scanner = SourceScanner(self.source, fmt, self.tz, batch_rows=self._batch_rows)
        scanner.resume_at(lines_before)
        self._scanners[fmt.name] = scanner
        return scanner

    def _end_run(self) -> pl.DataFrame:
        """Parse the collected lines of a whole-file format as one document."""
        fmt = self._current
        data = b"\n".join(self._run) + b"\n"
        self._run, self._run_bytes = [], 0
        if fmt is None:
            return empty_events()
        scanner = SourceScanner(self.source, fmt, self.tz)
        events = scanner.document(data)
        self._documents.append(scanner.stats)
        self._document_events += events.height
        if events.height:
            shift = self._run_start
            events = events.with_columns(
                pl.col("line_no") + shift,
                pl.col("record_no") + shift,
            )
        return events

    def _finish_all(self) -> list[pl.DataFrame]:
        frames = [self._end_run()] if self._run else []
        frames.extend(scanner.finish() for scanner in self._scanners.values())
        return frames

    def _decode(self, raw: bytes) -> str:
        text, valid = decode_line(raw)
        self._invalid_utf8 += not valid
        return text
