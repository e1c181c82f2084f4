"""The logs' verdict for one incident, computed the same way wherever it is shown.

The TUI, `run --logs`, `report` and `bundle` all call `verdict_from_logs` with a `LogInputs`:
the event table when the logs were scanned in this process (exact times, DDL levels, hints),
else what the `scan --format json` document carries (its `related` groups and `stats.formats`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import polars as pl

from runbook.diagnosis.from_logs import LogDiagnosis, diagnose_logs
from runbook.diagnosis.log_facts import LogFacts, facts_from_events, facts_from_incident


@dataclass(frozen=True)
class LogInputs:
    """What the logs' verdict is computed from, besides the incident itself."""

    events: pl.DataFrame | None = None
    related: tuple[Mapping[str, Any], ...] = ()
    formats: Mapping[str, int] | None = None

    @classmethod
    def of(cls, doc: Mapping[str, Any] | None, events: pl.DataFrame | None = None) -> LogInputs:
        """From a scan document (may be None) and, when at hand, its event table."""
        doc = doc or {}
        related = tuple(r for r in doc.get("related") or [] if isinstance(r, Mapping))
        stats = doc.get("stats")
        formats = stats.get("formats") if isinstance(stats, Mapping) else None
        return cls(events, related, formats if isinstance(formats, Mapping) else None)

    @property
    def exact(self) -> bool:
        """True when the event table is at hand (an empty one says nothing: use the document)."""
        return self.events is not None and self.events.height > 0


def log_facts(incident: Mapping[str, Any], inputs: LogInputs) -> LogFacts:
    """The facts the logs hold about one incident (a `scan --format json` incident)."""
    if inputs.exact:
        assert inputs.events is not None
        return facts_from_events(incident, inputs.events)
    return facts_from_incident(incident, inputs.related, inputs.formats)


def verdict_from_logs(incident: Mapping[str, Any], inputs: LogInputs) -> LogDiagnosis:
    """The verdict the logs alone support for one incident. No database, no API."""
    return diagnose_logs(log_facts(incident, inputs))


def verdicts_of_document(
    doc: Mapping[str, Any], events: pl.DataFrame | None = None
) -> list[tuple[dict[str, Any], LogDiagnosis]]:
    """Every incident of a scan document with the logs' verdict."""
    inputs = LogInputs.of(doc, events)
    return [
        (inc, verdict_from_logs(inc, inputs))
        for inc in doc.get("incidents") or []
        if isinstance(inc, dict)
    ]
