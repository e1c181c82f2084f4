"""Migration files against the database's ledger, and the plan for `pending_migration`.

Builds on `runbook.servers.migration_files` (pglast parsing of the files):

- `default_migrations_dir()`: `supabase/migrations` when it exists (the `--migrations` default);
- `read_ledger(conn)`: the versions in Supabase's `supabase_migrations.schema_migrations`, or
  None when the database has no such table (read-only; names via `sql.Identifier`);
- `ledger_status(scan, applied)`: which files' versions the ledger does not list;
- `column_origin(scan, ...)`: the file that adds the column (`CREATE TABLE`, `ADD COLUMN`, or a
  `RENAME COLUMN` to it), and `renamed_away(scan, ...)`: a file that renamed it to something else;
- `apply_command(...)` and `pending_plan(...)`: how to apply that file, then reload and verify.

Supabase's ledger records versions only (no applied-at time), and `supabase db push` does not
send `NOTIFY pgrst`: the plan always ends with a reload and a verification.
"""

from __future__ import annotations

import shlex
from dataclasses import dataclass, field
from pathlib import Path

import psycopg
from psycopg import sql

from runbook.evidence import EvidenceRow
from runbook.servers.migration_files import ADD, DROP, ColumnChange, MigrationScan, file_version

DEFAULT_DIR = Path("supabase") / "migrations"
LEDGER = ("supabase_migrations", "schema_migrations")


@dataclass(frozen=True)
class ColumnOrigin:
    """The statement of a migration file that gives (or took away) a column its name."""

    path: str
    line: int
    version: str | None
    kind: str  # "CREATE TABLE" | "ADD COLUMN" | "RENAME COLUMN"
    statement: str
    old_name: str | None  # RENAME COLUMN old TO new
    new_name: str

    @property
    def where(self) -> str:
        return f"{self.path}:{self.line}"


@dataclass
class LedgerStatus:
    """File versions against the ledger. `present` False: the database keeps no ledger."""

    present: bool
    applied: set[str] = field(default_factory=set)
    files: list[tuple[str, str]] = field(default_factory=list)  # (version, path), file order
    unapplied: list[tuple[str, str]] = field(default_factory=list)
    only_in_ledger: list[str] = field(default_factory=list)  # versions with no file here

    def is_applied(self, version: str | None) -> bool | None:
        if not self.present or version is None:
            return None
        return version in self.applied

    def evidence(self) -> list[EvidenceRow]:
        if not self.present:
            return [
                EvidenceRow(
                    "migrations",
                    "migration ledger present",
                    False,
                    "no supabase_migrations.schema_migrations in this database",
                )
            ]
        rows = [
            EvidenceRow(
                "migrations",
                "every migration file is recorded in the ledger",
                not self.unapplied,
                (
                    f"{len(self.unapplied)} of {len(self.files)} not recorded: "
                    + ", ".join(Path(p).name for _, p in self.unapplied[:5])
                )
                if self.unapplied
                else f"{len(self.files)} files, all recorded",
            )
        ]
        if self.only_in_ledger:
            rows.append(
                EvidenceRow(
                    "migrations",
                    "the ledger lists versions with no file here",
                    True,
                    ", ".join(self.only_in_ledger[:5])
                    + " (another branch or directory applied them)",
                )
            )
        return rows


def default_migrations_dir(cwd: Path | None = None) -> Path | None:
    """`supabase/migrations` under `cwd` when it is a directory, else None. Without `cwd`, the
    relative `supabase/migrations` itself: evidence then names files as the operator would."""
    candidate = cwd / DEFAULT_DIR if cwd is not None else Path(DEFAULT_DIR)
    return candidate if candidate.is_dir() else None


def read_ledger(conn: psycopg.Connection) -> set[str] | None:
    """Versions in Supabase's ledger, or None when the database has none (read-only)."""
    name = ".".join(sql.Identifier(part).as_string(conn) for part in LEDGER)
    with conn.transaction():
        row = conn.execute("SELECT to_regclass(%s) IS NOT NULL", [name]).fetchone()
        if not row or not row[0]:
            return None
        query = sql.SQL("SELECT version::text FROM {}").format(sql.Identifier(*LEDGER))
        return {r[0] for r in conn.execute(query).fetchall()}


