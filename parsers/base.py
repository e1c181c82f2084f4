"""What a log format is, seen from the scanner.

A format knows three things about its input:
- `keywords`: literal byte strings; a line containing none of them can never be an event of
  this format. The scanner finds candidate lines with them on raw bytes (C-speed `bytes.find`),
  so the rest of the file is never split into lines, decoded or touched by Python.
- `is_record_start(line)`: whether a line begins a record. Continuation lines (a traceback, the
  body of a pretty-printed object) belong to the record above and take its timestamp.
- `parse(candidates)`: turn the candidate lines into events, in polars, over whole columns.

The scanner hands `parse` a frame with `line_no`, `record_no`, `line` (the candidate line) and
`head` (the first line of its record; equal to `line` for one-line records), and conforms what
comes back to the event schema (`runbook.events`). `parse` returns the candidate frame with
event columns added (keep `line` and `head`: `raw` is built from them when a parser sets none).
A parser may add a boolean `malformed` column for lines it recognised as broken records (a cut
JSON object): they are counted in `lines_skipped`, as are candidate lines whose whole record
yielded no event.

A format whose lines are requests (an access log) may also set `tally_keywords` and implement
`tally(lines)`: lines holding one of those keywords (and none of `keywords`) are not events of
their own but counted, batch by batch, into weighted rows (a request line it cannot read is
counted in `lines_skipped`) (`weight` requests between `ts` and
`ts_end`), so that a log of millions of successful requests costs counters, not rows. A format
whose lines are nearly all requests sets `tally_every_line`: the scanner then splits the bytes
into lines at C speed and offers `tally` every line that is no candidate line, instead of
cutting each line out at a keyword hit (a Python step per line).

Formats whose records are not lines (a JSON array export, CSV with quoted newlines) set
`whole_file = True` and implement `parse_document(data, tz)` instead: the scanner hands them the
whole (decompressed) input and polars reads it natively.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import ClassVar

import polars as pl

# Keywords every format shares: what a PostgREST schema-cache error looks like wherever an
# application logged it (both PGRST204 wordings, the family, PostgreSQL 42703/42P01, and those
# two codes alone: an error body logged by its fields, with its message dropped).
ERROR_KEYWORDS: tuple[bytes, ...] = (b"PGRST", b"chema cache", b"does not exist", b"42703", b"42P01")


@dataclass(frozen=True)
class Sample:
    """A sample line a format must recognise, with what parsing it must yield (a subset)."""

    lines: tuple[str, ...]
    expect: dict[str, object] = field(default_factory=dict)


class LogFormat:
    """Base class: one subclass per format, registered in `parsers.registry.FORMATS`."""

    name: ClassVar[str] = "base"
    description: ClassVar[str] = ""
    keywords: ClassVar[tuple[bytes, ...]] = ERROR_KEYWORDS
    tally_keywords: ClassVar[tuple[bytes, ...]] = ()  # request lines counted, not kept (`tally`)
    tally_every_line: ClassVar[bool] = False  # offer `tally` every non-candidate line
    # Lines used by the parametrized sample test (tests/parsers/test_samples.py).
    samples: ClassVar[tuple[Sample, ...]] = ()
    whole_file: ClassVar[bool] = False
    # Formats whose lines this one reads too (a docker log holds PostgREST's stderr and access
    # lines): such lines are its own, not another format's, when a stream is judged mixed.
    includes: ClassVar[tuple[str, ...]] = ()

    def sniff(self, lines: list[str]) -> float:
        """Share (0..1) of the non-empty `lines` (the start of a file) this format recognises."""
        raise NotImplementedError

    def is_record_start(self, line: str) -> bool:
        """True when `line` begins a new record. Default: every line is a record."""
        return True

    def parse(self, candidates: pl.DataFrame, tz: str = "UTC") -> pl.DataFrame | pl.LazyFrame:
        """Events from candidate lines (columns `line_no`, `record_no`, `line`, `head`).

        `tz` is the zone of timestamps that carry none (`--tz`); output `ts` is UTC.
        """
        raise NotImplementedError


    def tally(self, lines: pl.Series, tz: str = "UTC") -> tuple[pl.DataFrame, int]:
        """Weighted event rows (`weight`, `ts`, `ts_end`, ...) counting `lines` (a String series
        of lines holding a `tally_keywords` keyword), and how many of them were requests it
        could not read (the scanner counts those in `lines_skipped`)."""
        raise NotImplementedError

    def parse_document(self, data: bytes, tz: str = "UTC") -> pl.DataFrame | pl.LazyFrame:
        """Events from a whole input, for `whole_file` formats. Columns as for `parse`, plus
        `line_no`/`record_no` where the format knows them."""
        raise NotImplementedError


def share(lines: list[str], predicate: Callable[[str], object]) -> float:
    """The share of non-empty lines for which `predicate(line)` is true."""
    considered = [line for line in lines if line.strip()]
    if not considered:
        return 0.0
    return sum(1 for line in considered if predicate(line)) / len(considered)
