"""The watch's checks of the reload path and the error budget, each an incident of its own:
a DDL or reload request not followed by a load, a failed cache load, PGRST204 going on after a
confirmed load, and a write error budget burning too fast."""

from __future__ import annotations

from runbook.watch.alerts import (
    AFTER_LOAD_ALERTNAME,
    BURN_ALERTNAME,
    FIRING,
    LOAD_FAILED_ALERTNAME,
    RESOLVED,
    fingerprint,
    next_command,
)
from runbook.watch.burn_rate import describe
from runbook.watch.options import now_iso, parse_stamp, zulu
from runbook.watch.reload_path import RESOLUTION
from runbook.watch.state import (
    IncidentState,
)
from runbook.watch.watcher_base import WatcherBase


class PathChecks(WatcherBase):
    """Checks run at every judgement, after the incidents are updated."""

    def _reload_check(self) -> bool:
        """Fire when a DDL or reload request went unconfirmed past the deadline; resolve when
        a confirmed load follows it (at once, for a load that came late)."""
        fp = fingerprint("", "reload", "")
        st = self.state.incidents.get(fp)
        changed = False
        if st is None or st.status != FIRING:
            told = parse_stamp(st.first_seen) if st is not None else None
            late = self.reload_path.late(after=told)
            if late is None:
                return False
            if st is None:
                st = IncidentState(fp, "", "", "", status=RESOLVED, kind="reload")
                self.state.incidents[fp] = st
            st.status, st.verdict, st.confidence = FIRING, "reload_not_applied", "likely"
            st.first_seen = zulu(late.ts.isoformat())
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
        started = parse_stamp(st.first_seen)
        loads_after = self.reload_path.loads_after(started) if started is not None else []
        if loads_after:
            self.reload_path.settle(loads_after[0])  # the triggers it answered are told
            st.status = RESOLVED
            st.seq += 1
            summary = f"resolved: schema cache loaded at {zulu(loads_after[0].isoformat())}"
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
            told = parse_stamp(st.first_seen) if st is not None else None
            if told is not None and told >= failing.ts:
                return False  # this run of failures was told (and resolved) already
            if st is None:
                st = IncidentState(fp, "", "", "", status=RESOLVED, kind="load_failed")
                self.state.incidents[fp] = st
            st.status, st.verdict, st.confidence = FIRING, "cache_load_failed", "confirmed"
            st.first_seen = zulu(failing.ts.isoformat())
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
            summary = f"resolved: schema cache loaded at {zulu(load.isoformat()) if load else 'last check'}"
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
            first, last = parse_stamp(st.episode_first or st.first_seen), parse_stamp(st.last_seen)
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
            at = zulu(load.isoformat())
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
