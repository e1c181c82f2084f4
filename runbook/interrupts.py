"""Ctrl-C outside a command's own handling: while the program starts and while it ends.

A command gets Ctrl-C as KeyboardInterrupt (its cleanup runs, `runbook.cli.main` exits 130).
Before `main` takes it over (the entry point's imports) and after the command returned (the
interpreter's shutdown hooks), a KeyboardInterrupt would end in a traceback; there SIGINT exits
130 at once instead. Only the program installs this (`python -m runbook`, `pgrst-runbook`);
importing `runbook` as a library changes no signal handling.
"""

from __future__ import annotations

import os
import signal
import sys

INTERRUPTED = 130  # runbook.exit_codes.Exit.INTERRUPTED (this module loads before it)


def exit_interrupted(signum: int | None = None, frame: object = None, *, say: bool = True) -> None:
    """Exit 130 now, with what was written flushed; `say`: with the `interrupted` line."""
    if say:
        try:
            sys.stderr.write("interrupted\n")
        except (OSError, ValueError):
            pass
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):
            pass
    os._exit(INTERRUPTED)


def exit_on_sigint() -> None:
    """From now on, SIGINT exits 130 at once (no KeyboardInterrupt)."""
    signal.signal(signal.SIGINT, exit_interrupted)


def interrupt_on_sigint() -> None:
    """From now on, SIGINT raises KeyboardInterrupt (Python's own handling)."""
    signal.signal(signal.SIGINT, signal.default_int_handler)
