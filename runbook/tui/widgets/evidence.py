"""Evidence rows as a table: where it came from, what was checked, the answer, the detail.

Answers are words with a symbol (✔ yes, ✖ no, ? unknown), never a colour alone; every cell
that came from a database, an API or a log is literal.
"""

from __future__ import annotations

from typing import Any

from rich.table import Table
from rich.text import Text

from runbook.evidence import answer_of
from runbook.tui.formatting import from_left
from runbook.tui.literal import literal

SOURCE_WIDTH = 30  # `…/postgrest-stderr.log:17` whole: the file is what the operator opens


def evidence_table(rows: list[dict[str, Any]]) -> Table:
    """Evidence rows (source, check, answer, detail), every cell literal."""
    table = Table(box=None, pad_edge=False, expand=True, show_edge=False)
    # The source is cut from the left (`…/stale-cache/worker.log:14`) and never wraps; the
    # answer is one word; the check and the detail share what is left.
    table.add_column("source", no_wrap=True, style="dim", max_width=SOURCE_WIDTH)
    table.add_column("check", ratio=2, overflow="fold")
    table.add_column("answer", no_wrap=True, min_width=9)
    table.add_column("detail", ratio=3, overflow="fold")
    for row in rows:
        fact = row.get("fact")
        answer = {"yes": "✔ yes", "no": "✖ no"}.get(answer_of(fact), "? unknown")
        table.add_row(
            literal(from_left(row.get("source"), SOURCE_WIDTH)),
            literal(row.get("check")),
            Text(answer),
            literal(row.get("detail")),
        )
    return table
