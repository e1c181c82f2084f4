"""The main screen: ingestion progress, the incidents table, a filter, and the timeline."""

from __future__ import annotations

from typing import TYPE_CHECKING

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Header, Input, Static

from runbook.incidents.trigger import trigger_migration
from runbook.tui.formatting import duration, from_left, plural, when
from runbook.tui.host import host
from runbook.tui.literal import literal
from runbook.tui.messages import IngestFinished, IngestProgress
from runbook.tui.widgets.incident_table import IncidentTable, row_key
from runbook.tui.widgets.scan_progress import ScanProgress
from runbook.tui.widgets.timeline import Timeline, TimelineData

if TYPE_CHECKING:
    from runbook.diagnosis.from_logs import LogDiagnosis
    from runbook.incidents.grouping import Incident


class IncidentsScreen(Screen[None]):
    """Shows what the app hands it; asks the app to open detail or runbook for the selection."""

    BINDINGS = [
        Binding("slash", "focus_filter", "Filter", id="filter"),
        Binding("enter", "open_detail", "Details", id="detail", show=True),
        Binding("r", "open_runbook", "Runbook", id="runbook"),
        Binding("escape", "escape", "Stop reading", id="stop-reading"),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.incidents: list[Incident] = []
        self.shown: list[Incident] = []
        self.verdicts: dict[str, str] = {}
        self.log_diagnoses: dict[str, LogDiagnosis] = {}
        self.selected: Incident | None = None
        self.scanning = True
        self._summary_text: Text | None = None

    def compose(self) -> ComposeResult:
        yield Header()
        yield ScanProgress(id="progress")
        yield Input(placeholder="/ filter by table, column, endpoint or source", id="filter")
        with Vertical(id="incidents-pane"):
            yield IncidentTable(id="incidents")
            yield Static(
                Text("reading the logs… incidents appear here as soon as they are found", style="dim"),
                id="empty",
            )
        yield Static(id="selection")
        yield Timeline(id="timeline")
        yield Footer()

    def on_mount(self) -> None:
        self.query_one("#timeline").border_title = "errors per minute"
        self.query_one(IncidentTable).focus()

    # -- fed by the app ------------------------------------------------------------------

    def show_incidents(
        self,
        incidents: list[Incident],
        verdicts: dict[str, str],
        log_diagnoses: dict[str, LogDiagnosis] | None = None,
    ) -> None:
        self.incidents = incidents
        self.verdicts = verdicts
        if log_diagnoses is not None:
            self.log_diagnoses = log_diagnoses
        self._refresh_rows()

    def show_progress(self, progress: IngestProgress, speed: float | None) -> None:
        self.query_one(ScanProgress).show_progress(progress, speed)

    def show_finished(self, finished: IngestFinished, files: int) -> None:
        self.scanning = False
        self.query_one(ScanProgress).show_finished(finished, files)
        if not self.incidents:
            self.query_one("#empty", Static).update(empty_state(finished, files))

    # -- user ------------------------------------------------------------------------------

    @on(Input.Changed, "#filter")
    def _filter_changed(self) -> None:
        self._refresh_rows()

    @on(Input.Submitted, "#filter")
    def _filter_done(self) -> None:
        self.query_one(IncidentTable).focus()

    @on(DataTable.RowHighlighted)
    def _highlighted(self, event: DataTable.RowHighlighted) -> None:
        key = event.row_key.value if event.row_key is not None else None
        self.selected = next((i for i in self.shown if row_key(i) == key), None)
        self._show_selection()
        self.refresh_bindings()

    @on(DataTable.RowSelected)
    def _selected(self, event: DataTable.RowSelected) -> None:
        self.action_open_detail()

    def action_focus_filter(self) -> None:
        self.query_one("#filter", Input).focus()

    def action_open_detail(self) -> None:
        if self.selected is not None:
            host(self.app).open_detail(self.selected)

    def action_open_runbook(self) -> None:
        if self.selected is not None:
            host(self.app).open_runbook(self.selected)

    def action_escape(self) -> None:
        """Esc: clear the filter when typing in it, else stop reading."""
        filt = self.query_one("#filter", Input)
        if filt.has_focus:
            filt.value = ""
            self.query_one(IncidentTable).focus()
        else:
            host(self.app).stop_ingest()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action in ("open_detail", "open_runbook"):
            return self.selected is not None
        if action == "escape":
            return host(self.app).ingesting or self.query_one("#filter", Input).has_focus
        return True

    # -- internals -----------------------------------------------------------------------

    def _refresh_rows(self) -> None:
        table = self.query_one(IncidentTable)
        needle = self.query_one("#filter", Input).value.strip()
        self.shown = table.show(self.incidents, self.verdicts, needle, self.log_diagnoses)
        empty = self.query_one("#empty", Static)
        empty.display = not self.shown
        if self.incidents and not self.shown:
            empty.update(Text("no incident matches the filter (esc clears it)", style="dim"))
        if self.selected is not None:
            key = row_key(self.selected)
            self.selected = next((i for i in self.shown if row_key(i) == key), None)
        if self.selected is None and self.shown:
            self.selected = self.shown[0]
        self._show_selection()
        self.refresh_bindings()

    def _show_selection(self) -> None:
        inc = self.selected
        summary = self.query_one("#selection", Static)
        timeline = self.query_one(Timeline)
        if inc is None:
            summary.update("")
            timeline.data = None
            return
        timeline.data = TimelineData.of(inc)  # a reactive: equal data draws nothing
        text = selection_summary(inc)
        if text != self._summary_text:  # follow updates this several times a second
            self._summary_text = text
            summary.update(text)


def selection_summary(inc: Incident) -> Text:
    """Three lines, most decisive first, each cut at its end (never wrapped into the next):
    the failures and their window, the migration that set them off (its time first, so the
    time is never what is cut), the sources."""
    migration, _ = trigger_migration(inc.context, inc.column, inc.first_seen)
    window = "untimed"
    if inc.first_seen is not None and inc.last_seen is not None:
        end = inc.last_seen.strftime("%H:%M:%SZ") if inc.last_seen.date() == inc.first_seen.date() else when(inc.last_seen)
        window = f"{when(inc.first_seen)} to {end}"
    lines: list[Text] = [
        Text(
            f"{plural(inc.count, 'failed request')} over {duration(inc.duration_seconds)}"
            f" · peak {inc.peak_per_minute}/min · {window}"
        )
    ]
    if migration:
        statement = " ".join(str(migration.get("message") or migration.get("detail") or "DDL").split())
        lines.append(
            Text.assemble(
                Text("migration before: ", style="dim"),
                Text(f"{when(migration.get('ts'))}  "),
                literal(statement),
            )
        )
    else:
        lines.append(Text("no migration of this table seen in the logs", style="dim"))
    lines.append(
        literal(
            f"{plural(len(inc.sources), 'source')}: "
            + ", ".join(from_left(s, 60) for s in inc.sources[:3])
            + (f" +{len(inc.sources) - 3}" if len(inc.sources) > 3 else "")
        )
    )
    text = Text("\n").join(lines)
    text.no_wrap = True
    text.overflow = "ellipsis"
    return text


def empty_state(finished: IngestFinished, files: int) -> Text:
    """What an empty list means: never an all-clear for inputs that were not read, or whose
    candidate lines no parser read. Stays where the list is (a toast fades)."""
    unreadable = [(p.name, p.reason) for p in finished.problems] + [
        (s.source, s.error) for s in finished.stats if s.error
    ]
    partial = [(s.source, s.partial) for s in finished.stats if s.partial and not s.error]
    skipped = [s for s in finished.stats if s.lines_skipped and not s.error]
    stats = {
        "files": files - sum(1 for s in finished.stats if s.error),
        "unreadable": unreadable,
        "partial": partial,
        "lines_skipped": sum(s.lines_skipped for s in skipped),
    }
    # Imported here: scan_render brings polars, and the first frame must not wait for it.
    from runbook.report.scan_render import no_incidents_line

    headline = no_incidents_line(stats).replace("(see stderr)", "(below)")
    problem = bool(unreadable) or bool(partial) or not stats["files"]
    text = Text(headline, style="bold red" if problem else "dim")
    for name, reason in unreadable:
        text.append("\n  cannot read ")
        text.append_text(literal(from_left(name, 60)))
        text.append(f": {reason}")
    for name, reason in partial:
        text.append("\n  ")
        text.append_text(literal(from_left(name, 60)))
        text.append(f": {reason}")
    for stat in skipped:
        text.append("\n  ")
        text.append_text(literal(from_left(stat.source, 60)))
        text.append(f": {stat.lines_skipped:,} candidate line(s) matched no parser ({stat.format})")
    return text
