"""The core never imports Textual: `scan`, the CLI's headless twins and libraries stay light."""

from __future__ import annotations

import ast
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


def loaded(code: str, package: str) -> list[str]:
    """The modules of `package` that running `code` in a fresh interpreter loaded."""
    code += f"import sys\nprint(sorted(m for m in sys.modules if m.split('.')[0] == {package!r}))\n"
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True
    )
    return ast.literal_eval(out.stdout.strip())


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
    )
    assert loaded(code, "textual") == []


def test_the_tui_package_is_where_textual_lives() -> None:
    out = subprocess.run(
        [sys.executable, "-c", "import runbook.tui.app, sys; print('textual' in sys.modules)"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    assert out.stdout.strip() == "True"


def test_the_tui_paints_before_polars_is_imported() -> None:
    """Everything up to the first frame (the CLI, the options, the app and its first screen)
    loads without polars: the engine's import (a few hundred ms) runs in the ingest worker."""
    code = (
        "from runbook.cli import build_parser\n"
        "from runbook.commands.common import scan_options\n"
        "import runbook.commands.tui\n"
        "import runbook.tui.app\n"
        "from runbook.tui.options import AppOptions\n"
        "args = build_parser('tui').parse_args(['tui', 'sample_logs'])\n"
        "AppOptions(paths=['sample_logs'], scan=scan_options(args)).describe_inputs()\n"
    )
    assert loaded(code, "polars") == []
