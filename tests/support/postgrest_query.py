"""PostgREST's query-string grammar, the small part the test server needs, rendered to SQL.

`select=`, filters (`col=op.value`), `order=` and comma lists follow `QueryParams.hs@v16.2`:
double-quoted names may contain `,` `.` `:` and unescape a backslash (`pQuotedValue`).
Nothing here checks the schema cache: these parts of a request go straight to PostgreSQL,
which is why a stale cache never breaks reads (reference §3, "Not raised for"). `ApiError` and
the SQLSTATE -> HTTP status map live here too, shared by the API and the server.
"""

from __future__ import annotations

import difflib
import re
from typing import Any

from psycopg import sql

RESERVED = {"select", "order", "limit", "offset", "columns", "on_conflict", "and", "or"}
_OPS = {
    "eq": "=",
    "neq": "<>",
    "gt": ">",
    "gte": ">=",
    "lt": "<",
    "lte": "<=",
    "like": "LIKE",
    "ilike": "ILIKE",
}


class ApiError(Exception):
    """An error answered with PostgREST's JSON body."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        details: Any = None,
        hint: Any = None,
        headers: tuple[tuple[str, str], ...] = (),
    ) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message
        self.details, self.hint, self.headers = details, hint, headers


def pg_error_status(sqlstate: str, message: str, authed: bool) -> int:
    """`mapSQLtoHTTP` from Error.hs@v16.2."""
    exact = {
        "23503": 409,
        "23505": 409,
        "25006": 405,
        "53400": 500,
        "57P01": 503,
        "P0001": 400,
        "42P01": 404,
        "42P17": 500,
    }
    if sqlstate in exact:
        return exact[sqlstate]
    if sqlstate == "42883":
        return 406 if message.startswith("function xmlagg(") else 404
    if sqlstate == "42501":
        return 403 if authed else 401
    if sqlstate == "21000":
        return 400 if message.endswith("requires a WHERE clause") else 500
    if sqlstate == "22023":
        return 401 if message.startswith("role") and message.endswith("does not exist") else 400
    prefixes = {
        "08": 503,
        "09": 500,
        "0L": 403,
        "0P": 403,
        "25": 500,
        "28": 403,
        "2D": 500,
        "38": 500,
        "39": 500,
        "3B": 500,
        "40": 500,
        "53": 503,
        "54": 500,
        "55": 500,
        "57": 500,
        "58": 500,
        "F0": 500,
        "HV": 500,
        "P0": 500,
        "XX": 500,
    }
    return prefixes.get(sqlstate[:2], 400)


def fuzzy(word: str, options: list[str]) -> str | None:
    """Stand-in for PostgREST's fuzzyset hint (min similarity 0.75 since v14.6)."""
    best = difflib.get_close_matches(word, options, n=1, cutoff=0.75)
    return best[0] if best else None


def split_quoted(text: str, sep: str) -> list[str]:
    """Split on `sep` outside double quotes; inside them a backslash escapes the next char."""
    out, cur, quoted, i = [], "", False, 0
    while i < len(text):
        ch = text[i]
        if quoted and ch == "\\" and i + 1 < len(text):
            cur += text[i : i + 2]
            i += 2
            continue
        if ch == '"':
            quoted = not quoted
        if ch == sep and not quoted:
            out.append(cur)
            cur = ""
        else:
            cur += ch
        i += 1
    out.append(cur)
    return out


def ident_list(text: str) -> list[str]:
    """`a,"b,c", d` -> ['a', '"b,c"', 'd']: PostgREST's comma lists, quotes kept."""
    return [t.strip() for t in split_quoted(text, ",") if t.strip()]


def unquote_ident(name: str) -> str:
    """`"x\\"y"` -> `x"y` (`pQuotedValue`); unquoted names are stripped."""
    name = name.strip()
    if len(name) >= 2 and name[0] == name[-1] == '"':
        return re.sub(r"\\(.)", r"\1", name[1:-1], flags=re.S)
    return name


def ident(*parts: str) -> sql.Identifier:
    """An identifier for a query that has parameters: psycopg would read `%` as a placeholder."""
    return sql.Identifier(*(p.replace("%", "%%") for p in parts))


