"""Excerpts read the cited lines back from plain and compressed sources alike."""

from __future__ import annotations

import bz2
import gzip
from collections.abc import Callable
from pathlib import Path

import pytest
import zstandard

from runbook.ingest.excerpts import Window, read_window

LINES = [f"2026-11-18 09:15:{n:02d} INFO line {n}" for n in range(1, 21)]


@pytest.mark.parametrize(
    ("suffix", "pack"),
    [
        ("log", lambda data: data),
        ("log.gz", gzip.compress),
        ("log.bz2", bz2.compress),
        ("log.zst", lambda data: zstandard.ZstdCompressor().compress(data)),
    ],
)
def test_window_of_each_compression(tmp_path: Path, suffix: str, pack: Callable[[bytes], bytes]) -> None:
    path = tmp_path / f"app.{suffix}"
    path.write_bytes(pack(("\n".join(LINES) + "\n").encode()))
    got = read_window(Window(str(path), 5, 7, frozenset({6})))
    assert got == [(5, LINES[4]), (6, LINES[5]), (7, LINES[6])]


def test_unreadable_source_is_none(tmp_path: Path) -> None:
    broken = tmp_path / "cut.log.gz"
    broken.write_bytes(gzip.compress(b"x\n" * 1000)[:6])  # the header cut short
    assert read_window(Window(str(broken), 1, 3, frozenset({2}))) is None
    assert read_window(Window(str(tmp_path / "missing.log"), 1, 3, frozenset())) is None
