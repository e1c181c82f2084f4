"""Helpers for the TUI tests: an isolated state dir, log writers, the app, screen text, waiting."""

from __future__ import annotations

import asyncio
import html
import re
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from runbook.config import Settings
from runbook.tui.app import RunbookApp
from runbook.tui.options import AppOptions
from tests.support.state import isolate_state

DATA = Path(__file__).parent / "data"
STALE = DATA / "stale_cache"
SIZE = (120, 40)

ERROR_LINE = (
    "2026-11-18 09:{minute:02d}:{second:02d},000 ERROR bot: insert failed APIError("
    "{{'code': 'PGRST204', 'details': None, 'hint': None, 'message': "
    "\"Could not find the '{column}' column of '{table}' in the schema cache\"}})\n"
)


@pytest.fixture
def anyio_backend() -> str:
    """Async tests (`pytest.mark.anyio`) run on asyncio, as Textual does."""
    return "asyncio"


@pytest.fixture(autouse=True)
def isolated_state(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """Journals and config under tmp_path; no connection settings from the machine."""
    yield isolate_state(tmp_path, monkeypatch)


@pytest.fixture
def stale_logs(tmp_path: Path) -> Path:
    """A copy of the recorded stale-cache incident (tests may append to it)."""
    target = tmp_path / "logs"
    shutil.copytree(STALE, target)
    return target


def error_lines(table: str, column: str, n: int, start_minute: int = 30) -> str:
    """`n` python-logging records of a PGRST204 for table.column, one per 10 s."""
    return "".join(
        ERROR_LINE.format(
            minute=(start_minute + i // 6) % 60, second=(i % 6) * 10, table=table, column=column
        )
        for i in range(n)
    )


def make_app(paths: list[Path | str], settings: Settings | None = None, **options) -> RunbookApp:
    """The app on `paths`, with unreachable-by-default settings unless given."""
    return RunbookApp(
        AppOptions(
            paths=[str(p) for p in paths],
            settings=settings or Settings(dsn="host=127.0.0.1 port=1 connect_timeout=1"),
            **options,
        )
    )


def screen_text(app: RunbookApp) -> str:
    """What the terminal shows, as plain text (from the SVG screenshot)."""
    svg = app.export_screenshot()
    texts = re.findall(r"<text[^>]*>(.*?)</text>", svg, flags=re.S)
    return html.unescape("".join(texts)).replace("\xa0", " ")


async def wait_for(pilot, condition: Callable[[], object], timeout: float = 60.0) -> None:
    """Let the app run until `condition()` is true (fails the test after `timeout`)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not condition():
        if loop.time() > deadline:
            raise AssertionError(f"timed out waiting for {condition}")
        await pilot.pause(0.05)


async def scanned(pilot) -> None:
    """Wait until ingestion finished (not for follow, which only stops on Esc)."""
    await wait_for(pilot, lambda: pilot.app.finished is not None)
    await pilot.pause()
