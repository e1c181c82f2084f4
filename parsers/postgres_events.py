"""PostgreSQL log records -> `migration`, `cache_reload` and `db_error` events.

Shared by the three PostgreSQL server formats (stderr text, csvlog, jsonlog) and by Supabase's
`postgres_logs`. Each of those turns its input into *records*, one row per PostgreSQL log message,
with the columns of `RECORD_SCHEMA` (plus any pass-through columns such as `line_no` and `raw`),
and `record_events()` does the rest:

- `LOG:  statement: <sql>` (also `execute <name>: <sql>` of the extended protocol and
  `duration: ... statement: <sql>`): DDL touching a table or column -> `migration`, with
  `detail` the action (`ADD COLUMN`, `DROP COLUMN`, `RENAME COLUMN old TO new`, `RENAME TO new`,
  `ALTER COLUMN TYPE`, `CREATE TABLE`, `DROP VIEW` ...), `message` the statement. One event per
  action: `ALTER TABLE t ADD COLUMN a int, ADD COLUMN b int` gives two. A DDL statement whose
  session's next record is an ERROR for that same statement did not apply: its `level` is
  `error` (successful ones are `info`).
- `NOTIFY <channel>, 'reload schema'` / `SELECT pg_notify('<channel>', 'reload schema')` (and an
  empty payload on `pgrst`) -> `cache_reload`; payload `reload config` -> `config_reload`.
  `detail` is `<channel>: <payload>`.
- ERROR 42703 / 42P01 -> `db_error` with the code (from the SQLSTATE field, the verbose
  `ERROR:  42703: ...` form, or the English wording via `parsers.error_body`). When the message
  lacks the table (`column "x" does not exist`), uses an alias (`column p.x`), or is
  schema-qualified (`relation "s.t"`), the failing statement resolves it.

The SQL is parsed by pglast (PostgreSQL's own parser), so names follow PostgreSQL: unquoted
identifiers fold to lower case, quoted ones keep their case, spaces, dots, quotes and non-ASCII.
Polars picks the few rows that can matter; Python runs once per distinct statement among them.
PostgreSQL messages are matched in English only (`lc_messages`); the SQLSTATE of csvlog and
jsonlog works in any language.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import NamedTuple

import polars as pl
from pglast import ast, parse_sql
from pglast.enums import AlterTableType, ObjectType
from pglast.parser import scan
from pglast.visitors import Visitor
from polars.datatypes import DataTypeClass

from parsers.error_body import error_columns
from runbook.events import TS_TYPE, Kind

_RECORD_TYPES: dict[str, pl.DataType | DataTypeClass] = {
    "ts": TS_TYPE,
    "pid": pl.String,  # backend process id: a session, for matching an ERROR to its statement
    "severity": pl.String,  # LOG, ERROR, ... as PostgreSQL writes it
    "sql_state": pl.String,  # csvlog/jsonlog SQLSTATE; null in stderr text
    "message": pl.String,  # the primary message (`statement: ...`, `column "x" ... `)
    "statement": pl.String,  # the statement an error belongs to (STATEMENT / query field)
}
RECORD_SCHEMA = pl.Schema(_RECORD_TYPES)

# The SQL of a logged statement: `statement: X`, `execute <unnamed>: X`, `duration: 1.2 ms  statement: X`.
STATEMENT = r"(?s)^(?:duration: [0-9.]+ ms\s+)?(?:statement|execute [^:]*): (.*)$"
# Statements worth handing to the parser; pglast decides what they really are.
DDL_HINT = (
    r"(?i)\b(?:(?:alter|drop)\s+(?:table|view|materialized\s+view|foreign\s+table)\b"
    r"|create\s+(?:or\s+replace\s+)?(?:(?:global|local|temp|temporary|unlogged|recursive"
    r"|materialized|foreign)\s+)*(?:table|view)\b|notify\s|pg_notify\s*\()"
)
# A cheap first filter for formats that see whole records: a statement without one of these
# words can be neither a migration nor a reload request.
RELEVANT = r"(?i)\b(?:alter|create|drop|notify|pg_notify)\b"
VERBOSE_CODE = r"^([0-9A-Z]{5}): "
CURSOR_SUFFIX = r" at character \d+$"
COLUMN_ONLY = r'^column "(.*)" does not exist$'
RELATED_CODES = ("42703", "42P01")
ERROR_SEVERITIES = ("ERROR", "FATAL", "PANIC")


class Action(NamedTuple):
    """What one DDL or NOTIFY statement did to one relation (or which reload it asked for)."""

    kind: str
    schema: str | None
    table: str | None
    column: str | None
    detail: str
    text: str  # the statement on its own, out of a multi-statement string


_ACTION_SCHEMA = {
    "sql": pl.String,
    "kind": pl.String,
    "schema": pl.String,
    "table": pl.String,
    "column": pl.String,
    "detail": pl.String,
    "text": pl.String,
}

_RELATION_TYPES = {
    ObjectType.OBJECT_TABLE: "TABLE",
    ObjectType.OBJECT_VIEW: "VIEW",
    ObjectType.OBJECT_MATVIEW: "MATERIALIZED VIEW",
    ObjectType.OBJECT_FOREIGN_TABLE: "FOREIGN TABLE",
}

# ALTER TABLE subcommands that change what PostgREST caches: columns, keys and relationships.
# Ownership, RLS, triggers, storage options and the like are left out on purpose.
_ALTER_ACTIONS = {
    AlterTableType.AT_AddColumn: "ADD COLUMN",
    AlterTableType.AT_AddColumnToView: "ADD COLUMN",
    AlterTableType.AT_DropColumn: "DROP COLUMN",
    AlterTableType.AT_AlterColumnType: "ALTER COLUMN TYPE",
    AlterTableType.AT_ColumnDefault: "ALTER COLUMN DEFAULT",
    AlterTableType.AT_SetNotNull: "ALTER COLUMN SET NOT NULL",
    AlterTableType.AT_DropNotNull: "ALTER COLUMN DROP NOT NULL",
    AlterTableType.AT_AddIdentity: "ALTER COLUMN ADD IDENTITY",
    AlterTableType.AT_DropIdentity: "ALTER COLUMN DROP IDENTITY",
    AlterTableType.AT_DropExpression: "ALTER COLUMN DROP EXPRESSION",
    AlterTableType.AT_AddConstraint: "ADD CONSTRAINT",
    AlterTableType.AT_DropConstraint: "DROP CONSTRAINT",
}


def quote_ident(name: str) -> str:
    """`name` as SQL would write it: bare when it is a plain lower-case word, else quoted."""
    if re.fullmatch(r"[a-z_][a-z0-9_$]*", name):
        return name
    return '"' + name.replace('"', '""') + '"'


def _statement_text(sql: str, raw: ast.RawStmt) -> str:
    start = raw.stmt_location or 0
    end = start + raw.stmt_len if raw.stmt_len else len(sql)
    return sql[start:end].strip()


@lru_cache(maxsize=8192)
def statement_actions(sql: str) -> tuple[Action, ...]:
    """The migration/reload actions in `sql` (one or more statements). Never raises.

    A statement the parser refuses is mostly one cut short (a log that lost the continuation
    lines of a multi-line statement): its head still names the relation, which the scanner of
    the same parser reads (`truncated_action`).
    """
    try:
        statements = parse_sql(sql)
    except Exception:  # pglast's ParseError, or anything odd in what a log holds
        action = truncated_action(sql)
        return (action,) if action else ()
    actions: list[Action] = []
    for raw in statements:
        if raw.stmt is None:
            continue
        try:
            actions.extend(_actions(raw.stmt, _statement_text(sql, raw)))
        except Exception:  # an unexpected node shape must not cost the other statements
            continue
    return tuple(actions)


_CREATE_MODIFIERS = {"OR", "REPLACE", "GLOBAL", "LOCAL", "TEMP", "TEMPORARY", "UNLOGGED", "RECURSIVE"}
_OBJECTS = {"TABLE": "TABLE", "VIEW": "VIEW"}


def _identifier(text: str) -> str:
    """An identifier as PostgreSQL resolves it: quoted keeps its case, bare folds ASCII to lower."""
    if text.startswith('"') and text.endswith('"') and len(text) >= 2:
        return text[1:-1].replace('""', '"')
    return text.translate(_ASCII_LOWER)


_ASCII_LOWER = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz")


def truncated_action(sql: str) -> Action | None:
    """`CREATE/ALTER/DROP [MATERIALIZED|FOREIGN] TABLE|VIEW [IF [NOT] EXISTS] [ONLY] name` at the
    start of an incomplete statement, read with PostgreSQL's scanner (which takes any prefix)."""
    try:
        tokens = [t for t in scan(sql) if t.name not in ("SQL_COMMENT", "C_COMMENT")]
    except Exception:
        return None
    names = [t.name for t in tokens]
    if not names or names[0] not in ("CREATE", "ALTER", "DROP"):
        return None
    verb, at, replace, materialized = names[0], 1, False, ""
    while at < len(names) and (names[at] in _CREATE_MODIFIERS or names[at] in ("MATERIALIZED", "FOREIGN")):
        replace = replace or names[at] == "REPLACE"
        materialized = "MATERIALIZED " if names[at] == "MATERIALIZED" else "FOREIGN " if names[at] == "FOREIGN" else materialized
        at += 1
    if at >= len(names) or names[at] not in _OBJECTS or (verb != "CREATE" and replace):
        return None
    what = f"{materialized}{_OBJECTS[names[at]]}"
    at += 1
    while at < len(names) and names[at] in ("IF_P", "NOT", "EXISTS", "ONLY"):
        at += 1
    parts: list[str] = []
    while at < len(tokens) and tokens[at].kind != "RESERVED_KEYWORD" and not names[at].startswith("ASCII_"):
        parts.append(_identifier(sql[tokens[at].start : tokens[at].end + 1]))
        if at + 1 < len(names) and names[at + 1] == "ASCII_46":  # "."
            at += 2
            continue
        break
    if not parts:
        return None
    schema = parts[-2] if len(parts) >= 2 else None
    detail = f"{verb} {'OR REPLACE ' if replace else ''}{what}"
    return Action(Kind.MIGRATION.value, schema, parts[-1], None, detail, sql.strip())


