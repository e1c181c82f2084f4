"""The disk-backed delivery queue: every alert is a file until its sink took it.

`state/outbox/<sink>/<time>-<message>.json` per queued message (written atomically and fsynced
before the input's position is checkpointed), `state/sent/<sink>.log` the message ids each
sink accepted. A message id (`<fingerprint>-<seq>`) queued or sent once is never queued again,
also across a restart: that is what keeps one incident from paging twice. A delivery thread
sends each sink's messages in order, retrying 429/5xx and unreachable receivers with backoff
(or the receiver's `Retry-After`); a refused message (other 4xx) is moved to `dead/`.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO

from runbook.atomic_write import fsync_dir, write_atomic
from runbook.watch.alerts import Alert
from runbook.watch.sinks import Outcome, Sink, deliver, takes

MIN_BACKOFF, MAX_BACKOFF = 1.0, 300.0
# Seconds between two messages to one sink: Slack takes about one a second per channel,
# PagerDuty about 120 a minute per routing key.
PACE = {"slack": 1.0, "pagerduty": 0.5}

OnOutcome = Callable[[Sink, Alert, Outcome], None]


def sink_id(sink: Sink) -> str:
    """A folder name per sink that says nothing of its credentials."""
    return sink.kind + "-" + hashlib.sha256(f"{sink.kind}\x1f{sink.target}\x1f{sink.routing_key}".encode()).hexdigest()[:12]


class Outbox:
    """Queued messages per sink, and the thread that delivers them."""

    def __init__(
        self,
        folder: Path,
        sinks: list[Sink],
        on_outcome: OnOutcome | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.folder = Path(folder)
        self.sinks = sinks
        self.on_outcome = on_outcome
        self.clock = clock
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._next_try: dict[str, float] = {}
        self._failures: dict[str, int] = {}
        self._sent: dict[str, set[str]] = {}
        self._queued: dict[str, set[str]] = {}
        for sink in sinks:
            sid = sink_id(sink)
            (self.folder / "outbox" / sid).mkdir(parents=True, exist_ok=True)
            (self.folder / "sent").mkdir(parents=True, exist_ok=True)
            log = self._sent_log(sid)
            self._sent[sid] = set(log.read_text().split()) if log.exists() else set()
            for path in self._files(sid):
                if _message_id(path) in self._sent[sid]:
                    # Taken by the sink and logged, then the process died before the file was
                    # removed (kill -9 between the two): sending it again would page twice.
                    path.unlink(missing_ok=True)
            self._queued[sid] = {_message_id(p) for p in self._files(sid)}

    # -- queueing (the watching thread) -----------------------------------------------------

    def put(self, alert: Alert) -> int:
        """Queue `alert` for every sink that has not queued or taken it; returns how many did.
        Durable when it returns (fsynced)."""
        added = 0
        body = json.dumps(alert.to_dict(), ensure_ascii=False).encode()
        for sink in self.sinks:
            if not takes(sink, alert):
                continue
            sid = sink_id(sink)
            with self._lock:
                if alert.message_id in self._sent[sid] or alert.message_id in self._queued[sid]:
                    continue
                self._queued[sid].add(alert.message_id)
            path = self.folder / "outbox" / sid / f"{time.time_ns():020d}-{alert.message_id}.json"
            write_atomic(path, functools.partial(_write_bytes, data=body))
            added += 1
        if added:
            self._wake.set()
        return added

    def pending(self) -> int:
        return sum(len(self._files(sink_id(s))) for s in self.sinks)

    def was_queued(self, message_id: str) -> bool:
        return any(message_id in self._sent[sid] or message_id in self._queued[sid] for sid in self._sent)

    # -- delivery (its own thread) ---------------------------------------------------------

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="pgrst-runbook-notify", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout)

    def drain(self, deadline: float) -> bool:
        """Deliver until nothing is queued or `deadline` (clock time) passes; True if empty."""
        while self.pending() and self.clock() < deadline:
            if self._thread is None:
                waited = self.deliver_due()
                if waited:
                    time.sleep(min(waited, max(0.0, deadline - self.clock()), 0.5))
            else:
                self._wake.set()
                time.sleep(0.05)
        return self.pending() == 0

    def deliver_due(self) -> float:
        """One pass: the oldest message of every sink whose retry time has come. Returns how
        long until the next retry is due (0 when something was sent or nothing waits)."""
        wait = 0.0
        for sink in self.sinks:
            sid = sink_id(sink)
            files = self._files(sid)
            if not files:
                continue
            now = self.clock()
            due = self._next_try.get(sid, 0.0)
            if due > now:
                wait = min(wait or due - now, due - now)
                continue
            self._send(sink, sid, files[0])
        return wait

    def _run(self) -> None:
        while not self._stop.is_set():
            wait = self.deliver_due()
            if self.pending() and wait == 0.0:
                continue
            self._wake.wait(timeout=wait or 1.0)
            self._wake.clear()

    def _send(self, sink: Sink, sid: str, path: Path) -> None:
        try:
            alert = Alert.from_dict(json.loads(path.read_bytes()))
        except (OSError, ValueError, TypeError):
            self._move(path, "dead")  # a torn or foreign file: kept for a person, not retried
            return
        outcome = deliver(sink, alert)
        if self.on_outcome is not None:
            self.on_outcome(sink, alert, outcome)
        if outcome.delivered:
            self._failures.pop(sid, None)
            self._next_try[sid] = self.clock() + PACE.get(sink.kind, 0.0)
            with self._lock:
                self._sent[sid].add(alert.message_id)
                self._queued[sid].discard(alert.message_id)
            with open(self._sent_log(sid), "a", encoding="ascii") as log:
                log.write(alert.message_id + "\n")
                log.flush()
                os.fsync(log.fileno())
            path.unlink(missing_ok=True)
            fsync_dir(path.parent)
        elif outcome.retry:
            failures = self._failures.get(sid, 0) + 1
            self._failures[sid] = failures
            backoff = min(MAX_BACKOFF, MIN_BACKOFF * 2 ** (failures - 1))
            delay = outcome.retry_after if outcome.retry_after is not None else backoff
            self._next_try[sid] = self.clock() + delay
        else:
            self._move(path, "dead")

    def _move(self, path: Path, where: str) -> None:
        target = self.folder / where / path.parent.name
        target.mkdir(parents=True, exist_ok=True)
        os.replace(path, target / path.name)

    def _files(self, sid: str) -> list[Path]:
        folder = self.folder / "outbox" / sid
        try:
            return sorted(p for p in folder.iterdir() if p.suffix == ".json" and not p.name.startswith("."))
        except FileNotFoundError:
            return []

    def _sent_log(self, sid: str) -> Path:
        return self.folder / "sent" / f"{sid}.log"


def _message_id(path: Path) -> str:
    """The message id in a queued file's name (`<time>-<message id>.json`)."""
    return path.name.split("-", 1)[1][: -len(".json")]


def _write_bytes(handle: BinaryIO, data: bytes) -> None:
    handle.write(data)
