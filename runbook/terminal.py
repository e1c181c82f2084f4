"""Text from logs made safe for a terminal: control characters shown, never executed.

A log line can carry ANSI escapes or other control bytes; printed raw they would recolour,
move the cursor or retitle the operator's terminal. `printable()` makes them visible instead.
"""

from __future__ import annotations

import re

_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u200b-\u200f\u2028-\u202e\u2066-\u2069]")


def printable(text: object, *, keep_newlines: bool = False) -> str:
    """`text` with control characters (ANSI escapes, bidi overrides) replaced by `\\xNN`."""
    value = "" if text is None else str(text)
    if not keep_newlines:
        value = value.replace("\n", "\\n")
    return _CONTROL.sub(lambda m: f"\\x{ord(m.group()):02x}" if ord(m.group()) < 256 else f"\\u{ord(m.group()):04x}", value)
