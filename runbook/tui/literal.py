"""Text from logs, servers and users, made safe to put on screen.

Everything that did not come from this program's own source goes through `literal()`: secrets
are masked (`redact`), control characters and ANSI escapes are shown as `\\xNN` (`printable`),
and the result is a `rich.text.Text`, which Textual never parses as markup. So a log line saying
`[bold]`, `[@click=app.quit]` or `[link=...]` shows those characters and does nothing.
"""

from __future__ import annotations

from rich.text import Text

from runbook.terminal import printable


def plain(value: object, *, keep_newlines: bool = False) -> str:
    """`value` as a masked, printable `str` (for APIs that take plain strings, e.g. titles)."""
    if value is None:
        return ""
    from runbook.redact import redact  # (imports polars: not before the first frame)

    return printable(redact(str(value)) or "", keep_newlines=keep_newlines)


def literal(value: object, style: str = "", *, keep_newlines: bool = False) -> Text:
    """`value` as `Text` that renders exactly its characters (masked and printable)."""
    return Text(plain(value, keep_newlines=keep_newlines), style=style)


def joined(*parts: str | Text | tuple[str, str]) -> Text:
    """Assemble our own labels (plain `str`), styled pairs and `literal()` pieces without markup."""
    return Text.assemble(*parts)
