"""One runbook checklist item, drawn from its journal state (`StepState`).

    ✔ 4. Reload the schema cache  — sent   (state-changing: asks first, shows what runs)
          ran NOTIFY "pgrst", 'reload schema'
       result notification sent

Labels are ours; every value (SQL, results, errors, evidence) is shown literally.
"""

from __future__ import annotations

from rich.console import Group, RenderableType
from rich.padding import Padding
from rich.table import Table
from rich.text import Text
from textual.widgets import Static

from runbook.diagnosis.verdicts import VERDICT_LABELS
from runbook.tui.literal import literal
from runbook.tui.step_state import RUNNING, StepState
from runbook.tui.widgets.evidence import evidence_table

TITLES = {
    "inspect": ("Inspect", "read-only: database catalog, API cache, reload plumbing", "i"),
    "diagnose": ("Diagnose", "weigh the evidence: which verdict, and does a reload help?", "i"),
    "write_probe": ("Write probe (optional)", "zero-row insert, rolled back; asks first", "w"),
    "reload": ("Reload the schema cache", "state-changing: asks first, shows what runs", "ctrl+r"),
    "verify": ("Verify", "poll the cache, reload counter, probe and logs until the deadline", "v"),
    "prevent": ("Prevent", "so the next migration does not do this again", ""),
}
class StepView(Static):
    """One checklist item, rendered from its `StepState`."""

    def __init__(self, step: str, number: int) -> None:
        super().__init__(id=f"step-{step}", classes="step")
        self.step = step
        self.number = number

    def show(self, state: StepState, planned: str | None, extra: RenderableType | None) -> None:
        title, purpose, key = TITLES[self.step]
        head = Text.assemble(
            (f"{state.symbol} {self.number}. {title}", "bold"),
            f"  — {state.word}",
            (f"   ({purpose})", "dim"),
        )
        rows = _Rows()
        action = state.action or planned
        if action:
            verb = "ran" if state.action else "advice" if self.step == "prevent" else "will run"
            rows.add(verb, literal(action, keep_newlines=True))
        if state.result:
            rows.add("result", literal(state.result))
        if state.error:
            err = state.error
            rows.add("✖ error", Text.assemble(literal(err.get("title")), ": ", literal(err.get("message"))))
            if err.get("next_step"):
                rows.add("next", literal(err.get("next_step")))
        if state.failed and key:
            rows.add("", Text(f"press {key} to retry", style="italic"))
        parts: list[RenderableType] = [head, Padding(rows.grid, (0, 0, 0, 2))]
        if extra is not None:
            parts.append(Padding(extra, (0, 0, 0, 2)))
        self.update(Group(*parts))
        for status in ("ok", "failed", "running", "not-run", "skipped"):
            self.remove_class(f"-{status}")
        self.add_class(f"-{_css_status(state.status)}")


class _Rows:
    """Label/value lines whose values wrap under themselves, not under the label."""

    def __init__(self) -> None:
        self.grid = Table.grid(padding=(0, 1))
        self.grid.add_column(style="dim", no_wrap=True, justify="right", min_width=8)
        self.grid.add_column(overflow="fold")

    def add(self, label: str, value: RenderableType) -> None:
        self.grid.add_row(label, value)


def _css_status(status: str) -> str:
    if status in ("ok", "sent", "manual"):
        return "ok"
    if status in ("failed", "partial"):
        return "failed"
    if status == RUNNING:
        return "running"
    if status in ("declined", "dry_run", "not_allowed"):
        return "skipped"
    return "not-run"


def step_extra(state: StepState) -> RenderableType | None:
    """The verdict, evidence and next steps under diagnose and verify."""
    if state.name not in ("diagnose", "verify") or not state.evidence:
        return None
    blocks: list[RenderableType] = []
    if state.verdict:
        label = VERDICT_LABELS.get(state.verdict, state.verdict)
        blocks.append(Text(f"verdict: {label}", style="bold"))
    blocks.append(evidence_table(state.evidence))
    rows = _Rows()
    for suggestion in state.data.get("suggestions") or []:
        rows.add("→", literal(suggestion))
    blocks.append(rows.grid)
    return Group(*blocks)
