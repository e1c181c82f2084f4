"""A file truncated or replaced (rotated) while it is scanned is named as read in part, never
given as a confident short count: its size and identity (device, inode) when opened are
compared with the file at the end. The change is made from another thread once the scan has
read its first chunk, and the scan waits for it (no sleeps)."""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from pathlib import Path

import pytest

from runbook.ingest.scan import ScanOptions, document, scan_paths

BODY = (
    "{'code': 'PGRST204', 'details': None, 'hint': None, 'message': \"Could not find the "
    "'adminname' column of 'mypoolr' in the schema cache\"}"
)
FAILURES = 15_000


def write_log(path: Path) -> None:
    """About 6 MiB: FAILURES PGRST204 lines among ordinary ones."""
    lines = []
    for i in range(FAILURES * 4):
        at = f"2026-11-18 {9 + i // 36000:02d}:{i // 600 % 60:02d}:{i // 10 % 60:02d},{i % 1000:03d}"
        if i % 4 == 0:
            lines.append(f"{at} ERROR mypoolr.bot: insert failed: {BODY}\n")
        else:
            lines.append(f"{at} INFO mypoolr.bot: sent reminder {i} to member {i * 7} (ok)\n")
    path.write_text("".join(lines))


def scan_changing(path: Path, change: Callable[[], None]) -> dict:
    """Scan `path` in 512 KiB chunks; `change` runs in another thread after the first chunk
    was read, and the scan goes on only once it is done."""
    first_chunk, changed = threading.Event(), threading.Event()

    def progress(done: int, total: int | None, name: str) -> None:
        if not first_chunk.is_set():
            first_chunk.set()
            assert changed.wait(60), "the file was not changed in time"

    def changer() -> None:
        assert first_chunk.wait(60), "the scan read no chunk"
        change()
        changed.set()

    thread = threading.Thread(target=changer)
    thread.start()
    try:
        result = scan_paths(
            [str(path)], ScanOptions(chunk_bytes=512 * 1024, parallel=False, progress=progress)
        )
    finally:
        thread.join(60)
    assert changed.is_set()
    return document(result)


def test_a_file_truncated_while_it_is_read_is_named(tmp_path: Path) -> None:
    log = tmp_path / "bot.log"
    write_log(log)
    size = log.stat().st_size

    def truncate() -> None:
        os.truncate(log, size // 10)

    doc = scan_changing(log, truncate)
    stats = doc["stats"]
    counted = doc["incidents"][0]["count"] if doc["incidents"] else 0
    assert counted < FAILURES
    [partial] = stats["partial"]
    assert partial["source"] == str(log)
    assert partial["reason"].startswith(f"truncated while it was read ({size} bytes when opened, ")
    assert partial["reason"].endswith(f"counted the {stats['lines_read']} lines read")
    assert stats["unreadable"] == []


@pytest.mark.parametrize("how", ["rotated", "removed"])
def test_a_file_replaced_while_it_is_read_is_named(tmp_path: Path, how: str) -> None:
    log = tmp_path / "bot.log"
    write_log(log)

    def rotate() -> None:
        log.rename(tmp_path / "bot.log.1")
        if how == "rotated":
            log.write_text("2026-11-18 12:00:00,000 INFO mypoolr.bot: started\n")

    doc = scan_changing(log, rotate)
    [partial] = doc["stats"]["partial"]
    what = "replaced (rotated?)" if how == "rotated" else "removed"
    assert partial == {
        "source": str(log),
        "reason": f"{what} while it was read: the lines written to it after that were not "
        f"read; counted the {doc['stats']['lines_read']} lines read",
    }
    # The open file was read to its end: every failure in it is counted.
    assert doc["incidents"][0]["count"] == FAILURES


def test_an_unchanged_file_is_whole(tmp_path: Path) -> None:
    log = tmp_path / "bot.log"
    write_log(log)
    doc = scan_changing(log, lambda: None)
    assert doc["stats"]["partial"] == []
    assert doc["incidents"][0]["count"] == FAILURES
