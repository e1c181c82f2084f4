"""Log excerpts around an incident: the lines support asks for, read back from the sources.

`incident_lines(incident)` lists the (source, line) places a scan document cites for one
incident (sample errors, migrations, renames, reloads and loads); `excerpt(places)` reads a few
lines either side of each, merging overlapping windows, from plain or compressed (gzip, bzip2,
zstd) files. Nothing is redacted here: callers pass the text through `runbook.redact.redact`.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from runbook.ingest.sources import damage_of, decompressing

BEFORE = 5
AFTER = 5
MAX_LINE = 2000  # characters kept of one line (a 4 KB Telegram update stays readable)
MAX_WINDOWS = 40  # per source


@dataclass(frozen=True)
class Window:
    source: str
    start: int  # 1-based, inclusive
    end: int
    marks: frozenset[int]  # the cited lines


def incident_lines(incident: Mapping[str, Any]) -> list[tuple[str, int]]:
    """(source, line) places an incident of `scan --format json` cites, in document order."""
    places: list[tuple[str, int]] = []

    def add(ref: Any) -> None:
        if isinstance(ref, Mapping) and ref.get("source") and isinstance(ref.get("line_no"), int):
            places.append((str(ref["source"]), int(ref["line_no"])))

    for sample in incident.get("samples") or []:
        add(sample)
    ctx = incident.get("context") or {}
    for key in ("migration_before", "first_load_after_first_error", "last_load"):
        add(ctx.get(key))
    for key in ("migrations", "renames", "reloads"):
        for ref in ctx.get(key) or []:
            add(ref)
    return list(dict.fromkeys(places))


def windows(
    places: Iterable[tuple[str, int]], before: int = BEFORE, after: int = AFTER
) -> list[Window]:
    """Merge the places into non-overlapping windows per source."""
    by_source: dict[str, list[int]] = {}
    for source, line in places:
        by_source.setdefault(source, []).append(line)
    out: list[Window] = []
    for source, lines in by_source.items():
        merged: list[list[int]] = []
        for line in sorted(set(lines)):
            lo, hi = max(1, line - before), line + after
            if merged and lo <= merged[-1][1] + 1:
                merged[-1][1] = max(merged[-1][1], hi)
                merged[-1].append(line)
            else:
                merged.append([lo, hi, line])
        for lo, hi, *marks in merged[:MAX_WINDOWS]:
            out.append(Window(source, lo, hi, frozenset(marks)))
    return out


def read_window(window: Window) -> list[tuple[int, str]] | None:
    """(line number, text) of a window, or None when the source cannot be read."""
    path = Path(window.source)
    if window.source == "-" or not path.is_file():
        return None
    try:
        with open(path, "rb") as raw, decompressing(raw) as stream:
            lines = itertools.islice(stream, window.start - 1, window.end)
            found = [
                (window.start + i, line.decode("utf-8", "replace").rstrip("\r\n")[:MAX_LINE])
                for i, line in enumerate(lines)
            ]
            if not found and damage_of(stream) is not None:
                return None  # a compressed stream damaged before the window
            return found
    except (OSError, EOFError, ValueError):
        return None


def excerpt(places: Iterable[tuple[str, int]]) -> tuple[str, list[str]]:
    """The text of every window (cited lines marked `>`), and the sources that were unreadable."""
    parts: list[str] = []
    missing: list[str] = []
    for window in windows(places):
        lines = read_window(window)
        if lines is None:
            if window.source not in missing:
                missing.append(window.source)
            continue
        parts.append(
            f"==> {window.source} lines {window.start}-{window.start + len(lines) - 1} <=="
        )
        parts += [f"{'>' if n in window.marks else ' '} {n:>7} | {text}" for n, text in lines]
        parts.append("")
    return "\n".join(parts), missing
