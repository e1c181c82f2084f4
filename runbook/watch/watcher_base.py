"""What a watcher holds (state, metrics, outbox, follower, reload path, server checks), how
it builds its alerts and tells the operator; the loop and the checks build on it."""

from __future__ import annotations

import os
import secrets
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TextIO

from runbook.incidents.live import IncidentTracker
from runbook.ingest.follow import Follower
from runbook.ingest.sources import STDIN
from runbook.ingest.store_follow import StoreTail
from runbook.watch.admin import AdminPoller, fetch_from
from runbook.watch.alerts import (
    DRILL_PREFIX,
    FIRING,
    RELOAD_ALERTNAME,
    Alert,
    drill_fingerprint,
    next_command,
    summary_of,
)
from runbook.watch.burn_rate import BurnRate
from runbook.watch.drill import ReplayFeed, linger_for
from runbook.watch.metrics import WatchMetrics
from runbook.watch.options import WatchOptions, now_iso
from runbook.watch.outbox import Outbox
from runbook.watch.reload_path import ReloadPath
from runbook.watch.servers import Diagnoser, ServerCheck, configured, diagnose_target
from runbook.watch.sinks import Outcome, Sink
from runbook.watch.state import (
    STREAM_REASON,
    IncidentState,
    StreamRecord,
    WatchState,
    load_state,
)


