"""`pgrst-runbook`: the command-line entry point. A thin dispatcher over `runbook.commands`.

Each subcommand lives in its own module under `runbook/commands/` and exposes
`add_parser(subparsers)` (which registers the subparser and calls
`set_defaults(handler=run)`) and `run(args) -> int` (an `Exit` code). Modules are imported
lazily so that `scan` never pays for Textual, and `--help` stays fast.
"""

from __future__ import annotations

import argparse
import importlib
import re
import sys
from collections.abc import Sequence
from types import ModuleType

from runbook import __version__, interrupts
from runbook.exit_codes import Exit

# subcommand -> (module under runbook.commands, one-line help for the top-level listing)
COMMANDS: dict[str, tuple[str, str]] = {
    "tui": ("tui", "open the TUI: incidents, evidence, the guided runbook (default command)"),
    "scan": ("scan", "find PGRST204 incidents in logs"),
    "run": ("run", "diagnose one PGRST204 incident with evidence, reload if that is the fix, verify"),
    "check": ("check", "compare database columns with PostgREST's schema cache; exit 1 on drift"),
    "report": ("report", "write the incident report (Markdown) and update the deployment checklist"),
    "replay": ("replay", "replay recorded logs at N x speed (TUI, or the incident stream headless)"),
    "install-auto-reload": (
        "install_auto_reload",
        "install (or --uninstall) the event trigger that reloads PostgREST after DDL",
    ),
    "watch": ("watch", "follow logs unattended; alert with the diagnosis; Prometheus metrics"),
    "bundle": ("bundle", "gather scan, journal, versions, plumbing checks and log excerpts, redacted"),
}


def _load(module: str) -> ModuleType:
    return importlib.import_module(f"runbook.commands.{module}")


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """The argument parser. Only `command`'s module is imported (a scan never pays for
    Textual, psycopg or jinja2); the others are listed by name and help. None loads all."""
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
    for name, (module, help_text) in COMMANDS.items():
        if command is not None and name != command:
            sub.add_parser(name, help=help_text)
            continue
        _load(module).add_parser(sub)
    return parser


def command_parser(parser: argparse.ArgumentParser, command: str | None) -> argparse.ArgumentParser:
    """The parser of `command` (the top-level one when there is none)."""
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction) and command in action.choices:
            return action.choices[command]
    return parser


_TIME_FLAGS = ("--since", "--until")
_AGE = re.compile(r"^-\d+\s*[smhdw]$")


def attach_time_values(argv: list[str]) -> list[str]:
    """`--since -5h` as `--since=-5h`: argparse takes a value that starts with `-` for a flag."""
    out: list[str] = []
    i = 0
    while i < len(argv):
        if argv[i] in _TIME_FLAGS and i + 1 < len(argv) and _AGE.match(argv[i + 1]):
            out.append(f"{argv[i]}={argv[i + 1]}")
            i += 2
            continue
        out.append(argv[i])
        i += 1
    return out


def main(argv: Sequence[str] | None = None) -> int:
    """The CLI. Ctrl-C at any moment (also while a command's imports load) exits 130 quietly.

    Called as the program (`argv` None: `pgrst-runbook`, `python -m runbook`), Ctrl-C is a
    KeyboardInterrupt only while the command runs (`runbook.interrupts`): an interrupted
    command exits 130 at once once its cleanup ran (an extension that met the Ctrl-C while it
    ran Python code leaves the interpreter set to die by SIGINT at exit), and so does a Ctrl-C
    after the command returned, while the interpreter shuts down."""
    program = argv is None
    try:
        if program:
            interrupts.interrupt_on_sigint()
        code = _main(argv)
    except BaseException as exc:
        if not interrupted(exc):
            raise
        print("interrupted", file=sys.stderr)
        code = Exit.INTERRUPTED
    if program:
        interrupts.exit_on_sigint()
        if code == Exit.INTERRUPTED:
            interrupts.exit_interrupted(say=False)
    return code


def interrupted(exc: BaseException | None) -> bool:
    """Whether `exc` is a Ctrl-C: a KeyboardInterrupt, one that polars' compiled core met in a
    Python call of its own and turned into a panic (pyo3's PanicException), or one that Python
    wrapped while a class was being made during an import (`RuntimeError: Error calling
    __set_name__`, caused by the KeyboardInterrupt)."""
    seen = 0
    while exc is not None and seen < 8:
        if isinstance(exc, KeyboardInterrupt) or (
            type(exc).__name__ == "PanicException" and "KeyboardInterrupt" in str(exc)
        ):
            return True
        exc, seen = exc.__cause__, seen + 1
    return False


def _main(argv: Sequence[str] | None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv:
        argv = ["tui"]
    parser = build_parser(argv[0] if argv[0] in COMMANDS else "")
    try:
        args, extra = parser.parse_known_args(attach_time_values(argv))
        if extra:  # the command's own usage, not the top level's
            command_parser(parser, args.command).error(f"unrecognized arguments: {' '.join(extra)}")
    except SystemExit as exc:  # argparse exits 2 on usage errors, 0 on --help
        return int(exc.code or 0)
    if args.command is None:
        parser.print_help()
        return Exit.USAGE
    try:
        return int(args.handler(args))
    except BrokenPipeError:  # `scan ... | head` is normal use
        return Exit.OK


if __name__ == "__main__":
    sys.exit(main())