def _relation(rv: ast.RangeVar | None) -> tuple[str | None, str | None]:
    if rv is None:
        return None, None
    return rv.schemaname, rv.relname


def _actions(node: ast.Node, text: str) -> list[Action]:
    migration = Kind.MIGRATION.value
    if isinstance(node, ast.AlterTableStmt):
        if node.objtype not in _RELATION_TYPES:  # ALTER INDEX / SEQUENCE share this node
            return []
        schema, table = _relation(node.relation)
        out = []
        for cmd in node.cmds or ():
            action = _ALTER_ACTIONS.get(cmd.subtype)
            if action is None:
                continue
            column = cmd.name
            if cmd.subtype in (AlterTableType.AT_AddColumn, AlterTableType.AT_AddColumnToView):
                column = cmd.def_.colname if cmd.def_ is not None else None
            if cmd.subtype == AlterTableType.AT_ColumnDefault:
                action = "ALTER COLUMN SET DEFAULT" if cmd.def_ is not None else "ALTER COLUMN DROP DEFAULT"
            if cmd.subtype in (AlterTableType.AT_AddConstraint, AlterTableType.AT_DropConstraint):
                column = None
            out.append(Action(migration, schema, table, column, action, text))
        return out
    if isinstance(node, ast.RenameStmt):
        schema, table = _relation(node.relation)
        if node.renameType == ObjectType.OBJECT_COLUMN and node.relationType in _RELATION_TYPES:
            detail = f"RENAME COLUMN {quote_ident(node.subname or '')} TO {quote_ident(node.newname or '')}"
            return [Action(migration, schema, table, node.subname, detail, text)]
        if node.renameType in _RELATION_TYPES:
            return [Action(migration, schema, table, None, f"RENAME TO {quote_ident(node.newname or '')}", text)]
        return []
    if isinstance(node, ast.AlterObjectSchemaStmt) and node.objectType in _RELATION_TYPES:
        schema, table = _relation(node.relation)
        return [Action(migration, schema, table, None, f"SET SCHEMA {quote_ident(node.newschema or '')}", text)]
    if isinstance(node, ast.CreateStmt):
        schema, table = _relation(node.relation)
        what = "CREATE FOREIGN TABLE" if isinstance(node, ast.CreateForeignTableStmt) else "CREATE TABLE"
        return [Action(migration, schema, table, None, what, text)]
    if isinstance(node, ast.CreateForeignTableStmt) and node.base is not None:
        schema, table = _relation(node.base.relation)
        return [Action(migration, schema, table, None, "CREATE FOREIGN TABLE", text)]
    if isinstance(node, ast.CreateTableAsStmt) and node.objtype in _RELATION_TYPES:
        schema, table = _relation(node.into.rel if node.into else None)
        return [Action(migration, schema, table, None, f"CREATE {_RELATION_TYPES[node.objtype]}", text)]
    if isinstance(node, ast.ViewStmt):
        schema, table = _relation(node.view)
        what = "CREATE OR REPLACE VIEW" if node.replace else "CREATE VIEW"
        return [Action(migration, schema, table, None, what, text)]
    if isinstance(node, ast.DropStmt) and node.removeType in _RELATION_TYPES:
        out = []
        for names in node.objects or ():
            parts = [getattr(part, "sval", None) for part in names]
            if not parts or parts[-1] is None:
                continue
            schema = parts[-2] if len(parts) >= 2 else None
            out.append(Action(migration, schema, parts[-1], None, f"DROP {_RELATION_TYPES[node.removeType]}", text))
        return out
    if isinstance(node, ast.NotifyStmt):
        reload = _reload(node.conditionname, node.payload, text)
        return [reload] if reload else []
    if isinstance(node, ast.SelectStmt):
        finder = _NotifyFinder()
        finder(node)
        return [r for r in (_reload(ch, payload, text) for ch, payload in finder.calls) if r]
    return []


