"""The SQL sent to a log store: one aggregate per window, a few samples, column discovery.

Every query returns rows of the same eight columns (`COLUMNS`), told apart by `k` (`KIND`):
- `e`: PGRST204 errors of one (table, column): count, first and last time (µs), and in `m`
  the per-minute series (`window_sql`).
- `c`: the control row, always exactly one per window (`count()` over the window). A reply
  without it was not an answer, so a window is never read as "no incidents" by mistake.
- `x`: a context row (a PostgREST reload/load/listener line or a DDL statement), with its
  message, at most `CONTEXT_LIMIT` per window.
- `r`: a related row (PGRST200-203/205, PostgreSQL 42703/42P01), with its message, at most
  `CONTEXT_LIMIT` per window.
- `s`: a sample row of one (table, column), with its message, for the parsers to read.

Both PGRST204 wordings are matched with the parsers' own patterns (`parsers.error_body`), and
table and column are cut out in the engine with `extract()`. Values reach the SQL through a
`Binder`: ClickHouse binds every value server-side (`{v0:String}` + `param_v0`, names as
`{v1:Identifier}`); Supabase's endpoint binds nothing, so values are inlined as escaped literals
and names are fixed identifiers. (Hence the `noqa: S608` below: the f-strings assemble SQL
from fixed text and binder output only, never from a raw value.)
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol

from parsers.error_body import PGRST204_NEW, PGRST204_OLD
from runbook.ingest.stores import SOURCE_NAME

# Short names: one aggregate row per (table, column, minute) is most of what crosses the wire.
KIND, TABLE, COLUMN, COUNT, FIRST, LAST, SERVICE, MESSAGE = "k", "t", "c", "n", "f", "l", "s", "m"
COLUMNS = (KIND, TABLE, COLUMN, COUNT, FIRST, LAST, SERVICE, MESSAGE)
ERRORS, CONTROL, CONTEXT, RELATED, SAMPLE = "e", "c", "x", "r", "s"
CONTEXT_LIMIT = 200

GROUP = "(.*?)"
# One capture group each, so that `extract()` (first group) returns the table or the column of
# exactly the match the parsers' two-group patterns find.
NEW_COLUMN = PGRST204_NEW.replace(GROUP, ".*?", 2).replace(".*?", GROUP, 1)
NEW_TABLE = PGRST204_NEW.replace(GROUP, ".*?", 1)
OLD_COLUMN = PGRST204_OLD.replace(GROUP, ".*?", 2).replace(".*?", GROUP, 1)
OLD_TABLE = PGRST204_OLD.replace(GROUP, ".*?", 1)
# Cheap substring tests before the regular expressions (`position` is SIMD, `match` is not).
NEEDLES = ("' column of '", "' of relation '")

# Context: PostgREST stderr lines about the schema cache and its listener, as PostgREST writes
# them (parsers.postgrest_stderr), and DDL and reload requests in PostgreSQL logs in the casings
# people type (parsers.postgres_log). Case-sensitive needles: one pass is ~1/3 faster than a
# case-insensitive one, and none may match an error message (they would crowd the limit).
CONTEXT_NEEDLES = (
    "schema cache reload message",
    "Schema cache loaded",
    "loading the schema cache",
    "load the schema cache",
    "notifications on the",
    "Failed listening for",
    "Retrying listening for",
    "ALTER TABLE",
    "alter table",
    "Alter table",
    "Alter Table",
    "CREATE TABLE",
    "create table",
    "Create table",
    "DROP TABLE",
    "drop table",
    "reload schema",
    "NOTIFY pgrst",
    "notify pgrst",
    "pg_notify",
)

# The schema-cache family and PostgreSQL's missing column/relation (parsers.error_body): evidence
# for the diagnosis, fetched as rows (at most CONTEXT_LIMIT a window) for the parsers to read.
RELATED_NEEDLES = (
    "Could not find the table '",
    "Could not find a relationship between",
    "Could not embed because",
    "Could not find the function",
    "Could not choose the best candidate",
    '" does not exist',
)
# The one pass over the messages looks for these: few short needles, each contained in some
# needle above (or in a PGRST204 wording), so that every row the precise lists would pick is a
# candidate. A multi-needle search costs much more per needle than per candidate row.
CANDIDATE_NEEDLES = (
    *NEEDLES,
    "Could not ",
    '" does not exist',
    "chema cache",
    "otifications on the",
    "istening for",
    "lter table",
    "LTER TABLE",
    "lter Table",
    "reate table",
    "REATE TABLE",
    "rop table",
    "ROP TABLE",
    "reload schema",
    "otify pgrst",
    "OTIFY pgrst",
    "pg_notify",
)
DT64 = "DateTime64(6, 'UTC')"
DT = "DateTime('UTC')"
_PLAIN_IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


class Binder(Protocol):
    """How values and names get into a query."""

    def value(self, value: object, ch_type: str) -> str:
        """SQL text standing for `value` of ClickHouse type `ch_type`."""
        ...

    def ident(self, name: str) -> str:
        """SQL text standing for the column or table `name`."""
        ...


def sql_time(moment: datetime) -> str:
    """`2026-11-18 09:00:00.000000`: a UTC datetime as ClickHouse reads a DateTime64(6)."""
    return moment.strftime("%Y-%m-%d %H:%M:%S.%f")


def literal(text: str) -> str:
    """`text` as a ClickHouse string literal: quotes and backslashes escaped."""
    escaped = (
        text.replace("\\", "\\\\")
        .replace("'", "\\'")
        .replace("\0", "\\0")
        .replace("\n", "\\n")
        .replace("\r", "\\r")
        .replace("\t", "\\t")
    )
    return f"'{escaped}'"


def escaped_param(text: str) -> str:
    """`text` in ClickHouse's "escaped" format, as `param_<name>` values are parsed."""
    return (
        text.replace("\\", "\\\\")
        .replace("\t", "\\t")
        .replace("\n", "\\n")
        .replace("\r", "\\r")
        .replace("\0", "\\0")
    )


