"""supabase-js / postgrest-js errors printed by Node's `console.error` (util.inspect text).

Forms (reference/client-logs.md, "JavaScript"):
- the error object over several lines, after a label on the same or the previous line:
      2026-11-18T09:15:01.223Z Error creating member: {
        code: 'PGRST204',
        details: null,
        hint: null,
        message: "Could not find the 'adminname' column of 'mypoolr' in the schema cache"
      }
- the `PostgrestError` class: `PostgrestError: <message>`, its stack (`    at ...`), then
  `{ details, hint, code }`; an `Error` wrapping it as `[cause]`
- a JS `Error` rethrown with only the message (the code is lost; the old wording
  `Column 'x' of relation 't' does not exist` alone identifies PGRST204)
- pino-pretty output (`[2026-11-18 09:15:01.223 +0000] ERROR (12 on api): ...` then an
  indented `err: {...}`)
with `pm2 logs` / `docker compose logs` prefixes (`0|worker  | `, `api-1  | `) and per-line
timestamps (`pm2 --time`) stripped before anything else.

A record starts at a line that (prefixes stripped) does not begin with whitespace or `at `, and
is not a lone `{` or `[` (an object printed after its label line), unless that brace carries
a per-line time of its own (`docker logs -t`, CRI, pm2 `--time`): then it is a call of its own
with a known time, and joining the line before it would give it that line's time. A lone `}` closes an object
and starts a record, so objects printed back to back never share one. Continuation lines take
the record's time. One printed object is one event: its `code: 'PGRST204',` line yields
nothing when its message line names the table (`app_records.one_event_per_record`).
"""

from __future__ import annotations

import re

import polars as pl

from parsers.app_records import (
    PREFIX,
    TIMESTAMP,
    level_word,
    one_event_per_record,
    quotes_unescaped,
    request_id_in,
)
from parsers.base import LogFormat, Sample, share
from parsers.error_body import error_columns
from parsers.line_prefixes import TIMED_PREFIX, prefix_time, strip, strip_expr
from parsers.timestamps import iso

# A timestamp some process manager or logger put before the text: `pm2 --time` writes
# `2026-11-18T09:15:01: `, `docker logs -t` an RFC 3339 time and a space.
LINE_TS = rf"\[?{TIMESTAMP}\]?:? "
_LEAD = re.compile(rf"^{PREFIX}?(?:{LINE_TS})?")
_OWN_TIME = re.compile(rf"^{PREFIX}?(?:{LINE_TS}|{TIMED_PREFIX})")

HEAD_TS = rf"^{PREFIX}?\[?({TIMESTAMP})"
HEAD_LEVEL = r"(?i)\b(trace|debug|info|warn|warning|error|fatal)\b"

_STRONG = re.compile(
    r"""^(?:
      \s+[A-Za-z_$][\w$]*:\ (?:'|"|`|null\b|undefined\b|true\b|false\b|-?\d|\[|\{|
                             [A-Z][\w$]*(?:\ \[[\w$]+\])?\ \{|\[Object\]|\[Array\]|\[Function)
    | \s+\[(?:cause|errors|stack|message)\]:[ ]
    | \s+at\ (?:async\ )?\S.*(?:\(\S*:\d+:\d+\)|\S:\d+:\d+|\(native\)|\(<anonymous>\))$
    | \(node:\d+\)[ ]
    | (?:Uncaught\ )?Postgrest(?:Error)?:[ ]
    | \[[^\]]+\]\ (?:TRACE|DEBUG|INFO|WARN|ERROR|FATAL)\ \(\d+(?:\ on\ \S+)?\):
    )""",
    re.X,
)
_NEUTRAL = re.compile(
    r"""^(?:
      \s*[{}\[\]],?\s*$
    | .*[:\s][{\[]$
    | \s+"[\w$]+":[ ]
    | (?:Uncaught\ )?[\w$]*Error(?:\ \[[\w$]+\])?:[ ]
    )""",
    re.X,
)

OBJECT = (
    "  code: 'PGRST204',",
    "  details: null,",
    "  hint: null,",
    "  message: \"Could not find the 'adminname' column of 'mypoolr' in the schema cache\"",
    "}",
)


def _body(line: str) -> str:
    """The text of a line with collector and process-manager prefixes (`parsers.line_prefixes`)
    and a leading per-line time removed."""
    return _LEAD.sub("", strip(line), count=1)


