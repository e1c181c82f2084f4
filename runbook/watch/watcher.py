"""The watch loop: read, count, decide, queue, checkpoint; deliver in a thread of its own.

Each turn reads what the inputs added (`Follower`), regroups incidents (`IncidentTracker`,
the same grouping and counting as `scan`), computes the logs' verdict of every incident that
grew, queues the messages that are due (`Outbox`, fsynced), and only then writes the input
positions (`state.json`, fsynced). Messages: a new incident fires; a changed verdict or count
class (1, 10, 100, ...) updates it; `resolve_after` seconds without growth resolve it.
"""

from __future__ import annotations

import os
import secrets
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TextIO

import polars as pl

from runbook.config import Settings
from runbook.diagnosis.logs_verdict import LogInputs, verdict_from_logs
from runbook.events import Kind
from runbook.evidence import Target
from runbook.incidents.grouping import Incident
from runbook.incidents.live import IncidentTracker
from runbook.ingest.follow import FollowBatch, Follower, TailPosition
from runbook.ingest.scan import ScanOptions
from runbook.ingest.sources import STDIN
from runbook.ingest.store_follow import StorePosition, StoreTail
from runbook.watch.admin import AdminPoller, fetch_from
from runbook.watch.alerts import (
    AFTER_LOAD_ALERTNAME,
    BURN_ALERTNAME,
    CHANGE_LOAD,
    CHANGE_MIGRATION,
    DRILL_PREFIX,
    FIRING,
    LOAD_FAILED_ALERTNAME,
    RELOAD_ALERTNAME,
    RESOLVED,
    Alert,
    count_class,
    drill_fingerprint,
    fingerprint,
    next_command,
    summary_of,
)
from runbook.watch.burn_rate import BurnRate, describe
from runbook.watch.drill import ReplayFeed, linger_for
from runbook.watch.metrics import WatchMetrics
from runbook.watch.outbox import Outbox
from runbook.watch.reload_path import RESOLUTION, ReloadPath
from runbook.watch.servers import Diagnoser, ServerCheck, ServerVerdict, configured, diagnose_target
from runbook.watch.sinks import Outcome, Sink, wants_changes
from runbook.watch.state import (
    STREAM_REASON,
    IncidentState,
    StreamRecord,
    WatchState,
    load_state,
    save_state,
)

MAX_CHANGES_PER_BATCH = 20  # change events per read (the newest): a backlog sends no flood
CHECKPOINT_EVERY = 5.0  # seconds between checkpoints when nothing changed
JUDGE_EVERY = 5.0  # seconds between judgements while a backlog is being read


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


def _zulu(stamp: str | None) -> str | None:
    """An ISO time in UTC as `...Z`, the way Alertmanager and PagerDuty write them."""
    return stamp[: -len("+00:00")] + "Z" if stamp and stamp.endswith("+00:00") else stamp


def _parse(stamp: str | None) -> datetime | None:
    return datetime.fromisoformat(stamp.replace("Z", "+00:00")) if stamp else None


