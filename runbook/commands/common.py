"""Arguments shared by every command that reads logs (scan, report, tui, replay, run --logs),
and the settings of the commands that reach the servers."""

from __future__ import annotations

import argparse
import re
import sys
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from parsers import registry
from runbook.commands.connection import settings_from_args
from runbook.errors import ConfigError
from runbook.ingest.stores import SOURCE_NAME, StoreSettings, is_store_url
from runbook.terminal import printable

if TYPE_CHECKING:  # polars loads with the scan, not with the flags (first frame of the TUI)
    from runbook.config import Settings
    from runbook.ingest.options import Progress, ScanOptions

_RELATIVE = re.compile(r"^-?(\d+)\s*([smhdw])$")  # `-5h` reads as `5h` (an age: before now)
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


def when(text: str) -> datetime:
    """ISO-8601 (naive = UTC), a date, or a relative age like `30m`, `2h`, `7d` or `-5h`
    (before now)."""
    text = text.strip()
    relative = _RELATIVE.match(text)
    if relative:
        amount, unit = relative.groups()
        try:
            return datetime.now(UTC) - timedelta(**{_UNITS[unit]: int(amount)})
        except (OverflowError, ValueError):  # before year 1: no log reaches back that far
            raise argparse.ArgumentTypeError(
                f"{text!r} reaches back before year 1 (use a smaller age, e.g. 30d)"
            ) from None
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
    if name not in registry.names():
        raise argparse.ArgumentTypeError(f"unknown format {name!r}; known: {', '.join(registry.names())}")
    return path, name


def source_names(text: str) -> tuple[str, ...]:
    """`edge_logs,function_logs` -> a tuple of checked source names."""
    names = tuple(name.strip() for name in text.split(",") if name.strip())
    for name in names:
        if not SOURCE_NAME.match(name):
            raise argparse.ArgumentTypeError(
                f"invalid source name {name!r} (lower-case letters and _, e.g. edge_logs)"
            )
    return names


def add_store_arguments(parser: argparse.ArgumentParser) -> None:
    """Flags of the central log stores (supabase://, clickhouse+http(s)://)."""
    group = parser.add_argument_group(
        "log stores",
        "PATH may be supabase://<project-ref> (token from SUPABASE_ACCESS_TOKEN, API from "
        "SUPABASE_MANAGEMENT_API_URL) or clickhouse+http(s)://[user[:password]@]host[:port]/"
        "<database>/<table> (password also from CLICKHOUSE_PASSWORD). Without --since a store "
        "is read for the last 24 h.",
    )
    group.add_argument(
        "--access-token",
        metavar="TOKEN",
        help="Supabase access token (default $SUPABASE_ACCESS_TOKEN; the variable keeps it out of ps)",
    )
    group.add_argument(
        "--source",
        type=source_names,
        default=(),
        metavar="NAMES",
        help="only these sources/services for errors, e.g. edge_logs,function_logs (default all)",
    )
    group.add_argument("--ts-column", metavar="NAME", help="ClickHouse: the timestamp column")
    group.add_argument("--message-column", metavar="NAME", help="ClickHouse: the log line column")
    group.add_argument("--service-column", metavar="NAME", help="ClickHouse: the service column")


def add_input_arguments(parser: argparse.ArgumentParser, *, default_sample: bool = False) -> None:
    """PATH... and the flags that shape a scan."""
    parser.add_argument(
        "paths",
        nargs="*" if default_sample else "+",
        metavar="PATH",
        help="log files, folders (recursive), globs, .gz/.bz2/.zst, - for stdin, or a log store URL"
        + (" (default: sample_logs/)" if default_sample else ""),
    )
    add_reading_arguments(parser)


def add_reading_arguments(parser: argparse.ArgumentParser) -> None:
    """How logs are read, the same for every command that reads them (`scan`, `report`,
    `tui`, `replay`, and `run --logs`, `bundle --logs`): time bounds, the zone of naive
    timestamps, forced formats, and the log stores' settings."""
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
    parser.add_argument(
        "--max-ratio",
        type=ratio,
        default=None,
        metavar="N",
        help="stop reading a compressed input that expands more than N times its compressed "
        "size (default 200; logs compress 10-30x, a decompression bomb 1000x)",
    )
    add_store_arguments(parser)


def ratio(text: str) -> float:
    """`--max-ratio`: a number above 1."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not value > 1:
        raise argparse.ArgumentTypeError(f"must be more than 1: {text!r}")
    return value


def store_settings(args: argparse.Namespace) -> StoreSettings:
    """Store settings from the flags; unset secrets are read from the environment later.

    The stores' secrets (the access token, ClickHouse's password from the environment or a
    store URL) are registered for masking here, before any store is asked."""
    import os
    from urllib.parse import unquote, urlsplit

    from runbook.redact import register_secret

    register_secret(
        getattr(args, "access_token", None),
        os.environ.get("SUPABASE_ACCESS_TOKEN"),
        os.environ.get("CLICKHOUSE_PASSWORD"),
    )
    for path in getattr(args, "paths", None) or getattr(args, "logs", None) or ():
        if isinstance(path, str) and is_store_url(path):
            try:
                password = urlsplit(path).password
            except ValueError:
                password = None
            register_secret(password, unquote(password) if password else None)
    return StoreSettings(
        access_token=getattr(args, "access_token", None),
        sources=tuple(getattr(args, "source", ()) or ()),
        ts_column=getattr(args, "ts_column", None),
        message_column=getattr(args, "message_column", None),
        service_column=getattr(args, "service_column", None),
        poll_seconds=getattr(args, "store_poll", None) or StoreSettings.poll_seconds,
    )


def scan_options(args: argparse.Namespace) -> ScanOptions:
    from runbook.ingest.compressed import DEFAULT_MAX_RATIO
    from runbook.ingest.options import ScanOptions

    return ScanOptions(
        max_ratio=getattr(args, "max_ratio", None) or DEFAULT_MAX_RATIO,
        tz=getattr(args, "tz", "UTC"),
        format_of=dict(getattr(args, "format_of", None) or []),
        default_format=getattr(args, "input_format", None),
        since=getattr(args, "since", None),
        until=getattr(args, "until", None),
        store=store_settings(args),
    )


def default_paths(paths: list[str]) -> list[str]:
    """The inputs, or the bundled `sample_logs/` when none are given."""
    if paths:
        return paths
    from runbook.samples import sample_logs_dir

    return [str(sample_logs_dir())]


def stderr_progress(enabled: bool, paths: list[str] | None = None) -> Progress | None:
    """A progress callback on stderr, or None when not wanted.

    Files: bytes read of total, redrawn on one terminal line (terminals only). Log stores: one
    line per window (or wait); when `paths` name a store, also when stderr is not a terminal,
    since each window takes seconds to minutes.
    """
    tty = sys.stderr.isatty()
    if not enabled or not (tty or any(is_store_url(p) for p in paths or ())):
        return None
    state = {"last": 0.0}

    def report(done: int, total: int | None, name: str) -> None:
        import time

        if is_store_url(name):
            sys.stderr.write(("\r\x1b[K" if tty else "") + name + ("" if tty else "\n"))
            sys.stderr.flush()
            return
        if not tty:
            return
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


def settings_or_usage(args: argparse.Namespace, prefix: str = "pgrst-runbook") -> Settings | None:
    """The settings from the flags, env and config file; None once a bad value has been told
    on stderr as `<prefix>: <one line>` (the caller then returns `Exit.USAGE`)."""
    try:
        return settings_from_args(args)
    except ConfigError as exc:
        sys.stderr.write(f"{prefix}: {printable(exc.one_line())}\n")
        return None
