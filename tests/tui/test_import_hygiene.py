"""The core never imports Textual: `scan`, the CLI's headless twins and libraries stay light."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

CORE = [
    "runbook.ingest.scan",
    "runbook.incidents.grouping",
    "runbook.ingest.follow",
    "runbook.ingest.replay",
    "runbook.incidents.live",
    "runbook.steps.session",
    "runbook.commands.replay",
    "runbook.cli",
    "parsers.registry",
]


def test_core_modules_do_not_load_textual() -> None:
    code = (
        "import importlib, pkgutil, sys\n"
        "import parsers\n"
        f"for name in {CORE!r}:\n"
        "    importlib.import_module(name)\n"
        "for info in pkgutil.iter_modules(parsers.__path__):\n"
        "    importlib.import_module('parsers.' + info.name)\n"
        "from runbook.cli import build_parser\n"
        "build_parser()\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] == 'textual'))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True
    )
    assert out.stdout.strip() == "[]", out.stdout


def test_the_tui_package_is_where_textual_lives() -> None:
    out = subprocess.run(
        [sys.executable, "-c", "import runbook.tui.app, sys; print('textual' in sys.modules)"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    assert out.stdout.strip() == "True"
