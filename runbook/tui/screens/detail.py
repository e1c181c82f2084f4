"""One incident in full: endpoints, sources, migrations, reloads, sample lines, diagnosis."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from rich.console import Group, RenderableType
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import Screen
from textual.widgets import Footer, Header, Static

if TYPE_CHECKING:
    from runbook.diagnosis.from_logs import LogDiagnosis
    from runbook.incidents.grouping import Incident
from runbook.diagnosis.verdicts import CONFIDENCE_TEXT, VERDICT_LABELS
from runbook.tui.formatting import duration, plural, short_path, when
from runbook.tui.host import host
from runbook.tui.literal import literal, plain
from runbook.tui.step_state import StepState
from runbook.tui.widgets.evidence import evidence_table
from runbook.tui.widgets.incident_table import reload_note
from runbook.tui.widgets.keys import MotionScroll
from runbook.tui.widgets.timeline import Timeline, TimelineData

KIND_WORDS = {
    "migration": "migration",
    "cache_reload": "reload asked",
    "cache_load": "cache loaded",
    "cache_load_failed": "load FAILED",
    "listener": "listener",
}


def diagnosis_block(diagnose: StepState | None) -> RenderableType:
    """The verdict, its summary and evidence; or how to get one."""
    if diagnose is None or not diagnose.verdict:
        return Text(
            "not inspected yet: press r to open the runbook, then i to inspect (read-only)",
            style="dim",
        )
    label = VERDICT_LABELS.get(diagnose.verdict, diagnose.verdict)
    parts: list[RenderableType] = [
        Text.assemble((f"{label}", "bold"), " — ", literal(diagnose.result)),
    ]
    if diagnose.evidence:
        parts.append(evidence_table(diagnose.evidence))
    suggestions = diagnose.data.get("suggestions") or []
    for suggestion in suggestions:
        parts.append(Text.assemble("→ ", literal(suggestion)))
    return Group(*parts)


def logs_block(diagnosis: LogDiagnosis | None) -> RenderableType:
    """What the logs alone say: verdict, how sure, why, and what would settle it."""
    if diagnosis is None:
        return Text("still reading the logs…", style="dim")
    verdict = str(diagnosis.verdict)
    sure = CONFIDENCE_TEXT.get(diagnosis.confidence, str(diagnosis.confidence))
    parts: list[RenderableType] = [
        Text.assemble((VERDICT_LABELS.get(verdict, verdict), "bold"), f"  ({sure})"),
        literal(diagnosis.summary),
    ]
    rows = [
        {"source": e.where or "logs", "check": e.check, "fact": e.fact, "detail": e.detail}
        for e in diagnosis.evidence
    ]
    if rows:
        parts.append(evidence_table(rows))
    for suggestion in diagnosis.suggestions:
        parts.append(Text.assemble("→ ", literal(suggestion)))
    parts.append(
        Text("the runbook (r, then i) checks this against the database and the API", style="dim")
    )
    return Group(*parts)


def _event_lines(refs: list[dict[str, Any]]) -> RenderableType:
    if not refs:
        return Text("none seen in the logs", style="dim")
    lines = []
    for ref in refs:
        word = KIND_WORDS.get(ref.get("kind") or "", ref.get("kind") or "event")
        where = f"{short_path(ref.get('source'))}:{ref.get('line_no')}"
        lines.append(
            Text.assemble(
                (f"{when(ref.get('ts'))}  ", "dim"),
                (f"{word:<13} ", "bold"),
                literal(ref.get("message") or ref.get("detail")),
                literal(f"  [{ref.get('detail')}]" if ref.get("message") and ref.get("detail") else "", style="dim"),
                literal(f"  {where}", style="dim"),
            )
        )
    return Group(*lines)


def _samples(samples: list[dict[str, Any]]) -> RenderableType:
    if not samples:
        return Text("no sample lines", style="dim")
    blocks: list[RenderableType] = []
    for sample in samples:
        blocks.append(
            Text.assemble(
                literal(f"{short_path(sample.get('source'))}:{sample.get('line_no')}", style="dim"),
                (f"  {when(sample.get('ts'))}", "dim"),
            )
        )
        blocks.append(literal(sample.get("raw"), keep_newlines=True))
    return Group(*blocks)


class DetailScreen(Screen[None]):
    """The evidence around one incident. `diagnose` is its runbook's diagnose step, if any."""

    BINDINGS = [
        Binding("escape", "app.pop_screen", "Back", id="back"),
        Binding("r", "open_runbook", "Runbook", id="runbook"),
        Binding("y", "copy_sample", "Copy sample", id="copy-sample"),
    ]

    def __init__(
        self,
        incident: Incident,
        diagnose: StepState | None = None,
        logs: LogDiagnosis | None = None,
    ) -> None:
        super().__init__()
        self.incident = incident
        self.diagnose = diagnose
        self.logs = logs

    def compose(self) -> ComposeResult:
        inc = self.incident
        self.sub_title = plain(f"{inc.table}.{inc.column}")
        yield Header()
        with MotionScroll(id="detail"):
            yield Static(self._heading(), id="detail-heading")
            # The verdict and the next step first: at 80x24 they are on the first page.
            yield self._section("What the logs say", logs_block(self.logs), id="logs-say")
            yield self._section(
                "Diagnosis (database and API)", diagnosis_block(self.diagnose), id="diagnosis"
            )
            yield Timeline(id="detail-timeline")
            yield self._section("Endpoints", self._list(inc.endpoints, "none correlated"))
            yield self._section("Sources", self._list([short_path(s) for s in inc.sources], "-"))
            migrations = list(inc.context.get("migrations") or [])
            before = inc.context.get("migration_before")
            if before and before not in migrations:
                migrations.insert(0, before)
            yield self._section("Migrations of this table", _event_lines(migrations))
            yield self._section(
                "Cache reloads and loads (±1 h)", _event_lines(inc.context.get("reloads") or [])
            )
            yield self._section("Sample log lines (shown literally)", _samples(inc.samples))
        yield Footer()

    def on_mount(self) -> None:
        self.query_one(Timeline).data = TimelineData.of(self.incident)
        self.query_one("#detail").focus()

    def show_incident(self, incident: Incident, logs: LogDiagnosis | None = None) -> None:
        """Live update (follow/replay): same incident, more requests."""
        self.incident = incident
        self.query_one("#detail-heading", Static).update(self._heading())
        self.query_one(Timeline).data = TimelineData.of(incident)
        if logs is not None:
            self.logs = logs
            self.query_one("#logs-say .section-body", Static).update(logs_block(logs))

    def show_diagnosis(self, diagnose: StepState | None) -> None:
        self.diagnose = diagnose
        self.query_one("#diagnosis .section-body", Static).update(diagnosis_block(diagnose))

    def action_open_runbook(self) -> None:
        host(self.app).open_runbook(self.incident)

    def action_copy_sample(self) -> None:
        samples = self.incident.samples
        if samples:
            self.app.copy_to_clipboard(plain(samples[0].get("raw"), keep_newlines=True))
            self.notify("first sample line copied (OSC 52)", markup=False)

    def _heading(self) -> RenderableType:
        inc = self.incident
        schema = f"{inc.schema}." if inc.schema else ""
        return Group(
            Text.assemble(
                (f"{inc.code}  ", "bold"),
                literal(f"{schema}{inc.table}", style="bold"),
                "  column ",
                literal(inc.column, style="bold"),
            ),
            Text(
                f"{plural(inc.count, 'failed request')} · first {when(inc.first_seen)} · "
                f"last {when(inc.last_seen)} · over {duration(inc.duration_seconds)} · "
                f"peak {inc.peak_per_minute}/min · "
                f"{plural(int(inc.context.get('access_400s') or 0), 'access-log 400')} correlated"
            ),
            Text.assemble("after the reloads: ", reload_note(inc.context)),
        )

    @staticmethod
    def _list(items: list[str], empty: str) -> RenderableType:
        if not items:
            return Text(empty, style="dim")
        return Group(*(literal(f"• {item}") for item in items))

    @staticmethod
    def _section(title: str, body: RenderableType, id: str | None = None) -> Vertical:
        return _Section(title, body, id=id)


class _Section(Vertical):
    """A titled block; the title is ours, the body literal renderables."""

    def __init__(self, title: str, body: RenderableType, id: str | None = None) -> None:
        super().__init__(id=id, classes="section")
        self.section_title = title
        self.body = body

    def compose(self) -> ComposeResult:
        yield Static(self.section_title, classes="section-title", markup=False)
        yield Static(self.body, classes="section-body")
