"""The report preview's Markdown: tables whose short columns keep their words whole.

Textual sizes a Markdown table's columns no narrower than each column's longest word. One
long token (a `file:line` path, a URL, `pg_class/pg_attribute/...`) then claims that much,
and the grid squeezes the short columns below theirs: a time showed as `2026-10…`. Here a
cell's longest word counts for at most `FOLD_FROM` cells, so the long token is folded across
lines (`text-overflow: fold` in `app.tcss`) and dates, steps and answers keep their width.
"""

from __future__ import annotations

from textual.app import ComposeResult
from textual.content import Content
from textual.visual import RulesMap, Visual
from textual.widgets import Markdown
from textual.widgets._markdown import (
    MarkdownTable,
    MarkdownTableCellContents,
    MarkdownTableContent,
)

FOLD_FROM = 24  # a longer word is folded rather than widening its column further


class _FoldingContent(Content):
    def get_minimal_width(self, rules: RulesMap) -> int:
        return min(super().get_minimal_width(rules), FOLD_FROM)


class _Cell(MarkdownTableCellContents):
    def render(self) -> Visual:
        visual = super().render()
        if isinstance(visual, Content) and not isinstance(visual, _FoldingContent):
            return _FoldingContent(visual.plain, list(visual.spans))
        return visual  # type: ignore[return-value]


class _TableContent(MarkdownTableContent):
    def compose(self) -> ComposeResult:
        for header in self.headers:
            yield _Cell(header, classes="header").with_tooltip(header)
        for row_index, row in enumerate(self.rows, 1):
            for cell_index, cell in enumerate(row, 1):
                yield _Cell(
                    cell, classes=f"row{row_index} cell", name=f"cell{row_index}.{cell_index}"
                ).with_tooltip(cell.plain)
            self.last_row = row_index


class _Table(MarkdownTable):
    def compose(self) -> ComposeResult:
        headers, rows = self._get_headers_and_rows()
        self._headers = headers
        self._rows = rows
        yield _TableContent(headers, rows)


class ReportMarkdown(Markdown):
    """`Markdown` whose tables fold long tokens instead of cutting short columns."""

    BLOCKS = {**Markdown.BLOCKS, "table_open": _Table}
