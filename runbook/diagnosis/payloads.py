"""Where a bad key shows up in a logged payload: the object it sits in, and that object's keys.

A client mismatch is fixed in the client, so the operator wants the payload that carries the
key: a debug line with the row dict (`draft={'name': ..., 'adminname': ...}`), a JSON body.
`payload_sightings(paths, key)` reads the incident's sources (plain or gzip, capped) for a
quoted `key` followed by `:` on lines that are not the error itself, and returns the top-level
keys of the object around it. Values are never returned: they may be personal data or secrets.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from zstandard import ZstdError

from runbook.ingest.sources import decompressing

MAX_BYTES = 32 * 1024 * 1024  # per file
_ERROR_WORDS = ("PGRST204", "schema cache", "does not exist")
_KEY = re.compile(r"""(['"])([^'"\\]{1,200})\1\s*:""")


@dataclass(frozen=True)
class PayloadSighting:
    where: str  # path:line
    keys: tuple[str, ...]  # the object's top-level keys, in order

    def describe(self) -> str:
        return f"{self.where}: {{{', '.join(self.keys)}}}"


def payload_sightings(
    paths: Iterable[str | Path], key: str, limit: int = 3
) -> list[PayloadSighting]:
    """Up to `limit` logged objects that carry `key` as a key (not the error lines)."""
    needle = re.compile(r"""(['"])""" + re.escape(key) + r"""\1\s*:""")
    found: list[PayloadSighting] = []
    seen: set[tuple[str, ...]] = set()
    for path in paths:
        for line_no, line in _lines(Path(path)):
            if key not in line or any(w in line for w in _ERROR_WORDS):
                continue
            match = needle.search(line)
            if match is None:
                continue
            keys = object_keys(line, match.start())
            if keys and keys not in seen:
                seen.add(keys)
                found.append(PayloadSighting(f"{path}:{line_no}", keys))
                if len(found) >= limit:
                    return found
    return found


def object_keys(text: str, at: int) -> tuple[str, ...]:
    """Top-level keys of the `{...}` that encloses position `at` (quotes respected)."""
    start = _enclosing_open(text, at)
    if start is None:
        return ()
    keys: list[str] = []
    depth, quote, escaped = 0, "", False
    i = start
    while i < len(text):
        c = text[i]
        if quote:
            if escaped:
                escaped = False
            elif c == "\\":
                escaped = True
            elif c == quote:
                quote = ""
        elif c in "'\"":
            if depth == 1:
                m = _KEY.match(text, i)
                if m:
                    keys.append(m.group(2))
                    i = m.end()
                    continue
            quote = c
        elif c in "{[(":
            depth += 1
        elif c in "}])":
            depth -= 1
            if depth == 0:
                break
        i += 1
    return tuple(dict.fromkeys(keys))


def _enclosing_open(text: str, at: int) -> int | None:
    """Index of the `{` whose object contains `at` (scanning the text from the start)."""
    stack: list[int] = []
    quote, escaped = "", False
    for i, c in enumerate(text[:at]):
        if quote:
            if escaped:
                escaped = False
            elif c == "\\":
                escaped = True
            elif c == quote:
                quote = ""
        elif c in "'\"":
            quote = c
        elif c in "{[(":
            stack.append(i)
        elif c in "}])" and stack:
            stack.pop()
    while stack and text[stack[-1]] != "{":
        stack.pop()
    return stack[-1] if stack else None


def _lines(path: Path) -> Iterable[tuple[int, str]]:
    try:
        with open(path, "rb") as raw, decompressing(raw) as stream:
            read = 0
            for n, line in enumerate(stream, 1):
                read += len(line)
                if read > MAX_BYTES:
                    return
                yield n, line.decode("utf-8", "replace")
    except (OSError, EOFError, ValueError, ZstdError):
        return
