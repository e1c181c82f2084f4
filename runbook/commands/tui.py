"""`pgrst-runbook tui PATH...` (and `pgrst-runbook` alone): the on-call TUI.

Flags -> `AppOptions` -> `RunbookApp`. Textual is imported only when the command runs, so the
other commands never pay for it.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from runbook.commands.common import (
    add_input_arguments,
    default_paths,
    scan_options,
    settings_or_usage,
)
from runbook.commands.connection import (
    add_connection_arguments,
    positive_seconds,
)
from runbook.config import RELOAD_METHODS
from runbook.exit_codes import Exit
from runbook.samples import SampleLogsMissing

SWITCH_SECONDS = 0.001  # Python's default is 0.005


def add_parser(sub: argparse._SubParsersAction) -> argparse.ArgumentParser:
    parser = sub.add_parser(
        "tui",
        help="open the TUI: incidents, evidence, the guided runbook (default command)",
        description=(
            "Open the terminal UI on the logs (default: sample_logs/): incidents as they are "
            "found, their evidence, and the guided runbook inspect -> reload -> verify."
        ),
        epilog="keys: ? help, ctrl+p command palette, q quit",
    )
    add_input_arguments(parser, default_sample=True)
    parser.add_argument(
        "-f",
        "--follow",
        action="store_true",
        help="keep reading the files as they grow (tail -F: survives rotation and truncation)",
    )
    add_runbook_arguments(parser)
    parser.set_defaults(handler=run)
    return parser


def add_runbook_arguments(parser: argparse.ArgumentParser) -> None:
    """Connection flags and the runbook's own: --dry-run, --reload-method, --migrations."""
    add_connection_arguments(parser)
    group = parser.add_argument_group("runbook")
    group.add_argument(
        "--dry-run", action="store_true", help="start with dry run on: nothing state-changing runs"
    )
    group.add_argument("--reload-method", choices=RELOAD_METHODS, help="how to reload (default notify)")
    group.add_argument("--rpc", metavar="FUNCTION", help="reload function for --reload-method rpc")
    group.add_argument(
        "--verify-deadline", type=positive_seconds, metavar="S", help="how long verify polls (default 30)"
    )
    group.add_argument(
        "--migrations", type=Path, metavar="DIR", help="migration files, for the pending-migration check"
    )
    group.add_argument(
        "--allow-write-probe",
        action="store_true",
        help="offer the zero-row, rolled-back write probe (w, asks first); verify repeats it",
    )


def keyboard_from_tty(paths: list[str]) -> int | None:
    """When logs come on stdin, move the pipe off fd 0 and give fd 0 the terminal.

    Textual reads keys from fd 0; the pipe stays readable at the returned descriptor.
    Returns None when stdin is not needed or is already the terminal.
    Raises OSError when there is no terminal to read keys from.
    """
    if "-" not in paths or sys.stdin.isatty():
        return None
    pipe = os.dup(0)
    tty = os.open("/dev/tty", os.O_RDONLY)
    os.dup2(tty, 0)
    os.close(tty)
    return pipe


def run(args: argparse.Namespace, *, replay_speed: float | None = None, max_gap: float | None = None) -> int:
    try:
        paths = default_paths(args.paths)
    except SampleLogsMissing as exc:
        print(f"pgrst-runbook: {exc}", file=sys.stderr)
        return Exit.USAGE
    if not sys.stdout.isatty():
        print("pgrst-runbook: the TUI needs a terminal; use `scan` or `replay --headless`", file=sys.stderr)
        return Exit.USAGE
    settings = settings_or_usage(args)
    if settings is None:
        return Exit.USAGE
    try:
        stdin_fd = keyboard_from_tty(paths)
    except OSError as exc:
        print(f"pgrst-runbook: logs on stdin but no terminal for the keys ({exc.strerror})", file=sys.stderr)
        return Exit.USAGE

    from runbook.tui.app import RunbookApp
    from runbook.tui.options import AppOptions

    options = AppOptions(
        paths=paths,
        scan=scan_options(args),
        follow=bool(getattr(args, "follow", False)),
        replay_speed=replay_speed,
        max_gap=max_gap,
        settings=settings,
        dry_run=args.dry_run,
        stdin_fd=stdin_fd,
        migrations_dir=args.migrations,
        allow_write_probe=args.allow_write_probe,
    )
    # The ingest thread holds the GIL for up to the switch interval at a time; a key's echo
    # takes the UI thread several turns, so shorter turns keep typing responsive while following.
    sys.setswitchinterval(SWITCH_SECONDS)
    result = RunbookApp(options).run()
    return int(result or 0)
