"""On resolve, the incident report (the report engine's own) into `--reports DIR`.

`gh issue create --title "..." --body-file DIR/<id>.md` files it; GitHub rejects bodies over
65,536 characters, so `max_chars` cuts the report there with a note.
"""

from __future__ import annotations

from pathlib import Path
from typing import Protocol

import polars as pl

from runbook.ingest.scan import ScanResult, document
from runbook.ingest.scanner import SourceStats
from runbook.ingest.sources import InputProblem
from runbook.report.incident_report import build_report, render_report, save_text


class ReadInputs(Protocol):
    """What was read and what could not be (a `Follower`, or a drill's `ReplayFeed`)."""

    problems: list[InputProblem]

    def stats(self) -> list[SourceStats]: ...


CUT_NOTE = "\n\n_(report cut at {n:,} characters; the whole report: `pgrst-runbook report`)_\n"


def write_report(
    folder: Path,
    events: pl.DataFrame,
    follower: ReadInputs,
    table: str,
    column: str,
    max_chars: int | None = None,
) -> Path | None:
    """Write the report of the (table, column) incident; None when the events hold none."""
    doc = document(ScanResult(events, follower.stats(), list(follower.problems)))
    incidents = [i for i in doc["incidents"] if i["table"] == table and i["column"] == column]
    if not incidents:
        return None
    incident = incidents[0]
    text = render_report(build_report(doc, incident=incident, events=events))
    if max_chars is not None and len(text) > max_chars:
        note = CUT_NOTE.format(n=max_chars)
        text = text[: max(0, max_chars - len(note))] + note
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{incident['id']}.md"
    save_text(path, text, force=True)
    return path
