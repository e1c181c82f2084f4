"""The incident report: a Markdown preview and a save action that never overwrites silently.

The report is rendered in a worker (`report_inputs.render_for`); saving goes through
`save_text`, which refuses an existing file: the screen then asks, naming the file, and only
an explicit "Overwrite" replaces it. The checklist is created, or extended with what it lacks.
"""

from __future__ import annotations

from pathlib import Path

import polars as pl
from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal
from textual.screen import Screen
from textual.widgets import Button, Footer, Header, Input, Label, Markdown, Static

from runbook.errors import RunbookError
from runbook.incidents.grouping import Incident
from runbook.ingest.scanner import SourceStats
from runbook.ingest.sources import InputProblem
from runbook.report.checklist import save_checklist
from runbook.report.incident_report import ReportError, save_text
from runbook.report.markdown import TemplateProblem
from runbook.tui.literal import literal, plain
from runbook.tui.report_inputs import RenderedReport, render_for
from runbook.tui.widgets.confirm_modal import ConfirmModal
from runbook.tui.widgets.keys import MotionScroll
from runbook.tui.widgets.report_markdown import ReportMarkdown

CHECKLIST_NAME = "deployment-checklist.md"


def without_front_matter(markdown: str) -> str:
    """The report body for the preview (the saved file keeps its YAML front matter)."""
    if markdown.startswith("---\n"):
        end = markdown.find("\n---\n", 4)
        if end != -1:
            return markdown[end + 5 :].lstrip("\n")
    return markdown


class ReportScreen(Screen[None]):
    """Preview and save the report of `incident` (with its journal, when there is one)."""

    BINDINGS = [
        Binding("escape", "app.pop_screen", "Back", id="back"),
        Binding("ctrl+s", "save", "Save report", id="save-report"),
        Binding("ctrl+k", "save_checklist", "Update checklist", id="save-checklist"),
    ]

    def __init__(
        self,
        incident: Incident,
        events: pl.DataFrame | None,
        stats: list[SourceStats],
        problems: list[InputProblem],
        journal: Path | None,
    ) -> None:
        super().__init__()
        self.incident = incident
        self.inputs = (events, stats, problems, journal)
        self.rendered: RenderedReport | None = None

    def compose(self) -> ComposeResult:
        self.sub_title = plain(f"report · {self.incident.table}.{self.incident.column}")
        yield Header()
        yield Static(Text("rendering the report…", style="italic"), id="report-about")
        with MotionScroll(id="report-preview"):
            yield ReportMarkdown("*rendering…*", open_links=False, id="report-markdown")
        with Horizontal(id="report-save"):
            yield Label("report file", markup=False)
            yield Input(id="report-path")
            yield Button("Save (ctrl+s)", id="save", variant="primary")
        with Horizontal(id="checklist-save"):
            yield Label("checklist", markup=False)
            yield Input(value=CHECKLIST_NAME, id="checklist-path")
            yield Button("Create / update (ctrl+k)", id="checklist")
        yield Static(id="report-status")
        yield Footer()

    def on_mount(self) -> None:
        self.render_report()

    @work(thread=True, exclusive=True, group="report", exit_on_error=False)
    def render_report(self) -> None:
        events, stats, problems, journal = self.inputs
        try:
            rendered = render_for(self.incident, events, stats, problems, journal)
        except (ReportError, TemplateProblem) as exc:
            self.app.call_from_thread(self._status, f"✖ cannot build the report: {exc}")
            return
        self.app.call_from_thread(self._show, rendered)

    def _show(self, rendered: RenderedReport) -> None:
        self.rendered = rendered
        source = (
            f"with the runbook journal {rendered.journal.name}"
            if rendered.journal
            else "from the logs only (no runbook session yet: the verdict is what the logs show)"
        )
        self.query_one("#report-about", Static).update(
            Text.assemble(literal(rendered.report.title, style="bold"), "\n", Text(source, style="dim"))
        )
        self.query_one("#report-markdown", Markdown).update(without_front_matter(rendered.markdown))
        path = self.query_one("#report-path", Input)
        if not path.value:
            path.value = rendered.default_name

    # -- saving --------------------------------------------------------------------------

    @on(Button.Pressed, "#save")
    def action_save(self) -> None:
        if self.rendered is None:
            return
        path = Path(self.query_one("#report-path", Input).value.strip() or self.rendered.default_name)
        try:
            save_text(path, self.rendered.markdown)
        except FileExistsError:
            self._ask_overwrite(path)
            return
        except OSError as exc:
            self._status(f"✖ not saved: {path}: {exc.strerror or exc}")
            return
        self._status(f"✔ saved {path}")

    def _ask_overwrite(self, path: Path) -> None:
        assert self.rendered is not None
        text = self.rendered.markdown

        def answered(overwrite: bool | None) -> None:
            if not overwrite:
                self._status(f"– not saved: {path} exists and was kept as it is")
                return
            try:
                save_text(path, text, force=True)
            except OSError as exc:
                self._status(f"✖ not saved: {path}: {exc.strerror or exc}")
                return
            self._status(f"✔ replaced {path}")

        self.app.push_screen(
            ConfirmModal(
                "Replace an existing file?",
                f"{path} already exists. Replacing it loses what it holds now.",
                None,
                confirm_label="Overwrite",
            ),
            answered,
        )

    @on(Button.Pressed, "#checklist")
    def action_save_checklist(self) -> None:
        if self.rendered is None:
            return
        path = Path(self.query_one("#checklist-path", Input).value.strip() or CHECKLIST_NAME)
        try:
            added = save_checklist(path, self.rendered.report)
        except (OSError, TemplateProblem, RunbookError) as exc:
            self._status(f"✖ checklist not saved: {path}: {exc}")
            return
        if added:
            self._status(f"✔ {path}: added {len(added)} item(s); existing lines and ticks kept")
        else:
            self._status(f"✔ {path} already has every item: unchanged")

    def _status(self, text: str) -> None:
        self.query_one("#report-status", Static).update(literal(text))
