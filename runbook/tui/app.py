"""The Textual app: wires the screens to ingestion (a thread worker) and to runbook sessions.

Workers only post messages (`messages.py`); the handlers here hand the data to the screens.
Every worker failure ends in one place, `on_worker_state_changed`, as an `ErrorModal`.

The first frame must not wait for polars, psycopg or jinja2: this module imports only Textual
and the incidents screen; the workers import the engine in their threads once the first frame
is drawn, and the other screens are imported when first opened.
"""

from __future__ import annotations

import sys
import time
from typing import TYPE_CHECKING, Any

from textual import work
from textual.app import App
from textual.binding import Binding
from textual.screen import Screen
from textual.worker import Worker, WorkerState, get_current_worker

from runbook.terminal import printable
from runbook.tui.commands import RunbookCommands
from runbook.tui.literal import plain
from runbook.tui.messages import (
    FOLLOWING,
    REPLAYING,
    IncidentsChanged,
    IngestFinished,
    IngestNotice,
    IngestProgress,
    IngestStarted,
)
from runbook.tui.options import AppOptions
from runbook.tui.screens.incidents import IncidentsScreen
from runbook.tui.widgets.error_modal import ErrorModal

if TYPE_CHECKING:
    import polars as pl
    from textual.theme import Theme

    from runbook.config import Settings
    from runbook.diagnosis.from_logs import LogDiagnosis
    from runbook.incidents.grouping import Incident
    from runbook.ingest.scanner import SourceStats
    from runbook.ingest.sources import InputProblem
    from runbook.tui.host import Host
    from runbook.tui.sessions import Sessions
    from runbook.tui.step_state import StepState


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
        self.log_diagnoses: dict[str, LogDiagnosis] = {}  # what the logs alone say, by row key
        self.files = 0
        self.ingesting = True
        self.finished: IngestFinished | None = None
        self._sessions: Sessions | None = None
        self.announcing = False  # following or replaying: a new incident gets a toast and the bell
        self.announced: set[tuple[str, str]] = set()
        self.sub_title = printable(options.describe_inputs())

    def get_default_screen(self) -> Screen:
        return IncidentsScreen()

    @property
    def main(self) -> IncidentsScreen:
        """The incidents screen (always at the bottom of the stack)."""
        screen = self.screen_stack[0]
        assert isinstance(screen, IncidentsScreen)
        return screen

    def on_mount(self) -> None:
        from runbook.tui.preferences import load_theme

        theme = load_theme()
        if theme and theme in self.available_themes:
            self.theme = theme
        self.theme_changed_signal.subscribe(self, self._theme_changed)
        self.call_after_refresh(self._start_workers)  # after the first frame is drawn

    def _theme_changed(self, theme: Theme) -> None:
        """The chosen theme is remembered for the next start."""
        from runbook.tui.preferences import save_theme

        save_theme(theme.name)

    def _start_workers(self) -> None:
        self.ingest()
        self.prepare_runbook()

    # -- runbook sessions (created in a worker; on demand if asked for before) --------------

    @property
    def sessions(self) -> Sessions:
        if self._sessions is None:
            self._sessions = self._build_sessions()
            self._sessions.adopt_log_verdicts(self.log_diagnoses, self.events_frame)
            self._sessions.on_running_changed = self._running_changed
        return self._sessions

    def _running_changed(self) -> None:
        """A step started or ended (told from its thread): the list shows "running" or the outcome."""
        try:
            self.call_from_thread(self.refresh_verdicts)
        except RuntimeError:  # the app has already ended (quit while the step ran)
            pass

    def _build_sessions(self) -> Sessions:
        from runbook.config import Settings, load_settings
        from runbook.errors import RunbookError
        from runbook.tui.sessions import Sessions

        settings: Settings | None = self.options.settings
        if settings is None:
            try:
                settings = load_settings(self.options.settings_flags)
            except RunbookError as exc:
                self.call_later(self.show_error, exc)
                settings = Settings()
        return Sessions(
            settings,
            dry_run=self.options.dry_run,
            migrations_dir=self.options.migrations_dir,
            allow_write_probe=self.options.allow_write_probe,
        )

    def _adopt_sessions(self, sessions: Sessions) -> None:
        if self._sessions is None:
            self._sessions = sessions
            sessions.adopt_log_verdicts(self.log_diagnoses, self.events_frame)
        self._sessions.on_running_changed = self._running_changed
        if self._sessions.settings.keys:  # [keys] in the config file
            self.set_keymap(dict(self._sessions.settings.keys))
        self.refresh_verdicts()

    # -- workers ---------------------------------------------------------------------------

    @work(thread=True, exclusive=True, group="ingest", exit_on_error=False)
    def ingest(self) -> None:
        from runbook.tui.ingest import run_ingest

        worker = get_current_worker()
        run_ingest(self.options, self.post_message, lambda: worker.is_cancelled)

    @work(thread=True, group="prepare-runbook", exit_on_error=False)
    def prepare_runbook(self) -> None:
        """Import the runbook engine and read the journal index, off the main thread."""
        sessions = self._sessions or self._build_sessions()
        sessions.load_index()
        self.call_from_thread(self._adopt_sessions, sessions)

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
        if message.phase in (FOLLOWING, REPLAYING) and not self.announcing:
            self.announcing = True  # what was there when following began is not news
            self.announced = {(i.table, i.column) for i in self.incidents}
        self.main.show_progress(message, self.options.replay_speed)

    def on_incidents_changed(self, message: IncidentsChanged) -> None:
        if self.first_incidents_at is None and message.incidents:
            self.first_incidents_at = time.monotonic()
        self.incidents = message.incidents
        self._announce_new(message.incidents)
        self.events_frame = message.frame
        self.source_stats = message.stats
        self.log_diagnoses = message.log_diagnoses
        if self._sessions is not None:
            self._sessions.adopt_log_verdicts(message.log_diagnoses, message.frame)
        self.main.show_incidents(message.incidents, self.verdicts(), message.log_diagnoses)
        from runbook.tui.screens.detail import DetailScreen

        screen = self.screen
        if isinstance(screen, DetailScreen):  # a detail screen stays live
            shown = screen.incident
            key = (shown.table, shown.column)
            updated = next((i for i in message.incidents if (i.table, i.column) == key), None)
            if updated is not None:
                screen.show_incident(updated, message.log_diagnoses.get(f"{shown.table}\x00{shown.column}"))

    def _announce_new(self, incidents: list[Incident]) -> None:
        """Following or replaying, an incident not seen before: a toast and the terminal bell."""
        if not self.announcing:
            return
        new = [i for i in incidents if (i.table, i.column) not in self.announced]
        for incident in new:
            self.announced.add((incident.table, incident.column))
            self.notify(
                f"new incident: {plain(incident.table)}.{plain(incident.column)} "
                f"({incident.count:,} failed request{'s' if incident.count != 1 else ''})",
                title="PGRST204",
                severity="warning",
                markup=False,
            )
        if new:
            self.bell()

    def on_ingest_notice(self, message: IngestNotice) -> None:
        self.notify(plain(message.text), markup=False)

    def on_ingest_finished(self, message: IngestFinished) -> None:
        self.ingesting = False
        self.finished = message
        self.source_stats = message.stats
        self.main.show_finished(message, self.files)
        for stat in message.stats:
            if stat.error or stat.partial:
                said = f"cannot read {plain(stat.source)}: {plain(stat.error)}" if stat.error else (
                    f"{plain(stat.source)}: {plain(stat.partial or '')}"
                )
                self.notify(said, severity="warning", markup=False)
        self.refresh_bindings()

    # -- what screens and the palette call -------------------------------------------------

    def verdicts(self) -> dict[str, str]:
        if self._sessions is None:
            return {}
        # What the list shows: the outcome once there is one (running, fixed, not fixed), as
        # a verified fix must not still read "stale cache"; else the inspected verdict.
        merged = self._sessions.verdicts() | self._sessions.outcomes()
        return {f"{t}\x00{c}": v for (t, c), v in merged.items()}

    def refresh_verdicts(self) -> None:
        self.main.show_incidents(self.incidents, self.verdicts())
        from runbook.tui.screens.detail import DetailScreen

        screen = self.screen
        if isinstance(screen, DetailScreen):
            screen.show_diagnosis(self.diagnose_state(screen.incident))

    def stop_ingest(self) -> None:
        """Esc: cancel the scan, or stop following/replaying; what was read stays."""
        if self.ingesting:
            self.workers.cancel_group(self, "ingest")
            self.notify("stopping: what was read so far stays on screen", markup=False)

    def open_detail(self, incident: Incident) -> None:
        from runbook.tui.screens.detail import DetailScreen

        logs = self.log_diagnoses.get(f"{incident.table}\x00{incident.column}")
        self.push_screen(DetailScreen(incident, self.diagnose_state(incident), logs))

    def open_runbook(self, incident: Incident) -> None:
        from runbook.tui.screens.runbook import RunbookScreen

        if not isinstance(self.screen, RunbookScreen):
            self.push_screen(RunbookScreen(incident, self.sessions))

    def show_error(self, error: BaseException) -> None:
        self.push_screen(ErrorModal.of(error))

    def diagnose_state(self, incident: Incident) -> StepState | None:
        """The incident's latest diagnose step, from its journal (None: not diagnosed)."""
        from runbook.tui.step_state import step_states

        state = step_states(self.sessions.entries(incident))["diagnose"]
        return state if state.verdict else None

    def current_incident(self) -> Incident | None:
        """The incident the current screen is about (the selection on the incidents screen)."""
        screen = self.screen
        if isinstance(screen, IncidentsScreen):
            return screen.selected
        return getattr(screen, "incident", None)

    # -- app actions -------------------------------------------------------------------------

    def action_help(self) -> None:
        from runbook.tui.screens.help import HelpScreen

        if not isinstance(self.screen, HelpScreen):
            self.push_screen(HelpScreen())

    def action_settings(self) -> None:
        from runbook.errors import RunbookError
        from runbook.tui.screens.settings import SettingsScreen

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
            render = getattr(self.screen, "render_steps", None)
            if render is not None:
                render()

        self.push_screen(SettingsScreen(self.sessions.settings), applied)

    def action_report(self) -> None:
        from runbook.tui.screens.report import ReportScreen

        incident = self.current_incident()
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
            report = sys.modules.get("runbook.tui.screens.report")  # not loaded: not shown
            on_report = report is not None and isinstance(self.screen, report.ReportScreen)
            return bool(self.incidents) and not on_report
        return True

    def palette_actions(self, screen: Screen[Any]) -> list[tuple[str, str, Any]]:
        """What can be done now, for the command palette (`commands.py`)."""
        from runbook.tui.commands import actions_for

        return actions_for(self, screen)

    async def action_quit(self) -> None:
        running = dict(self._sessions.running) if self._sessions is not None else {}
        if not running:
            self._quit_now()
            return
        from runbook.tui.step_state import STEP_NAMES
        from runbook.tui.widgets.confirm_modal import ConfirmModal

        if isinstance(self.screen, ConfirmModal):
            return
        steps = ", ".join(
            f"{STEP_NAMES.get(step, step)} of {table}.{column}" for (table, column), step in running.items()
        )

        def answered(quit_anyway: bool | None) -> None:
            if quit_anyway:
                self._journal_interruptions(running)
                self._quit_now()

        self.push_screen(
            ConfirmModal(
                "Quit while a step runs?",
                f"Still running: {steps}. Quitting stops waiting for it; the journal records "
                "the interruption, so --resume knows to run the step again.",
                None,
                confirm_label="Quit",
            ),
            answered,
        )

    def _journal_interruptions(self, running: dict[tuple[str, str], str]) -> None:
        """Each step still running when the operator quit is stopped and gets a "failed"
        entry that says so; its thread journals nothing after it."""
        assert self._sessions is not None
        for exc in self._sessions.interrupt_running(running):
            self.notify(f"could not journal the interruption: {exc}", severity="error", markup=False)

    def _quit_now(self) -> None:
        if self._sessions is not None:
            self._sessions.close_all()
        self.exit(0)

    def on_unmount(self) -> None:
        """However the app ends, its sessions are released (they stay resumable)."""
        if self._sessions is not None:
            self._sessions.close_all()


if TYPE_CHECKING:

    def _gives_the_screens_what_they_ask(app: RunbookApp) -> Host:  # checked by mypy only
        return app
