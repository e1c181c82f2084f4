"""`pgrst-runbook`: the command-line entry point. A thin dispatcher over `runbook.commands`.

Each subcommand lives in its own module under `runbook/commands/` and exposes
`add_parser(subparsers)` (which registers the subparser and calls
`set_defaults(handler=run)`) and `run(args) -> int` (an `Exit` code). Modules are imported
lazily so that `scan` never pays for Textual, and `--help` stays fast.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from runbook import __version__
from runbook.exit_codes import Exit

# subcommand -> module under runbook.commands
COMMANDS: dict[str, str] = {
    "tui": "tui",
    "scan": "scan",
    "run": "run",
    "check": "check",
    "report": "report",
    "replay": "replay",
    "install-auto-reload": "install_auto_reload",
    "bundle": "bundle",
}


def _load(module: str):
    return importlib.import_module(f"runbook.commands.{module}")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="pgrst-runbook",
        description=(
            "Find PostgREST PGRST204 schema-cache incidents in logs, tell a stale cache from a "
            "client/schema mismatch with evidence, fix it safely, and write the report. "
            "With no command, opens the TUI on sample_logs/."
        ),
        epilog=(
            "exit codes: 0 ok; 1 incidents/drift found (opt-in); 2 usage error; "
            "3 unreadable input; 4 database/API unreachable; 5 not fixed; 130 interrupted"
        ),
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for module in COMMANDS.values():
        try:
            mod = _load(module)
        except ModuleNotFoundError as exc:  # a command not built yet must not break the others
            if exc.name != f"runbook.commands.{module}":
                raise
            continue
        mod.add_parser(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv:
        argv = ["tui"]
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # argparse exits 2 on usage errors, 0 on --help
        return int(exc.code or 0)
    if args.command is None:
        parser.print_help()
        return Exit.USAGE
    try:
        return int(args.handler(args))
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return Exit.INTERRUPTED
    except BrokenPipeError:  # `scan ... | head` is normal use
        return Exit.OK


if __name__ == "__main__":
    sys.exit(main())
