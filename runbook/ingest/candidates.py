"""Find the candidate lines of a region of bytes: the lines that hold a format's keywords.

Two engines give the same answer. Hyperscan (in-process, SIMD, the GIL released while it
scans) searches every keyword of a format in one pass; the plain engine runs `bytes.find` once
per keyword under the GIL. The plain one serves when the `hyperscan` package is not installed or
`PGRST_RUNBOOK_SEARCH=python` asks for it.

A region is `work[offset:end]`, complete lines only (it ends with a newline or at `end`), and
`offset` is a line start. Hyperscan reports one match per line and keyword group: each pattern
is `(?:k1|k2|...)[^\\n]*\\n`, whose matches end at the line's newline, and one end offset is
reported once per pattern however many keywords the line holds.
"""

from __future__ import annotations

import functools
import os
import threading
from typing import Any, Protocol

import polars as pl

from parsers.base import LogFormat

SEARCH_ENV = "PGRST_RUNBOOK_SEARCH"  # "python": the plain engine even when Hyperscan is there


class LineFinder(Protocol):
    name: str

    def find(self, work: bytes, offset: int, end: int) -> list[int]:
        """The start of each candidate line of `work[offset:end]`, ascending."""
        ...


class PlainFinder:
    """`bytes.find` per keyword: the engine every Python has."""

    name = "python"

    def __init__(self, keywords: tuple[bytes, ...]) -> None:
        self.keywords = keywords

    def find(self, work: bytes, offset: int, end: int) -> list[int]:
        starts: set[int] = set()
        for keyword in self.keywords:
            hit = work.find(keyword, offset, end)
            while hit != -1:
                starts.add(work.rfind(b"\n", offset, hit) + 1 or offset)
                line_end = work.find(b"\n", hit, end)
                hit = work.find(keyword, line_end + 1, end) if line_end != -1 else -1
        return sorted(starts)


def _pattern(keywords: tuple[bytes, ...]) -> bytes:
    """Any of `keywords` (matched byte for byte), then the rest of its line and the newline."""
    alternatives = b"|".join(b"".join(b"\\x%02x" % byte for byte in keyword) for keyword in keywords)
    return b"(?:" + alternatives + b")[^\\n]*\\n"


class HyperscanFinder:
    """Every keyword in one Hyperscan pass; one scratch space per thread."""

    name = "hyperscan"

    def __init__(self, keywords: tuple[bytes, ...]) -> None:
        import hyperscan

        self._hs: Any = hyperscan
        self._db: Any = hyperscan.Database(mode=hyperscan.HS_MODE_BLOCK)
        self._db.compile(expressions=[_pattern(keywords)], ids=[0], flags=[0])
        self._local = threading.local()
        self._plain = PlainFinder(keywords)

    def _scratch(self) -> Any:
        scratch = getattr(self._local, "scratch", None)
        if scratch is None:
            scratch = self._local.scratch = self._hs.Scratch(self._db)
        return scratch

    def find(self, work: bytes, offset: int, end: int) -> list[int]:
        if end <= offset:
            return []
        if work[end - 1] != 0x0A:  # a last line without newline: no pattern ends there
            return self._plain.find(work, offset, end)
        ends: list[int] = []
        gather = ends.append

        def matched(_id: int, _from: int, to: int, _flags: int, _context: object) -> None:
            gather(to)

        self._db.scan(memoryview(work)[offset:end], match_event_handler=matched, scratch=self._scratch())
        rfind = work.rfind
        # A match ends just past its line's newline, one match a line.
        return sorted({rfind(b"\n", offset, offset + to - 1) + 1 or offset for to in ends})


TALLY_PIECE_BYTES = 2 * 1024 * 1024
# polars' reader pays where tally lines are many: twice as fast as the line loop at one line in
# two, as fast at one in ten, and its buffers cost ~50 MiB more of peak memory either way.
TALLY_DENSE_SHARE = 0.25


def _dense(work: bytes, offset: int, end: int, fmt: LogFormat) -> bool:
    """Whether at least TALLY_DENSE_SHARE of the lines of `work[offset:end]` are tally lines
    (counted by their keywords, at C speed)."""
    hits = sum(work.count(keyword, offset, end) for keyword in fmt.tally_keywords)
    return hits >= TALLY_DENSE_SHARE * (work.count(b"\n", offset, end) + 1)


