"""The deployment checklist: the base procedure after migrations plus what an incident teaches.

    text = render_checklist(report)                     # a new file's content
    text, added = update_checklist(existing, text)      # merged into a person's file
    added = save_checklist(Path("DEPLOY.md"), report)   # both, written atomically

Every section heading and item of `templates/checklist.md.j2` ends with a stable key
(`- [ ] ... <!-- k:verify-cache -->`). Updating an existing file never changes a line that is
there: an item whose key is present stays as the person left it (ticked, reworded, moved);
an item whose key is missing goes to the end of its section, or its section is appended. So a
rerun adds nothing twice, never unticks, and keeps the person's own lines.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from runbook.report.incident_report import Report, save_text
from runbook.report.markdown import render

KEY = re.compile(r"<!--\s*k:([A-Za-z0-9._:-]+)\s*-->")
_HEADING = re.compile(r"^(#{1,6})\s")
_FENCE = re.compile(r"^\s*(`{3,}|~{3,})")
_ITEM = re.compile(r"^\s*[-*+]\s+\[[ xX]\]")


@dataclass
class Item:
    key: str
    lines: list[str]


@dataclass
class Section:
    """A heading (with its key, if any), the lines before its first item, and its items."""

    key: str | None
    level: int
    head: list[str] = field(default_factory=list)
    items: list[Item] = field(default_factory=list)


def render_checklist(report: Report, templates_dir: Path | None = None) -> str:
    """A fresh checklist for `report` from `checklist.md.j2` (`templates_dir` overrides)."""
    learned = [item["key"] for item in report.action_items]
    # Keys name the table without "public.", so that a report built from logs alone (schema
    # unknown) and one with a journal (schema known) add the same item once.
    schema = f"{report.schema}." if report.schema and report.schema != "public" else ""
    context = {
        "report": report.to_dict(),
        "learned": learned,
        "target_key": f"{schema}{report.table}.{report.column}",
    }
    return render("checklist.md.j2", context, templates_dir)


def update_checklist(existing: str, fresh: str) -> tuple[str, list[str]]:
    """`existing` with the items of `fresh` whose keys it lacks; and the keys added.

    Returns `existing` unchanged (byte for byte) when nothing is missing.
    """
    if not existing.strip():
        return fresh, [item.key for section in parse(fresh) for item in section.items]
    present = set(KEY.findall(existing))
    newline = "\r\n" if "\r\n" in existing else "\n"
    lines = existing.splitlines()
    added: list[str] = []
    for section in parse(fresh):
        missing = [item for item in section.items if item.key not in present]
        if not missing:
            continue
        new_lines = _trim([line for item in missing for line in item.lines])
        at = _section_end(lines, section.key) if section.key in present else None
        if at is not None:
            lines[at:at] = new_lines
        else:
            lines = _trim(lines) + ["", *_trim(section.head), "", *new_lines]
            if section.key is not None:
                present.add(section.key)
        present.update(item.key for item in missing)
        added += [item.key for item in missing]
    if not added:
        return existing, []
    return newline.join(lines) + newline, added


def save_checklist(path: Path, report: Report, templates_dir: Path | None = None) -> list[str]:
    """Create or update the checklist at `path` atomically; the keys added (empty: no change)."""
    fresh = render_checklist(report, templates_dir)
    existing = path.read_text(encoding="utf-8") if path.exists() else None
    if existing is None:
        save_text(path, fresh)
        return [item.key for section in parse(fresh) for item in section.items]
    text, added = update_checklist(existing, fresh)
    if added:
        save_text(path, text, force=True)  # an in-place update that keeps every existing line
    return added


def parse(text: str) -> list[Section]:
    """Sections and keyed items of a checklist; lines after an item belong to it (its code
    block, its notes) until the next item or heading. Fenced code is never parsed."""
    sections = [Section(key=None, level=0)]
    fence: str | None = None
    for line in text.splitlines():
        current = sections[-1]
        marker = _FENCE.match(line)
        if fence is not None or marker:
            if marker and (fence is None or marker.group(1).startswith(fence)):
                fence = None if fence is not None else marker.group(1)[:3]
            _append(current, line)
            continue
        heading = _HEADING.match(line)
        key = KEY.search(line)
        if heading:
            sections.append(Section(key.group(1) if key else None, len(heading.group(1)), [line]))
        elif key and _ITEM.match(line):
            current.items.append(Item(key.group(1), [line]))
        else:
            _append(current, line)
    return sections


def _append(section: Section, line: str) -> None:
    if section.items:
        section.items[-1].lines.append(line)
    else:
        section.head.append(line)


def _section_end(lines: list[str], key: str | None) -> int | None:
    """Where items go at the end of the section whose heading carries `key`: after its last
    non-blank line, before the next heading of the same or a higher level. None when no
    heading carries it (the key sits elsewhere: the section is then appended)."""
    start, level, fence = None, 0, False
    end = len(lines)
    for n, line in enumerate(lines):
        if _FENCE.match(line):
            fence = not fence
            continue
        heading = None if fence else _HEADING.match(line)
        if heading is None:
            continue
        if start is None:
            found = KEY.search(line)
            if found and found.group(1) == key:
                start, level = n, len(heading.group(1))
        elif len(heading.group(1)) <= level:
            end = n
            break
    if start is None:
        return None
    while end - 1 > start and not lines[end - 1].strip():
        end -= 1
    return end


def _trim(lines: list[str]) -> list[str]:
    """`lines` without trailing blank lines."""
    end = len(lines)
    while end and not lines[end - 1].strip():
        end -= 1
    return lines[:end]
