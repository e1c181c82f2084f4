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


def test_a_folder_that_cannot_be_listed_is_named(tmp_path: Path, monkeypatch) -> None:
    """Tests run as root, who can list any folder: the refusal a user meets is made here."""
    shutil.copy(SAMPLES / "mypoolr" / "bot.log", tmp_path / "bot.log")
    locked = tmp_path / "locked"
    locked.mkdir()
    (locked / "app.log").write_text("never read\n")
    real = os.scandir

    def scandir(path):  # type: ignore[no-untyped-def]
        if Path(path) == locked:
            raise PermissionError(13, "Permission denied", str(locked))
        return real(path)

    monkeypatch.setattr(os, "scandir", scandir)
    doc = document(scan_paths([str(tmp_path)], ScanOptions()))
    assert doc["incidents"] and doc["incidents"][0]["table"] == "mypoolr"
    assert {"source": str(locked), "reason": "folder not readable: permission denied"} in doc[
        "stats"
    ]["unreadable"]


def test_lines_ending_in_a_bare_cr_are_lines(tmp_path: Path) -> None:
    body = (
        "{'code': 'PGRST204', 'details': None, 'hint': None, 'message': \"Could not find the "
        "'adminname' column of 'mypoolr' in the schema cache\"}"
    )
    lines = [f"2026-11-18 09:1{n}:00,000 ERROR bot: insert failed: {body}" for n in range(3)]
    log = tmp_path / "classic.log"
    log.write_bytes(("\r".join(["2026-11-18 09:00:00,000 INFO bot: started", *lines]) + "\r").encode())
    doc = document(scan_paths([str(log)], ScanOptions()))
    assert [(i["table"], i["count"]) for i in doc["incidents"]] == [("mypoolr", 3)]
    assert doc["stats"]["lines_read"] == 4


def test_a_line_without_end_is_cut_not_kept(tmp_path: Path) -> None:
    """A 48 MiB line (a blob, a run of zeros) costs its reading, not its size in memory or a
    re-join per chunk: its first MAX_LINE_BYTES are read, the rest dropped and counted.
    (Before the cut, this took 8 GB and 38 s.)"""
    import resource

    from runbook.ingest.scanner import MAX_LINE_BYTES

    body = (
        "{'code': 'PGRST204', 'details': None, 'hint': None, 'message': \"Could not find the "
        "'adminname' column of 'mypoolr' in the schema cache\"}"
    )
    log = tmp_path / "blob.log"
    with log.open("w") as f:
        f.write(f"2026-11-18 09:10:00,000 ERROR bot: insert failed: {body} ")
        for _ in range(48):
            f.write("x" * (1 << 20))
        f.write("\n")
        f.write(f"2026-11-18 09:11:00,000 ERROR bot: insert failed: {body}\n")
    warm = tmp_path / "warm.log"  # polars' first use (pools, compiled regexes) is not the line's
    warm.write_text(f"2026-11-18 09:10:00,000 ERROR bot: insert failed: {body} {'x' * MAX_LINE_BYTES}\n")
    document(scan_paths([str(warm)], ScanOptions(parallel=False)))
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    doc = document(scan_paths([str(log)], ScanOptions(parallel=False, chunk_bytes=1 << 20)))
    grown_mib = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) / 1024
    assert [(i["table"], i["count"]) for i in doc["incidents"]] == [("mypoolr", 2)]
    assert doc["stats"]["lines_cut"] == 1 and doc["stats"]["lines_read"] == 2
    # The kept part is parsed like any line (polars takes about 130 MB per MiB of it, most of
    # which the warm-up's line of the same size already reached): the bound grows with it.
    bound = 200 + 100 * MAX_LINE_BYTES / (1 << 20)
    assert grown_mib < bound, f"peak grew {grown_mib:.0f} MiB for a line cut at {MAX_LINE_BYTES} bytes"


def test_a_long_line_that_comes_whole_in_one_chunk_is_cut_too(tmp_path: Path) -> None:
    """A 10 MB line inside one 16 MiB chunk is a complete line, never pending: it is cut at
    MAX_LINE_BYTES where it is cut out for the parser (a whole 10 MB candidate took 1.8 GB
    and 5 s of polars), in one format and in a stream of mixed formats alike."""
    from runbook.ingest.scanner import MAX_LINE_BYTES

    body = (
        "{'code': 'PGRST204', 'details': None, 'hint': None, 'message': \"Could not find the "
        "'adminname' column of 'mypoolr' in the schema cache\"}"
    )
    long_line = f"2026-11-18 09:10:00,000 ERROR bot: insert failed: {body} {'x' * (10 << 20)}\n"
    plain = tmp_path / "bot.log"
    plain.write_text(long_line + f"2026-11-18 09:11:00,000 ERROR bot: insert failed: {body}\n")
    json_line = '{"level":"error","time":"2026-11-18T09:12:00Z","msg":"' + body.replace('"', '\\"') + '"}\n'
    mixed = tmp_path / "mixed.log"
    mixed.write_text(json_line + long_line + json_line)
    for log, failures in ((plain, 2), (mixed, 3)):
        doc = document(scan_paths([str(log)], ScanOptions(parallel=False)))
        assert sum(i["count"] for i in doc["incidents"]) == failures, log.name
        assert doc["stats"]["lines_cut"] == 1, log.name
        for incident in doc["incidents"]:
            for sample in incident["samples"]:
                assert len(sample["raw"] if isinstance(sample, dict) else sample) <= MAX_LINE_BYTES