def ledger_status(scan: MigrationScan, applied: set[str] | None) -> LedgerStatus:
    """Which migration files the ledger does not list (by the files' numeric versions)."""
    status = LedgerStatus(present=applied is not None, applied=set(applied or ()))
    for path in scan.files:
        version = file_version(Path(path))
        if version is not None:
            status.files.append((version, path))
    if status.present:
        status.unapplied = [(v, p) for v, p in status.files if v not in status.applied]
        known = {v for v, _ in status.files}
        status.only_in_ledger = sorted(v for v in status.applied if v not in known)
    return status


def column_origin(scan: MigrationScan, schema: str, table: str, column: str) -> ColumnOrigin | None:
    """The last statement that leaves `schema.table.column` in place after all files, or None."""
    found: ColumnOrigin | None = None
    for index, change in enumerate(scan.changes):
        if (change.schema, change.table, change.column) != (schema, table, column):
            continue
        if change.action == DROP:
            found = None
            continue
        found = _origin(scan.changes, index, change)
    return found


def renamed_away(scan: MigrationScan, schema: str, table: str, column: str) -> ColumnOrigin | None:
    """The last `RENAME COLUMN <column> TO x` on the table (a client still sending the old
    name is a client mismatch naming this migration), or None."""
    found = None
    for index, change in enumerate(scan.changes):
        if change.action != ADD or (change.schema, change.table) != (schema, table):
            continue
        origin = _origin(scan.changes, index, change)
        if origin.kind == "RENAME COLUMN" and origin.old_name == column:
            found = origin
    return found


def _origin(changes: list[ColumnChange], index: int, change: ColumnChange) -> ColumnOrigin:
    previous = changes[index - 1] if index > 0 else None
    old = None
    if (
        previous is not None
        and previous.action == DROP
        and (previous.path, previous.line, previous.schema, previous.table)
        == (change.path, change.line, change.schema, change.table)
        and "RENAME" in change.statement.upper()
    ):
        kind, old = "RENAME COLUMN", previous.column
    elif change.statement.lstrip().upper().startswith("CREATE"):
        kind = "CREATE TABLE"
    else:
        kind = "ADD COLUMN"
    return ColumnOrigin(
        change.path, change.line, change.version, kind, change.statement, old, change.column
    )


def is_supabase_dir(directory: Path) -> bool:
    """`.../supabase/migrations`, or a directory beside a Supabase `config.toml`."""
    resolved = directory.resolve()
    return (resolved.name == "migrations" and resolved.parent.name == "supabase") or (
        resolved.parent / "config.toml"
    ).is_file()


def apply_command(path: str, migrations_dir: Path | None) -> str:
    """The command that applies one migration file (the DSN stays in $DATABASE_URL)."""
    if migrations_dir is not None and is_supabase_dir(migrations_dir):
        return 'supabase db push --db-url "$DATABASE_URL"  # or: supabase db push --linked'
    return f'psql "$DATABASE_URL" -v ON_ERROR_STOP=1 -f {shlex.quote(path)}'


def pending_plan(
    origin: ColumnOrigin,
    migrations_dir: Path | None,
    *,
    table: str,
    column: str,
    schema: str = "public",
    channel: str = "pgrst",
) -> list[str]:
    """Apply the file that adds the column, reload the schema cache, verify. One line each."""
    notify = (
        f"NOTIFY {channel}, 'reload schema';"
        if channel.isidentifier()
        else (f"SELECT pg_notify({_literal(channel)}, 'reload schema');")
    )
    verify = shlex.join(
        ["pgrst-runbook", "run", "--schema", schema, "--table", table, "--column", column]
    )
    return [
        f"Apply {origin.where} ({origin.kind}): {apply_command(origin.path, migrations_dir)}",
        f"Reload PostgREST's schema cache (a migration tool does not): {notify}",
        f"Verify: {verify}",
    ]


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"
