"""Hyperscan and the plain `bytes.find` engine find the same candidate lines, so a scan's
document (incidents, counts, samples, per-minute series, stats) is the same byte for byte. The
plain engine also keeps the line loops that the native one replaces by columns (one-line
records, request lines to count): the reference they are held to."""

from __future__ import annotations

import json
import random
import shutil
from pathlib import Path

import polars as pl
import pytest

from parsers import registry
from runbook.ingest import candidates
from runbook.ingest.candidates import HyperscanFinder, PlainFinder, tally_lines
from runbook.ingest.scan import ScanOptions, document, scan_paths

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = ROOT / "tests" / "parsers" / "fixtures"

BODY = (
    "{{'code': 'PGRST204', 'details': None, 'hint': None, "
    "'message': \"Could not find the '{col}' column of '{table}' in the schema cache\"}}"
)


def test_hyperscan_is_installed(monkeypatch: pytest.MonkeyPatch) -> None:
    """It is a dependency: a scan here uses it unless told otherwise."""
    monkeypatch.delenv(candidates.SEARCH_ENV, raising=False)
    assert candidates.native_available()
    assert candidates.engine_name() == "hyperscan"


def test_plain_engine_when_asked(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(candidates.SEARCH_ENV, "python")
    assert candidates.engine_name() == "python"
    assert isinstance(candidates.finder((b"PGRST",)), PlainFinder)


def _noise_line(rng: random.Random, clean: bool) -> bytes:
    """A line of keywords and filler; `clean`: no CR and valid UTF-8 (polars cuts such lines)."""
    words = [b"INFO", b"PGRST", b"chema cache", b"\t", b'] "P', b'" 400 ', b"x" * rng.randint(0, 40)]
    if not clean:
        words += [b"\r", b"\xff"]
    return b" ".join(rng.choice(words) for _ in range(rng.randint(0, 6))) + b"\n"


@pytest.mark.parametrize("fmt", registry.FORMATS, ids=lambda fmt: fmt.name)
def test_same_lines_for_every_format(fmt) -> None:
    rng = random.Random(fmt.name)
    plain = PlainFinder(fmt.keywords)
    native = HyperscanFinder(fmt.keywords)
    for _ in range(40):
        clean = rng.random() < 0.5
        lines = [_noise_line(rng, clean) for _ in range(rng.randint(0, 60))]
        work = b"".join(lines)
        cut = rng.randint(0, len(lines))
        offset = len(b"".join(lines[:cut]))  # a line start, as a scanner's context ends
        for end in {len(work), len(work) - rng.randint(0, 3)}:  # a last line without newline too
            if end < offset:
                continue
            starts = plain.find(work, offset, end)
            assert native.find(work, offset, end) == starts
            if fmt.tally_keywords:
                raw = tally_lines(work, offset, end, fmt, starts, native=False)
                cut_by_polars = tally_lines(work, offset, end, fmt, starts, native=True)
                assert sorted(_text(cut_by_polars)) == sorted(_text(raw))


def _text(lines: list[bytes] | pl.Series) -> list[str]:
    return lines.to_list() if isinstance(lines, pl.Series) else [line.decode("utf-8", "replace") for line in lines]


def _app_log(minutes: int) -> str:
    out = []
    for i in range(minutes * 30):
        ts = f"2026-11-18 09:{i // 30:02d}:{i % 30 * 2:02d},{i % 1000:03d}"
        if i % 7 == 3:
            table, col = [("mypoolr", "adminname"), ("members", "telegram_handle")][i % 2]
            out += [
                f"{ts} ERROR bot.handlers: insert failed",
                "Traceback (most recent call last):",
                '  File "/app/bot/handlers.py", line 88, in create_pool',
                "    res = supabase.table('mypoolr').insert(payload).execute()",
                "postgrest.exceptions.APIError: " + BODY.format(col=col, table=table),
            ]
        else:
            out.append(f"{ts} INFO bot.handlers: update {i} handled in {i % 90}ms")
    return "\r\n".join(out) + "\r\n"


def _access_log(minutes: int) -> str:
    out = []
    for i in range(minutes * 40):
        # two request lines to count in five: polars' reader cuts them in the native engine
        status = (400, 404, 201, 204, 200)[i % 5]
        method = ("POST", "PATCH", "POST", "PATCH", "GET")[i % 5]
        out.append(
            f"10.0.0.{i % 9} - web_anon [18/Nov/2026:09:{i // 40:02d}:{i % 40:02d} +0000] "
            f'"{method} /members?select=id HTTP/1.1" {status} {i % 900} "" "postgrest-js/1.x"'
        )
    return "\n".join(out)  # no final newline


def _json_lines(minutes: int) -> str:
    out = []
    for i in range(minutes * 20):
        ts = f"2026-11-18T09:{i // 20:02d}:{i % 20 * 3:02d}.{i % 1000:03d}Z"
        if i % 5 == 1:
            out.append(json.dumps({"timestamp": ts, "level": "error", "event": "insert failed",
                                   "error_code": "PGRST204", "table": "patients", "column": "doseLogs"}))
        else:
            out.append(json.dumps({"timestamp": ts, "level": "info", "status": 200}))
    return "\n".join(out) + "\n"


@pytest.fixture
def inputs(tmp_path: Path) -> list[str]:
    """Several formats, multi-line records, a csvlog, a mixed stream, CRLF and invalid UTF-8."""
    shutil.copytree(ROOT / "sample_logs", tmp_path / "samples")
    for name in ("pg15.log", "pg15.json", "pg15.csv", "pg15_pgbadger_prefix.log"):
        shutil.copy(FIXTURES / "postgres" / name, tmp_path / name)
    shutil.copy(FIXTURES / "supabase_js" / "node20_supabase_js.log", tmp_path / "node.log")
    (tmp_path / "bot.log").write_bytes(_app_log(12).encode() + b"2026-11-18 09:30:00,000 ERROR \xff PGRST204\n")
    (tmp_path / "postgrest-access.log").write_text(_access_log(10))
    crlf = _access_log(4).replace("\n", "\r\n").encode()
    (tmp_path / "access-crlf.log").write_bytes(crlf)
    (tmp_path / "access-invalid.log").write_bytes(crlf.replace(b"\r\n", b"\n").replace(b"web_anon", b"web_\xffanon", 1))
    (tmp_path / "api.jsonl").write_text(_json_lines(10))
    (tmp_path / "mixed.log").write_text(_app_log(3) + _json_lines(3) + _access_log(2) + "\n")
    return [str(tmp_path)]


def _document(
    inputs: list[str], monkeypatch: pytest.MonkeyPatch, engine: str, chunk: int, parallel: bool
) -> str:
    monkeypatch.setenv(candidates.SEARCH_ENV, engine)  # worker processes inherit it
    assert candidates.engine_name() == engine
    result = scan_paths(inputs, ScanOptions(chunk_bytes=chunk, parallel=parallel))
    return json.dumps(document(result), sort_keys=True, default=str)


@pytest.mark.parametrize(("chunk", "parallel"), [(4096, False), (16 * 1024 * 1024, False), (64 * 1024, True)])
def test_same_document_from_both_engines(
    inputs: list[str], monkeypatch: pytest.MonkeyPatch, chunk: int, parallel: bool
) -> None:
    if parallel:  # every file in byte ranges, scanned by worker processes
        import runbook.ingest.parallel as ranges

        monkeypatch.setattr(ranges, "PARALLEL_MIN_BYTES", 1)
        monkeypatch.setattr(ranges, "PARALLEL_FILE_BYTES", 1)
        monkeypatch.setattr(ranges, "workers", lambda: 2)
    native = _document(inputs, monkeypatch, "hyperscan", chunk, parallel)
    plain = _document(inputs, monkeypatch, "python", chunk, parallel)
    assert native == plain
    doc = json.loads(native)
    assert doc["incidents"] and doc["stats"]["events"] > 0
    assert len(doc["stats"]["formats"]) >= 5