class WatcherBase:
    """The parts of a watcher every turn uses."""

    def __init__(
        self,
        options: WatchOptions,
        *,
        log: TextIO | None = None,
        wall: Callable[[], float] = time.time,
        diagnoser: Diagnoser = diagnose_target,
    ) -> None:
        self.options = options
        self.log = log or sys.stderr
        self.wall = wall
        self.state_dir = Path(options.state_dir)
        self.state_dir.mkdir(parents=True, exist_ok=True)
        self.state: WatchState = load_state(self.state_dir)
        self._drill_run = ""
        if options.drill:  # every drill starts afresh, with identities of its own
            self.state = WatchState()
            self._drill_run = f"{datetime.fromtimestamp(wall(), UTC):%Y%m%dT%H%M%SZ}-{secrets.token_hex(2)}"
        for inc in self.state.incidents.values():
            inc.base_count = inc.count  # counted by earlier runs; this run's events add to it
        self.metrics = WatchMetrics()
        for key, n in self.state.counts.items():
            table, _, column = key.partition("\x1f")
            self.metrics.count_pgrst204(table, column, n)
        self.outbox = Outbox(self.state_dir, options.sinks, on_outcome=self._on_outcome)
        self.follower: Follower | ReplayFeed
        self._time_scale = 1.0  # recorded seconds per wall second (a drill runs N x faster)
        if options.replay_speed is not None:
            self._time_scale = options.replay_speed
            self.follower = ReplayFeed(
                options.inputs, options.scan, options.replay_speed, max_gap=options.replay_max_gap,
                linger=linger_for(options.resolve_after, options.replay_speed),
            )
        else:
            self._streams_at_start()
            self.follower = Follower(
                options.inputs, options.scan, follow=not options.once, resume=dict(self.state.inputs)
            )
        self.tracker = IncidentTracker(options.scan.since, options.scan.until)
        self.reload_path = ReloadPath(options.reload_deadline)
        if self.state.reload_path:
            try:
                self.reload_path = ReloadPath.from_dict(self.state.reload_path, options.reload_deadline)
            except (ValueError, TypeError, KeyError):  # unreadable: judge from what comes next
                self._say("saved reload-path state unreadable; starting it afresh")
        settings = options.settings
        if options.auto_reload and settings is not None and configured(settings):
            from runbook.watch.auto_reload import AutoReloader, ReloadLedger

            ledger = ReloadLedger(self.state_dir, options.auto_reload_interval)
            if ledger.unreadable:
                self._say(
                    f"{ledger.path.name} unreadable: no auto-reload for "
                    f"{options.auto_reload_interval:g}s (the safe side)"
                )
            diagnoser = AutoReloader(ledger, inspect=diagnoser, wall=wall)
        self.servers: ServerCheck | None = (
            ServerCheck(settings, diagnoser) if settings is not None and configured(settings) else None
        )
        self.burn = BurnRate(options.slo, options.burn_min_requests)
        self.admin: AdminPoller | None = None
        if settings is not None and settings.admin_url:
            self.admin = AdminPoller(fetch_from(settings), options.admin_poll, wall=wall)
        self._admin_error: str | None = None
        self._told_errors: set[str] = set()
        self._missing: set[str] = set()
        self._dark_told: dict[str, int] = {}  # store -> dark windows already counted
        self._newest = 0.0
        self._last_judged = time.monotonic()
        self._telling = False  # events other than access lines arrived since the last judgement
        self._last_checkpoint = 0.0
        self._server: object | None = None
        for problem in self.follower.problems:
            self._say(f"cannot read {problem.name}: {problem.reason}")
            self.metrics.source_errors.labels(source=problem.name, reason=problem.reason).inc()

    def _streams_at_start(self) -> None:
        """Stdin cannot be resumed by offset: say so when it is watched, and never keep a
        position for it (a saved one would pretend a restart goes on where the last ended)."""
        if STDIN not in self.options.inputs:
            return
        self.state.inputs.pop(STDIN, None)
        record = self.state.streams.get(STDIN)
        before = (
            f"; the last run read {record.lines_read} line(s) of it, which this run cannot skip"
            if record is not None and record.lines_read
            else ""
        )
        self._say(f"stdin: not resumable by offset ({STREAM_REASON}){before}")
        runs = record.runs if record is not None else 0
        self.state.streams[STDIN] = StreamRecord(STDIN, runs=runs + 1, saved_at=now_iso(self.wall()))

    # -- alerts -----------------------------------------------------------------------------

    def _plumbing_alert(
        self, st: IncidentState, summary: str, why: str, alertname: str, step: str, **fields: Any
    ) -> Alert:
        base: dict[str, Any] = {"count": 0, "last_seen": st.first_seen, "next_command": "pgrst-runbook check"}
        base.update(fields)
        return self._alert_of(
            st, summary=summary, description=why, next_step=step or base["next_command"],
            alertname=alertname, **base,
        )

    def _reload_alert(self, st: IncidentState, summary: str, why: str) -> Alert:
        return self._alert_of(
            st,
            count=0,
            last_seen=st.first_seen,
            next_command="pgrst-runbook check",
            summary=summary,
            description=why,
            next_step="Check the reload path (listener, pooler, NOTIFY channel), then run pgrst-runbook check.",
            alertname=RELOAD_ALERTNAME,
        )

    def _alert(self, st: IncidentState, why: str, suggestions: list[str]) -> Alert:
        command = next_command(st.table, st.column, st.schema)
        summary = summary_of(st.table, st.column, st.count, st.first_seen, st.verdict, st.confidence)
        if st.auto_reload_head:
            summary = f"{summary}; {st.auto_reload_head}"
        if st.status != FIRING:
            summary = f"resolved: {summary}"
        return self._alert_of(
            st,
            count=st.count,
            last_seen=st.last_seen,
            nearest_columns=st.nearest_columns,
            next_command=command,
            summary=summary,
            description=why or summary,
            next_step=suggestions[0] if suggestions else command,
            checked_by=st.checked_by,
            not_checked=list(st.not_checked),
            auto_reload=st.auto_reload,
        )

    def _alert_of(self, st: IncidentState, **fields: Any) -> Alert:
        """An alert for `st`: what every alert of an incident shares, plus `fields`. A drill's
        alerts say so, and have fingerprints of their own (never merged with a real page)."""
        now = now_iso(self.wall())
        if self.options.drill:
            fields["summary"] = DRILL_PREFIX + str(fields.get("summary", ""))
            fields["drill"], fields["drill_run"] = True, self._drill_run
        return Alert(
            fingerprint=drill_fingerprint(st.fingerprint, self._drill_run) if self.options.drill else st.fingerprint,
            status=st.status,
            schema=st.schema,
            table=st.table,
            column=st.column,
            verdict=st.verdict,
            confidence=st.confidence,
            first_seen=st.first_seen,
            starts_at=st.started_at or now,
            ends_at=None if st.status == FIRING else now,
            endpoint=st.endpoint,
            seq=st.seq,
            **fields,
        )

    # -- odds and ends ----------------------------------------------------------------------

    def _on_outcome(self, sink: Sink, alert: Alert, outcome: Outcome) -> None:
        self.metrics.notifications.labels(receiver=sink.name, outcome=outcome.label).inc()
        if not outcome.delivered:
            self._say(f"{sink.name}: {outcome.detail} ({'will retry' if outcome.retry else 'dropped'})")

    def _input_errors(self) -> None:
        """Read errors, and inputs that are gone or back: each told once, counted in metrics."""
        for tail in self.follower.tails:
            if isinstance(tail, StoreTail):
                given_up = tail.dark_windows_given_up - self._dark_told.get(tail.name, 0)
                if given_up > 0:
                    self.metrics.dark_windows.labels(store=tail.name).inc(given_up)
                    self._dark_told[tail.name] = tail.dark_windows_given_up
            elif tail.name != "-" and not tail.finished:
                gone = not os.path.exists(tail.name)
                if gone and tail.name not in self._missing:
                    self._missing.add(tail.name)
                    self._say(f"{tail.name}: not there; reading it again when it appears")
                    self.metrics.source_errors.labels(source=tail.name, reason="missing").inc()
                elif not gone and tail.name in self._missing:
                    self._missing.discard(tail.name)
                    self._say(f"{tail.name}: back")
            if tail.error and tail.name not in self._told_errors:
                self._told_errors.add(tail.name)
                self.metrics.source_errors.labels(source=tail.name, reason=tail.error).inc()

    def _write_metrics_file(self) -> None:
        if self.options.metrics_file is not None:
            try:
                self.metrics.write_file(self.options.metrics_file)
            except OSError as exc:
                self._say(f"cannot write {self.options.metrics_file}: {exc.strerror or exc}")

    def _sleep(self, seconds: float, stop: Callable[[], bool]) -> None:
        end = time.monotonic() + seconds
        while not stop() and time.monotonic() < end:
            time.sleep(min(0.05, end - time.monotonic()) if end > time.monotonic() else 0)

    def _say(self, text: str) -> None:
        for sink in self.options.sinks:
            text = sink.mask(text)
        print(f"pgrst-runbook watch: {text}", file=self.log, flush=True)
