"""pgrst-runbook: PostgREST schema-cache incidents, from logs to a verified fix and a report."""

import sys

__version__ = "0.1.0"


def _started_as_program() -> bool:
    """Whether this process is the program (`python -m runbook`, the `pgrst-runbook` script),
    not a library import of the package."""
    argv = list(getattr(sys, "orig_argv", ()))
    for i, arg in enumerate(argv[1:-1], 1):
        if arg == "-m":
            return argv[i + 1] == "runbook"
        if arg == "-c" or not arg.startswith("-"):
            break
    return bool(sys.argv) and sys.argv[0].replace("\\", "/").rsplit("/", 1)[-1] == "pgrst-runbook"


try:  # Ctrl-C while the program loads exits 130, without a traceback
    if _started_as_program():
        from runbook.interrupts import exit_on_sigint

        exit_on_sigint()
except KeyboardInterrupt:  # before the handler was in place
    if not _started_as_program():
        raise
    sys.stderr.write("interrupted\n")
    raise SystemExit(130) from None
