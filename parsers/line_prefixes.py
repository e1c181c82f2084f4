"""What log pipelines put in front of an application's own text, and the time it carries.

An application line rarely reaches a file as printed: a collector or a logger adds a prefix.
These are the common ones, each read for its time (UTC out; naive times are taken in `tz`):

| prefix | example | time |
|---|---|---|
| Kubernetes CRI (kubelet files) | `2026-11-22T10:20:05.123456789Z stderr F ` | RFC 3339, UTC |
| `kubectl logs --timestamps`, `docker logs -t` | `2026-11-22T10:20:05.123456789Z ` | RFC 3339 |
| syslog RFC 5424 | `<165>1 2026-11-22T10:20:05.123Z host app 42 ID47 - ` | RFC 3339 |
| syslog RFC 3164, journald `short`/`short-precise` | `Nov 22 10:20:05 host app[42]: ` | no year, no zone |
| journald `short-iso`/`short-iso-precise` | `2026-11-22T10:20:05+0000 host app[42]: ` | ISO with offset |
| Go `log` (`LstdFlags`, `Lmicroseconds`) | `2026/11/22 10:20:05.123456 ` | naive |
| Rails / Ruby `Logger` | `E, [2026-11-22T10:20:05.123456 #42] ERROR -- : ` | naive |
| `docker compose logs`, `pm2 logs` | `api-1  | `, `0|bot  | ` (then maybe a `-t` time) | the time after it |

logback / log4j (`2026-11-22 10:20:05,123 ERROR ...`) need no stripping: their time is the
`YYYY-MM-DD HH:MM:SS,mmm` every text parser already reads. JSON wrappers (docker's json-file
`{"log": ...}`, `journalctl -o json`) are objects, read by `parsers.json_lines`.

`strip(line)` removes the prefixes (for record-start rules and sniffing, per line in Python);
`prefix_time(expr, tz)` reads their time in polars, over a whole column.
RFC 3164 carries no year: the current year is taken, or the one before when that would put
the line more than a day in the future (a December log read in January).
"""

from __future__ import annotations

import re
from datetime import UTC, datetime

import polars as pl

from parsers.app_records import PREFIX
from parsers.timestamps import iso, naive
from runbook.events import TS_TYPE

RFC3339 = r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d{1,9})?(?:Z|[+-]\d{2}:?\d{2})"
# `app[42]: `, `app: `, `kernel: ` after the host name (syslog, journald).
_TAG = r"\S+ [^\s:\[\]]+(?:\[[^\]\s]*\])?: "
_MONTH_DAY = r"(?:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) [ \d]\d \d{2}:\d{2}:\d{2}(?:\.\d{1,9})?"

CRI = rf"({RFC3339}) (?:stdout|stderr) [FP] "
RFC5424 = rf"<\d{{1,3}}>1 ({RFC3339}|-) \S+ \S+ \S+ \S+ (?:-|(?:\[(?:[^\]\\]|\\.)*\])+) ?"
RFC3164 = rf"(?:<\d{{1,3}}>)?({_MONTH_DAY}) {_TAG}"
# journald prints a numeric offset (`+0000`, `+00:00`), never `Z`: that keeps an application's
# own `2026-...Z word word: ` text from being taken for a host and a tag.
JOURNALD_ISO = r"(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d{1,9})?[+-]\d{2}:?\d{2}) " + _TAG
GO_LOG = r"(\d{4}/\d{2}/\d{2} \d{2}:\d{2}:\d{2}(?:\.\d{1,6})?) "
RAILS = r"[DIWEFAU], \[(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d{1,9})?) #\d+\]\s+[A-Z]+ -- [^:]*: "
# Last: a bare RFC 3339 time with a fraction (kubectl and docker print one) must not take the
# first word of a syslog-like line for itself.
STAMPED = r"(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{1,9}(?:Z|[+-]\d{2}:?\d{2})) "

# (name, pattern with one group: the time text), in the order they are tried.
FAMILIES: tuple[tuple[str, str], ...] = (
    ("cri", CRI),
    ("rfc5424", RFC5424),
    ("rfc3164", RFC3164),
    ("journald_iso", JOURNALD_ISO),
    ("go_log", GO_LOG),
    ("rails", RAILS),
    ("stamped", STAMPED),
)

# The families whose prefix carries a time (all but the bare compose / pm2 prefix).
TIMED_PREFIX = "(?:" + "|".join(f"(?:{pattern})" for name, pattern in FAMILIES
                                 if name != "rfc5424") + r"|<\d{1,3}>1 (?!- )\S+ )"

_COMPOSE = f"(?:{PREFIX})?"
_ANY = re.compile(_COMPOSE + "(?:" + "|".join(f"(?:{pattern})" for _, pattern in FAMILIES) + ")")
_COMPOSE_ONLY = re.compile(PREFIX)


def strip(line: str) -> str:
    """`line` without a collector's or logger's prefix (one of `FAMILIES`, after a compose
    or pm2 service prefix); the line itself when it has none."""
    match = _ANY.match(line)
    if match and match.end():
        return line[match.end():]
    compose = _COMPOSE_ONLY.match(line)
    return line[compose.end():] if compose else line


def strip_expr(text: pl.Expr) -> pl.Expr:
    """`strip` over a column."""
    return text.str.replace(f"^{_ANY.pattern}", "")


def _month_day_time(text: pl.Expr, tz: str) -> pl.Expr:
    """`Nov 22 10:20:05[.ffffff]` in the current year (or the last, see the module doc)."""
    now = datetime.now(UTC)
    squeezed = text.str.replace_all(r"\s+", " ")
    dated = pl.concat_str(pl.lit(f"{now.year} "), squeezed)
    this_year = naive(dated, "%Y %b %d %H:%M:%S%.f", tz)
    return (
        pl.when(this_year > pl.lit(now).dt.offset_by("1d"))
        .then(this_year.dt.offset_by("-1y"))
        .otherwise(this_year)
    )


def prefix_time(text: pl.Expr, tz: str = "UTC") -> pl.Expr:
    """The time in the prefix of each line of `text` (UTC); null when it has none."""
    body = text.str.replace(f"^{PREFIX}", "")
    found = {name: body.str.extract(f"^{pattern}", 1) for name, pattern in FAMILIES}
    go_text = found["go_log"].str.replace_all("/", "-")
    times = [
        iso(found["cri"], tz),
        iso(found["rfc5424"], tz),  # `-` (no time) parses to null
        _month_day_time(found["rfc3164"], tz),
        iso(found["journald_iso"], tz),
        iso(go_text, tz),
        iso(found["rails"], tz),
        iso(found["stamped"], tz),
    ]
    return pl.coalesce(times).cast(TS_TYPE)
