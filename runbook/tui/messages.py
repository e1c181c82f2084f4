"""Messages from the workers to the app. Workers only post these; the app and screens react.

Floods are coalesced: a newer progress or incidents message replaces one still waiting in the
queue (`can_replace`), so a fast follow never queues up stale frames.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING

from textual.message import Message

if TYPE_CHECKING:  # the worker imports these; the first frame does not wait for polars
    import polars as pl

    from runbook.diagnosis.from_logs import LogDiagnosis
    from runbook.incidents.grouping import Incident
    from runbook.ingest.scanner import SourceStats
    from runbook.ingest.sources import InputProblem

SCANNING, FOLLOWING, REPLAYING, DONE, CANCELLED = (
    "scanning",
    "following",
    "replaying",
    "done",
    "cancelled",
)


@dataclass
class IngestStarted(Message):
    """The inputs are open: how many sources, how many bytes, which inputs could not be used."""

    sources: int
    bytes_total: int | None
    problems: list[InputProblem] = field(default_factory=list)


@dataclass
class IngestProgress(Message):
    """Where ingestion stands. `phase` is scanning, following or replaying."""

    phase: str
    bytes_done: int
    bytes_total: int | None
    current: str = ""
    events: int = 0
    recorded_at: datetime | None = None  # replay: the recorded time reached
    replayed: int = 0
    replay_total: int = 0

    def can_replace(self, message: Message) -> bool:
        return isinstance(message, IngestProgress)


@dataclass
class IncidentsChanged(Message):
    """The incidents of everything read so far (a complete list, most requests first).

    `frame` is the event table they were grouped from and `stats` a copy of what was read from
    each source: the report is built from them. `log_diagnoses` is what the logs alone say
    about each incident (`runbook.diagnosis.from_logs`), before anyone inspects the database.
    """

    incidents: list[Incident]
    events: int
    frame: pl.DataFrame | None = None
    stats: list[SourceStats] = field(default_factory=list)
    log_diagnoses: dict[str, LogDiagnosis] = field(default_factory=dict)  # by table row key

    def can_replace(self, message: Message) -> bool:
        return isinstance(message, IncidentsChanged)


@dataclass
class IngestNotice(Message):
    """Something the operator should know: a rotation, a truncation, a read error."""

    text: str


@dataclass
class IngestFinished(Message):
    """Ingestion ended: everything read, or cancelled (Esc), or following stopped."""

    phase: str  # DONE or CANCELLED
    stats: list[SourceStats]
    problems: list[InputProblem]
    events: int
