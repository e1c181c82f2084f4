"""Ask before a state-changing action, showing exactly what will run."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Static

from runbook.tui.literal import literal


class ConfirmModal(ModalScreen[bool]):
    """Dismisses with True (run it) or False (cancel). `action` is shown literally, in full."""

    BINDINGS = [
        Binding("escape,n", "cancel", "Cancel", id="confirm-cancel"),
        Binding("y", "confirm", "Run it", id="confirm-run"),
    ]

    def __init__(
        self,
        title: str,
        description: str,
        action: str | None,
        *,
        confirm_label: str = "Run it",
        warning: str = "",
    ) -> None:
        super().__init__()
        self.title_text = title
        self.description = description
        self.action = action
        self.confirm_label = confirm_label
        self.warning = warning

    def compose(self) -> ComposeResult:
        with Vertical(id="confirm-dialog", classes="dialog"):
            yield Static(literal(self.title_text), classes="dialog-title")
            yield Static(literal(self.description, keep_newlines=True), classes="dialog-body")
            if self.action:
                yield Static("will run exactly:", classes="dialog-label", markup=False)
                yield Static(literal(self.action, keep_newlines=True), id="confirm-action")
            if self.warning:
                yield Static(
                    literal(f"⚠ {self.warning}", keep_newlines=True), classes="dialog-warning"
                )
            with Horizontal(classes="dialog-buttons"):
                yield Button(f"{self.confirm_label} (y)", variant="warning", id="confirm-yes")
                yield Button("Cancel (n / esc)", id="confirm-no")

    def on_mount(self) -> None:
        self.query_one("#confirm-no", Button).focus()  # the safe choice has the focus

    def on_button_pressed(self, event: Button.Pressed) -> None:
        self.dismiss(event.button.id == "confirm-yes")

    def action_confirm(self) -> None:
        self.dismiss(True)

    def action_cancel(self) -> None:
        self.dismiss(False)
