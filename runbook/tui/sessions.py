"""The runbook sessions of the incidents on screen: created on first use, resumed from journals.

A session is created only when the operator runs a step (opening the screen writes nothing).
An incident whose newest journalled session was not finished is resumed, so a restarted TUI
continues where it was. No Textual here: the screen calls these from its workers.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import polars as pl

from runbook.config import Settings
from runbook.diagnosis.from_logs import LogDiagnosis
from runbook.diagnosis.logs_verdict import LogInputs, verdict_from_logs
from runbook.errors import RunbookError
from runbook.evidence import Target
from runbook.incidents.grouping import Incident
from runbook.incidents.live import incident_key
from runbook.steps.history import Window, window_of
from runbook.steps.journal import JournalSealed
from runbook.steps.journal_reader import JournalEntry, read_session
from runbook.steps.session import RunbookSession
from runbook.steps.write_probe import WriteProbeRule, consented_in, write_probe_rule
from runbook.tui.journal_index import SessionInfo, index_sessions
from runbook.tui.step_state import CONNECTION, connection_fingerprint, current_results


class Sessions:
    """Live `RunbookSession`s by incident, and the journal index of earlier ones."""

    def __init__(
        self,
        settings: Settings,
        *,
        dry_run: bool = False,
        migrations_dir: Path | None = None,
        allow_write_probe: bool = False,
    ) -> None:
        self.settings = settings
        self.dry_run = dry_run
        self.allow_write_probe = allow_write_probe  # --allow-write-probe: `w` may be offered
        self.migrations_dir = migrations_dir
        self.index: dict[tuple[str, str], SessionInfo] = {}
        self.live: dict[tuple[str, str], RunbookSession] = {}
        self.running: dict[tuple[str, str], str] = {}  # incident -> the step running now
        self.on_running_changed: Callable[[], None] | None = None  # told from the step's thread
        self.log_diagnoses: dict[tuple[str, str], LogDiagnosis] = {}
        self.events: pl.DataFrame | None = None

    def load_index(self) -> None:
        """Read the journal directory (call from a worker: it touches the disk)."""
        self.index = index_sessions(self.settings.journal_dir)

    def target_for(self, incident: Incident) -> Target:
        schema = incident.schema or self.settings.schemas[0]
        return Target(incident.table, incident.column, schema)

    def get(self, incident: Incident) -> RunbookSession | None:
        """The live session, or the resumed unfinished one from the journal; None otherwise.

        Raises `JournalError` when the journal exists but cannot be read back.
        """
        key = incident_key(incident)
        if key in self.live:
            return self.live[key]
        info = self.index.get(key)
        if info is None or info.finished:
            return None
        session = RunbookSession.resume(info.session, self.settings, **self._kwargs(incident))
        self._journal_connection(session)
        self.live[key] = session
        return session

    def get_or_create(self, incident: Incident) -> RunbookSession:
        """The session to run a step in (a new journal when there is none to resume)."""
        session = self.get(incident)
        if session is None:
            session = RunbookSession(
                self.target_for(incident), self.settings, **self._kwargs(incident)
            )
            self._journal_connection(session)
            self.live[incident_key(incident)] = session
        return session

    def run_step(self, incident: Incident, step: str, confirmed: bool = False) -> None:
        """Run one step of the incident's session (blocking: call it from a worker thread).

        `inspect` also diagnoses. Outcomes land in the journal; while the step runs, `running`
        says so, so that a screen opened meanwhile neither starts a second step nor shows the
        checklist as idle.
        """
        key = incident_key(incident)
        if key in self.running:
            return
        session = self.get_or_create(incident)
        session.window = incident_window(incident) or session.window  # followed: it grew
        self.running[key] = step
        self._tell_running()
        try:
            if step == "inspect":
                session.inspect()
                session.diagnose()
            elif step == "write_probe":
                session.write_probe(confirmed)
            elif step == "reload":
                session.reload(confirmed)
            elif step == "verify":
                session.verify()
            else:
                raise ValueError(f"unknown runbook step {step!r}")
        except JournalSealed:
            if not session.interrupted:
                raise
            # Quit while it ran: the journal's last word is the interruption (`interrupt_running`).
        finally:
            self.running.pop(key, None)
            self._tell_running()

    def interrupt_running(self, running: dict[tuple[str, str], str]) -> list[RunbookError]:
        """Quitting: each step in `running` that still runs is stopped and journalled as
        interrupted (`RunbookSession.interrupt`); returns what could not be journalled."""
        problems: list[RunbookError] = []
        for key, step in running.items():
            session = self.live.get(key)
            if session is None or key not in self.running:
                continue  # it ended while the question was open: its outcome is journalled
            try:
                session.interrupt(step)
            except RunbookError as exc:
                problems.append(exc)
        return problems

    def _tell_running(self) -> None:
        if self.on_running_changed is not None:
            self.on_running_changed()

    def connection(self) -> str:
        """What the steps' results depend on: database target (no password), API and admin URLs."""
        return connection_fingerprint(self.settings)

    def _journal_connection(self, session: RunbookSession) -> None:
        """Say in the journal which connection settings the next results are gathered with."""
        session.journal.append(
            "session", "info", result="connection settings", data={CONNECTION: self.connection()}
        )

    def checklist(self, incident: Incident) -> tuple[list[JournalEntry], int]:
        """The entries the runbook checklist may show, and how many results it hides.

        Only the current session's (none once the last one was finished) and only those
        gathered with the connection settings in use now: a result from another database or
        API is not a result about this one."""
        key = incident_key(incident)
        if key in self.live:
            entries = self.live[key].journal.entries
        else:
            info = self.index.get(key)
            if info is None or info.finished:
                return [], 0
            entries = self.entries(incident)
        return current_results(entries, self.connection())

    def entries(self, incident: Incident) -> list[JournalEntry]:
        """The journal entries to show for the incident: live, else the newest on disk."""
        key = incident_key(incident)
        if key in self.live:
            return self.live[key].journal.entries
        info = self.index.get(key)
        if info is None:
            return []
        try:
            return list(read_session(info.path).entries)
        except (OSError, UnicodeDecodeError):
            return []

    def journal_path(self, incident: Incident) -> Path | None:
        """The journal file of the incident's live or newest session, if any."""
        key = incident_key(incident)
        if key in self.live:
            return self.live[key].journal.path
        info = self.index.get(key)
        return info.path if info else None

    def outcomes(self) -> dict[tuple[str, str], str]:
        """The latest outcome per incident key: running, else the latest verify's fixed or
        not_fixed (live sessions over the index)."""
        out = {key: info.outcome for key, info in self.index.items() if info.outcome}
        for key, session in self.live.items():
            outcome = session.journal.record.outcome
            if outcome:
                out[key] = outcome
        out.update({key: "running" for key in self.running})
        return out

    def verdicts(self) -> dict[tuple[str, str], str]:
        """The latest known verdict per incident key (live sessions over the index)."""
        out = {key: info.verdict for key, info in self.index.items() if info.verdict}
        for key, session in self.live.items():
            verdict = session.journal.record.verdict
            if verdict:
                out[key] = verdict
        return out

    def write_probe_rule(self, incident: Incident) -> WriteProbeRule:
        """The write probe's rule for the incident (`runbook.steps.write_probe`), the same one
        its session applies when the probe is sent and when verify decides whether to repeat it."""
        key = incident_key(incident)
        session = self.live.get(key)
        if session is not None:
            return session.write_probe_rule()
        info = self.index.get(key)
        resumable = info is not None and not info.finished  # a finished one's consent ended
        return write_probe_rule(
            opted_in=self.allow_write_probe,
            has_api=bool(self.settings.api_url),
            consented=consented_in(self.entries(incident)) if resumable else False,
        )

    def set_dry_run(self, value: bool) -> None:
        self.dry_run = value
        for session in self.live.values():
            session.dry_run = value

    def replace_settings(self, settings: Settings) -> None:
        """Use new connection settings: live sessions are reopened from their journals."""
        self.settings = settings
        for key, session in list(self.live.items()):
            session.release()
            self.live[key] = RunbookSession.resume(
                session.journal.session,
                settings,
                dry_run=self.dry_run,
                migrations_dir=self.migrations_dir,
                log_paths=session.log_watch.paths if session.log_watch else None,
                allow_write_probe=self.allow_write_probe,
            )
            self._journal_connection(self.live[key])

    def finish(self, incident: Incident) -> None:
        """Close the incident's session (journalled "finished"); a new one starts next time."""
        key = incident_key(incident)
        session = self.live.pop(key, None)
        if session is not None:
            session.close()
            self.load_index()

    def close_all(self) -> None:
        """Release HTTP clients at exit; sessions stay unfinished so they can be resumed."""
        for session in self.live.values():
            session.release()

    def log_verdict(self, incident: Incident) -> LogDiagnosis:
        """The logs' verdict the incident table shows (published with the incidents), so the
        session and the table never disagree; computed the same way when none was published."""
        published = self.log_diagnoses.get(incident_key(incident))
        if published is not None:
            return published
        return verdict_from_logs(incident.to_dict(), LogInputs(events=self.events))

    def adopt_log_verdicts(
        self, diagnoses: dict[str, LogDiagnosis], events: pl.DataFrame | None
    ) -> None:
        """Take the logs' verdicts published with the incidents (keyed by table row key)."""
        self.events = events
        self.log_diagnoses = {}
        for key, found in diagnoses.items():
            table, _, column = key.partition("\x00")
            self.log_diagnoses[(table, column)] = found

    def _kwargs(self, incident: Incident) -> dict:
        logs = [Path(s) for s in incident.sources if s != "-" and Path(s).is_file()]
        return {
            "dry_run": self.dry_run,
            "allow_write_probe": self.allow_write_probe,
            "window": incident_window(incident),
            "migrations_dir": self.migrations_dir,
            "log_paths": logs or None,
            # What the logs say, adopted (with its confidence) when DB and API cannot decide.
            "log_diagnosis": self.log_verdict(incident),
        }


def incident_window(incident: Incident) -> Window | None:
    """The incident's first and last failure, as its session journals them."""
    return window_of(incident.first_seen, incident.last_seen)
