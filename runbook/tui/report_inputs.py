"""What the report screen renders: the report of one incident from what the app has read.

The same functions as `pgrst-runbook report` (`build_report`, `render_report`,
`render_checklist`), fed with the app's event table and source stats instead of a new scan,
and with the incident's runbook journal when there is one. No Textual here.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import polars as pl

from runbook.events import empty_events
from runbook.incidents.grouping import Incident
from runbook.ingest.scan import ScanResult, document
from runbook.ingest.scanner import SourceStats
from runbook.ingest.sources import InputProblem
from runbook.report.checklist import render_checklist
from runbook.report.incident_report import Report, build_report, read_journal, render_report


@dataclass(frozen=True)
class RenderedReport:
    """The report's model, its Markdown, and the checklist it would add to."""

    report: Report
    markdown: str
    checklist: str
    journal: Path | None

    @property
    def default_name(self) -> str:
        return f"incident-{self.report.id}.md"


def render_for(
    incident: Incident,
    events: pl.DataFrame | None,
    stats: list[SourceStats],
    problems: list[InputProblem],
    journal: Path | None,
) -> RenderedReport:
    """Render the report of `incident` (raises `ReportError` / `TemplateProblem`)."""
    result = ScanResult(events=events if events is not None else empty_events(), sources=stats, problems=problems)
    doc: dict[str, Any] = document(result)
    chosen = next(
        (i for i in doc["incidents"] if (i["table"], i["column"]) == (incident.table, incident.column)),
        incident.to_dict(),
    )
    view = read_journal(journal) if journal is not None else None
    report = build_report(doc, incident=chosen, journal=view, events=result.events)
    return RenderedReport(report, render_report(report), render_checklist(report), journal)
