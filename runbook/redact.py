"""Masking of secrets in anything that came from a log, a server or the environment.

Everything shown on screen, written to the journal or put into a report passes through
`redact()`. It is deliberately greedy: a false positive costs a few masked characters, a miss
leaks a credential.
"""

from __future__ import annotations

import functools
import json
import re
import sys
import threading
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, TextIO, TypeVar, overload
from urllib.parse import quote, quote_plus

if TYPE_CHECKING:  # polars is imported where a column is redacted, not at import time
    import polars as pl

MASK = "***"

# Values shorter than this are not registered: masking every "abc" in a report would hide more
# than it protects, and no real key or password of that length is worth the noise.
MIN_SECRET_LENGTH = 4

# A value at most this long made of letters and digits only (`postgres`, `secret1`) is masked
# only as a whole word: as a substring it would also mask `postgres_csvlog` or `postgresql://`.
# Longer or mixed values (real keys, tokens) are masked wherever they occur, inside words too.
WORD_SECRET_LENGTH = 12

_known: set[str] = set()
_known_sorted: tuple[str, ...] = ()
_known_words: re.Pattern[str] | None = None
_known_lock = threading.Lock()


def _is_word_secret(value: str) -> bool:
    return len(value) <= WORD_SECRET_LENGTH and value.isascii() and value.isalnum()


def register_secret(*values: str | None) -> None:
    """Remember values the tool knows are secret (a key given on the command line, the DSN's
    password, a store token): `redact()` masks them wherever they appear afterwards, also when
    a server echoes one back in an error body. Each value is also registered in the forms it
    takes on the wire and in JSON (percent-encoded, JSON-escaped)."""
    global _known_sorted, _known_words
    forms: set[str] = set()
    for value in values:
        if not isinstance(value, str) or len(value) < MIN_SECRET_LENGTH:
            continue
        forms |= {value, quote(value, safe=""), quote_plus(value), json.dumps(value)[1:-1]}
    if not forms - _known:
        return
    with _known_lock:
        _known.update(forms)
        ordered = sorted(_known, key=len, reverse=True)
        _known_sorted = tuple(v for v in ordered if not _is_word_secret(v))
        words = [re.escape(v) for v in ordered if _is_word_secret(v)]
        _known_words = re.compile(r"(?<!\w)(?:" + "|".join(words) + r")(?!\w)") if words else None


def known_secrets() -> tuple[str, ...]:
    """The registered secret values, longest first (a value inside another is masked after)."""
    return tuple(sorted(_known, key=len, reverse=True))


def forget_secrets() -> None:
    """Drop every registered value (a new configuration, or a test that starts afresh)."""
    global _known_sorted, _known_words
    with _known_lock:
        _known.clear()
        _known_sorted = ()
        _known_words = None


def mask_known(text: str) -> str:
    """`text` with every registered secret value replaced by the mask."""
    for secret in _known_sorted:
        if secret in text:
            text = text.replace(secret, MASK)
    if _known_words is not None:
        text = _known_words.sub(MASK, text)
    return text


def mask_known_value(value: Any) -> Any:
    """Every string inside a JSON-like value (keys too) with the registered secrets masked."""
    if isinstance(value, str):
        return mask_known(value)
    if isinstance(value, dict):
        return {mask_known_value(k): mask_known_value(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [mask_known_value(v) for v in value]
    return value

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


@overload
def redact(text: str) -> str: ...
@overload
def redact(text: None) -> None: ...
def redact(text: str | None) -> str | None:
    """Return `text` with JWTs, API keys, bearer tokens and passwords replaced by `***`."""
    if not text:
        return text
    text = mask_known(text)
    for pattern, replacement in _PATTERNS:
        text = pattern.sub(replacement, text)
    return text


def _rust_replacement(python_replacement: str) -> str:
    return re.sub(r"\\(\d)", r"${\1}", python_replacement)


def redact_expr(expr: pl.Expr) -> pl.Expr:
    """`redact()` as a polars expression: the same patterns, run over a whole column natively."""
    for secret in _known_sorted:
        expr = expr.str.replace_all(secret, MASK, literal=True)
    if _known_words is not None:  # Rust's regex has no look-around: keep the edges by group
        edged = r"(^|[^\w])(?:" + _known_words.pattern[len(r"(?<!\w)(?:") : -len(r")(?!\w)")] + r")([^\w]|$)"
        for _ in range(2):  # a second pass for neighbours that shared one edge
            expr = expr.str.replace_all(edged, "${1}" + MASK + "${2}")
    for pattern, replacement in _PATTERNS:
        expr = expr.str.replace_all(pattern.pattern, _rust_replacement(replacement))
    return expr


def redact_dsn(dsn: str) -> str:
    """A DSN or URL safe to print: the password, as libpq parses it, is masked (also what
    libpq might misread as one); see `runbook.config.masked_dsn`."""
    from runbook.config import masked_dsn  # config imports this module

    return redact(masked_dsn(dsn)) or ""


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


class MaskingStream:
    """A text stream that masks the registered secrets in everything written to it.

    A secret is masked when it arrives within one `write()`: `print()` and `json.dump()` write
    each string value whole, so a value never straddles two writes.
    """

    def __init__(self, inner: TextIO) -> None:
        self._inner = inner

    def write(self, text: str) -> int:
        self._inner.write(mask_known(text))
        return len(text)

    def writelines(self, lines: Iterable[str]) -> None:
        for line in lines:
            self.write(line)

    def __getattr__(self, name: str) -> Any:  # flush, isatty, fileno, encoding, buffer ...
        return getattr(self._inner, name)


@contextmanager
def masked_stdio() -> Iterator[None]:
    """stdout and stderr mask the registered secrets until the block ends."""
    saved = sys.stdout, sys.stderr
    sys.stdout = MaskingStream(sys.stdout)
    sys.stderr = MaskingStream(sys.stderr)
    try:
        yield
    finally:
        sys.stdout, sys.stderr = saved


_F = TypeVar("_F", bound=Callable[..., Any])


def masking_output(fn: _F) -> _F:
    """Decorate a command's entry point: what it prints passes through `masked_stdio()`."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        with masked_stdio():
            return fn(*args, **kwargs)

    return wrapper  # type: ignore[return-value]
