"""Errors per minute as a bar chart, with migrations and cache reloads marked under it.

    ▂▅█▇▃        ▁
      M    R L
    09:15  1 column = 1 min            09:47
    █ errors/min, peak 42 · M migration · R reload asked · L cache loaded · ! load failed

Markers are letters, never only colours. `chart_lines()` is the pure rendering (tests call it);
`Timeline` is a dumb widget that shows the `TimelineData` it is given at its current width.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from rich.style import Style
from rich.text import Text
from textual.reactive import reactive
from textual.widget import Widget

from runbook.tui.formatting import clock, duration

if TYPE_CHECKING:
    from runbook.incidents.grouping import Incident

BLOCKS = " ▁▂▃▄▅▆▇█"
# marker letter per event kind, and which wins when two share a column (lower first)
MARKERS = {"migration": "M", "cache_load_failed": "!", "cache_reload": "R", "cache_load": "L"}
PRIORITY = {"M": 0, "!": 1, "R": 2, "L": 3}
LEGEND = "M migration · R reload asked · L cache loaded · ! load failed"
# markers this close to the errors (or within the errors' own span) are drawn on the axis;
# farther ones are named under it, so a startup load hours earlier does not squash the bars
MIN_REACH = timedelta(minutes=10)


@dataclass(frozen=True)
class TimelineData:
    """Counts per minute and marked events (time, letter)."""

    per_minute: list[tuple[datetime, int]] = field(default_factory=list)
    markers: list[tuple[datetime, str]] = field(default_factory=list)

    @classmethod
    def of(cls, incident: Incident) -> TimelineData:
        """The series and the migration/reload markers of one incident."""
        points = [
            (datetime.fromisoformat(p["minute"]), int(p["count"])) for p in incident.per_minute
        ]
        refs: list[dict[str, Any]] = list(incident.context.get("migrations") or [])
        before = incident.context.get("migration_before")
        if before and before not in refs:
            refs.append(before)
        refs += incident.context.get("reloads") or []
        markers = []
        for ref in refs:
            letter = MARKERS.get(ref.get("kind") or "")
            if letter and ref.get("ts"):
                markers.append((datetime.fromisoformat(ref["ts"]), letter))
        return cls(points, sorted(markers))


def chart_lines(data: TimelineData, width: int, bar_rows: int = 3) -> list[Text]:
    """The chart as lines of at most `width` cells: bars, markers, axis, legend."""
    width = max(width, 20)
    if not data.per_minute:
        return [Text("no timed errors for this incident", style="dim")]
    first = data.per_minute[0][0]
    last = data.per_minute[-1][0]
    reach = max(last - first, MIN_REACH)
    near = [(t, m) for t, m in data.markers if first - reach <= t <= last + reach]
    far = [(t, m) for t, m in data.markers if (t, m) not in near]
    start = min([first, *[t for t, _ in near]]).replace(second=0, microsecond=0)
    end = max([last, *[t for t, _ in near]]).replace(second=0, microsecond=0)
    minutes = int((end - start).total_seconds() // 60) + 1
    per_col = max(1, math.ceil(minutes / width))  # minutes in one column (long spans)
    widen = max(1, width // minutes) if per_col == 1 else 1
    buckets = [0] * math.ceil(minutes / per_col)
    for minute, count in data.per_minute:
        buckets[int((minute - start).total_seconds() // 60) // per_col] += count
    peak = max(buckets) or 1
    cols = len(buckets) * widen

    def column(ts: datetime) -> int:
        offset = (ts - start).total_seconds() / 60 / per_col
        return min(cols - 1, int(offset * widen))

    lines: list[Text] = []
    for row in range(bar_rows - 1, -1, -1):
        cells = []
        for value in buckets:
            eighths = 0 if value == 0 else max(1, round(value / peak * bar_rows * 8))
            cells.append(BLOCKS[min(8, max(0, eighths - row * 8))] * widen)
        lines.append(Text("".join(cells).rstrip() or " "))
    marks = [" "] * cols
    for ts, letter in near:
        col = column(ts)
        if marks[col] == " " or PRIORITY[letter] < PRIORITY[marks[col]]:
            marks[col] = letter
    lines.append(Text("".join(marks).rstrip() or " "))
    left, right = clock(start), clock(start + timedelta(minutes=len(buckets) * per_col))
    scale = f"1 column = {_minutes(per_col)}" if widen == 1 else f"{widen} columns = 1 min"
    if far:
        when_far, letter = far[0] if far[0][0] < first else far[-1]
        side = "before" if when_far < first else "after"
        gap_text = duration(abs((when_far - (first if side == "before" else last)).total_seconds()))
        scale = f"{scale} · off the chart: {letter} {gap_text} {side}"
    room = max(cols, len(left) + len(right) + len(scale) + 4)
    gap = room - len(left) - len(right) - len(scale)
    lines.append(Text(f"{left}{' ' * (gap // 2)}{scale}{' ' * (gap - gap // 2)}{right}", style="dim"))
    peak_minute = max(c for _, c in data.per_minute)
    lines.append(Text(f"bars: errors per minute, peak {peak_minute} · {LEGEND}", style="dim"))
    return lines


def _minutes(n: int) -> str:
    if n < 60:
        return f"{n} min"
    hours, rest = divmod(n, 60)
    return f"{hours} h {rest} min" if rest else f"{hours} h"


class Timeline(Widget):
    """Shows `data` (set it; the widget redraws at its own width)."""

    COMPONENT_CLASSES = {"timeline--bars", "timeline--markers"}
    data: reactive[TimelineData | None] = reactive(None)

    def render(self) -> Text:
        if self.data is None:
            return Text("select an incident to see its errors per minute", style="dim")
        lines = chart_lines(self.data, self.content_region.width or self.size.width)
        bars: Style = self.get_component_rich_style("timeline--bars")
        marks: Style = self.get_component_rich_style("timeline--markers")
        for line in lines[:-3]:
            line.stylize(bars)
        if len(lines) >= 3:
            lines[-3].stylize(marks)
        return Text("\n").join(lines)
