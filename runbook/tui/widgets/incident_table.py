"""The incidents as a table: one row per (table, column), most failed requests first.

Every cell is a `Text` (DataTable parses plain strings as markup; log text must never be).
The cursor stays on the same incident when rows are replaced (follow, replay, filter).
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from rich.text import Text
from textual.binding import Binding
from textual.widgets.data_table import CellDoesNotExist

from runbook.diagnosis.verdicts import CONFIDENCE_MARKS, LOG_VERDICTS, SHORT_VERDICTS, Verdict
from runbook.tui.literal import literal
from runbook.tui.step_state import OUTCOME_LABELS
from runbook.tui.widgets.keys import MotionTable

if TYPE_CHECKING:
    from runbook.diagnosis.from_logs import LogDiagnosis
    from runbook.incidents.grouping import Incident

# What decides comes first: at 80 columns the verdicts are on screen without scrolling.
COLUMNS = (
    ("table", "table"),
    ("column", "column"),
    ("count", "count"),
    ("logs say", "logs"),
    ("inspected", "verdict"),
    ("seen UTC", "seen"),  # first to last in one column: room for the endpoint at 120
    ("endpoint", "endpoint"),
)

ENDPOINT_WIDTH = 16  # the least the endpoint gets (with its "+N"); more when the screen has room
CELL_PADDING = 2  # DataTable pads each cell by one on either side
SCROLLBAR = 2
def short_when(ts: datetime | None) -> str:
    """`11-18 09:15` (the header says UTC; seconds and the year are in the detail)."""
    return ts.strftime("%m-%d %H:%M") if ts is not None else "-"


def seen_window(first: datetime | None, last: datetime | None) -> str:
    """`10-06 14:05–14:31`, with the day again when it ends on another (`…–10-07 01:00`)."""
    if first is None or last is None:
        return short_when(first or last)
    end = last.strftime("%H:%M") if last.date() == first.date() else short_when(last)
    return f"{short_when(first)}–{end}"


def log_verdict_label(diagnosis: LogDiagnosis | None) -> Text:
    """`client mismatch ✓` (proved by the logs), `stale cache ?` (suggested), `…` (not yet)."""
    if diagnosis is None:
        return Text("…", style="dim")
    verdict = diagnosis.verdict
    if verdict is Verdict.UNKNOWN:
        return Text("? undecided", style="dim")
    mark = CONFIDENCE_MARKS.get(diagnosis.confidence, " ?")
    return Text(LOG_VERDICTS.get(verdict, str(verdict)) + mark)


def row_key(incident: Incident) -> str:
    """The table's key of an incident: its table and column (stable while it grows)."""
    return f"{incident.table}\x00{incident.column}"


def short_endpoint(endpoint: str, width: int) -> str:
    """`PATCH /rest/v1/patients` in at most `width` characters: whole when it fits, else the
    path shortened from the left at a `/` where it can be (`PATCH …/v1/patients`), the
    method always kept: the method and the path's end are what tell endpoints apart."""
    if len(endpoint) <= width:
        return endpoint
    method, space, path = endpoint.partition(" ")
    if not space:
        method, path = "", endpoint
    head = f"{method} …" if method else "…"
    room = width - len(head)
    if room < 4:  # not even a few characters of the path: the method and the path's end
        room = 4
    tail = path[-room:]
    cut = tail.find("/")
    if 0 < cut < len(tail) - 1:
        tail = tail[cut:]
    return head + tail


def endpoint_label(endpoints: list[str], width: int) -> str:
    """The first endpoint and `+N` for the others, shortened to `width` (`short_endpoint`)."""
    if not endpoints:
        return "-"
    more = f" +{len(endpoints) - 1}" if len(endpoints) > 1 else ""
    return short_endpoint(endpoints[0], max(width - len(more), 1)) + more


def reload_note(context: dict[str, Any]) -> Text:
    """What happened after the cache reloads, in words (and a symbol)."""
    stopped = context.get("stopped_after_reload")
    if stopped is True:
        return Text("✔ stopped")
    if stopped is False:
        return Text(f"✖ {context.get('errors_after_last_load', '?')} after load")
    return Text("– no load seen", style="dim")