def _text(value: object, ch_type: str) -> str:
    if isinstance(value, datetime):
        return sql_time(value) if ch_type.startswith("DateTime64") else f"{value:%Y-%m-%d %H:%M:%S}"
    return str(value)


@dataclass
class Bound:
    """ClickHouse: every value and name bound server-side; `params` go out as `param_<key>`."""

    params: dict[str, str] = field(default_factory=dict)
    _keys: dict[tuple[str, str], str] = field(default_factory=dict)

    def _bind(self, text: str, ch_type: str) -> str:
        key = self._keys.get((text, ch_type))
        if key is None:
            key = f"v{len(self._keys)}"
            self._keys[(text, ch_type)] = key
            self.params[key] = escaped_param(text)
        return f"{{{key}:{ch_type}}}"

    def value(self, value: object, ch_type: str) -> str:
        return self._bind(_text(value, ch_type), ch_type)

    def ident(self, name: str) -> str:
        return self._bind(name, "Identifier")

    def url_params(self) -> dict[str, str]:
        return {f"param_{key}": text for key, text in self.params.items()}


class Inlined:
    """Supabase: values inlined as escaped literals; names must be plain fixed identifiers."""

    def value(self, value: object, ch_type: str) -> str:
        if ch_type.startswith("DateTime64"):
            assert isinstance(value, datetime)
            return f"toDateTime64({literal(sql_time(value))}, 6, 'UTC')"
        if ch_type.startswith("DateTime"):
            assert isinstance(value, datetime)
            return f"toDateTime({literal(value.strftime('%Y-%m-%d %H:%M:%S'))}, 'UTC')"
        if ch_type == "UInt64":
            return str(int(value))  # type: ignore[call-overload]
        return literal(str(value))

    def ident(self, name: str) -> str:
        if not _PLAIN_IDENT.match(name):
            raise ValueError(f"not a plain identifier: {name!r}")
        return name


