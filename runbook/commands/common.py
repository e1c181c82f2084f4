"""Arguments shared by every command that reads logs (scan, report, tui, replay, run --logs)."""

from __future__ import annotations

import argparse
import re
import sys
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from parsers import registry
from runbook.scan import ScanOptions

_RELATIVE = re.compile(r"^(\d+)\s*([smhdw])$")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


def when(text: str) -> datetime:
    """ISO-8601 (naive = UTC), a date, or a relative age like `30m`, `2h`, `7d` (before now)."""
    text = text.strip()
    relative = _RELATIVE.match(text)
    if relative:
        amount, unit = relative.groups()
        return datetime.now(UTC) - timedelta(**{_UNITS[unit]: int(amount)})
    try:
        value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"not a time: {text!r} (use ISO-8601 like 2026-11-18T09:00:00Z, or 30m, 2h, 7d)"
        ) from None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def zone(text: str) -> str:
    try:
        ZoneInfo(text)
    except (ZoneInfoNotFoundError, ValueError):
        raise argparse.ArgumentTypeError(f"unknown time zone {text!r} (e.g. UTC, Europe/Berlin)") from None
    return text


def format_override(text: str) -> tuple[str, str]:
    path, sep, name = text.rpartition("=")
    if not sep or not path:
        raise argparse.ArgumentTypeError(f"expected PATH=FORMAT, got {text!r}")
    if name not in registry.BY_NAME:
        raise argparse.ArgumentTypeError(f"unknown format {name!r}; known: {', '.join(registry.names())}")
    return path, name


def add_input_arguments(parser: argparse.ArgumentParser, *, default_sample: bool = False) -> None:
    """PATH... and the flags that shape a scan."""
    parser.add_argument(
        "paths",
        nargs="*" if default_sample else "+",
        metavar="PATH",
        help="log files, folders (recursive), globs, .gz/.bz2/.zst, or - for stdin"
        + (" (default: sample_logs/)" if default_sample else ""),
    )
    parser.add_argument("--since", type=when, help="only events at or after this time (ISO-8601, or 2h, 7d)")
    parser.add_argument("--until", type=when, help="only events before this time")
    parser.add_argument(
        "--tz", type=zone, default="UTC", help="zone of timestamps that carry none (default UTC)"
    )
    parser.add_argument(
        "--format-of",
        type=format_override,
        action="append",
        default=[],
        metavar="PATH=FORMAT",
        help=f"force the format of one input; formats: {', '.join(registry.names())}",
    )
    parser.add_argument(
        "--input-format", choices=registry.names(), help="force one format for every input"
    )


def scan_options(args: argparse.Namespace) -> ScanOptions:
    return ScanOptions(
        tz=args.tz,
        format_of=dict(args.format_of),
        default_format=args.input_format,
        since=args.since,
        until=args.until,
    )


def default_paths(paths: list[str]) -> list[str]:
    """The inputs, or the bundled `sample_logs/` when none are given."""
    if paths:
        return paths
    from runbook.samples import sample_logs_dir

    return [str(sample_logs_dir())]


def stderr_progress(enabled: bool):
    """A progress callback printing bytes read of total on stderr, or None when not wanted."""
    if not enabled or not sys.stderr.isatty():
        return None
    state = {"last": 0.0}

    def report(done: int, total: int | None, name: str) -> None:
        import time

        now = time.monotonic()
        if now - state["last"] < 0.2:
            return
        state["last"] = now
        mib = done / 1048576
        if total:
            pct = min(100.0, 100.0 * done / total)
            sys.stderr.write(f"\rscanning {pct:5.1f}% ({mib:,.0f} of {total / 1048576:,.0f} MiB)")
        else:
            sys.stderr.write(f"\rscanning {mib:,.0f} MiB")
        sys.stderr.flush()

    return report
