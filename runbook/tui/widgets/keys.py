"""j/k/g/G for the keyboard-only operator: the same motions in tables and scrolling panes."""

from __future__ import annotations

from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.widgets import DataTable

TABLE_MOTIONS: list[BindingType] = [
    Binding("j", "cursor_down", "Down", show=False, id="down"),
    Binding("k", "cursor_up", "Up", show=False, id="up"),
    Binding("g", "scroll_top", "First", show=False, id="first"),
    Binding("G", "scroll_bottom", "Last", show=False, id="last"),
]

SCROLL_MOTIONS: list[BindingType] = [
    Binding("j", "scroll_down", "Down", show=False, id="down"),
    Binding("k", "scroll_up", "Up", show=False, id="up"),
    Binding("g", "scroll_home", "Top", show=False, id="first"),
    Binding("G", "scroll_end", "Bottom", show=False, id="last"),
]


class MotionScroll(VerticalScroll):
    """A `VerticalScroll` that also moves with j/k/g/G."""

    BINDINGS = SCROLL_MOTIONS


class MotionTable(DataTable):
    """A `DataTable` whose row cursor also moves with j/k/g/G."""

    BINDINGS = TABLE_MOTIONS
