"""Human renderings of a scan document: a terminal table and Markdown.

Everything that came from a log goes through `printable()` (terminal) or `md_cell()` (Markdown)
so that no log line can colour, move or rewrite the operator's screen or the rendered page.
"""

from __future__ import annotations

import os
import shutil
import sys
import textwrap
from typing import Any

from runbook.incidents.writes import describe as describe_writes
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
    if stats.get("partial"):
        line += f"; {len(stats['partial'])} input(s) read only in part"
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
    partial = len(stats.get("partial") or ())
    if unreadable:
        text = (
            f"no PGRST204 incidents in what could be read, but {unreadable} input(s) could not "
            "be read (see stderr): not an all-clear"
        )
    elif partial:
        text = (
            f"no PGRST204 incidents in what could be read, but {partial} input(s) were read "
            "only in part (see stderr): not an all-clear"
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


HEADER = ("#", "table", "column", "requests", "first seen (UTC)", "last seen (UTC)", "endpoints", "reload")
# When the table is wider than the terminal, these columns give way: first endpoints and the
# reload note, evenly, down to 16 columns each, then to 9; only then the names, down to the
# floors below. What decides (count, first time) is never cut.
_SHRINK_PHASES = (
    {"endpoints": 16, "reload": 16},
    {"endpoints": 9, "reload": 9},
    {"column": 12, "table": 8},
)
_FLOORS = {name: floor for phase in _SHRINK_PHASES for name, floor in phase.items()}


def terminal_width() -> int | None:
    """The terminal's columns when stdout is a terminal or $COLUMNS says so; None (no cutting)
    when the table goes to a file or a pipe."""
    if not os.environ.get("COLUMNS") and not sys.stdout.isatty():
        return None
    return shutil.get_terminal_size().columns


def cut(text: str, width: int, *, from_left: bool = False) -> str:
    """`text` in at most `width` characters, "…" where it was cut (from the left for paths,
    so `…/mypoolr/bot.log` keeps the file's name)."""
    if len(text) <= width:
        return text
    if width <= 1:
        return "…"[:width]
    return "…" + text[-(width - 1) :] if from_left else text[: width - 1] + "…"


def _same_day_time(first: str, last: str) -> str:
    """The last-seen cell as a time only when it is the first-seen day (saves 11 columns)."""
    return last[11:] if first[:10] == last[:10] and len(last) > 11 else last


def _fit(rows: list[list[str]], width: int | None) -> tuple[list[int], list[str]]:
    """Column widths for `rows` (header first) in `width` terminal columns, cutting cells in
    place, and the names of the columns left out (the reload note, then the endpoints) when
    even the narrowest table is too wide. A table that still cannot fit is never wrapped."""
    names = list(HEADER)

    def widths_now() -> list[int]:
        return [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]

    def total(widths: list[int]) -> int:
        return sum(widths) + 2 * (len(widths) - 1)

    widths = widths_now()
    if width is None or total(widths) <= width:
        return widths, []
    last, first = names.index("last seen (UTC)"), names.index("first seen (UTC)")
    for row in rows[1:]:
        row[last] = _same_day_time(row[first], row[last])
    if all(len(row[last]) < 11 for row in rows[1:]):
        rows[0][last] = "last seen"  # times only: the first-seen header says UTC
    floors = _FLOORS
    rows[0][names.index("requests")] = "count"
    dropped: list[str] = []
    for name in ("reload", "endpoints"):
        narrowest = [min(w, floors.get(n, w)) for n, w in zip(names, widths_now(), strict=True)]
        if total(narrowest) <= width:
            break
        i = names.index(name)
        for row in rows:
            del row[i]
        del names[i]
        dropped.append(name)
    widths = widths_now()
    for phase in _SHRINK_PHASES:
        index = {names.index(n): floor for n, floor in phase.items() if n in names}
        while total(widths) > width:
            room = [i for i, floor in index.items() if widths[i] > floor]
            if not room:
                break
            widths[max(room, key=lambda i: (widths[i], -i))] -= 1
    for row in rows:
        for i, cell in enumerate(row):
            row[i] = cut(cell, widths[i])
    return widths_now(), dropped


def render_table(doc: dict[str, Any], width: int | None = None) -> str:
    """One row per incident, most requests first, then a one-line summary of what was read.

    With `width` (the terminal's columns) the table is cut to fit it and the summary lines are
    wrapped; without, nothing is cut (a file or pipe gets every character)."""
    incidents = doc["incidents"]
    rows: list[list[str]] = [list(HEADER)]
    for n, inc in enumerate(incidents, 1):
        rows.append(
            [
                str(n),
                printable(inc["table"]),
                printable(inc["column"]),
                str(inc["count"]),
                _when(inc["first_seen"]),
                _when(inc["last_seen"]),
                printable(", ".join(inc["endpoints"][:3]) or "-"),
                _reload_note(inc["context"]),
            ]
        )
    out: list[str] = []
    if incidents:
        widths, dropped = _fit(rows, width)
        for i, row in enumerate(rows):
            out.append("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip())
            if i == 0:
                out.append("  ".join("-" * w for w in widths))
        if dropped:
            out.append(f"({' and '.join(dropped)} left out to fit {width} columns: --format json has all)")
    else:
        out.append(no_incidents_line(doc["stats"]))
    for inc in incidents:  # the real share of writes that failed, where the log shows writes
        sentence = describe_writes(inc["table"], (inc.get("context") or {}).get("writes"))
        if sentence:
            out.append(f"{printable(inc['table'])}.{printable(inc['column'])}: {printable(sentence)}")
    related = doc["related"]
    if related:
        by_code: dict[str, int] = {}
        for r in related:
            by_code[r["code"]] = by_code.get(r["code"], 0) + r["count"]
        parts = [f"{code} x{n}" for code, n in by_code.items()]
        out.append("related (not PGRST204): " + ", ".join(parts))
    out.append(_summary(doc["stats"]))
    if width is not None:
        head = len(rows) + 1 if incidents else 0  # the table's own lines are already cut
        out = out[:head] + [
            wrapped for line in out[head:] for wrapped in textwrap.wrap(line, max(width, 20)) or [""]
        ]
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
