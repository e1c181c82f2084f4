"""The watch loop: read, count, decide, queue, checkpoint; deliver in a thread of its own.

Each turn reads what the inputs added (`Follower`), regroups incidents (`IncidentTracker`,
the same grouping and counting as `scan`), computes the logs' verdict of every incident that
grew, queues the messages that are due (`Outbox`, fsynced), and only then writes the input
positions (`state.json`, fsynced). Messages: a new incident fires; a changed verdict or count


class (1, 10, 100, ...) updates it; `resolve_after` seconds without growth resolve it.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime

import polars as pl

from runbook.diagnosis.logs_verdict import LogInputs, verdict_from_logs
from runbook.events import Kind
from runbook.evidence import Target
from runbook.incidents.grouping import Incident
from runbook.ingest.follow import FollowBatch, TailPosition
from runbook.ingest.sources import STDIN
from runbook.ingest.store_follow import StorePosition
from runbook.watch.alerts import (
    CHANGE_LOAD,
    CHANGE_MIGRATION,
    DRILL_PREFIX,
    FIRING,
    RESOLVED,
    Alert,
    count_class,
    drill_fingerprint,
    fingerprint,
)
from runbook.watch.options import WatchOptions, now_iso, parse_stamp, zulu
from runbook.watch.path_checks import PathChecks
from runbook.watch.servers import ServerVerdict
from runbook.watch.sinks import wants_changes
from runbook.watch.state import (
    IncidentState,
    save_state,
)

__all__ = ["WatchOptions", "Watcher"]

MAX_CHANGES_PER_BATCH = 20  # change events per read (the newest): a backlog sends no flood
CHECKPOINT_EVERY = 5.0  # seconds between checkpoints when nothing changed
JUDGE_EVERY = 5.0  # seconds between judgements while a backlog is being read


class Watcher(PathChecks):
    """Follows the inputs, judges the incidents, queues the alerts, checkpoints."""

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
        before_last = parse_stamp(st.last_seen)  # the previous episode's last failure (log time)
        if added <= 0 and not (rejudge and st.status == FIRING):
            return False
        if added > 0:
            self.metrics.count_pgrst204(incident.table, incident.column, added)
            key = f"{incident.table}\x1f{incident.column}"
            self.state.counts[key] = self.state.counts.get(key, 0) + added
            st.count = total
            st.last_growth = self.wall()
        first = incident.to_dict()
        st.first_seen = st.first_seen or zulu(first["first_seen"])
        st.last_seen = zulu(first["last_seen"]) or st.last_seen
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
            st.episode_first = zulu(first_now.isoformat()) if first_now else st.first_seen
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
        stamp = zulu(ts.astimezone(UTC).isoformat())
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
