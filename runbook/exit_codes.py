"""Exit codes of every `pgrst-runbook` command. Documented in the README; scripts rely on them."""

from enum import IntEnum


class Exit(IntEnum):
    OK = 0
    FOUND = 1  # opt-in: incidents found (scan --fail-on-incidents), drift found (check)
    USAGE = 2  # bad flags or arguments (argparse uses 2 too)
    INPUT = 3  # an input could not be read at all (others were still processed)
    UNREACHABLE = 4  # database or API unreachable, wrong credentials, timeouts
    NOT_FIXED = 5  # a runbook ran but the problem is not (proven) fixed
    INTERRUPTED = 130