def check_source_names(names: tuple[str, ...]) -> tuple[str, ...]:
    """`names` when every one matches `^[a-z_]+$`; ValueError naming the first that does not."""
    for name in names:
        if not SOURCE_NAME.match(name):
            raise ValueError(f"invalid source name {name!r} (expected lower-case letters and _)")
    return names


@dataclass(frozen=True)
class LogTable:
    """Where the logs are and which columns hold what.

    `database` None means an unqualified table (Supabase's `logs`). `prune` is a DateTime
    column equal to the timestamp cut to whole seconds (otel's `TimestampTime`, in the
    table's sort key): bounding it too lets the engine skip granules. `context_services`
    narrows the search for reload and DDL lines to the services that write them (Supabase:
    `postgrest_logs`, `postgres_logs`), which spares most of a second pass over the messages.
    """

    database: str | None
    name: str
    ts: str
    message: str
    service: str | None = None
    prune: str | None = None
    context_services: tuple[str, ...] = ()  # where reload/DDL lines live, when known


@dataclass(frozen=True)
class Range:
    """The half-open `[start, end)` one query reads, and the sources it is narrowed to."""

    start: datetime
    end: datetime
    services: tuple[str, ...] = ()


def _table_ref(table: LogTable, b: Binder) -> str:
    if table.database is None:
        return b.ident(table.name)
    return f"{b.ident(table.database)}.{b.ident(table.name)}"


def _where_range(table: LogTable, b: Binder, rng: Range) -> str:
    ts = b.ident(table.ts)
    parts = [
        f"{ts} >= {b.value(rng.start, DT64)}",
        f"{ts} < {b.value(rng.end, DT64)}",
    ]
    if table.prune:
        prune = b.ident(table.prune)
        # Whole seconds: [floor(start), floor(end)] holds every timestamp in [start, end).
        parts.append(f"{prune} >= {b.value(rng.start.replace(microsecond=0), DT)}")
        parts.append(f"{prune} <= {b.value(rng.end.replace(microsecond=0), DT)}")
    if rng.services and table.service:
        names = ", ".join(b.value(name, "String") for name in rng.services)
        parts.append(f"{b.ident(table.service)} IN ({names})")
    return " AND ".join(parts)


def _micros(expr: str) -> str:
    return f"toUnixTimestamp64Micro(toDateTime64({expr}, 6, 'UTC'))"


def _service(table: LogTable, b: Binder) -> str:
    return f"toString({b.ident(table.service)})" if table.service else "''"


def _array(b: Binder, values: tuple[str, ...]) -> str:
    return "[" + ", ".join(b.value(v, "String") for v in values) + "]"


def _matched(table: LogTable, b: Binder, rng: Range, *, with_text: bool) -> str:
    """Rows in range with either PGRST204 wording, with table and column cut out."""
    msg = b.ident(table.message)
    new, old = b.value(PGRST204_NEW, "String"), b.value(PGRST204_OLD, "String")
    is_new = f"match({msg}, {new})"
    extra = f", {_service(table, b)} AS _pgr_svc, {msg} AS _pgr_msg" if with_text else ""
    return (
        f"SELECT {b.ident(table.ts)} AS _pgr_ts, "  # noqa: S608 - values only via the binder
        f"if({is_new}, extract({msg}, {b.value(NEW_TABLE, 'String')}), "
        f"extract({msg}, {b.value(OLD_TABLE, 'String')})) AS _pgr_tbl, "
        f"if({is_new}, extract({msg}, {b.value(NEW_COLUMN, 'String')}), "
        f"extract({msg}, {b.value(OLD_COLUMN, 'String')})) AS _pgr_col{extra} "
        f"FROM {_table_ref(table, b)} "
        f"WHERE {_where_range(table, b, rng)} AND multiSearchAny({msg}, {_array(b, NEEDLES)}) "
        f"AND ({is_new} OR match({msg}, {old}))"
    )


