"""The bundled recorded incidents scan to exactly what their `.expected.json` says.

These files are what a newcomer's first run opens; every count and time in them was checked
by hand, so a parser regression shows here first.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from runbook.events import Kind
from runbook.ingest.scan import ScanOptions, document, scan_paths

SAMPLES = Path(__file__).resolve().parents[2] / "sample_logs"
CASES = sorted(p.parent for p in SAMPLES.glob("*/.expected.json"))


def test_there_are_recorded_incidents() -> None:
    assert len(CASES) >= 2


@pytest.fixture(scope="module", params=CASES, ids=lambda p: p.name)
def scanned(request):
    folder: Path = request.param
    expected = json.loads((folder / ".expected.json").read_text())
    result = scan_paths([str(folder)], ScanOptions())
    return expected, result, document(result)


def test_incidents_match(scanned) -> None:
    expected, _, doc = scanned
    keys = ("code", "schema", "table", "column", "count", "first_seen", "last_seen")
    got = [{k: inc[k] for k in keys} for inc in doc["incidents"]]
    want = [{k: inc[k] for k in keys} for inc in expected["incidents"]]
    assert got == want


def test_endpoints_match(scanned) -> None:
    expected, _, doc = scanned
    for want, got in zip(expected["incidents"], doc["incidents"], strict=True):
        assert sorted(got["endpoints"]) == sorted(want["endpoints"])


def test_related_codes_match(scanned) -> None:
    expected, _, doc = scanned
    codes: dict[str, int] = {}
    for rel in doc["related"]:
        if rel["code"] != "PGRST204":  # PGRST204 rows with a table but no column are edge hints
            codes[rel["code"]] = codes.get(rel["code"], 0) + rel["count"]
    assert codes == expected["related_codes"]


def test_migrations_reloads_and_loads_match(scanned) -> None:
    expected, result, _ = scanned
    events = result.events
    migrations = [
        {"table": r["table"], "detail": r["detail"] or "", "column": r["column"], "ts": r["ts"].isoformat()}
        for r in events.filter(events["kind"] == Kind.MIGRATION.value).iter_rows(named=True)
    ]
    assert [(m["table"], m["column"], m["ts"]) for m in migrations] == [
        (m["table"], m["column"], m["ts"]) for m in expected["migrations"]
    ]
    for got, want in zip(migrations, expected["migrations"], strict=True):
        assert got["detail"].startswith(want["action"]), (got, want)
    reloads = [r.isoformat() for r in events.filter(events["kind"] == Kind.CACHE_RELOAD.value)["ts"]]
    loads = [r.isoformat() for r in events.filter(events["kind"] == Kind.CACHE_LOAD.value)["ts"]]
    assert reloads == expected["reloads"]
    assert loads == expected["cache_loads"]


def test_errors_after_the_last_load_match(scanned) -> None:
    expected, _, doc = scanned
    after = doc["incidents"][0]["context"]["errors_after_last_load"]
    want = expected["errors_after_last_load"]
    assert (None if after is None else after > 0) == want


def test_every_file_is_parsed_by_a_real_format(scanned) -> None:
    _, result, _ = scanned
    assert all(s.format != "generic" for s in result.sources), [
        (s.source, s.format) for s in result.sources
    ]