def matches(incident: Incident, needle: str) -> bool:
    """Case-insensitive filter over table, column, endpoints and sources."""
    if not needle:
        return True
    needle = needle.lower()
    haystack = [incident.table, incident.column, *incident.endpoints, *incident.sources]
    return any(needle in item.lower() for item in haystack)


class IncidentTable(MotionTable):
    """Shows incidents; `show()` replaces the rows and keeps the cursor on the same incident."""

    BINDINGS = [Binding("enter", "select_cursor", "Details", id="detail")]

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self._shown_cells: dict[str, list[Text]] = {}
        self._last: tuple[list[Incident], dict[str, str], str, dict[str, LogDiagnosis]] | None = None
        self.user_moved = False  # set once the operator moves the cursor

    def on_key(self) -> None:
        self.user_moved = True

    def on_click(self) -> None:
        self.user_moved = True

    def on_mount(self) -> None:
        self.cursor_type = "row"
        self.zebra_stripes = True
        for label, key in COLUMNS:
            self.add_column(label, key=key)

    def show(
        self,
        incidents: list[Incident],
        verdicts: dict[str, str],
        needle: str = "",
        log_diagnoses: dict[str, LogDiagnosis] | None = None,
    ) -> list[Incident]:
        """Show the incidents matching `needle`; returns those shown.

        When the same incidents are shown in the same order (follow, replay: counts grow),
        only the cells that changed are redrawn; otherwise the rows are replaced and the
        cursor stays on the incident it was on.
        """
        shown = [inc for inc in incidents if matches(inc, needle)]
        logs = log_diagnoses or {}
        self._last = (incidents, verdicts, needle, logs)
        rows = {
            row_key(inc): self._cells(inc, verdicts.get(row_key(inc)), logs.get(row_key(inc)))
            for inc in shown
        }
        width = self._endpoint_width(rows.values(), shown)
        for inc, cells in zip(shown, rows.values(), strict=True):
            cells[-1] = literal(endpoint_label(inc.endpoints, width))
        if list(rows) == list(self._shown_cells):
            for key, cells in rows.items():
                old = self._shown_cells[key]
                for (_, column), new, before in zip(COLUMNS, cells, old, strict=True):
                    if new != before:
                        self.update_cell(key, column, new, update_width=True)
            self._shown_cells = rows
            return shown
        keep = self._current_key() if self.user_moved else None
        self.clear()
        for key, cells in rows.items():
            self.add_row(*cells, key=key)
        self._shown_cells = rows
        # Until the operator moves, the cursor stays on the top row (the biggest incident);
        # after that it stays on the incident they chose, wherever it moves.
        if keep in rows:
            self.move_cursor(row=list(rows).index(keep), animate=False)
        return shown

    def on_resize(self) -> None:
        """The endpoint column takes the room the screen has: redrawn at the new width."""
        if self._last is not None:
            self.show(*self._last)

    def _endpoint_width(self, rows: object, shown: list[Incident]) -> int:
        """What is left for the endpoint once the other columns have their widths."""
        cells = list(rows)  # type: ignore[call-overload]
        others = 0
        for index, (label, _) in enumerate(COLUMNS[:-1]):
            widest = max([len(label), *(row[index].cell_len for row in cells)])
            others += widest + CELL_PADDING
        room = self.size.width - others - CELL_PADDING - SCROLLBAR
        longest = max(
            (len(endpoint_label(inc.endpoints, 10_000)) for inc in shown), default=ENDPOINT_WIDTH
        )
        return max(ENDPOINT_WIDTH, min(room, longest))

    def _current_key(self) -> str | None:
        if not self.row_count:
            return None
        try:
            key = self.coordinate_to_cell_key(self.cursor_coordinate).row_key
        except CellDoesNotExist:
            return None
        return key.value

    @staticmethod
    def _cells(inc: Incident, verdict: str | None, logs: LogDiagnosis | None) -> list[Text]:
        label = OUTCOME_LABELS.get(verdict or "") or SHORT_VERDICTS.get(verdict or "", "not yet")
        return [
            literal(inc.table),
            literal(inc.column, style="bold"),
            Text(f"{inc.count:,}", justify="right"),
            log_verdict_label(logs),
            Text(label, style="" if verdict else "dim"),
            Text(seen_window(inc.first_seen, inc.last_seen)),
            literal(endpoint_label(inc.endpoints, ENDPOINT_WIDTH)),  # fitted by `show`
        ]
