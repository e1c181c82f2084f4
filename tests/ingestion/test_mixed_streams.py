"""One stream that mixes formats gives what the same logs give as separate files.

`kubectl logs --all-containers`, `docker compose logs` without prefixes, journald and a plain
`cat a.log b.jsonl c.csv` hand the scanner one stream; each record must still be read by the
format it is written in, whether the mix shows in the first lines or only further down.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from runbook.ingest.mixed import MixedScanner
from runbook.ingest.scan import ScanOptions, document, scan_paths, scanner_for
from runbook.ingest.sources import Source

SAMPLES = Path(__file__).resolve().parents[2] / "sample_logs"
FOLDERS = sorted(p for p in SAMPLES.iterdir() if p.is_dir())
WHERE = {"source", "sources", "seen_in", "line_no", "record_no", "location", "file", "line", "id", "files"}


def without_places(value: Any) -> Any:
    """The document without the names and line numbers of files (a stream has one name)."""
    if isinstance(value, dict):
        return {k: without_places(v) for k, v in value.items() if k not in WHERE}
    if isinstance(value, list):
        return [without_places(v) for v in value]
    return value


def concatenated(folder: Path) -> bytes:
    return b"".join(path.read_bytes() for path in sorted(folder.iterdir()) if path.is_file()
                    and not path.name.startswith(".") and path.suffix != ".md")


def scan_json(args: list[str], stdin: bytes | None = None) -> dict[str, Any]:
    done = subprocess.run(
        [sys.executable, "-m", "runbook", "scan", *args, "--format", "json"],
        input=stdin, capture_output=True, timeout=300, check=False,
    )
    assert done.returncode in (0, 2), done.stderr.decode()
    return json.loads(done.stdout)


@pytest.mark.parametrize("folder", FOLDERS, ids=lambda p: p.name)
def test_stdin_of_a_folder_gives_what_the_folder_gives(folder: Path) -> None:
    from_folder = scan_json([str(folder)])
    from_stream = scan_json(["-"], stdin=concatenated(folder))
    assert from_folder["incidents"], "every sample folder has an incident"
    assert without_places(from_stream["incidents"]) == without_places(from_folder["incidents"])
    assert without_places(from_stream["related"]) == without_places(from_folder["related"])
    assert set(from_stream["stats"]["formats"]) <= set(from_folder["stats"]["formats"]) | {
        "postgrest_access", "postgrest_stderr"  # a docker log's two streams, named apart
    }


@pytest.mark.parametrize("folder", FOLDERS, ids=lambda p: p.name)
def test_one_file_of_several_formats_reads_like_the_folder(folder: Path, tmp_path: Path) -> None:
    joined = tmp_path / "all-containers.log"
    joined.write_bytes(concatenated(folder))
    from_folder = document(scan_paths([str(folder)], ScanOptions()))
    from_file = document(scan_paths([str(joined)], ScanOptions()))
    assert without_places(from_file["incidents"]) == without_places(from_folder["incidents"])


def test_lines_of_two_formats_interleaved_keep_their_times(tmp_path: Path) -> None:
    """An unprefixed `docker compose logs`: app JSON lines and access lines, line by line."""
    app = (SAMPLES / "stale-cache" / "app.jsonl").read_text().splitlines()
    access = (SAMPLES / "stale-cache" / "postgrest-access.log").read_text().splitlines()
    mixed = [line for pair in zip(app, access, strict=False) for line in pair]
    mixed += app[len(access):] + access[len(app):]
    path = tmp_path / "compose.log"
    path.write_text("\n".join(mixed) + "\n")
    (tmp_path / "apart").mkdir()
    (tmp_path / "apart" / "app.jsonl").write_text("\n".join(app) + "\n")
    (tmp_path / "apart" / "access.log").write_text("\n".join(access) + "\n")

    together = document(scan_paths([str(path)], ScanOptions()))
    apart = document(scan_paths([str(tmp_path / "apart")], ScanOptions()))

    assert together["incidents"] and together["stats"]["formats"] == {
        "json_lines": 1, "postgrest_access": 1
    }
    assert without_places(together["incidents"]) == without_places(apart["incidents"])


def test_a_stream_mixed_from_its_first_lines_is_read_record_by_record() -> None:
    sample = concatenated(SAMPLES / "stale-cache")[: 64 * 1024]
    assert isinstance(scanner_for(Source("-"), sample, ScanOptions()), MixedScanner)


def test_one_format_with_continuation_lines_is_not_mixed() -> None:
    for name in ("worker.log", "postgres.csv", "postgrest-access.log"):
        sample = (SAMPLES / "stale-cache" / name).read_bytes()
        assert not isinstance(scanner_for(Source(name), sample, ScanOptions()), MixedScanner)
    docker = (SAMPLES / "mypoolr" / "postgrest.log").read_bytes()  # stderr and access lines
    scanner = scanner_for(Source("postgrest.log"), docker, ScanOptions())
    assert scanner.fmt.name == "postgrest_docker"


def test_a_forced_format_is_not_second_guessed(tmp_path: Path) -> None:
    path = tmp_path / "all.log"
    path.write_bytes(concatenated(SAMPLES / "stale-cache"))
    result = scan_paths([str(path)], ScanOptions(default_format="json_lines"))
    assert result.sources[0].format == "json_lines"
    assert result.sources[0].lines_skipped > 0  # the other formats' candidate lines, counted


def test_follow_reads_a_mixed_stream_like_scan(tmp_path: Path) -> None:
    """The TUI and `watch` read through `Follower`: the same records, the same incidents."""
    from runbook.incidents.live import IncidentTracker
    from runbook.ingest.follow import Follower

    path = tmp_path / "stream.log"
    path.write_bytes(concatenated(SAMPLES / "stale-cache"))
    tracker = IncidentTracker()
    for batch in Follower([str(path)], chunk_bytes=4096).batches():
        tracker.add(batch.events)
    followed = [i.to_dict() for i in tracker.incidents()]
    scanned = document(scan_paths([str(SAMPLES / "stale-cache")], ScanOptions()))["incidents"]
    assert followed and without_places(followed) == without_places(scanned)


def test_a_large_file_scanned_in_parts_still_sees_a_later_format(tmp_path: Path, monkeypatch) -> None:
    """A file big enough for the parallel path that turns into other formats further down is
    read record by record, as the one-pass scan reads it."""
    import runbook.ingest.parallel as parallel

    monkeypatch.setattr(parallel, "PARALLEL_MIN_BYTES", 1)
    monkeypatch.setattr(parallel, "PARALLEL_FILE_BYTES", 1)
    monkeypatch.setattr(parallel, "workers", lambda: 2)
    noise = "".join(
        f"2026-11-18 09:0{n % 10}:{n % 60:02d},000 INFO bot.handlers: update {n} handled\n"
        for n in range(3000)
    )
    stream = tmp_path / "all.log"
    stream.write_bytes(noise.encode() + concatenated(SAMPLES / "stale-cache"))
    one = document(scan_paths([str(stream)], ScanOptions(parallel=False)))
    parted = document(scan_paths([str(stream)], ScanOptions(parallel=True)))
    assert one["incidents"], "the stale-cache records after the noise make an incident"
    assert parted["incidents"] == one["incidents"]
    assert parted["related"] == one["related"]
    assert parted["stats"]["formats"] == one["stats"]["formats"]


def _mixed_stream_scanner() -> MixedScanner:
    from parsers import registry

    return MixedScanner("-", registry.FORMATS)


def test_an_endless_line_in_a_mixed_stream_is_cut_and_what_follows_is_read() -> None:
    """A line with no end (a binary blob, a runaway writer) is kept to its first
    MAX_LINE_BYTES, counted in `lines_cut`, and the scanner holds no more than that."""
    from runbook.ingest.scanner import MAX_LINE_BYTES

    head = concatenated(SAMPLES / "stale-cache")
    scanner = _mixed_stream_scanner()
    frames = [scanner.feed(head)]
    blob = b"x" * (1 << 20)
    for _ in range(16):  # 16 MiB of one line, fed in pieces as a pipe gives it
        frames.append(scanner.feed(blob))
        assert scanner.held_bytes <= MAX_LINE_BYTES + (1 << 20)
    frames.append(scanner.feed(b"\n" + head))
    frames.append(scanner.finish())
    import polars as pl

    events = pl.concat([f for f in frames if f.height], how="vertical")
    assert scanner.stats.lines_cut == 1
    single = document(scan_paths([str(SAMPLES / "stale-cache")], ScanOptions()))
    pgrst204 = events.filter(pl.col("code") == "PGRST204").height
    expected = sum(i["count"] for i in single["incidents"])
    # Both copies of the logs are read: the blob cost one line, not the rest of the stream.
    assert pgrst204 >= 2 * expected > 0


def test_a_long_csvlog_run_in_a_mixed_stream_is_parsed_in_bounded_parts(monkeypatch) -> None:
    """A csvlog inside a mixed stream is collected and parsed as a document; a run larger
    than MAX_RUN_BYTES is parsed at a record start, so memory does not grow with the run, and
    the events and their line numbers are those of one whole parse."""
    import runbook.ingest.mixed as mixed

    csv = (SAMPLES / "stale-cache" / "postgres.csv").read_bytes()
    app = (SAMPLES / "stale-cache" / "app.jsonl").read_bytes()
    stream = app + csv * 5 + app

    def events_of(max_run: int) -> tuple[list[tuple[object, ...]], int]:
        monkeypatch.setattr(mixed, "MAX_RUN_BYTES", max_run)
        scanner = _mixed_stream_scanner()
        most = 0
        frames = []
        for start in range(0, len(stream), 4096):
            frames.append(scanner.feed(stream[start : start + 4096]))
            most = max(most, scanner.held_bytes)
        frames.append(scanner.finish())
        rows = sorted(
            (r["line_no"], r["kind"], r["code"], r["table"], r["column"], str(r["ts"]))
            for f in frames
            for r in f.iter_rows(named=True)
        )
        return rows, most

    whole, held_whole = events_of(1 << 40)
    parts, held_parts = events_of(len(csv) // 3)
    assert whole and parts == whole
    assert held_whole >= 5 * len(csv) * 0.9  # one run held whole ...
    assert held_parts < len(csv)  # ... or parsed in parts below a third of its size + a chunk
