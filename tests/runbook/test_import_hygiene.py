"""The runbook core is a library: importing any of it outside `runbook.tui` loads no Textual.

Every module is found by walking the package, so a module split or added later is covered too.
"""

from __future__ import annotations

import subprocess
import sys


def test_core_modules_do_not_import_textual() -> None:
    code = (
        "import importlib, pkgutil, sys\n"
        "import runbook\n"
        "names = [m.name for m in pkgutil.walk_packages(runbook.__path__, 'runbook.')\n"
        "         if not m.name.startswith('runbook.tui') and m.name != 'runbook.__main__']\n"
        "for name in names: importlib.import_module(name)\n"
        "assert len(names) > 100, names\n"
        "bad = sorted(m for m in sys.modules if m == 'textual' or m.startswith('textual.'))\n"
        "print(bad); sys.exit(1 if bad else 0)\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr
