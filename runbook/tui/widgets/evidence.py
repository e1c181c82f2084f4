"""Evidence rows as a table: where it came from, what was checked, the answer, the detail.

Answers are words with a symbol (✔ yes, ✖ no, ? unknown), never a colour alone; every cell
that came from a database, an API or a log is literal.
"""

from __future__ import annotations

from typing import Any

from rich.table import Table
from rich.text import Text

from runbook.evidence import answer_of
from runbook.tui.literal import literal


def evidence_table(rows: list[dict[str, Any]]) -> Table:
    """Evidence rows (source, check, answer, detail), every cell literal."""
    table = Table(box=None, pad_edge=False, expand=True, show_edge=False)
    for name, ratio in (("source", 1), ("check", 3), ("answer", 1), ("detail", 5)):
        table.add_column(name, ratio=ratio, overflow="fold", style="dim" if name == "source" else "")
    for row in rows:
        fact = row.get("fact")
        answer = {"yes": "✔ yes", "no": "✖ no"}.get(answer_of(fact), "? unknown")
        table.add_row(
            literal(row.get("source")),
            literal(row.get("check")),
            Text(answer),
            literal(row.get("detail")),
        )
    return table