def _in_services(
    table: LogTable, b: Binder, names: tuple[str, ...], column: str | None = None
) -> str:
    """`service IN (...)` (on `column` when given), or `1` when there is nothing to narrow."""
    if not names or not table.service:
        return "1"
    return (
        f"{column or b.ident(table.service)} IN ({', '.join(b.value(n, 'String') for n in names)})"
    )


def window_sql(table: LogTable, b: Binder, rng: Range, context_limit: int = CONTEXT_LIMIT) -> str:
    """One row per (table, column) with its per-minute series, the context rows and the control
    row of one window, reading the messages once.

    An `e` row's `m` is the series: `minute:count:first:last,...` with `minute` in whole
    minutes since the epoch and `first`/`last` in µs after the start of that minute. Errors are
    looked for in `rng.services` (all when empty); context rows in `table.context_services` (all
    when empty), so that reloads in `postgrest_logs` and DDL in `postgres_logs` are found even
    when errors are searched elsewhere; related rows everywhere. At most `context_limit`
    context rows and as many related rows, the earliest.
    """
    msg = b.ident(table.message)
    is_new = f"match({msg}, {b.value(PGRST204_NEW, 'String')})"
    is_error = f"({_in_services(table, b, rng.services)} AND ({is_new} OR match({msg}, {b.value(PGRST204_OLD, 'String')})))"
    whole = Range(rng.start, rng.end)  # errors and context: narrowed per kind below
    # 1. One pass over the messages: rows with any error or context needle, classified.
    candidates = (
        f"SELECT {b.ident(table.ts)} AS _pgr_ts, {_service(table, b)} AS _pgr_svc, {msg} AS _pgr_msg, "  # noqa: S608 - values only via the binder
        f"{is_error} AS _pgr_e, "
        f"if(_pgr_e, if({is_new}, extract({msg}, {b.value(NEW_TABLE, 'String')}), "
        f"extract({msg}, {b.value(OLD_TABLE, 'String')})), '') AS _pgr_tbl, "
        f"if(_pgr_e, if({is_new}, extract({msg}, {b.value(NEW_COLUMN, 'String')}), "
        f"extract({msg}, {b.value(OLD_COLUMN, 'String')})), '') AS _pgr_col "
        f"FROM {_table_ref(table, b)} "
        f"WHERE {_where_range(table, b, whole)} "
        f"AND multiSearchAny({msg}, {_array(b, CANDIDATE_NEEDLES)})"
    )
    is_context = (
        f"({_in_services(table, b, table.context_services, '_pgr_svc')} "
        f"AND multiSearchAny(_pgr_msg, {_array(b, CONTEXT_NEEDLES)}))"
    )
    kind = (
        f"multiIf(_pgr_e, '{ERRORS}', multiSearchAny(_pgr_msg, {_array(b, RELATED_NEEDLES)}), "
        f"'{RELATED}', {is_context}, '{CONTEXT}', '')"
    )
    is_e = f"_pgr_k = '{ERRORS}'"
    # 2. Errors per (table, column, minute); context and related rows one by one (keyed by time
    #    and text); candidates that are neither fold into one '' row, dropped by the client. No
    #    filter here: the optimizer would push it under the needle search, onto every row.
    grouped = (
        f"SELECT _pgr_k, _pgr_tbl, _pgr_col, "  # noqa: S608 - values only via the binder
        f"multiIf({is_e}, toDateTime64(toStartOfMinute(_pgr_ts), 6, 'UTC'), _pgr_k = '', "
        f"toDateTime64(0, 6, 'UTC'), toDateTime64(_pgr_ts, 6, 'UTC')) AS _pgr_g, "
        f"if(_pgr_k IN ('{ERRORS}', ''), '', _pgr_msg) AS _pgr_gm, "
        f"if({is_e}, '', any(_pgr_svc)) AS _pgr_s, count() AS _pgr_n, "
        f"min(_pgr_ts) AS _pgr_first, max(_pgr_ts) AS _pgr_last "
        f"FROM (SELECT _pgr_ts, _pgr_svc, _pgr_msg, _pgr_e, _pgr_tbl, _pgr_col, {kind} AS _pgr_k "
        f"FROM ({candidates})) "
        f"GROUP BY _pgr_k, _pgr_tbl, _pgr_col, _pgr_g, _pgr_gm"
    )
    minute_us = "toUnixTimestamp(_pgr_g) * 1000000"
    point = (
        f"concat(toString(intDiv(toUnixTimestamp(_pgr_g), 60)), ':', toString(_pgr_n), ':', "
        f"toString({_micros('_pgr_first')} - {minute_us}), ':', toString({_micros('_pgr_last')} - {minute_us}))"
    )
    # 3. One row per (table, column) carrying its series; LIMIT BY keeps every pair (its key is
    #    unique) and the earliest context and related rows (each kind shares one key).
    found = (
        f"SELECT _pgr_k AS k, _pgr_tbl AS t, _pgr_col AS c, "  # noqa: S608 - values only via the binder
        f"sum(_pgr_n) AS n, {_micros('min(_pgr_first)')} AS f, {_micros('max(_pgr_last)')} AS l, "
        f"any(_pgr_s) AS s, if({is_e}, arrayStringConcat(groupArray({point}), ','), any(_pgr_gm)) AS m "
        f"FROM ({grouped}) "
        f"GROUP BY _pgr_k, _pgr_tbl, _pgr_col, if({is_e}, toDateTime64(0, 6, 'UTC'), _pgr_g), _pgr_gm "
        f"ORDER BY f LIMIT {b.value(context_limit, 'UInt64')} BY k, t, c"
    )
    control = (
        f"SELECT '{CONTROL}', '', '', count(), {_micros('min(_pgr_ts)')}, "  # noqa: S608 - values only via the binder
        f"{_micros('max(_pgr_ts)')}, '', '' "
        f"FROM (SELECT {b.ident(table.ts)} AS _pgr_ts FROM {_table_ref(table, b)} "
        f"WHERE {_where_range(table, b, rng)})"
    )
    columns = ", ".join(COLUMNS)
    return f"SELECT {columns} FROM ({found}) UNION ALL {control}"  # noqa: S608 - no values here