class NodeConsoleFormat(LogFormat):
    name = "node_console"
    description = "supabase-js / Node errors printed by console.error (util.inspect)"
    samples = (
        Sample(
            ("2026-11-18T09:15:01.223Z Error creating member: {", *OBJECT),
            {"code": "PGRST204", "table": "mypoolr", "column": "adminname", "record_no": 1,
             "line_no": 5, "level": "error", "ts": "2026-11-18 09:15:01.223000+00:00"},
        ),
        Sample(
            ("[2026-11-18T09:15:01.223Z] create member failed requestId=4c1e", "{", *OBJECT),
            {"code": "PGRST204", "column": "adminname", "record_no": 1, "request_id": "4c1e",
             "ts": "2026-11-18 09:15:01.223000+00:00"},
        ),
        Sample(
            (
                "PostgrestError: Could not find the 'telegram_handle' column of 'members' in the "
                "schema cache",
                "    at PostgrestBuilder.then (/app/node_modules/@supabase/postgrest-js/dist/cjs/"
                "PostgrestBuilder.js:128:23)",
                "    at process.processTicksAndRejections (node:internal/process/task_queues:95:5) {",
                "  details: null,",
                "  hint: null,",
                "  code: 'PGRST204'",
                "}",
            ),
            {"code": "PGRST204", "table": "members", "column": "telegram_handle", "line_no": 1},
        ),
        Sample(
            (
                "0|worker  | 2026-11-18T09:15:01: Error: Column 'doseLogs' of relation 'patients' "
                "does not exist",
                "0|worker  |     at createPatient (/srv/app/dist/patients.js:41:11)",
            ),
            {"code": "PGRST204", "table": "patients", "column": "doseLogs",
             "ts": "2026-11-18 09:15:01+00:00"},
        ),
        Sample(
            (
                "[2026-11-18 09:15:01.223 +0000] ERROR (4242 on api-7f9c): insert failed",
                "    err: {",
                '      "type": "PostgrestError",',
                "      \"message\": \"Could not find the 'it's' column of 'T' in the schema cache\",",
                '      "code": "PGRST204"',
                "    }",
            ),
            {"code": "PGRST204", "table": "T", "column": "it's", "level": "error",
             "ts": "2026-11-18 09:15:01.223000+00:00"},
        ),
        Sample(
            (
                "api-1  | Error: insert failed",
                "api-1  |     at insert (/app/db.js:10:9) {",
                "api-1  |   [cause]: PostgrestError: Could not find the 'col\"; DROP TABLE x; --' "
                "column of 'members' in the schema cache",
                "api-1  |       at PostgrestBuilder.then (/app/node_modules/@supabase/postgrest-js/"
                "dist/cjs/PostgrestBuilder.js:128:23) {",
                "api-1  |     details: null,",
                "api-1  |     hint: null,",
                "api-1  |     code: 'PGRST204'",
                "api-1  |   }",
                "api-1  | }",
            ),
            {"table": "members", "column": 'col"; DROP TABLE x; --', "record_no": 1},
        ),
        Sample(
            (
                "Error creating member: {",
                "  code: 'PGRST204',",
                "  details: null,",
                "  hint: null,",
                "  message: 'Could not find the \\'col\"x\\' column of \\'T`s\\' in the schema cache'",
                "}",
            ),
            {"table": "T`s", "column": 'col"x'},
        ),
        # console.error(error) under `docker logs -t`: the brace line has its own time
        Sample(
            ("2026-11-18T09:15:01.223456789Z create member failed",
             *(f"2026-11-18T09:15:02.5{i}Z {text}" for i, text in enumerate(("{", *OBJECT)))),
            {"code": "PGRST204", "column": "adminname", "record_no": 2,
             "ts": "2026-11-18 09:15:02.500000+00:00"},
        ),
        # Kubernetes CRI: every line of the object carries the kubelet's prefix and time.
        Sample(
            tuple(f"2026-11-22T10:20:0{5 + (i > 0)}.12345678{i}Z stderr F {text}"
                  for i, text in enumerate(("insert failed {", *OBJECT))),
            {"code": "PGRST204", "table": "mypoolr", "record_no": 1, "line_no": 5,
             "ts": "2026-11-22 10:20:05.123456+00:00"},
        ),
        # `kubectl logs --timestamps` (RFC 3339 with nanoseconds, trailing zeros trimmed)
        Sample(
            tuple(f"2026-11-22T10:20:05.1234Z {text}" for text in ("insert failed {", *OBJECT)),
            {"code": "PGRST204", "column": "adminname", "record_no": 1,
             "ts": "2026-11-22 10:20:05.123400+00:00"},
        ),
        # journald `short-precise` of a systemd unit running node
        Sample(
            tuple(f"Nov 22 10:20:05.123456 web-1 node[4242]: {text}"
                  for text in ("insert failed {", *OBJECT)),
            {"code": "PGRST204", "column": "adminname", "record_no": 1},
        ),
    )

    def sniff(self, lines: list[str]) -> float:
        bodies = [_body(line) for line in lines]
        if not any(_STRONG.match(body) for body in bodies):
            return 0.0
        return share(bodies, lambda body: _STRONG.match(body) or _NEUTRAL.match(body))

    def is_record_start(self, line: str) -> bool:
        body = _body(line)
        if not body.strip():
            return True
        if body[0].isspace() or body.startswith("at "):
            return False
        return body.rstrip() not in ("{", "[") or _OWN_TIME.match(line) is not None

    def parse(self, candidates: pl.DataFrame, tz: str = "UTC") -> pl.LazyFrame:
        head, line = pl.col("head"), pl.col("line")
        parsed = candidates.lazy().with_columns(
            *error_columns(quotes_unescaped(line)),
            pl.coalesce(
                iso(head.str.extract(HEAD_TS, 1), tz),
                prefix_time(head, tz),
                iso(strip_expr(head).str.extract(HEAD_TS, 1), tz),
            ).alias("ts"),
            level_word(head.str.extract(HEAD_LEVEL, 1)).alias("level"),
            request_id_in(head, line).alias("request_id"),
        )
        return one_event_per_record(parsed, merge_repeats=True)
