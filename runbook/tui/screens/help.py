"""`?`: the keys and what the screens mean. The text is data (`help.md`), not code."""

from __future__ import annotations

from importlib import resources

from textual.app import ComposeResult
from textual.binding import Binding
from textual.screen import ModalScreen
from textual.widgets import Markdown

from runbook.tui.widgets.keys import MotionScroll


def help_text() -> str:
    return resources.files("runbook.tui.screens").joinpath("help.md").read_text(encoding="utf-8")


class HelpScreen(ModalScreen[None]):
    """The help, scrollable; esc, q or ? closes it."""

    BINDINGS = [Binding("escape,q,question_mark", "close", "Close", id="help-close")]

    def compose(self) -> ComposeResult:
        with MotionScroll(id="help", classes="dialog"):
            yield Markdown(help_text())

    def on_mount(self) -> None:
        self.query_one("#help").focus()

    def action_close(self) -> None:
        self.dismiss(None)
