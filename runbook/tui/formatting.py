"""How times, sizes and counts read on screen (all UTC, like the CLI)."""

from __future__ import annotations

from datetime import datetime


def when(ts: datetime | str | None, *, seconds: bool = True) -> str:
    """`2026-11-18 09:15:01Z`; "-" for none."""
    if ts is None:
        return "-"
    if isinstance(ts, str):
        ts = datetime.fromisoformat(ts)
    return ts.strftime("%Y-%m-%d %H:%M:%SZ" if seconds else "%Y-%m-%d %H:%MZ")


def clock(ts: datetime | str | None) -> str:
    """`09:15` (a time of day, for axes)."""
    if ts is None:
        return "-"
    if isinstance(ts, str):
        ts = datetime.fromisoformat(ts)
    return ts.strftime("%H:%M")


def size(n: int | None) -> str:
    """Bytes as `512 B`, `3.4 MiB`, `1.02 GiB`."""
    if n is None:
        return "?"
    if n < 1024:
        return f"{n} B"
    for unit, scale in (("KiB", 1024), ("MiB", 1024**2), ("GiB", 1024**3)):
        if n < scale * 1024 or unit == "GiB":
            value = n / scale
            return f"{value:,.2f} {unit}" if value < 10 else f"{value:,.1f} {unit}" if value < 100 else f"{value:,.0f} {unit}"
    return f"{n} B"


def plural(n: int, word: str, words: str | None = None) -> str:
    """`1 request`, `3 requests`."""
    return f"{n:,} {word if n == 1 else (words or word + 's')}"


def duration(seconds: float | None) -> str:
    """`45 s`, `12 min`, `3 h 5 min`."""
    if seconds is None:
        return "-"
    if seconds < 90:
        return f"{seconds:.0f} s"
    minutes = seconds / 60
    if minutes < 90:
        return f"{minutes:.0f} min"
    hours, rest = divmod(int(minutes), 60)
    return f"{hours} h {rest} min" if rest else f"{hours} h"


def short_path(path: str | None) -> str:
    """A source path relative to the working directory when it is under it."""
    if not path:
        return "-"
    import os

    try:
        rel = os.path.relpath(path)
    except ValueError:
        return path
    return path if rel.startswith("..") else rel


def from_left(path: str | None, width: int = 40) -> str:
    """`short_path`, cut from the left to `width` characters at a folder boundary where it
    can be (`…/mypoolr/bot.log`): the file's name is what tells sources apart."""
    text = short_path(path)
    if len(text) <= width:
        return text
    tail = text[-(width - 1):]
    cut = tail.find("/")
    return "…" + (tail[cut:] if 0 <= cut < len(tail) - 1 else tail)
