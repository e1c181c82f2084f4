"""Asking before a state-changing action, on the terminal. The CLI's twin of the TUI modal.

`confirm(plan, yes=..., dry_run=...)` shows exactly what would run, then:
- `--dry-run`: says it would run it, returns False (nothing changes);
- `--yes`: returns True;
- no terminal on stdin: says nothing was changed and why, returns False;
- otherwise asks `[y/N]` on stderr (stdout stays clean for `--json`).
"""

from __future__ import annotations

import sys
from typing import TextIO

from runbook.steps.reload import PlannedAction
from runbook.terminal import printable


def confirm(
    plan: PlannedAction,
    *,
    yes: bool,
    dry_run: bool,
    out: TextIO | None = None,
    stdin: TextIO | None = None,
) -> bool:
    """True when the action may run. Everything is written to `out` (default stderr)."""
    out = out or sys.stderr
    stdin = stdin or sys.stdin
    out.write(f"\n{printable(plan.description)}\n")
    if plan.sql_or_http:
        out.write(f"  will run: {printable(plan.sql_or_http, keep_newlines=True)}\n")
    if dry_run:
        out.write("  dry run: not run, nothing was changed\n")
        return False
    if yes:
        out.write("  --yes given: running it\n")
        return True
    if not stdin.isatty():
        out.write(
            "  not run: no terminal to ask and no --yes; nothing was changed "
            "(pass --yes to allow it headless)\n"
        )
        return False
    out.write("  run it? [y/N] ")
    out.flush()
    answer = stdin.readline().strip().lower()
    return answer in ("y", "yes")


def wait_for_operator(
    message: str, *, out: TextIO | None = None, stdin: TextIO | None = None
) -> bool:
    """Show `message` and wait for Enter on a terminal; False (no wait) without one."""
    out = out or sys.stderr
    stdin = stdin or sys.stdin
    if not stdin.isatty():
        return False
    out.write(f"{message} [Enter] ")
    out.flush()
    stdin.readline()
    return True