def _reload(channel: str | None, payload: str | None, text: str) -> Action | None:
    """A NOTIFY that asks PostgREST to reload (any channel: `db-channel` is configurable)."""
    if not channel:
        return None
    wanted = (payload or "").strip().lower()
    detail = f"{channel}: {payload}" if payload else channel
    if wanted == "reload schema" or (not wanted and channel == "pgrst"):
        return Action(Kind.CACHE_RELOAD.value, None, None, None, detail, text)
    if wanted == "reload config":
        return Action(Kind.CONFIG_RELOAD.value, None, None, None, detail, text)
    return None


class _NotifyFinder(Visitor):
    """`pg_notify('<channel>', '<payload>')` calls with literal arguments, anywhere in a query."""

    def __init__(self) -> None:
        super().__init__()
        self.calls: list[tuple[str, str | None]] = []

    def visit_FuncCall(self, ancestors: object, node: ast.FuncCall) -> None:
        name = node.funcname[-1].sval if node.funcname else None
        if name != "pg_notify" or not node.args or len(node.args) != 2:
            return
        values: list[str | None] = []
        for arg in node.args:
            if not isinstance(arg, ast.A_Const) or arg.isnull or not isinstance(arg.val, ast.String):
                return
            values.append(arg.val.sval)
        if values[0] is not None:
            self.calls.append((values[0], values[1]))