def samples_sql(
    table: LogTable, b: Binder, rng: Range, pairs: list[tuple[str, str]], per_pair: int
) -> str:
    """The first `per_pair` rows of each (table, column) in `pairs` (names as the SQL cut them)."""
    if not pairs:
        raise ValueError("no pairs to sample")
    wanted = " OR ".join(
        f"(_pgr_tbl = {b.value(t, 'String')} AND _pgr_col = {b.value(c, 'String')})"
        for t, c in pairs
    )
    return (
        f"SELECT '{SAMPLE}' AS k, _pgr_tbl AS t, _pgr_col AS c, "  # noqa: S608 - values only via the binder
        f"1 AS n, {_micros('_pgr_ts')} AS f, {_micros('_pgr_ts')} AS l, "
        f"_pgr_svc AS s, _pgr_msg AS m "
        f"FROM ({_matched(table, b, rng, with_text=True)}) WHERE {wanted} "
        f"ORDER BY _pgr_ts LIMIT {b.value(per_pair, 'UInt64')} BY _pgr_tbl, _pgr_col"
    )


def columns_sql(b: Binder, database: str, name: str) -> str:
    """Name and type of every column of `database.name` (empty when it does not exist)."""
    return (
        "SELECT name, type FROM system.columns "  # noqa: S608 - values only via the binder
        f"WHERE database = {b.value(database, 'String')} AND table = {b.value(name, 'String')} "
        "ORDER BY position"
    )
