"""What a watch is told (`WatchOptions`, from the flags), and the alert's way of writing times."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from runbook.config import Settings
from runbook.ingest.scan import ScanOptions
from runbook.watch.sinks import Sink


@dataclass


class WatchOptions:
    inputs: list[str]
    sinks: list[Sink]
    state_dir: Path
    scan: ScanOptions = field(default_factory=ScanOptions)
    resolve_after: float = 600.0
    once: bool = False
    metrics_address: str | None = None
    metrics_file: Path | None = None
    poll_interval: float = 0.25
    drain_seconds: float = 30.0  # --once / shutdown: how long to keep delivering
    reload_deadline: float = 60.0  # a DDL or reload request unconfirmed this long alerts
    reports_dir: Path | None = None  # the incident report is written there on resolve
    report_max_chars: int | None = None
    settings: Settings | None = None  # database/API to inspect for a new incident (None: logs only)
    slo: float = 0.999  # the write SLO the burn rates are measured against
    burn_min_requests: int = 100  # writes the long window needs before a burn rate is judged
    admin_poll: float = 15.0  # seconds between polls of the admin /metrics (with settings.admin_url)
    auto_reload: bool = False  # reload a stale cache proven by the database and the API, then verify
    auto_reload_interval: float = 600.0  # at most one auto-reload per target this often (wall time)
    replay_speed: float | None = None  # a drill: the inputs replayed at N x, every alert marked
    replay_max_gap: float | None = 300.0  # recorded quiet gaps shortened to this (seconds)

    @property
    def drill(self) -> bool:
        return self.replay_speed is not None


def now_iso(epoch: float | None = None) -> str:
    moment = datetime.fromtimestamp(time.time() if epoch is None else epoch, UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def zulu(stamp: str | None) -> str | None:
    """An ISO time in UTC as `...Z`, the way Alertmanager and PagerDuty write them."""
    return stamp[: -len("+00:00")] + "Z" if stamp and stamp.endswith("+00:00") else stamp


def parse_stamp(stamp: str | None) -> datetime | None:
    return datetime.fromisoformat(stamp.replace("Z", "+00:00")) if stamp else None