class Watcher:
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

    # -- the loop ---------------------------------------------------------------------------

    def run(self, stop: Callable[[], bool] = lambda: False) -> int:
        if self.options.metrics_address:
            self._server = self.metrics.serve(self.options.metrics_address)
        self.outbox.start()
        if self.admin is not None:
            self.admin.start()
        try:
            while not stop():
                batch = self.follower.read(slice_seconds=0.25)
                self.step(batch)
                if batch.finished:
                    break
                if batch.caught_up:
                    self._sleep(self.options.poll_interval, stop)
        finally:
            if self.tracker.dirty:
                self.judge()
            self._await_servers(time.monotonic() + self._servers_grace())
            self.checkpoint()
            self.follower.close()
            if self.servers is not None:
                self.servers.close()
            if self.admin is not None:
                self.admin.stop()
        drained = self.outbox.drain(time.monotonic() + (self.options.drain_seconds if self.options.once else 2.0))
        self.outbox.stop()
        self.metrics.queued.set(self.outbox.pending())
        self._write_metrics_file()
        if self._server is not None:
            self._server.shutdown()  # type: ignore[attr-defined]
        if not drained:
            self._say(f"{self.outbox.pending()} notification(s) still queued; the next run sends them")
            return 4 if self.options.once else 0
        return 0

    def _servers_grace(self) -> float:
        """How long to wait for running inspections before exiting: with --auto-reload one
        may be verifying a reload (up to the verify deadline)."""
        grace = self.options.drain_seconds if self.options.once else 2.0
        if self.options.auto_reload and self.options.settings is not None:
            grace += self.options.settings.verify_deadline
        return grace

    def step(self, batch: FollowBatch) -> None:
        """Take one batch: count, decide, queue; then checkpoint (when anything moved)."""
        for notice in batch.notices:
            self._say(notice)
        self._input_errors()
        changed = False
        if batch.events.height:
            self.tracker.add(batch.events)
            self.reload_path.add(batch.events)
            self._changes(batch.events)
            for klass, n in self.burn.add_events(batch.events).items():
                self.metrics.write_requests.labels(status_class=klass).inc(n)
            newest = batch.events["ts"].drop_nulls().max()
            if isinstance(newest, datetime) and newest.timestamp() > self._newest:
                self._newest = newest.timestamp()
                self.metrics.last_event.set(self._newest)
            changed = True
        changed |= self._admin_loads()
        if batch.events.height and not self._telling:
            self._telling = bool((batch.events["kind"] != Kind.ACCESS.value).any())
        settled = batch.caught_up or batch.finished
        # Judging regroups the whole live table. Access lines alone change no count and no
        # verdict (only context such as endpoints), so a busy access log is judged every
        # JUDGE_EVERY seconds, not on every poll; a failure, a load or a DDL is judged at once.
        prompt = settled and (self._telling or batch.finished)
        if self.tracker.dirty and (prompt or time.monotonic() - self._last_judged >= JUDGE_EVERY):
            changed |= self.judge(rejudge=settled)
        changed |= self._server_answers()
        changed |= self._resolve_quiet()
        if settled:  # judged on every input read so far, not one file
            changed |= self._reload_check()
            changed |= self._failed_load_check()
            changed |= self._after_load_check()
            changed |= self._burn_check()
        # Positions are saved only once every event before them was judged (counted, its
        # messages queued): a crash re-reads events rather than losing their pages.
        due = changed or time.monotonic() - self._last_checkpoint >= CHECKPOINT_EVERY or batch.finished
        if due and not self.tracker.dirty:
            self.checkpoint()

    def judge(self, rejudge: bool = True) -> bool:
        """Count every incident's new failures and queue the messages they make due.

        Judged once every input was read (or every few seconds while a backlog is read): the
        lines that decide a verdict (a cache load, a migration) may sit in a file read after
        the failures, and a first page should not say less than the logs do.
        """
        self._last_judged = time.monotonic()
        self._telling = False
        changed = False
        for incident in self.tracker.incidents():
            changed |= self._update(incident, rejudge)
        return changed

    def checkpoint(self) -> None:
        """Positions and incidents to disk (after the messages they caused were queued)."""
        positions: dict[str, TailPosition | StorePosition] = dict(self.state.inputs)
        for tail in self.follower.tails:
            position = tail.position()
            if position is not None:
                positions[tail.name] = position
            elif tail.name == STDIN and STDIN in self.state.streams:
                record = self.state.streams[STDIN]
                record.bytes_read, record.lines_read = tail.bytes_done, tail.stats().lines_read
                record.saved_at = now_iso(self.wall())
        self.state.inputs = positions
        self.state.reload_path = self.reload_path.to_dict()
        save_state(self.state_dir, self.state)
        self._last_checkpoint = time.monotonic()
        open_by: dict[str, int] = {}
        for inc in self.state.incidents.values():
            open_by.setdefault(inc.verdict, 0)
            if inc.status == FIRING:
                open_by[inc.verdict] += 1
        self.metrics.set_open(open_by)
        self.metrics.queued.set(self.outbox.pending())
        self._write_metrics_file()

    # -- decisions --------------------------------------------------------------------------

    def _update(self, incident: Incident, rejudge: bool = False) -> bool:
        schema = incident.schema or "public"
        fp = fingerprint(schema, incident.table, incident.column)
        st = self.state.incidents.get(fp)
        if st is None:
            st = IncidentState(fp, schema, incident.table, incident.column, status=RESOLVED)
            self.state.incidents[fp] = st
        total = st.base_count + incident.count
        added = total - st.count
        before_last = _parse(st.last_seen)  # the previous episode's last failure (log time)
        if added <= 0 and not (rejudge and st.status == FIRING):
            return False
        if added > 0:
            self.metrics.count_pgrst204(incident.table, incident.column, added)
            key = f"{incident.table}\x1f{incident.column}"
            self.state.counts[key] = self.state.counts.get(key, 0) + added
            st.count = total
            st.last_growth = self.wall()
        first = incident.to_dict()
        st.first_seen = st.first_seen or _zulu(first["first_seen"])
        st.last_seen = _zulu(first["last_seen"]) or st.last_seen
        st.endpoint = st.endpoint or (incident.endpoints[0] if incident.endpoints else None)
        diagnosis = verdict_from_logs(first, LogInputs(events=self.tracker.events))
        verdict, confidence = str(diagnosis.verdict), str(diagnosis.confidence)
        nearest = [m.name for m in diagnosis.nearest]
        why, suggestions = diagnosis.summary, list(diagnosis.suggestions)
        if st.status == FIRING and st.server_verdict is not None:  # the servers' word stands
            verdict, confidence = st.server_verdict, st.server_confidence
            why = st.server_summary or why
            suggestions = [st.server_next_step] if st.server_next_step else suggestions
            nearest = st.nearest_columns or nearest
        if added <= 0 and verdict == st.verdict and confidence == st.confidence:
            return False
        klass = count_class(total)
        reason = None
        if st.status != FIRING:
            reason = "new"
            st.started_at = now_iso(self.wall())
            st.checked_by, st.server_verdict, st.not_checked = "logs", None, []
            st.auto_reload = st.auto_reload_head = ""
            first_now = self._first_failure_after(incident, before_last)
            st.episode_first = _zulu(first_now.isoformat()) if first_now else st.first_seen
            if self.servers is not None:
                target = Target(incident.table, incident.column, schema)
                self.servers.submit(fp, target, diagnosis)
        elif verdict != st.verdict:
            reason = "verdict"
        elif klass != st.count_class:
            reason = "count"
        st.status, st.verdict, st.confidence, st.nearest_columns = FIRING, verdict, confidence, nearest
        if reason is None:
            return True
        st.count_class = klass
        st.seq += 1
        alert = self._alert(st, why, suggestions)
        self.outbox.put(alert)
        self._say(f"{'alert' if reason == 'new' else 'update'}: {alert.summary}")
        return True

    def _first_failure_after(self, incident: Incident, after: datetime | None) -> datetime | None:
        """The time of the incident's first failed request after `after` (all of them when
        None): where this episode begins, which a load must follow to count against it."""
        from runbook.incidents.grouping import pgrst204_requests

        times = pgrst204_requests(self.tracker.events).filter(
            (pl.col("table") == incident.table) & (pl.col("column") == incident.column)
            & pl.col("ts").is_not_null()
        )["ts"]
        if after is not None:
            times = times.filter(times > after)
        first = times.min()
        return first if isinstance(first, datetime) else None

    def _server_answers(self) -> bool:
        """Take the inspections that finished: the servers' verdict replaces the logs' one in
        an update; when they could not be asked, the update says what was not checked."""
        if self.servers is None:
            return False
        changed = False
        for fp, answer in self.servers.done():
            st = self.state.incidents.get(fp)
            if st is None or st.status != FIRING:
                continue
            self._apply(st, answer)
            st.seq += 1
            why = st.server_summary or self._logs_only_why(st)
            if answer.auto_reload is not None:
                why = f"{why} Then {st.auto_reload}."
                self._say(f"{st.table}.{st.column}: {st.auto_reload}")
            steps = [st.server_next_step] if st.server_next_step else []
            alert = self._alert(st, why, steps)
            self.outbox.put(alert)
            self._say(f"update: {alert.summary}")
            changed = True
        return changed

    def _admin_loads(self) -> bool:
        """Counter rises seen by the admin poller, as confirmed (or failed) loads for the
        reload path; the poll's time moves its clock, so a trigger no load followed goes late
        also when no log line comes. An admin server that does not answer is told once."""
        if self.admin is None:
            return False
        error = self.admin.error
        if error != self._admin_error:
            self._admin_error = error
            if error is not None:
                self._say(f"admin /metrics: no answer ({error}); polling on")
                self.metrics.source_errors.labels(source="admin /metrics", reason="unreachable").inc()
            else:
                self._say("admin /metrics: answering")
        seen = self.admin.observations()
        for obs in seen:
            moment = datetime.fromtimestamp(obs.epoch, UTC)
            self.reload_path.see(moment)
            if obs.status == "SUCCESS":
                self.reload_path.add_load(moment)
                self._change(CHANGE_LOAD, moment, f"schema cache loaded ({obs.added}, admin /metrics)")
            else:
                why = f'pgrst_schema_cache_loads_total{{status="FAIL"}} rose by {obs.added} (admin /metrics)'
                self.reload_path.add_failure(moment, why)
        if self.admin.answered:  # its counters are PostgREST's word: the poll moves the clock
            self.reload_path.sees_postgrest = True
            self.reload_path.see(datetime.fromtimestamp(self.wall(), UTC))
        return bool(seen)

    def _changes(self, events: pl.DataFrame) -> None:
        """PagerDuty Change Events for the migrations and confirmed cache loads just read."""
        if not any(wants_changes(s) for s in self.options.sinks):
            return
        rows = events.filter(
            pl.col("ts").is_not_null()
            & (
                ((pl.col("kind") == Kind.MIGRATION.value) & (pl.col("level").fill_null("") != "error"))
                | (pl.col("kind") == Kind.CACHE_LOAD.value)
            )
        ).sort("ts").tail(MAX_CHANGES_PER_BATCH)
        for ts, kind, schema, table, column, detail in rows.select(
            "ts", "kind", "schema", "table", "column", "detail"
        ).iter_rows():
            if kind == Kind.MIGRATION.value:
                name = ".".join(p for p in (table, column) if p)
                self._change(CHANGE_MIGRATION, ts, f"{detail or 'DDL'} {name}".strip(), schema or "public", table, column)
            else:
                self._change(CHANGE_LOAD, ts, "schema cache loaded")

    def _change(
        self, kind: str, ts: datetime, what: str, schema: str = "", table: str | None = None,
        column: str | None = None,
    ) -> None:
        if not any(wants_changes(s) for s in self.options.sinks):
            return
        stamp = _zulu(ts.astimezone(UTC).isoformat())
        summary = (
            f"Migration: {what} at {stamp}" if kind == CHANGE_MIGRATION else f"PostgREST {what} at {stamp}"
        )
        drill = self.options.drill
        fp = fingerprint(kind, stamp or "", what)
        alert = Alert(
            fingerprint=drill_fingerprint(fp, self._drill_run) if drill else fp, status="change", schema=schema,
            table=table or "", column=column or "", verdict="", confidence="", count=0,
            first_seen=stamp, last_seen=stamp, starts_at=stamp or now_iso(self.wall()), ends_at=None,
            endpoint=what, summary=f"{DRILL_PREFIX}{summary}" if drill else summary, alertname=kind,
            change=True, drill=drill, drill_run=self._drill_run,
        )
        self.outbox.put(alert)

    def _await_servers(self, deadline: float) -> None:
        """Before exiting: let running inspections finish (until `deadline`) so their verdict
        is queued; one that does not finish in time leaves the logs' verdict standing."""
        if self.servers is None:
            return
        while self.servers.pending() and time.monotonic() < deadline:
            time.sleep(0.05)
            self._server_answers()
        self._server_answers()

    @staticmethod
    def _apply(st: IncidentState, answer: ServerVerdict) -> None:
        st.not_checked = list(answer.not_checked)
        if answer.auto_reload is not None:
            st.auto_reload, st.auto_reload_head = answer.auto_reload.describe(), answer.auto_reload.head
        if answer.verdict is None:
            st.checked_by = "logs"
            return
        st.checked_by = "servers"
        st.server_verdict, st.server_confidence = answer.verdict, answer.confidence
        st.server_summary, st.server_next_step = answer.summary, answer.next_step
        st.verdict, st.confidence = answer.verdict, answer.confidence
        if answer.nearest:
            st.nearest_columns = list(answer.nearest)

    @staticmethod
    def _logs_only_why(st: IncidentState) -> str:
        missing = "; ".join(st.not_checked) or "no answer"
        return (
            f"The database and the API could not be checked ({missing}); "
            f"the verdict {st.verdict} is from the logs alone."
        )

    def _resolve_quiet(self) -> bool:
        now = self.wall()
        changed = False
        for st in self.state.incidents.values():
            if st.kind != "pgrst204":
                continue
            quiet = (now - st.last_growth) * self._time_scale  # recorded seconds in a drill
            if st.status == FIRING and quiet >= self.options.resolve_after:
                st.status = RESOLVED
                st.seq += 1
                alert = self._alert(st, "", [])
                self.outbox.put(alert)
                self._say(f"resolved: {st.table}.{st.column} (no new failures for {self.options.resolve_after:g}s)")
                self._hand_off(st)
                changed = True
        return changed

    def _hand_off(self, st: IncidentState) -> None:
        if self.options.reports_dir is None:
            return
        from runbook.watch.handoff import write_report

        try:
            path = write_report(
                self.options.reports_dir, self.tracker.events, self.follower, st.table, st.column,
                self.options.report_max_chars,
            )
        except Exception as exc:  # a report that cannot be written never stops watching
            self._say(f"report of {st.table}.{st.column} not written: {type(exc).__name__}: {exc}")
            return
        if path is not None:
            self._say(f"report written to {path}")

    def _reload_check(self) -> bool:
        """Fire when a DDL or reload request went unconfirmed past the deadline; resolve when
        a confirmed load follows it (at once, for a load that came late)."""
        fp = fingerprint("", "reload", "")
        st = self.state.incidents.get(fp)
        changed = False
        if st is None or st.status != FIRING:
            told = _parse(st.first_seen) if st is not None else None
            late = self.reload_path.late(after=told)
            if late is None:
                return False
            if st is None:
                st = IncidentState(fp, "", "", "", status=RESOLVED, kind="reload")
                self.state.incidents[fp] = st
            st.status, st.verdict, st.confidence = FIRING, "reload_not_applied", "likely"
            st.first_seen = _zulu(late.ts.isoformat())
            st.endpoint = late.what
            st.started_at = now_iso(self.wall())
            st.seq += 1
            deadline = f"{self.options.reload_deadline:g}s"
            summary = f"Schema cache not reloaded within {deadline} of {late.what} at {st.first_seen}"
            why = (
                f"No confirmed schema cache load ('Schema cache loaded') followed {late.what} within "
                f"{deadline}; writes that use the change fail with PGRST204 until one does."
            )
            self.outbox.put(self._reload_alert(st, summary, why))
            self._say(f"alert: {summary}")
            changed = True
        started = _parse(st.first_seen)
        loads_after = self.reload_path.loads_after(started) if started is not None else []
        if loads_after:
            self.reload_path.settle(loads_after[0])  # the triggers it answered are told
            st.status = RESOLVED
            st.seq += 1
            summary = f"resolved: schema cache loaded at {_zulu(loads_after[0].isoformat())}"
            self.outbox.put(self._reload_alert(st, summary, summary))
            self._say(summary)
            changed = True
        return changed

    def _failed_load_check(self) -> bool:
        """Fire when PostgREST logged (or its admin counter showed) a failed schema cache load
        that no confirmed load followed yet; resolve on the load that comes."""
        fp = fingerprint("", "cache_load_failed", "")
        st = self.state.incidents.get(fp)
        failing = self.reload_path.failing()
        if failing is not None and (st is None or st.status != FIRING):
            told = _parse(st.first_seen) if st is not None else None
            if told is not None and told >= failing.ts:
                return False  # this run of failures was told (and resolved) already
            if st is None:
                st = IncidentState(fp, "", "", "", status=RESOLVED, kind="load_failed")
                self.state.incidents[fp] = st
            st.status, st.verdict, st.confidence = FIRING, "cache_load_failed", "confirmed"
            st.first_seen = _zulu(failing.ts.isoformat())
            st.endpoint = None
            st.started_at = now_iso(self.wall())
            st.seq += 1
            summary = f"Schema cache load failed at {st.first_seen}: {failing.why}"
            why = (
                f"PostgREST could not load its schema cache ({failing.why}). From v16 it keeps "
                "serving the old cache and retries with backoff; v10-v14 answer PGRST002 (503) "
                "until a retry succeeds. Columns added since the last good load fail with PGRST204."
            )
            self.outbox.put(self._plumbing_alert(st, summary, why, LOAD_FAILED_ALERTNAME, (
                "Fix the cause PostgREST logged (a statement_timeout on a large schema, a wrong "
                "db-schemas), then run pgrst-runbook check."
            )))
            self._say(f"alert: {summary}")
            return True
        if failing is None and st is not None and st.status == FIRING:
            st.status = RESOLVED
            st.seq += 1
            load = self.reload_path.last_load
            summary = f"resolved: schema cache loaded at {_zulu(load.isoformat()) if load else 'last check'}"
            self.outbox.put(self._plumbing_alert(st, summary, summary, LOAD_FAILED_ALERTNAME, ""))
            self._say(summary)
            return True
        return False

    def _after_load_check(self) -> bool:
        """Fire once per firing incident whose failures go on after a confirmed cache load
        (the cache is then not what misses the column); resolve with the incident."""
        changed = False
        for st in list(self.state.incidents.values()):
            if st.kind != "pgrst204":
                continue
            fp = fingerprint(st.schema, st.table, st.column + "\x1fafter_load")
            told = self.state.incidents.get(fp)
            if st.status != FIRING:
                if told is not None and told.status == FIRING:
                    told.status = RESOLVED
                    told.seq += 1
                    summary = f"resolved: PGRST204 on {st.table}.{st.column} stopped"
                    self.outbox.put(self._plumbing_alert(told, summary, summary, AFTER_LOAD_ALERTNAME, ""))
                    changed = True
                continue
            if told is not None and told.status == FIRING:
                continue
            if told is not None and told.started_at and told.started_at >= st.started_at:
                continue  # told for this episode already
            # Times, not counts: a load counts against this episode only when it came after the
            # episode's first failure, and only failures stamped after it (past the log
            # clock's resolution) say the cache was not what missed the column.
            first, last = _parse(st.episode_first or st.first_seen), _parse(st.last_seen)
            if first is None or last is None:
                continue
            load = self.reload_path.first_load_after(first)
            if load is None or last <= load + RESOLUTION:
                continue
            if told is None:
                told = IncidentState(fp, st.schema, st.table, st.column, status=RESOLVED, kind="after_load")
                self.state.incidents[fp] = told
            told.status, told.verdict, told.confidence = FIRING, st.verdict, st.confidence
            told.first_seen, told.endpoint = st.first_seen, st.endpoint
            told.started_at = now_iso(self.wall())
            told.seq += 1
            at = _zulu(load.isoformat())
            summary = f"PGRST204 on {st.table}.{st.column} goes on after the schema cache load at {at}"
            why = (
                f"Writes naming {st.column!r} still fail after PostgREST confirmed a cache load at {at}: "
                "a stale cache is not the cause (a client sending a wrong name, a migration not "
                "applied, or another API instance)."
            )
            self.outbox.put(self._plumbing_alert(
                told, summary, why, AFTER_LOAD_ALERTNAME, next_command(st.table, st.column, st.schema),
                count=st.count, last_seen=st.last_seen, nearest_columns=st.nearest_columns,
                next_command=next_command(st.table, st.column, st.schema),
            ))
            self._say(f"alert: {summary}")
            changed = True
        return changed

    def _burn_check(self) -> bool:
        """Page while a window pair burns the write error budget too fast (log time); resolve
        when none does."""
        if not self._newest:
            return False
        fp = fingerprint("", "write_error_budget", "")
        st = self.state.incidents.get(fp)
        burning = self.burn.firing(self._newest)
        if burning and (st is None or st.status != FIRING):
            if st is None:
                st = IncidentState(fp, "", "", "", status=RESOLVED, kind="burn_rate")
                self.state.incidents[fp] = st
            st.status, st.verdict, st.confidence = FIRING, "error_budget_burn", "confirmed"
            st.first_seen = now_iso(self._newest)
            st.started_at = now_iso(self.wall())
            st.seq += 1
            summary = describe(burning, self.options.slo)
            why = (
                f"Failed writes (400, 5xx) in access lines exceed the budget of a "
                f"{self.options.slo * 100:g}% SLO in both windows of a pair (SRE workbook: 1h and 5m "
                "at 14.4x, 6h and 30m at 6x)."
            )
            self.outbox.put(self._plumbing_alert(
                st, summary, why, BURN_ALERTNAME,
                "Find the failing endpoint: pgrst-runbook scan on the same logs lists PGRST204 incidents.",
                count=burning[0].long_failed,
            ))
            self._say(f"alert: {summary}")
            return True
        if not burning and st is not None and st.status == FIRING:
            st.status = RESOLVED
            st.seq += 1
            summary = "resolved: the write error budget no longer burns too fast"
            self.outbox.put(self._plumbing_alert(st, summary, summary, BURN_ALERTNAME, ""))
            self._say(summary)
            return True
        return False

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


