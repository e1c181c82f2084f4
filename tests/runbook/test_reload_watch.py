"""Following PostgREST's stderr across a reload: the lines it classifies are the stderr parser's."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest

from parsers.postgrest_stderr import classify_line, stderr_events
from runbook.steps.reload_watch import FAILED, LOADED, RECEIVED, LoadLineWatch, load_evidence

BEFORE = (
    "21/Aug/2026:14:00:00 +0000: Starting PostgREST 12.2.3...\n"
    "21/Aug/2026:14:00:01 +0000: Schema cache loaded 15 Relations, 8 Relationships, 8 RPCs\n"
)
AFTER = (
    '21/Aug/2026:14:02:05 +0000: Received a schema cache reload message on the "pgrst" channel\n'
    "21/Aug/2026:14:02:05 +0000: Schema cache queried in 9.8 milliseconds \n"
    "21/Aug/2026:14:02:05 +0000: Schema cache loaded in 0.1 milliseconds\n"
    "21/Aug/2026:14:02:05 +0000: Schema cache loaded 16 Relations, 8 Relationships, 8 RPCs\n"
)


@pytest.mark.parametrize("prefix", ["", "rest-1  | ", "rest-1  | 2026-08-21T14:02:05.123456789Z "])
def test_lines_after_the_mark_are_read_with_their_line_numbers(tmp_path: Path, prefix: str) -> None:
    log = tmp_path / "postgrest.log"
    other = tmp_path / "app.log"
    log.write_text("".join(prefix + line + "\n" for line in BEFORE.splitlines()))
    other.write_text("Schema cache loaded, says the app\n")
    watch = LoadLineWatch([log, other])
    assert watch.postgrest_files() == [log]
    mark = watch.mark()

    with log.open("a") as handle:
        handle.write("".join(prefix + line + "\n" for line in AFTER.splitlines()))
    lines = watch.lines_since(mark)

    assert [(x.kind, x.where) for x in lines] == [(RECEIVED, f"{log}:3"), (LOADED, f"{log}:6")]
    rows = load_evidence(mark, lines)
    assert [(r.check, r.fact) for r in rows] == [
        ("PostgREST received the reload message", True),
        ("PostgREST logged a cache load after the reload", True),
    ]


def test_a_failed_load_and_a_rotated_file(tmp_path: Path) -> None:
    log = tmp_path / "postgrest.log"
    log.write_text(BEFORE * 3)
    watch = LoadLineWatch([log])
    mark = watch.mark()
    log.write_text(  # rotated: shorter than at the mark, read from the start
        "21/Aug/2026:14:09:00 +0000: Failed to load the schema cache using db-schemas=public\n"
    )
    lines = watch.lines_since(mark)
    assert [(x.kind, x.where) for x in lines] == [(FAILED, f"{log}:1")]
    rows = load_evidence(mark, lines)
    assert rows[-1].check == "the cache load failed" and rows[-1].fact is True
    assert load_evidence({}, lines) == []  # no PostgREST stderr followed: silence proves nothing


def test_the_line_classifier_agrees_with_the_parser() -> None:
    lines = (BEFORE + AFTER).splitlines() + [
        "21/Aug/2026:14:09:00 +0000: Failed to load the schema cache using db-schemas=public",
        "21/Aug/2026:14:09:01 +0000: Listening for notifications on the pgrst channel",
        "21/Aug/2026:14:09:02 +0000: something PostgREST never says",
        "not a PostgREST line at all",
    ]
    frame = pl.DataFrame({"line": lines}).select(stderr_events(pl.col("line")))
    by_parser = [
        (kind, detail.split(" ")[0]) if kind is not None else None
        for kind, detail in zip(frame["kind"], frame["detail"], strict=True)
    ]
    by_line = [
        (str(c[0].value), c[1]) if (c := classify_line(line)) is not None else None for line in lines
    ]
    assert by_line == by_parser
    assert by_line[-1] is None and by_line[-2] is None
