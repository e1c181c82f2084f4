"""The runbook core is a library: importing it (and the run/check commands) loads no Textual."""

from __future__ import annotations

import subprocess
import sys

CORE = [
    "runbook.config", "runbook.errors", "runbook.db", "runbook.catalog", "runbook.api",
    "runbook.evidence", "runbook.inspection", "runbook.diagnosis", "runbook.migrations",
    "runbook.reload", "runbook.verify", "runbook.prevent", "runbook.journal", "runbook.session",
    "runbook.commands.run", "runbook.commands.check", "runbook.commands.install_auto_reload",
]  # fmt: skip


def test_core_modules_do_not_import_textual() -> None:
    code = (
        "import importlib, sys\n"
        f"for name in {CORE!r}: importlib.import_module(name)\n"
        "bad = sorted(m for m in sys.modules if m == 'textual' or m.startswith('textual.'))\n"
        "print(bad); sys.exit(1 if bad else 0)\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr
