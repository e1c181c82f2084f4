"""PostgREST schema-cache errors and PostgreSQL column/relation errors, found in any text.

Clients print the error body in every shape there is (JSON, Python repr, util.inspect, a bare
rethrown message), so detection goes by the message wording and the code wherever they are, not
by one client's layout (reference/causes.md, "The forms a parser meets"). Every expression here
works on a whole polars column; only the rare escaped names are touched by Python.

Wordings (reference/postgrest.md section 3):
- PGRST204 v12.0.3+: ``Could not find the 'C' column of 'T' in the schema cache``
- PGRST204 v11.0.0-v12.0.2: ``Column 'C' of relation 'T' does not exist`` (capital C, single quotes)
- PGRST205: ``Could not find the table 'S.T' in the schema cache``
- PGRST200/201/202/203: relationship and function variants
- PostgreSQL 42703: ``column "C" of relation "T" does not exist`` / ``column T.C does not exist``
- PostgreSQL 42P01: ``relation "T" does not exist``
- PostgreSQL 42703 / 42P01 without their wording: the code as a field's value (`DB_CODE_FIELD`)
"""

from __future__ import annotations

import re

import polars as pl

from runbook.events import PGRST204, RELATED_DB_CODES, SCHEMA_CACHE_FAMILY, Kind

# Names are matched lazily up to the fixed text that follows them, so quotes, spaces, dots and
# non-ASCII inside a name survive. An optional backslash allows JSON-escaped double quotes.
PGRST204_NEW = r"Could not find the '(.*?)' column of '(.*?)' in the schema cache"
PGRST204_OLD = r"Column '(.*?)' of relation '(.*?)' does not exist"
PGRST205 = r"Could not find the table '(.*?)' in the schema cache"
PGRST200 = r"Could not find a relationship between '(.*?)' and '(.*?)' in the schema cache"
PGRST201 = r"Could not embed because more than one relationship was found for '(.*?)' and '(.*?)'"
PGRST202 = r"Could not find the function (\S+?)(?:\(.*?\)| without parameters) in the schema cache"
PGRST203 = r"Could not choose the best candidate function between"
PG_42703_TARGET = r'column \\?"(.*?)\\?" of relation \\?"(.*?)\\?" does not exist'
PG_42703_SELECT = r"column ([^\s\"'.]+)\.([^\s\"']+) does not exist"
PG_42703_BARE = r'column \\?"(.*?)\\?" does not exist'
PG_42P01 = r'relation \\?"(.*?)\\?" does not exist'
CODE = r"\b(PGRST\d{3})\b"
# PostgreSQL's codes alone are numbers that any text may hold (a size, an id): they count as
# a code only as the value of a code field, as clients and loggers flatten an error body
# whose message they dropped: `'code': '42703'` (a Python repr), `code: '42703'`
# (util.inspect), `"code":"42703"` (JSON, escaped or not), `code=42703` (logfmt),
# `sqlstate=42703`, `error_code`, `SQLSTATE 42703` (pgx, libpq).
DB_CODE_FIELD = (
    r"(?i)(?:\b(?:code|sql_?state(?:_code)?|state_code|error_?code|pgrst_code)\\?['\"]?\s*[:=]\s*\\?['\"]?"
    r"|\bSQLSTATE\s+)(42703|42P01)\b"
)


# One error body printed over several lines: pprint splits a long string into adjacent literals
# (`"... in the schema "` then `'cache'` on the next line), util.inspect joins the pieces with
# `+`, and a terminal or a log shipper wraps at a width (`... in the sch` / `ema cache`). A line
# that names an error or starts its wording without holding a whole one reads on into the lines
# of its record that follow it, until a wording is whole.
FOLLOW_LINES = 8
FOLLOW_CHARS = 4096
_STARTS = ("PGRST2", "Could not find", "Column '", 'column "', "column \\\"")
_WHOLE = re.compile(
    "|".join(
        (PGRST204_NEW, PGRST204_OLD, PGRST205, PGRST200, PGRST201, PGRST202, PGRST203,
         PG_42703_TARGET, PG_42703_SELECT, PG_42703_BARE, PG_42P01)
    )
)  # fmt: skip
_SPLIT_LITERAL = re.compile(r"""['"][ \t]*\+?[ \t]*\n[ \t]*['"]""")
_LINE_BREAK = re.compile(r"([ \t]*)\n([ \t]*)")


def wants_following(line: str) -> bool:
    """True when `line` names an error or begins a wording but holds no whole wording."""
    return any(start in line for start in _STARTS) and _WHOLE.search(line.replace("\\'", "'")) is None


def joined_wording(line: str, following: list[str]) -> str | None:
    """`line` read on into `following` as one line, when that makes a whole wording; else None.

    Adjacent string literals are joined first. A line break with blanks beside it then reads as
    a space and one without as nothing (a hard cut at a width, inside a word or a name); failing
    that, every break reads as a space (`textwrap` drops the blank it breaks at)."""
    if any(_WHOLE.search(later.replace("\\'", "'")) for later in following):
        return None  # the wording is whole on a later line: that line is the one to cite
    text = "\n".join([line, *following])[:FOLLOW_CHARS]
    text = _SPLIT_LITERAL.sub("", text)
    for glue in (_cut_or_space, " "):
        joined = _LINE_BREAK.sub(glue, text)
        if _WHOLE.search(joined.replace("\\'", "'")):
            return joined
    return None


def _cut_or_space(match: re.Match[str]) -> str:
    return " " if match.group(1) or match.group(2) else ""


