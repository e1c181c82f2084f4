"""What a restart resumes from: input positions and incident state, one fsynced JSON file.

Written atomically (temporary file, fsync, rename, directory fsync) only after the events up
to those positions were counted and their alerts queued: a crash re-reads, never loses.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from runbook.atomic_write import write_atomic
from runbook.ingest.follow import TailPosition
from runbook.ingest.store_follow import StorePosition

STATE_FILE = "state.json"
VERSION = 1


def default_state_dir() -> Path:
    base = os.environ.get("XDG_STATE_HOME") or os.path.join(os.path.expanduser("~"), ".local", "state")
    return Path(base) / "pgrst-runbook" / "watch"


@dataclass
class IncidentState:
    """One (schema, table, column) the watcher knows, and what it last told the sinks."""

    fingerprint: str
    schema: str
    table: str
    column: str
    status: str  # firing | resolved
    count: int = 0  # failed requests in every run so far
    base_count: int = 0  # of which counted before this run (not in this run's events)
    verdict: str = "unknown"
    confidence: str = "unknown"
    count_class: int = 0
    first_seen: str | None = None  # the first failure ever (log time)
    episode_first: str | None = None  # the first failure since the alert last opened
    last_seen: str | None = None
    endpoint: str | None = None
    nearest_columns: list[str] = field(default_factory=list)
    seq: int = 0  # messages queued for it so far
    started_at: str = ""  # startsAt of the open alert
    last_growth: float = 0.0  # wall time (epoch) the count last grew
    kind: str = "pgrst204"  # or "reload" (a DDL/reload request no confirmed load followed)
    checked_by: str = "logs"  # "servers" once the database/API inspection gave the verdict
    server_verdict: str | None = None
    server_confidence: str = "unknown"
    server_summary: str = ""
    server_next_step: str = ""
    not_checked: list[str] = field(default_factory=list)  # parts the inspection could not reach
    auto_reload: str = ""  # what --auto-reload did for this episode (one line), "" nothing
    auto_reload_head: str = ""  # its few words for the summary ("auto-reloaded, verified")


STREAM_REASON = (
    "a pipe has no offset or identity to resume from: a restart counts the lines it is given "
    "then as new, and lines given again are counted again"
)


@dataclass
class StreamRecord:
    """An input that cannot be resumed by offset (stdin): what was read of it, said plainly,
    instead of a position that would pretend a restart can go on from there."""

    name: str
    resumable: bool = False
    reason: str = STREAM_REASON
    bytes_read: int = 0  # by the run that saved this
    lines_read: int = 0
    runs: int = 0  # runs that read it, this one included
    saved_at: str = ""  # wall time (UTC) of the save


@dataclass
class WatchState:
    inputs: dict[str, TailPosition | StorePosition] = field(default_factory=dict)  # files, stores
    incidents: dict[str, IncidentState] = field(default_factory=dict)
    counts: dict[str, int] = field(default_factory=dict)  # "table\x1fcolumn" -> failed requests
    reload_path: dict[str, Any] = field(default_factory=dict)  # ReloadPath.to_dict()
    streams: dict[str, StreamRecord] = field(default_factory=dict)  # inputs with no position

    def to_dict(self) -> dict[str, Any]:
        return {
            "version": VERSION,
            "inputs": {name: asdict(pos) for name, pos in self.inputs.items()},
            "incidents": {key: asdict(inc) for key, inc in self.incidents.items()},
            "counts": self.counts,
            "reload_path": self.reload_path,
            "streams": {name: asdict(rec) for name, rec in self.streams.items()},
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> WatchState:
        inputs: dict[str, TailPosition | StorePosition] = {
            name: StorePosition(**pos) if "until" in pos else TailPosition(**pos)
            for name, pos in (data.get("inputs") or {}).items()
        }
        known = set(IncidentState.__dataclass_fields__)
        incidents = {
            key: IncidentState(**{k: v for k, v in inc.items() if k in known})
            for key, inc in (data.get("incidents") or {}).items()
        }
        counts = {str(k): int(v) for k, v in (data.get("counts") or {}).items()}
        known_stream = set(StreamRecord.__dataclass_fields__)
        streams = {
            str(name): StreamRecord(**{k: v for k, v in rec.items() if k in known_stream})
            for name, rec in (data.get("streams") or {}).items()
            if isinstance(rec, dict)
        }
        return cls(inputs, incidents, counts, dict(data.get("reload_path") or {}), streams)


def load_state(folder: Path) -> WatchState:
    path = Path(folder) / STATE_FILE
    try:
        return WatchState.from_dict(json.loads(path.read_text(encoding="utf-8")))
    except FileNotFoundError:
        return WatchState()


def save_state(folder: Path, state: WatchState) -> None:
    body = json.dumps(state.to_dict(), ensure_ascii=False, indent=1).encode()
    write_atomic(Path(folder) / STATE_FILE, lambda fh: fh.write(body), force=True)
