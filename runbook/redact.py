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

# The name of a setting that holds a secret, with whatever prefix it has (`PGPASSWORD`,
# `DB_PASSWORD`, `X-ClickHouse-Key`); group 1 opens here and ends after the `=` or `:`.
_SECRET_NAME = (
    r"(?i)(\b[\w.-]*?(?:apikey|api[_-]?key|x-api-key|x-clickhouse-key|access[_-]?token|"
    r"refresh[_-]?token|auth[_-]?token|token|service[_-]?role[_-]?key|password|passwd|pwd|"
    r"secret|client[_-]?secret|secret[_-]?access[_-]?key|access[_-]?key|private[_-]?key)"
)

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
    # AWS access key ids (the secret key is caught by its variable's name below).
    (re.compile(r"\b(?:AKIA|ASIA|ABIA|ACCA)[A-Z0-9]{16}\b"), MASK),
    # A secret's name = 'a quoted value' (spaces and all), then = an unquoted value: in headers,
    # JSON, query strings and environment lines. The name may carry a prefix (`PGPASSWORD`,
    # `DB_PASSWORD`, `AWS_SECRET_ACCESS_KEY`, `?token=`).
    (re.compile(_SECRET_NAME + r'["\']?\s*[:=]\s*)"[^"\n]*"'), r"\1" + '"' + MASK + '"'),
    (re.compile(_SECRET_NAME + r"[\"']?\s*[:=]\s*)'[^'\n]*'"), r"\1" + "'" + MASK + "'"),
    (re.compile(_SECRET_NAME + r"[\"']?\s*[:=]\s*[\"']?)[^\s\"'&,;}]+"), r"\1" + MASK),
    # user:password@host in DSNs and URLs; the password may hold `@` and `/`.
    (re.compile(r"(?i)\b([a-z][a-z0-9+.-]*://[^:/@\s]*:)[^\s]*@"), r"\1" + MASK + "@"),
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


_URL_PASSWORD = re.compile(r"^[a-z][a-z0-9+.-]*://[^:/@\s]*:(.*)@[^@]*$", re.I | re.S)
_KEY_PASSWORD = re.compile(r"(?:^|\s)password\s*=\s*(?:'((?:[^'\\]|\\.)*)'|(.*?))(?=\s+\w+\s*=|$)", re.S)


def dsn_secrets(dsn: str) -> list[str]:
    """The password a DSN was meant to carry, and its pieces: what libpq may echo when it
    misreads the DSN (a `/` or `@` in a URL password, a space in `password=a b`)."""
    found = [m.group(1) for m in [_URL_PASSWORD.match(dsn.strip())] if m]
    found += [m.group(1) or m.group(2) or "" for m in _KEY_PASSWORD.finditer(dsn)]
    pieces = {p for f in found for p in re.split(r"[\s/@:]+", f) if len(p) >= 3}
    return sorted(pieces | {f for f in found if len(f) >= 3}, key=len, reverse=True)


def mask_secrets(text: str, secrets: list[str]) -> str:
    """`text` with every one of `secrets` replaced by the mask."""
    for secret in secrets:
        text = text.replace(secret, MASK)
    return text
