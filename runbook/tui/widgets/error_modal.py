"""A failure shown as a title, a one-line cause and the next step, never as a traceback."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Static

from runbook.tui.literal import literal


class ErrorModal(ModalScreen[None]):
    """Shows `title`, `message` and `next_step` literally; Enter or Esc closes it."""

    BINDINGS = [Binding("escape,enter", "close", "Close", id="error-close")]

    def __init__(self, title: str, message: str, next_step: str = "") -> None:
        super().__init__()
        self.title_text = title
        self.message = message
        self.next_step = next_step

    @classmethod
    def of(cls, error: BaseException) -> ErrorModal:
        """The modal for any exception: a `RunbookError` as it is, anything else by its type."""
        from runbook.errors import RunbookError

        if isinstance(error, RunbookError):
            return cls(error.title, error.message, error.next_step)
        return cls(
            "Unexpected error",
            f"{type(error).__name__}: {error}",
            "this is a bug in pgrst-runbook; the rest of the app still works",
        )

    def compose(self) -> ComposeResult:
        with Vertical(id="error-dialog", classes="dialog"):
            yield Static(literal(f"✖ {self.title_text}"), classes="dialog-title")
            yield Static(literal(self.message, keep_newlines=True), classes="dialog-body")
            if self.next_step:
                yield Static(literal(f"next: {self.next_step}"), classes="dialog-hint")
            with Horizontal(classes="dialog-buttons"):
                yield Button("Close (esc)", id="error-ok", variant="primary")

    def on_mount(self) -> None:
        self.query_one(Button).focus()

    def on_button_pressed(self) -> None:
        self.dismiss(None)

    def action_close(self) -> None:
        self.dismiss(None)
