"""Local migration files (e.g. `supabase/migrations/*.sql`) read with PostgreSQL's own parser.

`scan_migrations(directory)` parses every `.sql` file in name order with pglast and returns the
column changes it finds: `CREATE TABLE` columns, `ALTER TABLE ... ADD/DROP COLUMN`,
`RENAME COLUMN` and table renames. `column_added_by(scan, schema, table, column)` answers the
`pending_migration` question: which file leaves that column in place, if any.

Identifiers come back as PostgreSQL stores them (unquoted names folded to lower case, quoted
names exact). Unqualified tables are taken to be in `default_schema`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

import pglast
from pglast import ast, enums

from runbook.redact import redact

_VERSION = re.compile(r"^(\d+)[_.-]")
_STATEMENT_EXCERPT = 200

ADD = "add"  # CREATE TABLE column, ADD COLUMN, or the new name of a RENAME COLUMN
DROP = "drop"  # DROP COLUMN, or the old name of a RENAME COLUMN


@dataclass(frozen=True)
class ColumnChange:
    """One statement that adds or removes a column name on a table.

    `version` is the numeric file-name prefix (Supabase's ledger key), `line` is 1-based.
    """

    path: str
    version: str | None
    line: int
    action: str  # ADD or DROP
    schema: str
    table: str
    column: str
    statement: str


@dataclass
class MigrationScan:
    """Everything learnt from a migrations directory, in file order."""

    directory: str
    files: list[str] = field(default_factory=list)
    changes: list[ColumnChange] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)  # "file:line: why" for unparsable parts


def file_version(path: Path) -> str | None:
    """`20240101120000` for `20240101120000_add_col.sql`, None when the name has no number."""
    match = _VERSION.match(path.name)
    return match.group(1) if match else None


def scan_migrations(directory: Path, *, default_schema: str = "public") -> MigrationScan:
    """Parse every `*.sql` under `directory` (sorted by relative path) for column changes."""
    scan = MigrationScan(directory=str(directory))
    files = sorted(directory.rglob("*.sql"), key=lambda p: p.relative_to(directory).as_posix())
    for path in files:
        scan.files.append(str(path))
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            scan.problems.append(f"{path}: unreadable ({exc})")
            continue
        _scan_file(scan, path, text, default_schema)
    return scan


def _scan_file(scan: MigrationScan, path: Path, text: str, default_schema: str) -> None:
    # pglast reports statement locations and slices in characters, not bytes.
    version = file_version(path)
    try:
        statements = [(raw, raw.stmt_location or 0) for raw in pglast.parse_sql(text)]
    except pglast.parser.ParseError:
        # One bad statement (or a psql meta-command) must not hide the others: parse singly.
        statements = []
        for piece in pglast.split(text, with_parser=False, only_slices=True):
            start = piece.start or 0
            try:
                for raw in pglast.parse_sql(text[piece]):
                    statements.append((raw, start + (raw.stmt_location or 0)))
            except pglast.parser.ParseError as exc:
                line = text.count("\n", 0, start) + 1
                scan.problems.append(f"{path}:{line}: not parsed ({exc})")
    for raw, offset in statements:
        # Skip the leading whitespace and comments a statement's location includes.
        body = text[offset : offset + raw.stmt_len] if raw.stmt_len else text[offset:]
        lead = len(body) - len(body.lstrip())
        line = text.count("\n", 0, offset + lead) + 1
        excerpt = redact(" ".join(body.split())[:_STATEMENT_EXCERPT]) or ""
        for action, schema, table, column in _column_changes(raw.stmt, default_schema):
            scan.changes.append(
                ColumnChange(str(path), version, line, action, schema, table, column, excerpt)
            )


def _column_changes(stmt: object, default_schema: str) -> list[tuple[str, str, str, str]]:
    if isinstance(stmt, ast.CreateStmt) and stmt.relation is not None:
        schema, table = _names(stmt.relation, default_schema)
        return [
            (ADD, schema, table, elt.colname)
            for elt in stmt.tableElts or ()
            if isinstance(elt, ast.ColumnDef) and elt.colname
        ]
    if isinstance(stmt, ast.AlterTableStmt) and stmt.relation is not None:
        schema, table = _names(stmt.relation, default_schema)
        out = []
        for cmd in stmt.cmds or ():
            if not isinstance(cmd, ast.AlterTableCmd):
                continue
            if cmd.subtype == enums.AlterTableType.AT_AddColumn and isinstance(
                cmd.def_, ast.ColumnDef
            ):
                if cmd.def_.colname:
                    out.append((ADD, schema, table, cmd.def_.colname))
            elif cmd.subtype == enums.AlterTableType.AT_DropColumn and cmd.name:
                out.append((DROP, schema, table, cmd.name))
        return out
    if isinstance(stmt, ast.RenameStmt) and stmt.relation is not None:
        schema, table = _names(stmt.relation, default_schema)
        if stmt.renameType == enums.ObjectType.OBJECT_COLUMN and stmt.subname and stmt.newname:
            return [(DROP, schema, table, stmt.subname), (ADD, schema, table, stmt.newname)]
    return []


def _names(relation: ast.RangeVar, default_schema: str) -> tuple[str, str]:
    return relation.schemaname or default_schema, relation.relname or ""


def column_added_by(
    scan: MigrationScan, schema: str, table: str, column: str
) -> ColumnChange | None:
    """The last change that leaves `schema.table.column` present after all files, or None.

    None when no file adds it, or when a later file drops or renames it away again.
    """
    last: ColumnChange | None = None
    for change in scan.changes:
        if (change.schema, change.table, change.column) == (schema, table, column):
            last = change
    return last if last is not None and last.action == ADD else None


def columns_after(scan: MigrationScan, schema: str, table: str) -> set[str]:
    """The columns `schema.table` has once every file ran (as far as the files say)."""
    present: set[str] = set()
    for change in scan.changes:
        if (change.schema, change.table) != (schema, table):
            continue
        if change.action == ADD:
            present.add(change.column)
        else:
            present.discard(change.column)
    return present
