"""Progress of ingestion: bytes read of total while scanning, then what follow/replay is doing."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Horizontal
from textual.widgets import ProgressBar, Static

from runbook.tui.formatting import from_left, plural, size, when
from runbook.tui.literal import literal
from runbook.tui.messages import (
    CANCELLED,
    FOLLOWING,
    REPLAYING,
    SCANNING,
    IngestFinished,
    IngestProgress,
)


class ScanProgress(Horizontal):
    """A bar and one line of words; the bar hides when there is nothing to measure."""

    def compose(self) -> ComposeResult:
        yield ProgressBar(total=None, show_eta=False, id="scan-bar")
        yield Static("opening inputs…", id="scan-label", markup=False)

    def show_progress(self, progress: IngestProgress, speed: float | None = None) -> None:
        bar = self.query_one(ProgressBar)
        label = self.query_one("#scan-label", Static)
        if progress.phase == SCANNING:
            bar.display = True
            bar.update(total=progress.bytes_total or None, progress=progress.bytes_done)
            total = f" of {size(progress.bytes_total)}" if progress.bytes_total else ""
            text = Text.assemble(
                f"scanning {size(progress.bytes_done)}{total} · {plural(progress.events, 'event')} · ",
                literal(progress.current),
                " · esc cancels",
            )
        elif progress.phase == REPLAYING:
            bar.display = True
            bar.update(total=progress.replay_total or None, progress=progress.replayed)
            pace = f" at {speed:g}×" if speed else ""
            text = Text(
                f"replaying{pace} · recorded time {when(progress.recorded_at)} · "
                f"{progress.replayed:,} of {plural(progress.replay_total, 'event')} · esc stops"
            )
        else:
            bar.display = False
            text = Text(
                f"● following · read {size(progress.bytes_done)} · "
                f"{plural(progress.events, 'event')} · esc stops following"
            )
        label.update(text, layout=False)  # one line, several times a second: no re-layout
        self.set_class(progress.phase == FOLLOWING, "-following")

    def show_finished(self, finished: IngestFinished, files: int) -> None:
        bar = self.query_one(ProgressBar)
        bar.display = False
        read = sum(s.bytes_read for s in finished.stats)
        words = (
            f"read {plural(files, 'file')}, {size(read)}, {plural(finished.events, 'relevant event')}"
        )
        if finished.phase == CANCELLED:
            words = f"stopped: {words} so far (what was read is shown)"
        unreadable = [p.name for p in finished.problems] + [s.source for s in finished.stats if s.error]
        text = Text(words)
        if unreadable:
            more = f" (+{len(unreadable) - 1} more)" if len(unreadable) > 1 else ""
            text.append(" · cannot read ", style="bold red")
            text.append_text(literal(from_left(unreadable[0])))
            text.append(more)
        skipped = sum(s.lines_skipped for s in finished.stats)
        if skipped:
            text.append(f" · {plural(skipped, 'line')} skipped: no parser")  # whole at 80 columns
        self.query_one("#scan-label", Static).update(text)
        self.remove_class("-following")
