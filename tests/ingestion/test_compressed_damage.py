"""A compressed input that is cut short, followed by bytes that are not compressed data, or
expands like a bomb keeps every complete line read before the damage: its incidents are
counted, the input is named as read in part (stats.partial, stderr) and the scan exits 3.
The streams are generated here; nothing large is checked in."""

from __future__ import annotations

import bz2
import gzip
import json
import subprocess
import sys
import time
import zlib
from collections.abc import Callable
from pathlib import Path

import pytest

from runbook.ingest.compressed import RATIO_FLOOR_BYTES
from runbook.ingest.scan import ScanOptions, document, scan_paths
from tests.support.measure import run_measured

ROOT = Path(__file__).resolve().parents[2]
BODY = (
    "{'code': 'PGRST204', 'details': None, 'hint': None, 'message': \"Could not find the "
    "'adminname' column of 'mypoolr' in the schema cache\"}"
)


def zstd_compress(data: bytes) -> bytes:
    zstandard = pytest.importorskip("zstandard", reason="zstandard is not installed: no .zst input")
    return zstandard.ZstdCompressor().compress(data)


def log_lines(n: int) -> list[bytes]:
    """`n` lines of a Python bot log; every 10th is a PGRST204 failure, one second apart."""
    out = []
    for i in range(n):
        at = f"2026-11-18 {9 + i // 3600:02d}:{i // 60 % 60:02d}:{i % 60:02d},{i % 1000:03d}"
        if i % 10 == 0:
            out.append(f"{at} ERROR mypoolr.bot: insert failed: {BODY}\n".encode())
        else:
            out.append(f"{at} INFO mypoolr.bot: sent reminder {i} to member {i * 7} (ok)\n".encode())
    return out


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "runbook", *args],
        capture_output=True,
        text=True,
        cwd=ROOT,
        stdin=subprocess.DEVNULL,
        timeout=300,
    )


COMPRESSORS: dict[str, Callable[[bytes], bytes]] = {
    "gz": gzip.compress,
    "bz2": bz2.compress,
    "zst": zstd_compress,
}


@pytest.mark.parametrize("suffix", ["gz", "bz2", "zst"])
def test_a_stream_cut_at_90_percent_keeps_the_lines_before_the_cut(tmp_path: Path, suffix: str) -> None:
    lines = log_lines(120_000)  # about 10 MiB: the cut falls past the first read chunks
    whole = COMPRESSORS[suffix](b"".join(lines))
    cut_at = len(whole) * 9 // 10
    path = tmp_path / f"bot.log.{suffix}"
    path.write_bytes(whole[:cut_at])

    doc = document(scan_paths([str(path)], ScanOptions()))

    stats = doc["stats"]
    kept = stats["lines_read"]
    # Most of the stream is there, and only complete lines, each counted once.
    assert len(lines) * 0.7 < kept < len(lines)
    failures = sum(1 for line in lines[:kept] if b"PGRST204" in line)
    [incident] = doc["incidents"]
    assert (incident["table"], incident["column"], incident["count"]) == ("mypoolr", "adminname", failures)
    assert stats["files"] == 1 and stats["unreadable"] == []
    assert stats["partial"] == [
        {
            "source": str(path),
            "reason": f"compressed stream cut after {cut_at} bytes; kept the {kept} lines before it",
        }
    ]

    proc = cli("scan", str(path), "--format", "json", "--no-progress")
    assert proc.returncode == 3, proc.stderr
    assert json.loads(proc.stdout)["incidents"][0]["count"] == failures
    assert f"{path}: compressed stream cut after {cut_at} bytes; kept the {kept} lines before it" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_a_whole_stream_is_read_whole(tmp_path: Path) -> None:
    """Several gzip members (`cat a.gz b.gz`) are one stream, not damage."""
    lines = log_lines(2_000)
    path = tmp_path / "bot.log.gz"
    path.write_bytes(gzip.compress(b"".join(lines[:1000])) + gzip.compress(b"".join(lines[1000:])))
    proc = cli("scan", str(path), "--format", "json", "--no-progress")
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(proc.stdout)
    assert doc["stats"]["lines_read"] == 2_000 and doc["stats"]["partial"] == []
    assert doc["incidents"][0]["count"] == 200


