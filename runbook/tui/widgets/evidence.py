"""Evidence rows as a table: where it came from, what was checked, the answer, the detail.

Answers are words with a symbol (✔ yes, ✖ no, ? unknown), never a colour alone; every cell
that came from a database, an API or a log is literal.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from rich.console import Console, ConsoleOptions, RenderableType
from rich.padding import Padding
from rich.table import Table
from rich.text import Text

from runbook.evidence import answer_of
from runbook.tui.formatting import from_left
from runbook.tui.literal import literal

SOURCE_WIDTH = 30  # `…/postgrest-stderr.log:17` whole: the file is what the operator opens
NARROW = 100  # fewer columns than this: each row stacked (the answer and check, then where and what)


def evidence_table(rows: list[dict[str, Any]]) -> RenderableType:
    """Evidence rows (source, check, answer, detail), every cell literal: a table where the
    screen is wide, stacked rows where four columns would wrap every cell (80x24)."""
    return _Evidence(rows)


class _Evidence:
    def __init__(self, rows: list[dict[str, Any]]) -> None:
        self.rows = rows

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> Iterator[RenderableType]:
        if options.max_width >= NARROW:
            yield _table(self.rows)
            return
        for row in self.rows:
            head = Text(_answer(row).ljust(10))
            head.append_text(literal(row.get("check")))
            yield head
            body = literal(from_left(row.get("source"), SOURCE_WIDTH)) if row.get("source") else Text("")
            body.stylize("dim")
            if row.get("detail"):
                body.append(" · " if row.get("source") else "")
                body.append_text(literal(row.get("detail")))
            yield Padding(body, (0, 0, 0, 10))


def _answer(row: dict[str, Any]) -> str:
    return {"yes": "✔ yes", "no": "✖ no"}.get(answer_of(row.get("fact")), "? unknown")


def _table(rows: list[dict[str, Any]]) -> Table:
    table = Table(box=None, pad_edge=False, expand=True, show_edge=False)
    # The source is cut from the left (`…/stale-cache/worker.log:14`) and never wraps; the
    # answer is one word; the check and the detail share what is left.
    table.add_column("source", no_wrap=True, style="dim", max_width=SOURCE_WIDTH)
    table.add_column("check", ratio=2, overflow="fold")
    table.add_column("answer", no_wrap=True, min_width=9)
    table.add_column("detail", ratio=3, overflow="fold")
    for row in rows:
        table.add_row(
            literal(from_left(row.get("source"), SOURCE_WIDTH)),
            literal(row.get("check")),
            Text(_answer(row)),
            literal(row.get("detail")),
        )
    return table