class _Relations(Visitor):
    """Every table reference of a statement: (schema, name, alias)."""

    def __init__(self) -> None:
        super().__init__()
        self.found: list[tuple[str | None, str, str | None]] = []

    def visit_RangeVar(self, ancestors: object, node: ast.RangeVar) -> None:
        alias = node.alias.aliasname if node.alias is not None else None
        if node.relname is not None:
            self.found.append((node.schemaname, node.relname, alias))


@lru_cache(maxsize=4096)
def _statement_relations(
    sql: str,
) -> tuple[tuple[tuple[str | None, str, str | None], ...], tuple[str | None, str | None] | None]:
    """(every relation referenced, the write target of INSERT/UPDATE/DELETE/MERGE or None)."""
    try:
        statements = parse_sql(sql)
    except Exception:
        return (), None
    finder = _Relations()
    target = None
    for raw in statements:
        node = raw.stmt
        if target is None and isinstance(node, ast.InsertStmt | ast.UpdateStmt | ast.DeleteStmt | ast.MergeStmt):
            target = _relation(node.relation)
        if node is None:
            continue
        try:
            finder(node)
        except Exception:
            continue
    return tuple(finder.found), target


def resolve_error_relation(
    statement: str | None, code: str | None, table: str | None, column: str | None
) -> tuple[str | None, str | None]:
    """(schema, table) for a 42703/42P01 error, using its statement where the message falls short.

    - `relation "s.t"` (42P01 reports the name as written): split against the statement's
      references, else at the first dot.
    - `column p.x` (42703 in a SELECT): `p` may be an alias; the statement says of what.
    - `column "x" does not exist`: the INSERT/UPDATE target, or the only table referenced.
    """
    relations, target = _statement_relations(statement) if statement else ((), None)
    if table is not None:
        for schema, name, alias in relations:
            if code == "42P01" and schema is not None and f"{schema}.{name}" == table:
                return schema, name
            if name == table or alias == table:
                return schema, name
        if code == "42P01" and "." in table:
            schema, _, name = table.partition(".")
            return schema, name
        return None, table
    if column is None:
        return None, None
    if target is not None:
        return target
    distinct = {(schema, name) for schema, name, _ in relations}
    if len(distinct) == 1:
        return next(iter(distinct))
    return None, None


def empty_records() -> pl.DataFrame:
    return pl.DataFrame(schema=RECORD_SCHEMA)


