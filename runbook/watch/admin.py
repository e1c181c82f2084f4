"""PostgREST's admin `/metrics`, polled: a rise of `pgrst_schema_cache_loads_total` is a load.

`pgrst_schema_cache_loads_total{status="SUCCESS"|"FAIL"}` (PostgREST v12.2+) counts every
successful and failed schema cache load. The poller runs in a thread of its own and keeps the
last values; each rise becomes an `AdminObservation` the watch loop collects, stamped with the
time of the poll that saw it. The first answer only sets the baseline. A value lower than the
last one is a restarted PostgREST: its loads since the restart count as new.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from runbook.config import Settings
from runbook.redact import redact
from runbook.servers.api import Metrics

SUCCESS, FAIL = "SUCCESS", "FAIL"


@dataclass(frozen=True)
class AdminObservation:
    epoch: float  # wall time of the poll that saw it
    status: str  # SUCCESS | FAIL
    added: int  # loads since the previous poll


Fetch = Callable[[], Metrics]


def fetch_from(settings: Settings) -> Fetch:
    """`GET <admin>/metrics` with the settings' timeouts, parsed."""
    from runbook.servers.api import PostgrestClient

    def fetch() -> Metrics:
        with PostgrestClient(settings) as client:
            return client.metrics()

    return fetch


class AdminPoller:
    def __init__(
        self, fetch: Fetch, interval: float = 15.0, *, wall: Callable[[], float] = time.time
    ) -> None:
        self.fetch = fetch
        self.interval = interval
        self.wall = wall
        self._last: dict[str, float] = {}
        self._seen: list[AdminObservation] = []
        self._error: str | None = None
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="watch-admin-metrics", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def poll(self) -> None:
        """One poll (the thread calls this every `interval`)."""
        try:
            metrics = self.fetch()
        except Exception as exc:  # an admin server that is down never stops the watching
            with self._lock:
                self._error = redact(f"{type(exc).__name__}: {exc}")
            return
        now = self.wall()
        with self._lock:
            self._error = None
            for status in (SUCCESS, FAIL):
                value = metrics.schema_cache_loads(status)
                if value is None:
                    continue
                before = self._last.get(status)
                self._last[status] = value
                if before is None:
                    continue  # the baseline
                added = value - before if value >= before else value  # lower: restarted
                if added > 0:
                    self._seen.append(AdminObservation(now, status, int(added)))

    def observations(self) -> list[AdminObservation]:
        """The rises seen since the last call."""
        with self._lock:
            out, self._seen = self._seen, []
            return out

    @property
    def answered(self) -> bool:
        """The admin server answered at least once (PostgREST is being watched)."""
        with self._lock:
            return bool(self._last)

    @property
    def error(self) -> str | None:
        """Why the last poll got no answer (None: it did)."""
        with self._lock:
            return self._error

    def _run(self) -> None:
        while not self._stop.is_set():
            self.poll()
            self._stop.wait(self.interval)