def _group(text: pl.Expr, pattern: str, index: int) -> pl.Expr:
    """Capture group `index` of `pattern` (0: the whole match). Every group of one pattern reads
    the same `extract_groups`, which polars evaluates once: one regex pass per wording."""
    return text.str.extract_groups(f"({pattern})").struct.field(str(index + 1))


def error_columns(text: pl.Expr) -> list[pl.Expr]:
    """Expressions for `code`, `table`, `column`, `schema`, `kind`, `message` found in `text`.

    Rows with no recognisable error get nulls everywhere. A bare code (`PGRST204` mentioned in
    an alert rule) yields the code with null table and column: never an incident by itself.
    """
    # Python's repr and util.inspect escape the quotes around names as \' when a message holds
    # both quote kinds; the wording is matched on the unescaped form.
    text = text.str.replace_all("\\'", "'", literal=True)
    new_col, new_tab = _group(text, PGRST204_NEW, 1), _group(text, PGRST204_NEW, 2)
    old_col, old_tab = _group(text, PGRST204_OLD, 1), _group(text, PGRST204_OLD, 2)
    qname205 = _group(text, PGRST205, 1)
    rel_parent = _group(text, PGRST200, 1)
    emb_parent = _group(text, PGRST201, 1)
    fn202 = _group(text, PGRST202, 1)
    has203 = text.str.contains(PGRST203)
    t_col, t_tab = _group(text, PG_42703_TARGET, 1), _group(text, PG_42703_TARGET, 2)
    s_tab, s_col = _group(text, PG_42703_SELECT, 1), _group(text, PG_42703_SELECT, 2)
    bare_col = _group(text, PG_42703_BARE, 1)
    rel42p01 = _group(text, PG_42P01, 1)
    explicit = pl.coalesce(_group(text, CODE, 1), _group(text, DB_CODE_FIELD, 1).str.to_uppercase())

    code = (
        pl.when(new_col.is_not_null() | old_col.is_not_null())
        .then(pl.lit("PGRST204"))
        .when(qname205.is_not_null())
        .then(pl.lit("PGRST205"))
        .when(rel_parent.is_not_null())
        .then(pl.lit("PGRST200"))
        .when(emb_parent.is_not_null())
        .then(pl.lit("PGRST201"))
        .when(fn202.is_not_null())
        .then(pl.lit("PGRST202"))
        .when(has203)
        .then(pl.lit("PGRST203"))
        .when(t_col.is_not_null() | s_col.is_not_null() | bare_col.is_not_null())
        .then(pl.lit("42703"))
        .when(rel42p01.is_not_null())
        .then(pl.lit("42P01"))
        .otherwise(explicit)
    )
    table = pl.coalesce(
        new_tab,
        old_tab,
        qname205.str.splitn(".", 2).struct.field("field_1"),
        rel_parent,
        emb_parent,
        t_tab,
        s_tab,
        rel42p01,
    )
    column = pl.coalesce(new_col, old_col, t_col, s_col, bare_col)
    schema = pl.when(qname205.str.contains(".", literal=True)).then(
        qname205.str.splitn(".", 2).struct.field("field_0")
    )
    message = pl.coalesce(
        _group(text, PGRST204_NEW, 0),
        _group(text, PGRST204_OLD, 0),
        _group(text, PGRST205, 0),
        _group(text, PGRST200, 0),
        _group(text, PGRST201, 0),
        _group(text, PGRST202, 0),
        _group(text, PG_42703_TARGET, 0),
        _group(text, PG_42703_SELECT, 0),
        _group(text, PG_42703_BARE, 0),
        _group(text, PG_42P01, 0),
    )
    kind = (
        pl.when(code.is_in(list(RELATED_DB_CODES)))
        .then(pl.lit(Kind.DB_ERROR.value))
        .when(code.is_in([PGRST204, *SCHEMA_CACHE_FAMILY]))
        .then(pl.lit(Kind.SCHEMA_CACHE_ERROR.value))
        .when(code.is_not_null())
        .then(pl.lit(Kind.OTHER.value))
    )
    return [
        code.alias("code"),
        unescape(table).alias("table"),
        unescape(column).alias("column"),
        unescape(schema).alias("schema"),
        kind.alias("kind"),
        unescape(message).alias("message"),
    ]


_ESCAPE = re.compile(r"\\(u[0-9a-fA-F]{4}|x[0-9a-fA-F]{2}|[\"'\\/nrt])")
_SIMPLE = {'"': '"', "'": "'", "\\": "\\", "/": "/", "n": "\n", "r": "\r", "t": "\t"}


def unescape_text(value: str) -> str:
    """Undo JSON / Python-repr escapes in a name taken from an embedded error body."""

    def repl(match: re.Match[str]) -> str:
        token = match.group(1)
        if token[0] in "ux":
            return chr(int(token[1:], 16))
        return _SIMPLE[token]

    text = _ESCAPE.sub(repl, value)
    # A JSON body may carry a surrogate pair for characters outside the BMP.
    if any("\ud800" <= ch <= "\udfff" for ch in text):
        text = text.encode("utf-16", "surrogatepass").decode("utf-16", "replace")
    return text


def _unescape_series(values: pl.Series) -> pl.Series:
    has_escape = values.str.contains("\\", literal=True).fill_null(False)
    if not has_escape.any():
        return values
    out = values.to_list()
    for i in has_escape.arg_true().to_list():
        out[i] = unescape_text(out[i])
    return pl.Series(values.name, out, dtype=pl.String)


def unescape(expr: pl.Expr) -> pl.Expr:
    """`expr` with escapes undone; Python runs only for the values that hold a backslash."""
    return expr.map_batches(_unescape_series, return_dtype=pl.String)
