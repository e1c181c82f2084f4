"""The runbook core is a library: importing it (and the run/check commands) loads no Textual."""

from __future__ import annotations

import subprocess
import sys

CORE = [
    "runbook.config", "runbook.errors", "runbook.servers.db", "runbook.servers.catalog", "runbook.servers.api",
    "runbook.evidence", "runbook.servers.inspection", "runbook.diagnosis.from_servers", "runbook.servers.migration_files",
    "runbook.steps.reload", "runbook.steps.verify", "runbook.steps.prevent", "runbook.steps.journal", "runbook.steps.session",
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
