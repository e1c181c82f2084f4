"""The database and API's verdict for a new incident, worked out off the watch loop.

When a database or an API is configured, a new incident gets the same read-only inspection
`run` does (`inspect_target`, then `diagnose` and `refine`) in a worker thread: the loop only
hands the target over and later collects the answer, so a slow or dead server never delays
reading or paging. What could not be asked (a database that refuses, an API that is down) is
kept as one masked line each, and the alert says so while it keeps the logs' verdict.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING

from runbook.config import Settings
from runbook.diagnosis.from_logs import LogDiagnosis
from runbook.evidence import Target
from runbook.redact import dsn_secrets, mask_secrets, redact

if TYPE_CHECKING:
    from runbook.watch.auto_reload import AutoReload


@dataclass(frozen=True)
class ServerVerdict:
    """What the servers said about one incident. `verdict` is None when neither the database
    nor the API answered: the logs' verdict then stands."""

    verdict: str | None
    confidence: str = "unknown"
    summary: str = ""
    next_step: str = ""
    nearest: list[str] = field(default_factory=list)
    not_checked: list[str] = field(default_factory=list)  # one masked line per part not reached
    auto_reload: AutoReload | None = None  # with --auto-reload: what was done about it


Diagnoser = Callable[[Target, Settings, LogDiagnosis | None], ServerVerdict]


def configured(settings: Settings | None) -> bool:
    """A database or an API was given: the servers can be asked."""
    return settings is not None and bool(settings.dsn or settings.api_url or settings.admin_url)


def diagnose_target(target: Target, settings: Settings, logs: LogDiagnosis | None) -> ServerVerdict:
    """The read-only inspection and verdict `run` gives, for one incident."""
    from runbook.diagnosis.causes import refine
    from runbook.diagnosis.from_servers import diagnose
    from runbook.servers.api import PostgrestClient
    from runbook.servers.inspection import inspect_target

    with PostgrestClient(settings) as client:
        insp = inspect_target(target, settings, client)
    problems = [e.one_line() for e in insp.errors()]
    if not insp.db.reachable and not insp.api.reachable:
        return ServerVerdict(None, not_checked=problems)
    d = refine(diagnose(insp, settings), insp, settings, logs=logs)
    return ServerVerdict(
        verdict=str(d.verdict),
        confidence=str(d.confidence or "unknown"),
        summary=d.summary,
        next_step=d.suggestions[0] if d.suggestions else "",
        nearest=[m.name for m in d.nearest],
        not_checked=problems,
    )


class ServerCheck:
    """Inspections in worker threads, one per incident at a time; answers collected by `done`."""

    def __init__(
        self, settings: Settings, diagnoser: Diagnoser = diagnose_target, *, workers: int = 2
    ) -> None:
        self.settings = settings
        self.diagnoser = diagnoser
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="watch-inspect")
        self._lock = threading.Lock()
        self._running: dict[str, Future[ServerVerdict]] = {}
        key = getattr(settings, "api_key", None)
        self._secrets = dsn_secrets(settings.dsn or "") + ([key] if key else [])

    def submit(self, key: str, target: Target, logs: LogDiagnosis | None) -> bool:
        """Start the inspection of `target` unless one for `key` is running."""
        with self._lock:
            if key in self._running:
                return False
            self._running[key] = self._pool.submit(self.diagnoser, target, self.settings, logs)
            return True

    def pending(self) -> int:
        with self._lock:
            return len(self._running)

    def done(self) -> list[tuple[str, ServerVerdict]]:
        """The answers that came in since the last call (never blocks)."""
        out: list[tuple[str, ServerVerdict]] = []
        with self._lock:
            for key, future in list(self._running.items()):
                if not future.done():
                    continue
                del self._running[key]
                try:
                    answer = future.result()
                except Exception as exc:  # an inspection that crashed leaves the logs' verdict
                    answer = ServerVerdict(None, not_checked=[f"inspection failed: {type(exc).__name__}: {exc}"])
                out.append((key, self._masked(answer)))
        return out

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)

    def _masked(self, answer: ServerVerdict) -> ServerVerdict:
        def clean(text: str) -> str:
            return mask_secrets(redact(text) or "", self._secrets)

        return ServerVerdict(
            verdict=answer.verdict,
            confidence=answer.confidence,
            summary=clean(answer.summary),
            next_step=clean(answer.next_step),
            nearest=list(answer.nearest),
            not_checked=[clean(t) for t in answer.not_checked],
            auto_reload=(
                replace(answer.auto_reload, detail=clean(answer.auto_reload.detail))
                if answer.auto_reload is not None
                else None
            ),
        )
