"""The PostgREST error body as each client prints it, built the way the client builds it.

Tests write these into realistic log files, so the quoting under test is the client's own
(Python's `repr`, `json.dumps`, Node's util.inspect rules), not a hand-typed approximation.
"""

from __future__ import annotations

import json

# Names that break naive parsers: SQL in a name, non-ASCII, dots, every kind of quote.
HOSTILE_NAMES = [
    ('col"; DROP TABLE x; --', "members"),
    ("naïve col", "Ünïcode Tablé"),
    ("a.b", "x.y"),
    ("it's", "O'Brien"),
    ("Mixed Case", "CamelTable"),
    ("q'\"`x", "t"),
]


def message(column: str, table: str) -> str:
    """The PGRST204 message of PostgREST v12.0.3 and later."""
    return f"Could not find the '{column}' column of '{table}' in the schema cache"


def old_message(column: str, table: str) -> str:
    """The PGRST204 message of PostgREST v11.0.0 - v12.0.2."""
    return f"Column '{column}' of relation '{table}' does not exist"


def body(column: str, table: str, text: str | None = None) -> dict:
    """The JSON body PostgREST answers with (keys in its order)."""
    return {"code": "PGRST204", "details": None, "hint": None, "message": text or message(column, table)}


def python_repr(column: str, table: str, text: str | None = None) -> str:
    """`str(APIError)` of postgrest-py: the repr of the body dict."""
    return repr(body(column, table, text))


def inspect_string(text: str) -> str:
    """A string as Node's util.inspect quotes it: ', then ", then `, else ' with escapes."""
    for quote in ("'", '"', "`"):
        if quote not in text:
            return quote + text.replace("\\", "\\\\") + quote
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"


def inspect_object(column: str, table: str, text: str | None = None, indent: str = "") -> list[str]:
    """`console.error(error)` of a supabase-js error: the multi-line util.inspect block."""
    return [
        indent + "{",
        f"{indent}  code: 'PGRST204',",
        f"{indent}  details: null,",
        f"{indent}  hint: null,",
        f"{indent}  message: {inspect_string(text or message(column, table))}",
        indent + "}",
    ]


def json_body(column: str, table: str, *, ensure_ascii: bool = True) -> str:
    return json.dumps(body(column, table), ensure_ascii=ensure_ascii)
