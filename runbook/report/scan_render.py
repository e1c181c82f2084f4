"""Human renderings of a scan document: a terminal table and Markdown.

Everything that came from a log goes through `printable()` (terminal) or `md_cell()` (Markdown)
so that no log line can colour, move or rewrite the operator's screen or the rendered page.
"""

from __future__ import annotations

from typing import Any

from runbook.terminal import printable


def _when(iso_text: str | None) -> str:
    if not iso_text:
        return "-"
    return iso_text.replace("T", " ")[:19] + "Z"


def _summary(stats: dict[str, Any]) -> str:
    formats = ", ".join(f"{name} {n}" for name, n in sorted(stats["formats"].items())) or "none"
    line = (
        f"read {stats['files']} file(s) ({formats}), {stats['lines_read']:,} lines; "
        f"{stats['events']:,} relevant events; {stats['lines_skipped']:,} candidate lines skipped"
    )
    if stats.get("invalid_utf8_lines"):
        line += f"; {stats['invalid_utf8_lines']:,} lines with invalid UTF-8 (replaced)"
    if stats["unreadable"]:
        line += f"; {len(stats['unreadable'])} input(s) unreadable"
    return line


def no_incidents_line(stats: dict[str, Any]) -> str:
    """What "no incidents" means given what was read: never an all-clear for logs that were
    not read, or whose candidate lines no parser could read."""
    unreadable = len(stats["unreadable"])
    if not stats["files"] and not stats.get("stores"):
        if unreadable:
            return f"no answer: none of the {unreadable} input(s) could be read (see stderr)"
        return "no answer: no log file was found in the inputs"
    text = "no PGRST204 incidents found"
    if unreadable:
        text = (
            f"no PGRST204 incidents in what could be read, but {unreadable} input(s) could not "
            "be read (see stderr): not an all-clear"
        )
    if stats["lines_skipped"]:
        text += f"; {stats['lines_skipped']:,} candidate line(s) matched no parser"
    return text


def _reload_note(context: dict[str, Any]) -> str:
    stopped = context.get("stopped_after_reload")
    if stopped is True:
        return "stopped after a cache load"
    if stopped is False:
        return f"{context['errors_after_last_load']} after the last cache load"
    return "no cache load seen after"


def render_table(doc: dict[str, Any]) -> str:
    """One row per incident, most requests first, then a one-line summary of what was read."""
    incidents = doc["incidents"]
    rows = [("#", "table", "column", "requests", "first seen (UTC)", "last seen (UTC)", "endpoints", "reload")]
    for n, inc in enumerate(incidents, 1):
        rows.append(
            (
                str(n),
                printable(inc["table"]),
                printable(inc["column"]),
                str(inc["count"]),
                _when(inc["first_seen"]),
                _when(inc["last_seen"]),
                printable(", ".join(inc["endpoints"][:3]) or "-"),
                _reload_note(inc["context"]),
            )
        )
    out: list[str] = []
    if incidents:
        widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
        for i, row in enumerate(rows):
            out.append("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip())
            if i == 0:
                out.append("  ".join("-" * w for w in widths))
    else:
        out.append(no_incidents_line(doc["stats"]))
    related = doc["related"]
    if related:
        by_code: dict[str, int] = {}
        for r in related:
            by_code[r["code"]] = by_code.get(r["code"], 0) + r["count"]
        parts = [f"{code} x{n}" for code, n in by_code.items()]
        out.append("related (not PGRST204): " + ", ".join(parts))
    out.append(_summary(doc["stats"]))
    return "\n".join(out) + "\n"


def md_cell(value: object) -> str:
    """Text safe inside a Markdown table cell: the report's escaper (pipes, backticks, HTML,
    link syntax, control characters) with its redaction, so both outputs escape alike."""
    from runbook.report.markdown import md  # jinja2 comes with it: only for Markdown output

    return str(md(value))


def render_markdown(doc: dict[str, Any]) -> str:
    lines = ["# PGRST204 incidents", ""]
    if doc["incidents"]:
        lines += [
            "| # | table | column | requests | first seen (UTC) | last seen (UTC) | endpoints | after reload |",
            "|---|---|---|---|---|---|---|---|",
        ]
        for n, inc in enumerate(doc["incidents"], 1):
            lines.append(
                f"| {n} | {md_cell(inc['table'])} | {md_cell(inc['column'])} | {inc['count']} | "
                f"{_when(inc['first_seen'])} | {_when(inc['last_seen'])} | "
                f"{md_cell(', '.join(inc['endpoints'][:3]) or '-')} | {_reload_note(inc['context'])} |"
            )
    else:
        text = no_incidents_line(doc["stats"])
        lines.append(md_cell(text[:1].upper() + text[1:] + "."))
    lines += ["", md_cell(_summary(doc["stats"])), ""]
    return "\n".join(lines)
