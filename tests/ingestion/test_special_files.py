"""A FIFO or socket inside a scanned folder is named and skipped, never read (it would block
the scan forever); the folder's regular files are still read."""

from __future__ import annotations

import os
import shutil
import socket
from pathlib import Path

from runbook.ingest.scan import ScanOptions, document, scan_paths

SAMPLES = Path(__file__).resolve().parents[2] / "sample_logs"


def test_special_files_in_a_folder_are_skipped_and_named(tmp_path: Path) -> None:
    shutil.copy(SAMPLES / "mypoolr" / "bot.log", tmp_path / "bot.log")
    os.mkfifo(tmp_path / "pipe")
    server = socket.socket(socket.AF_UNIX)
    server.bind(str(tmp_path / "sock"))
    try:
        result = scan_paths([str(tmp_path)], ScanOptions())
    finally:
        server.close()
    doc = document(result)
    assert doc["incidents"] and doc["incidents"][0]["table"] == "mypoolr"
    skipped = {u["source"]: u["reason"] for u in doc["stats"]["unreadable"]}
    assert skipped == {
        str(tmp_path / "pipe"): "not a regular file: skipped",
        str(tmp_path / "sock"): "not a regular file: skipped",
    }