def _readable_by_polars(work: bytes, offset: int, end: int) -> bool:
    """Whether polars' reader cuts `work[offset:end]` into exactly its raw lines."""
    return (
        work.find(b"\r", offset, end) == -1
        and work.find(b"\x00", offset, end) == -1
        and not work.startswith(b"\xef\xbb\xbf", offset)
    )


def tally_lines(
    work: bytes, offset: int, end: int, fmt: LogFormat, starts: list[int], native: bool
) -> list[bytes] | pl.Series:
    """The lines of `work[offset:end]` that hold a tally keyword of `fmt` and are no candidate
    line (those start at `starts`): as raw lines, or (`native`, and many of them) a string column
    cut by polars' reader in native threads, where a line loop in Python cost ~1 s per 100 MB of
    an access log of one write in two.
    The column is taken only where it equals the raw lines: no CR (the reader drops it before a
    newline), no NUL (its column separator), no BOM (it drops one), valid UTF-8 (else it
    refuses). Order does not matter: tallies are counted by key."""
    if native and end > offset and _dense(work, offset, end, fmt) and _readable_by_polars(work, offset, end):
        pieces: list[pl.Series] = []
        piece = offset
        while piece < end:  # a few MiB at a time: the reader's buffers grow with its input
            stop = work.rfind(b"\n", piece, min(end, piece + TALLY_PIECE_BYTES)) + 1 or end
            try:
                lines = pl.read_csv(
                    work[piece:stop], has_header=False, separator="\x00", quote_char=None,
                    new_columns=["line"], schema={"line": pl.String},
                ).to_series()
            except pl.exceptions.PolarsError:  # invalid UTF-8: the raw lines, read leniently
                pieces = []
                break
            pieces.append(_requests(lines, fmt))
            piece = stop
        else:
            return pieces[0] if len(pieces) == 1 else pl.concat(pieces)
    if fmt.tally_every_line:  # nearly every line is a request: split and sort out at C speed
        return _request_lines(work[offset:end], fmt)
    taken = set(starts)
    find, rfind = work.find, work.rfind  # the loop runs per line
    gathered: list[bytes] = []
    for keyword in fmt.tally_keywords:
        hit = find(keyword, offset, end)
        while hit != -1:
            start = rfind(b"\n", offset, hit) + 1 or offset
            line_end = find(b"\n", hit, end)
            if line_end == -1:
                line_end = end
            if start not in taken:
                taken.add(start)
                gathered.append(work[start:line_end])
            hit = find(keyword, line_end + 1, end)
    return gathered


def _request_lines(chunk: bytes, fmt: LogFormat) -> list[bytes] | pl.Series:
    """The lines of `chunk` that hold a tally keyword and no candidate keyword, sorted out by
    polars on the split lines (a line loop in Python only where a line is invalid UTF-8)."""
    raw = chunk.split(b"\n")
    try:
        lines = pl.Series("line", raw, dtype=pl.Binary).cast(pl.String)
    except pl.exceptions.ComputeError:  # invalid UTF-8: the raw lines, read leniently later
        return [
            line
            for line in raw
            if any(k in line for k in fmt.tally_keywords) and not any(k in line for k in fmt.keywords)
        ]
    return _requests(lines, fmt)


def _requests(lines: pl.Series, fmt: LogFormat) -> pl.Series:
    """The lines that hold a tally keyword of `fmt` and none of its candidate keywords."""
    tally = lines.str.contains_any([k.decode() for k in fmt.tally_keywords])
    return lines.filter(tally & ~lines.str.contains_any([k.decode() for k in fmt.keywords]))


@functools.cache
def native_available() -> bool:
    """Whether Hyperscan can be loaded here (a wheel for this platform, a CPU it supports)."""
    try:
        HyperscanFinder((b"PGRST",))
    except Exception:  # no wheel for this platform, a CPU it does not support: the plain engine
        return False
    return True


def engine_name() -> str:
    """The engine scans use: "hyperscan", or "python" when it is missing or not wanted."""
    if os.environ.get(SEARCH_ENV, "").strip().lower() == "python" or not native_available():
        return "python"
    return "hyperscan"


def finder(keywords: tuple[bytes, ...]) -> LineFinder:
    """A finder for these keywords with the engine in use (compiled once per keyword set)."""
    return _finder(engine_name(), keywords)


@functools.cache
def _finder(engine: str, keywords: tuple[bytes, ...]) -> LineFinder:
    if engine == "hyperscan" and keywords:
        return HyperscanFinder(keywords)
    return PlainFinder(keywords)
