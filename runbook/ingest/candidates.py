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
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

SEARCH_ENV = "PGRST_RUNBOOK_SEARCH"  # "python": the plain engine even when Hyperscan is there


@dataclass
class Hits:
    """What a region holds: the start of each candidate line (ascending), and the (start, end)
    of each tally line (holding a tally keyword, no candidate line) in the order they are
    gathered: keyword by keyword, each by position."""

    starts: list[int]
    tally: list[tuple[int, int]]


class LineFinder(Protocol):
    name: str

    def find(self, work: bytes, offset: int, end: int) -> Hits: ...


class PlainFinder:
    """`bytes.find` per keyword: the engine every Python has."""

    name = "python"

    def __init__(self, keywords: tuple[bytes, ...], tally_keywords: tuple[bytes, ...]) -> None:
        self.keywords = keywords
        self.tally_keywords = tally_keywords

    def find(self, work: bytes, offset: int, end: int) -> Hits:
        starts = sorted(self._starts(work, offset, end))
        return Hits(starts, self._tally(work, offset, end, starts) if self.tally_keywords else [])

    def _starts(self, work: bytes, offset: int, end: int) -> set[int]:
        starts: set[int] = set()
        for keyword in self.keywords:
            hit = work.find(keyword, offset, end)
            while hit != -1:
                starts.add(work.rfind(b"\n", offset, hit) + 1 or offset)
                line_end = work.find(b"\n", hit, end)
                hit = work.find(keyword, line_end + 1, end) if line_end != -1 else -1
        return starts

    def _tally(self, work: bytes, offset: int, end: int, starts: list[int]) -> list[tuple[int, int]]:
        taken = set(starts)
        find, rfind = work.find, work.rfind  # the loop runs per line
        spans: list[tuple[int, int]] = []
        for keyword in self.tally_keywords:
            hit = find(keyword, offset, end)
            while hit != -1:
                start = rfind(b"\n", offset, hit) + 1 or offset
                line_end = find(b"\n", hit, end)
                if line_end == -1:
                    line_end = end
                if start not in taken:
                    taken.add(start)
                    spans.append((start, line_end))
                hit = find(keyword, line_end + 1, end)
        return spans


def _pattern(keywords: tuple[bytes, ...]) -> bytes:
    """Any of `keywords` (matched byte for byte), then the rest of its line and the newline."""
    alternatives = b"|".join(b"".join(b"\\x%02x" % byte for byte in keyword) for keyword in keywords)
    return b"(?:" + alternatives + b")[^\\n]*\\n"


class HyperscanFinder:
    """Every keyword in one Hyperscan pass; one scratch space per thread."""

    name = "hyperscan"

    def __init__(self, keywords: tuple[bytes, ...], tally_keywords: tuple[bytes, ...]) -> None:
        import hyperscan

        self._hs: Any = hyperscan
        # id 0: the candidate keywords together; id 1 + i: tally keyword i on its own, so that
        # tally lines are gathered keyword by keyword as the plain engine does.
        groups = [keywords, *((keyword,) for keyword in tally_keywords)]
        self._groups = len(groups)
        self._db: Any = hyperscan.Database(mode=hyperscan.HS_MODE_BLOCK)
        self._db.compile(
            expressions=[_pattern(group) for group in groups],
            ids=list(range(len(groups))),
            flags=[0] * len(groups),
        )
        self._local = threading.local()
        self._plain = PlainFinder(keywords, tally_keywords)

    def _scratch(self) -> Any:
        scratch = getattr(self._local, "scratch", None)
        if scratch is None:
            scratch = self._local.scratch = self._hs.Scratch(self._db)
        return scratch

    def find(self, work: bytes, offset: int, end: int) -> Hits:
        if end > offset and work[end - 1] != 0x0A:  # a last line without newline: no pattern ends there
            return self._plain.find(work, offset, end)
        ends: list[list[int]] = [[] for _ in range(self._groups)]
        gather: list[Callable[[int], None]] = [found.append for found in ends]

        def matched(group: int, _from: int, to: int, _flags: int, _context: object) -> None:
            gather[group](to)

        if end > offset:
            self._db.scan(memoryview(work)[offset:end], match_event_handler=matched, scratch=self._scratch())
        rfind = work.rfind
        # A match ends just past its line's newline.
        starts = sorted({rfind(b"\n", offset, offset + to - 1) + 1 or offset for to in ends[0]})
        tally: list[tuple[int, int]] = []
        if self._groups > 1:
            taken = set(starts)
            for group in ends[1:]:
                for to in group:
                    line_end = offset + to - 1
                    start = rfind(b"\n", offset, line_end) + 1 or offset
                    if start not in taken:
                        taken.add(start)
                        tally.append((start, line_end))
        return Hits(starts, tally)


@functools.cache
def native_available() -> bool:
    """Whether Hyperscan can be loaded here (a wheel for this platform, a CPU it supports)."""
    try:
        HyperscanFinder((b"PGRST",), ())
    except Exception:  # no wheel for this platform, a CPU it does not support: the plain engine
        return False
    return True


def engine_name() -> str:
    """The engine scans use: "hyperscan", or "python" when it is missing or not wanted."""
    if os.environ.get(SEARCH_ENV, "").strip().lower() == "python" or not native_available():
        return "python"
    return "hyperscan"


def finder(keywords: tuple[bytes, ...], tally_keywords: tuple[bytes, ...] = ()) -> LineFinder:
    """A finder for these keywords with the engine in use (compiled once per keyword set)."""
    return _finder(engine_name(), keywords, tally_keywords)


@functools.cache
def _finder(engine: str, keywords: tuple[bytes, ...], tally_keywords: tuple[bytes, ...]) -> LineFinder:
    if engine == "hyperscan" and keywords:
        return HyperscanFinder(keywords, tally_keywords)
    return PlainFinder(keywords, tally_keywords)