def test_bytes_after_the_gzip_member_are_named_and_the_lines_kept(tmp_path: Path) -> None:
    lines = log_lines(3_000)
    member = gzip.compress(b"".join(lines))
    path = tmp_path / "bot.log.gz"
    path.write_bytes(member + b"this is not gzip\n")
    proc = cli("scan", str(path), "--format", "json", "--no-progress")
    assert proc.returncode == 3, proc.stderr
    doc = json.loads(proc.stdout)
    assert doc["incidents"][0]["count"] == 300
    assert doc["stats"]["lines_read"] == 3_000
    assert doc["stats"]["partial"] == [
        {
            "source": str(path),
            "reason": f"compressed stream ends after {len(member)} bytes and is followed by 17 "
            "bytes that are not compressed data; kept the 3000 lines before them",
        }
    ]
    assert f"{path}: compressed stream ends after {len(member)} bytes" in proc.stderr


def write_gzip_bomb(path: Path, gib: int = 1) -> int:
    """`gib` GiB of zeros as gzip members of 16 MiB each (each ~16 KB): ~1000x. Returns the
    decompressed size."""
    member = zlib.compressobj(9, zlib.DEFLATED, 31)
    one = member.compress(bytes(16 << 20)) + member.flush()
    count = gib * 64
    with path.open("wb") as f:
        for _ in range(count):
            f.write(one)
    return count * (16 << 20)


def test_a_decompression_bomb_is_stopped_quickly_in_bounded_memory(tmp_path: Path) -> None:
    bomb = tmp_path / "access.log.gz"
    size = write_gzip_bomb(bomb)
    assert size // bomb.stat().st_size > 500
    (tmp_path / "bot.log").write_bytes(b"".join(log_lines(100)))

    started = time.monotonic()
    proc, _, rss_mib = run_measured(
        [sys.executable, "-m", "runbook", "scan", str(tmp_path), "--format", "json", "--no-progress"], ROOT
    )
    took = time.monotonic() - started

    assert proc.returncode == 3, proc.stderr
    assert "Traceback" not in proc.stderr
    doc = json.loads(proc.stdout)
    assert doc["incidents"][0]["count"] == 10  # the other input is still read
    [partial] = doc["stats"]["partial"]
    assert partial["source"] == str(bomb)
    assert partial["reason"].startswith("compressed stream expands more than 200x its compressed size")
    assert "--max-ratio" in partial["reason"]
    assert f"{bomb}: compressed stream expands more than 200x" in proc.stderr
    # Stopped after RATIO_FLOOR_BYTES of zeros, not 1 GiB of them; generous bounds for a
    # loaded machine (reading the whole bomb takes minutes there).
    assert doc["stats"]["bytes_read"] <= RATIO_FLOOR_BYTES + (2 << 20)
    assert took < 60
    assert rss_mib < 600


def test_max_ratio_raises_the_bound(tmp_path: Path) -> None:
    """A real log that compresses better than the default bound is read whole with
    --max-ratio: one line repeated compresses about 1000x, like a bomb."""
    line = b"2026-11-18 09:00:00,000 INFO mypoolr.bot: heartbeat ok, nothing to report here\n"
    data = line * ((RATIO_FLOOR_BYTES + (8 << 20)) // len(line))
    path = tmp_path / "heartbeat.log.gz"
    path.write_bytes(gzip.compress(data, 6))
    assert len(data) / path.stat().st_size > 200
    stopped = cli("scan", str(path), "--format", "json", "--no-progress")
    assert stopped.returncode == 3 and json.loads(stopped.stdout)["stats"]["partial"]
    whole = cli("scan", str(path), "--format", "json", "--no-progress", "--max-ratio", "5000")
    assert whole.returncode == 0, whole.stderr
    assert json.loads(whole.stdout)["stats"]["lines_read"] == data.count(b"\n")


def test_a_corrupt_stream_keeps_the_lines_before_the_damage(tmp_path: Path) -> None:
    lines = log_lines(60_000)
    damaged = bytearray(gzip.compress(b"".join(lines)))
    damaged[len(damaged) // 2] ^= 0xFF
    path = tmp_path / "bot.log.gz"
    path.write_bytes(bytes(damaged))
    doc = document(scan_paths([str(path)], ScanOptions()))
    kept = doc["stats"]["lines_read"]
    assert 0 < kept < len(lines)
    # Damaged deflate data may decode to wrong bytes for a while before it fails to decode:
    # the lines before the damaged byte (half-way in the stream) are all counted.
    failures = doc["incidents"][0]["count"]
    before = sum(1 for line in lines[: len(lines) // 3] if b"PGRST204" in line)
    assert before <= failures <= sum(1 for line in lines[:kept] if b"PGRST204" in line)
    [partial] = doc["stats"]["partial"]
    assert partial["reason"].startswith("compressed stream corrupt within its first ")
    assert partial["reason"].endswith(f"kept the {kept} lines before the damage")
