"""Every format's own sample lines must parse into what the sample says (lnav's habit).

Each parser module declares `samples`; this one test runs them all through the real scanner, so
a format cannot ship a pattern that misses its own documented input.
"""

from __future__ import annotations

import polars as pl
import pytest

from parsers.registry import FORMATS
from runbook.ingest.scanner import SourceScanner

CASES = [
    pytest.param(fmt, sample, id=f"{fmt.name}-{i}")
    for fmt in FORMATS
    for i, sample in enumerate(fmt.samples)
]


def test_every_format_has_samples() -> None:
    missing = [fmt.name for fmt in FORMATS if not fmt.samples]
    assert not missing, f"formats without sample lines: {missing}"


@pytest.mark.parametrize(("fmt", "sample"), CASES)
def test_sample_parses(fmt, sample) -> None:
    data = ("\n".join(sample.lines) + "\n").encode()
    scanner = SourceScanner("sample", fmt)
    if fmt.whole_file:
        events = scanner.document(data)
    else:
        events = pl.concat([scanner.feed(data), scanner.finish()])
    assert events.height > 0, f"{fmt.name} found no event in its own sample"
    rows = events.to_dicts()
    wanted = {k: (str(v) if k == "ts" else v) for k, v in sample.expect.items()}

    def matches(row: dict) -> bool:
        return all((str(row[k]) if k == "ts" else row[k]) == v for k, v in wanted.items())

    assert any(matches(row) for row in rows), f"no event matches {wanted}: {rows}"


@pytest.mark.parametrize(("fmt", "sample"), [c for c in CASES if c.values[0].name != "generic"])
def test_sample_is_recognised(fmt, sample) -> None:
    assert fmt.sniff(list(sample.lines)) > 0, f"{fmt.name} does not recognise its own sample"