def raw(text: str) -> sql.SQL:
    """Catalog text (a `format_type` result) spliced into a parametrised query."""
    return sql.SQL(text.replace("%", "%%"))


def select_item(schema: str, name: str, item: str) -> sql.Composable:
    """One `select=` item (`*`, `col`, `alias:col`) as a qualified column, like PostgREST's."""
    if item == "*":
        return sql.SQL("{}.*").format(ident(schema, name))
    if "(" in item or "::" in item or "->" in item:
        raise ApiError(
            400,
            "PGRST100",
            f'"failed to parse select parameter ({item})"',
            details="embedding, casts and JSON paths are not supported by the test server",
        )
    parts = split_quoted(item, ":")
    alias, col = (parts[0], parts[1]) if len(parts) == 2 else ("", item)
    expr = ident(schema, name, unquote_ident(col))
    if alias:
        return sql.SQL("{} AS {}").format(expr, ident(unquote_ident(alias)))
    return expr


def filters(
    schema: str, name: str, params: list[tuple[str, str]]
) -> tuple[sql.Composable, list[Any]]:
    """`col=op.value` filters -> WHERE clause; columns are not checked against the cache."""
    clauses: list[sql.Composable] = []
    args: list[Any] = []
    for key, value in params:
        if key in RESERVED:
            if key in ("and", "or"):
                raise ApiError(
                    400,
                    "PGRST100",
                    f'"failed to parse logic tree ({value})"',
                    details="logic trees are not supported by the test server",
                )
            continue
        col = ident(schema, name, unquote_ident(key))
        negate = value.startswith("not.")
        op, _, operand = (value[4:] if negate else value).partition(".")
        if op in _OPS:
            if op in ("like", "ilike"):
                operand = operand.replace("*", "%")
            clause = sql.SQL("{} {} %s").format(col, sql.SQL(_OPS[op]))
            args.append(operand)
        elif op == "is" and operand.lower() in ("null", "true", "false", "unknown"):
            clause = sql.SQL("{} IS {}").format(col, sql.SQL(operand.upper()))
        elif op == "in" and operand.startswith("(") and operand.endswith(")"):
            values = [unquote_ident(v) for v in ident_list(operand[1:-1])]
            if not values:
                clause = sql.SQL("false")
            else:
                clause = sql.SQL("{} IN ({})").format(
                    col, sql.SQL(", ").join(sql.Placeholder() * len(values))
                )
                args.extend(values)
        else:
            raise ApiError(
                400,
                "PGRST100",
                f'"failed to parse filter ({value})"',
                details=f'unexpected "{value[:1]}" expecting "not" or operator (eq, gt, ...)',
            )
        clauses.append(sql.SQL("NOT ({})").format(clause) if negate else clause)
    if not clauses:
        return sql.SQL(""), args
    return sql.SQL(" WHERE ") + sql.SQL(" AND ").join(clauses), args


def order_by(schema: str, name: str, order: str | None) -> sql.Composable:
    """`order=col.desc.nullslast,other` -> ORDER BY (empty when absent)."""
    if not order:
        return sql.SQL("")
    terms = []
    for term in ident_list(order):
        col, *mods = split_quoted(term, ".")
        parts = [ident(schema, name, unquote_ident(col))]
        for mod in mods:
            kw = {
                "asc": "ASC",
                "desc": "DESC",
                "nullsfirst": "NULLS FIRST",
                "nullslast": "NULLS LAST",
            }.get(mod)
            if kw is None:
                raise ApiError(400, "PGRST100", f'"failed to parse order ({order})"')
            parts.append(sql.SQL(kw))
        terms.append(sql.SQL(" ").join(parts))
    return sql.SQL(" ORDER BY ") + sql.SQL(", ").join(terms)


def int_param(params: list[tuple[str, str]], key: str) -> int | None:
    """`limit` / `offset` as int, None when absent, PGRST100 when not a number."""
    value = dict(params).get(key)
    if value is None:
        return None
    try:
        return int(value)
    except ValueError:
        raise ApiError(400, "PGRST100", f'"failed to parse {key} ({value})"') from None