def record_events(records: pl.DataFrame) -> pl.DataFrame:
    """Events from PostgreSQL log records (see the module docstring). Records come in log order.

    Pass-through columns (`line_no`, `record_no`, `raw`, ...) are kept on every event. A record
    can yield several events (one per DDL action) or none.
    """
    if records.height == 0:
        return records.clear()
    recs = records.with_row_index("_order").with_columns(
        pl.col("severity").str.to_uppercase().alias("severity"),
        # `log_error_verbosity = verbose` puts the SQLSTATE before every message: `00000: statement: ...`
        pl.col("message").str.replace(VERBOSE_CODE, "").str.extract(STATEMENT, 1).str.strip_chars().alias("_sql"),
    )
    # The session's next record: an ERROR carrying this very statement means it did not apply.
    recs = recs.with_columns(
        pl.col("severity").shift(-1).over("pid", order_by="_order").alias("_next_severity"),
        pl.col("statement").shift(-1).over("pid", order_by="_order").alias("_next_statement"),
    )
    frames = [_statement_events(recs), _error_events(recs)]
    events = pl.concat([f for f in frames if f.height], how="diagonal_relaxed") if any(
        f.height for f in frames
    ) else recs.clear()
    # `pid` stays: it tells one event logged to several destinations from two sessions' alike.
    internal = [c for c in events.columns if c.startswith("_")] + ["severity", "sql_state", "statement"]
    return events.sort("_order", maintain_order=True).drop([c for c in internal if c in events.columns])


def _statement_events(recs: pl.DataFrame) -> pl.DataFrame:
    ddl = recs.filter(pl.col("_sql").str.contains(DDL_HINT))
    if ddl.height == 0:
        return ddl.clear()
    rows = [
        {"sql": sql, **action._asdict()}
        for sql in ddl["_sql"].unique().to_list()
        for action in statement_actions(sql)
    ]
    if not rows:
        return ddl.clear()
    actions = pl.DataFrame(rows, schema=_ACTION_SCHEMA).rename({"sql": "_sql", "text": "_text"})
    failed = pl.col("_next_severity").is_in(ERROR_SEVERITIES) & (
        pl.col("_next_statement").str.strip_chars() == pl.col("_sql")
    )
    return (
        ddl.join(actions, on="_sql", how="inner", maintain_order="left")
        .with_columns(
            pl.when(failed.fill_null(False)).then(pl.lit("error")).otherwise(pl.lit("info")).alias("level"),
            pl.col("_text").alias("message"),
        )
    )


def _error_events(recs: pl.DataFrame) -> pl.DataFrame:
    text = pl.col("message").str.replace(VERBOSE_CODE, "").str.replace(CURSOR_SUFFIX, "")
    errors = recs.filter(
        pl.col("severity").is_in(ERROR_SEVERITIES)
        | (pl.col("severity").is_null() & pl.col("message").str.contains("does not exist", literal=True))
    )
    if errors.height == 0:
        return errors.clear()
    found = errors.with_columns(
        pl.col("message").str.extract(VERBOSE_CODE, 1).alias("_verbose_code"),
        text.alias("_text"),
    ).with_columns(
        *[e.name.prefix("_e_") for e in error_columns(pl.col("_text"))],
        pl.col("_text").str.extract(COLUMN_ONLY, 1).alias("_column_only"),
    )
    wording = pl.when(pl.col("_e_code").is_in(RELATED_CODES)).then(pl.col("_e_code")).when(
        pl.col("_column_only").is_not_null()
    ).then(pl.lit("42703"))
    code = pl.coalesce(pl.col("sql_state"), pl.col("_verbose_code"), wording)
    found = found.with_columns(code.alias("code")).filter(pl.col("code").is_in(RELATED_CODES))
    if found.height == 0:
        return found
    found = found.with_columns(
        # a PostgreSQL message never carries a PGRST wording; keep only its own table/column
        pl.when(pl.col("_e_code").is_in(RELATED_CODES)).then(pl.col("_e_table")).alias("_table"),
        pl.when(pl.col("_e_code").is_in(RELATED_CODES))
        .then(pl.col("_e_column"))
        .otherwise(pl.col("_column_only"))
        .alias("column"),
    )
    keys = found.select("statement", "code", "_table", "column").unique()
    resolved = [
        (statement, code_, table, column, *resolve_error_relation(statement, code_, table, column))
        for statement, code_, table, column in keys.iter_rows()
    ]
    lookup = pl.DataFrame(
        resolved,
        schema={
            "statement": pl.String,
            "code": pl.String,
            "_table": pl.String,
            "column": pl.String,
            "schema": pl.String,
            "table": pl.String,
        },
        orient="row",
    )
    return found.join(
        lookup, on=["statement", "code", "_table", "column"], how="left", nulls_equal=True, maintain_order="left"
    ).with_columns(
        pl.lit(Kind.DB_ERROR.value).alias("kind"),
        pl.lit("error").alias("level"),
        pl.col("_text").alias("message"),
    )
