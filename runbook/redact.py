"""Masking of secrets in anything that came from a log, a server or the environment.

Everything shown on screen, written to the journal or put into a report passes through
`redact()`. It is deliberately greedy: a false positive costs a few masked characters, a miss
leaks a credential.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # polars is imported where a column is redacted, not at import time
    import polars as pl

MASK = "***"

_PATTERNS: tuple[tuple[re.Pattern[str], str], ...] = (
    # JWTs (Supabase anon/service keys are JWTs too): three base64url parts, the first "eyJ".
    (re.compile(r"eyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]*"), MASK),
    # Supabase personal access tokens and new-style API keys.
    (re.compile(r"\b(sbp|sb_secret|sb_publishable)_[A-Za-z0-9_-]{8,}"), r"\1_" + MASK),
    # Authorization: Bearer/Basic <token> (header text, JSON, Python repr).
    (
        re.compile(r"(?i)(\bauthorization[\"']?\s*[:=]\s*[\"']?\s*(?:bearer|basic|token)?\s*)[^\s\"',}]+"),
        r"\1" + MASK,
    ),
    (re.compile(r"(?i)(\bbearer\s+)[A-Za-z0-9._~+/=-]{8,}"), r"\1" + MASK),
    # apikey / api_key / access_token / password / secret = value, in headers, JSON, query strings.
    (
        re.compile(
            r"(?i)(\b(?:apikey|api[_-]?key|x-api-key|access[_-]?token|refresh[_-]?token|"
            r"service[_-]?role[_-]?key|password|passwd|pwd|secret|client[_-]?secret)"
            r"[\"']?\s*[:=]\s*[\"']?)[^\s\"'&,;}]+"
        ),
        r"\1" + MASK,
    ),
    # user:password@host in DSNs and URLs.
    (re.compile(r"(?i)\b([a-z][a-z0-9+.-]*://[^:/@\s]*:)[^@/\s]+@"), r"\1" + MASK + "@"),
)


def redact(text: str | None) -> str | None:
    """Return `text` with JWTs, API keys, bearer tokens and passwords replaced by `***`."""
    if not text:
        return text
    for pattern, replacement in _PATTERNS:
        text = pattern.sub(replacement, text)
    return text


def _rust_replacement(python_replacement: str) -> str:
    return re.sub(r"\\(\d)", r"${\1}", python_replacement)


def redact_expr(expr: pl.Expr) -> pl.Expr:
    """`redact()` as a polars expression: the same patterns, run over a whole column natively."""
    for pattern, replacement in _PATTERNS:
        expr = expr.str.replace_all(pattern.pattern, _rust_replacement(replacement))
    return expr


def redact_dsn(dsn: str) -> str:
    """A DSN or URL safe to print: the password (URL or key=value form) is masked."""
    return redact(dsn) or ""
