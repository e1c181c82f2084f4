"""The Textual app: wires the screens to ingestion (a thread worker) and to runbook sessions.

Workers only post messages (`messages.py`); the handlers here hand the data to the screens.
Every worker failure ends in one place, `on_worker_state_changed`, as an `ErrorModal`.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import polars as pl
from textual import work
from textual.app import App
from textual.binding import Binding
from textual.screen import Screen
from textual.worker import Worker, WorkerState, get_current_worker

from runbook.config import Settings, load_settings
from runbook.errors import RunbookError
from runbook.incidents import Incident
from runbook.live import incident_key
from runbook.scanner import SourceStats
from runbook.sources import InputProblem
from runbook.tui.commands import RunbookCommands
from runbook.tui.ingest import run_ingest
from runbook.tui.literal import plain
from runbook.tui.messages import (
    IncidentsChanged,
    IngestFinished,
    IngestNotice,
    IngestProgress,
    IngestStarted,
)
from runbook.tui.options import AppOptions
from runbook.tui.screens.detail import DetailScreen
from runbook.tui.screens.help import HelpScreen
from runbook.tui.screens.incidents import IncidentsScreen
from runbook.tui.screens.report import ReportScreen
from runbook.tui.screens.runbook import RunbookScreen
from runbook.tui.screens.settings import SettingsScreen
from runbook.tui.sessions import Sessions
from runbook.tui.step_state import step_states
from runbook.tui.widgets.error_modal import ErrorModal

PaletteAction = tuple[str, str, Callable[[], object]]


class RunbookApp(App[int]):
    """`RunbookApp(AppOptions(paths=[...]))`; `run()` returns an exit code."""

    CSS_PATH = "app.tcss"
    TITLE = "pgrst-runbook"
    COMMANDS = App.COMMANDS | {RunbookCommands}
    BINDINGS = [
        Binding("question_mark", "help", "Help", id="help"),
        Binding("c", "settings", "Connection", id="settings"),
        Binding("e", "report", "Report", id="report"),
        Binding("q", "quit", "Quit", id="quit"),
    ]

    def __init__(self, options: AppOptions) -> None:
        super().__init__()
        self.options = options
        self.started_at = time.monotonic()
        self.first_incidents_at: float | None = None
        self.incidents: list[Incident] = []
        self.events_frame: pl.DataFrame | None = None  # what the incidents were grouped from
        self.source_stats: list[SourceStats] = []
        self.problems: list[InputProblem] = []
        self.files = 0
        self.ingesting = True
        self.finished: IngestFinished | None = None
        self._config_error: RunbookError | None = None
        self.sessions = Sessions(
            self._load_settings(), dry_run=options.dry_run, migrations_dir=options.migrations_dir
        )
        self.sub_title = plain(options.describe_inputs())

    def _load_settings(self) -> Settings:
        if self.options.settings is not None:
            return self.options.settings
        try:
            return load_settings(self.options.settings_flags)
        except RunbookError as exc:
            self._config_error = exc
            return Settings()

    def get_default_screen(self) -> Screen:
        return IncidentsScreen()

    @property
    def main(self) -> IncidentsScreen:
        """The incidents screen (always at the bottom of the stack)."""
        screen = self.screen_stack[0]
        assert isinstance(screen, IncidentsScreen)
        return screen

    def on_mount(self) -> None:
        if self._config_error is not None:
            self.show_error(self._config_error)
        self.ingest()
        self.load_journal_index()

    # -- workers ---------------------------------------------------------------------------

    @work(thread=True, exclusive=True, group="ingest", exit_on_error=False)
    def ingest(self) -> None:
        worker = get_current_worker()
        run_ingest(self.options, self.post_message, lambda: worker.is_cancelled)

    @work(thread=True, group="journal-index", exit_on_error=False)
    def load_journal_index(self) -> None:
        self.sessions.load_index()
        self.call_from_thread(self.refresh_verdicts)

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        if event.state == WorkerState.ERROR and event.worker.error is not None:
            if event.worker.group == "ingest":
                self.ingesting = False
                self.refresh_bindings()
            self.show_error(event.worker.error)

    # -- ingestion messages ----------------------------------------------------------------

    def on_ingest_started(self, message: IngestStarted) -> None:
        self.files = message.sources
        self.problems = list(message.problems)
        for problem in message.problems:
            self.notify(
                f"cannot read {plain(problem.name)}: {problem.reason}",
                severity="warning",
                markup=False,
            )
        if not message.sources:
            self.notify("no input to read", severity="error", markup=False)

    def on_ingest_progress(self, message: IngestProgress) -> None:
        self.main.show_progress(message, self.options.replay_speed)

    def on_incidents_changed(self, message: IncidentsChanged) -> None:
        if self.first_incidents_at is None and message.incidents:
            self.first_incidents_at = time.monotonic()
        self.incidents = message.incidents
        self.events_frame = message.frame
        self.source_stats = message.stats
        self.main.show_incidents(message.incidents, self.verdicts())
        top = self.screen
        if isinstance(top, DetailScreen):
            key = incident_key(top.incident)
            updated = next((i for i in message.incidents if incident_key(i) == key), None)
            if updated is not None:
                top.show_incident(updated)

    def on_ingest_notice(self, message: IngestNotice) -> None:
        self.notify(plain(message.text), markup=False)

    def on_ingest_finished(self, message: IngestFinished) -> None:
        self.ingesting = False
        self.finished = message
        self.source_stats = message.stats
        self.main.show_finished(message, self.files)
        for stat in message.stats:
            if stat.error:
                self.notify(
                    f"cannot read {plain(stat.source)}: {plain(stat.error)}",
                    severity="warning",
                    markup=False,
                )
        self.refresh_bindings()

    # -- what screens and the palette call -------------------------------------------------

    def verdicts(self) -> dict[str, str]:
        return {f"{t}\x00{c}": v for (t, c), v in self.sessions.verdicts().items()}

    def refresh_verdicts(self) -> None:
        self.main.show_incidents(self.incidents, self.verdicts())
        top = self.screen
        if isinstance(top, DetailScreen):
            top.show_diagnosis(self._diagnose_state(top.incident))

    def stop_ingest(self) -> None:
        """Esc: cancel the scan, or stop following/replaying; what was read stays."""
        if self.ingesting:
            self.workers.cancel_group(self, "ingest")
            self.notify("stopping: what was read so far stays on screen", markup=False)

    def open_detail(self, incident: Incident) -> None:
        self.push_screen(DetailScreen(incident, self._diagnose_state(incident)))

    def open_runbook(self, incident: Incident) -> None:
        if isinstance(self.screen, RunbookScreen):
            return
        self.push_screen(RunbookScreen(incident, self.sessions))

    def show_error(self, error: BaseException) -> None:
        self.push_screen(ErrorModal.of(error))

    def _diagnose_state(self, incident: Incident):
        entries = self.sessions.entries(incident)
        state = step_states(entries)["diagnose"]
        return state if state.verdict else None

    # -- app actions -------------------------------------------------------------------------

    def action_help(self) -> None:
        if not isinstance(self.screen, HelpScreen):
            self.push_screen(HelpScreen())

    def action_settings(self) -> None:
        if isinstance(self.screen, SettingsScreen):
            return

        def applied(settings: Settings | None) -> None:
            if settings is None:
                return
            try:
                self.sessions.replace_settings(settings)
            except RunbookError as exc:
                self.show_error(exc)
                return
            self.notify("connection settings applied", markup=False)
            if isinstance(self.screen, RunbookScreen):
                self.screen.render_steps()

        self.push_screen(SettingsScreen(self.sessions.settings), applied)

    def action_report(self) -> None:
        incident = _selected_incident(self.screen) or (
            self.screen.incident if isinstance(self.screen, RunbookScreen) else None
        )
        if incident is None:
            self.notify("select an incident first: the report is about one incident", markup=False)
            return
        if isinstance(self.screen, ReportScreen):
            return
        self.push_screen(
            ReportScreen(
                incident,
                self.events_frame,
                self.source_stats,
                self.problems,
                self.sessions.journal_path(incident),
            )
        )

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "report":
            return bool(self.incidents) and not isinstance(self.screen, ReportScreen)
        return True

    def palette_actions(self, screen: Screen[Any]) -> list[PaletteAction]:
        """What can be done now, for the command palette (`commands.py`)."""
        out: list[PaletteAction] = []
        selected = _selected_incident(screen)
        if isinstance(screen, RunbookScreen):
            if not screen.running:
                out += [
                    ("Inspect and diagnose", "read-only checks, then a verdict", screen.action_inspect),
                    ("Reload the schema cache…", "asks first, shows the exact action", screen.action_reload),
                    ("Verify the fix", "poll until the cache has the column", screen.action_verify),
                    ("Write probe…", "zero-row insert, rolled back; asks first", screen.action_write_probe),
                ]
            out.append(("Toggle dry run", "record state-changing steps without running them", screen.action_toggle_dry_run))
        elif selected is not None:
            name = plain(f"{selected.table}.{selected.column}")
            out += [
                (f"Open runbook for {name}", "inspect, reload, verify", lambda: self.open_runbook(selected)),
                (f"Incident detail for {name}", "evidence and sample lines", lambda: self.open_detail(selected)),
            ]
        if isinstance(screen, IncidentsScreen):
            out.append(("Filter incidents", "by table, column, endpoint or source", screen.action_focus_filter))
        if self.ingesting:
            out.append(("Stop reading", "cancel the scan or stop following/replaying", self.stop_ingest))
        out.append(("Connection settings", "DSN, API URL, admin URL, key; test", self.action_settings))
        if self.incidents and not isinstance(screen, ReportScreen):
            out.append(("Incident report", "preview and save the Markdown report", self.action_report))
        out.append(("Help", "keys and what the screens mean", self.action_help))
        return out

    async def action_quit(self) -> None:
        self.sessions.close_all()
        self.exit(0)


def _selected_incident(screen: Screen[Any]) -> Incident | None:
    if isinstance(screen, IncidentsScreen):
        return screen.selected
    if isinstance(screen, DetailScreen):
        return screen.incident
    return None



__all__ = ["RunbookApp"]
