"""Golden files for the report and the checklist, and an in-process `pgrst-runbook` runner.

Golden files live in `tests/report/golden/`. After an intended change, regenerate them with
`UPDATE_GOLDEN=1 pytest tests/report` and review the diff. Every run fixes the clock
(`SOURCE_DATE_EPOCH`) and the zone (`TZ=UTC`), and runs from the repository root so that the
paths in the output are the relative paths given on the command line.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from runbook.cli import main

ROOT = Path(__file__).resolve().parents[2]
HERE = Path(__file__).resolve().parent
GOLDEN = HERE / "golden"
FIXTURES = HERE / "fixtures"
JOURNALS = HERE / "journals"
EPOCH = "1795100000"  # 2026-11-19T14:53:20Z, after every incident in the fixtures

Golden = Callable[[str, str], None]
Cli = Callable[..., tuple[int, str, str]]


@pytest.fixture(autouse=True)
def fixed_clock_and_zone(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("SOURCE_DATE_EPOCH", EPOCH)
    monkeypatch.setenv("TZ", "UTC")
    time.tzset()
    monkeypatch.chdir(ROOT)
    yield
    monkeypatch.undo()
    time.tzset()


@pytest.fixture
def golden() -> Golden:
    """`golden(name, text)`: compare with `golden/<name>`, or write it when UPDATE_GOLDEN=1."""

    def check(name: str, text: str) -> None:
        path = GOLDEN / name
        if os.environ.get("UPDATE_GOLDEN") == "1":
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
            return
        assert path.exists(), f"no golden file {path}: run with UPDATE_GOLDEN=1 and review it"
        expected = path.read_text(encoding="utf-8")
        assert text == expected, f"{name} differs from its golden file (UPDATE_GOLDEN=1 to accept)"

    return check


@pytest.fixture
def cli(capsys: pytest.CaptureFixture[str]) -> Cli:
    """`cli("report", ...)` -> (exit code, stdout, stderr), in process."""

    def run(*args: str) -> tuple[int, str, str]:
        capsys.readouterr()
        code = main(list(args))
        out = capsys.readouterr()
        return code, out.out, out.err

    return run
