"""The diagnose step: one verdict, with the evidence rows behind it and what to do next.

`diagnose(inspection, settings)` -> `Diagnosis`. Verdicts (`runbook.diagnosis.verdicts`):

- `stale_cache`: the column is in the database, PostgREST's cache lacks it. A reload fixes it.
- `client_mismatch`: the database has no such column and no local migration adds it: the client
  sends a wrong key. Names the nearest existing columns. A reload will not fix it.
- `pending_migration`: the column is absent from the database but a local migration adds it.
- `already_resolved`: database and cache both have the column now.
- `table_missing` / `schema_not_exposed`: the table is not there, or not in an exposed schema.
- `reload_not_applied`: set after verify, when a reload was sent and the cache stayed stale.
- `unknown`: the evidence needed could not be gathered; says what was and was not established.

Weigh evidence, not the error text: in public reports a stale cache was the cause in a minority
of PGRST204 cases (`reference/causes.md`).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from runbook.config import Settings
from runbook.diagnosis.column_names import ColumnMatch, nearest_columns, snake
from runbook.diagnosis.verdicts import Confidence, Verdict
from runbook.evidence import EvidenceRow
from runbook.servers.inspection import Inspection
from runbook.servers.migration_files import column_added_by

__all__ = [
    "ColumnMatch",
    "Confidence",
    "Diagnosis",
    "Verdict",
    "diagnose",
    "nearest_columns",
    "snake",
]


@dataclass(frozen=True)
class Diagnosis:
    """A verdict with its plain-language summary, evidence rows and next steps.

    `reload_helps` is True only for `stale_cache`: the shells offer the reload only then.
    """

    verdict: Verdict
    summary: str
    evidence: list[EvidenceRow] = field(default_factory=list)
    suggestions: list[str] = field(default_factory=list)
    nearest: list[ColumnMatch] = field(default_factory=list)
    reload_helps: bool = False
    established: list[str] = field(default_factory=list)
    not_established: list[str] = field(default_factory=list)
    # set by runbook.diagnosis.causes.refine; None from diagnose()
    confidence: Confidence | None = None


def _pick(insp: Inspection, *keys: str) -> list[EvidenceRow]:
    return [insp.rows[k] for k in keys if k in insp.rows]


def column_in_database(insp: Inspection) -> bool | None:
    """True/False from the catalog; else from the read probe (which PostgreSQL answers)."""
    d, probe = insp.db, insp.api.read_probe
    if d.reachable:
        if d.relation is None:
            return False
        return d.column(insp.target.column) is not None
    if probe is not None:
        if probe.ok:
            return True
        if probe.code == "42703":
            return False
    return None


def table_in_database(insp: Inspection) -> bool | None:
    """True/False from the catalog; else True when the read probe reached PostgreSQL."""
    if insp.db.reachable:
        return insp.db.relation is not None
    probe = insp.api.read_probe
    if probe is not None and (probe.ok or probe.code == "42703"):
        return True
    return None


def column_in_cache(insp: Inspection) -> tuple[bool | None, list[str]]:
    """Whether PostgREST's cache has the column, and the evidence keys that say so.

    Order of trust: the write probe (the exact check PostgREST makes), the admin
    `/schema_cache`, then OpenAPI (which may hide tables the API role cannot see).
    """
    t = insp.target
    a = insp.api
    wp = a.write_probe
    if wp is not None:
        if wp.ok:
            return True, ["probe.write"]
        if wp.code in ("PGRST204", "PGRST205"):
            return False, ["probe.write"]
    if a.read_probe is not None and a.read_probe.code == "PGRST205":
        return False, ["probe.read"]
    if a.admin is not None and a.admin.covers(t.schema):
        cols = a.admin.columns(t.schema, t.table)
        return (cols is not None and t.column in cols), ["admin.column", "admin.table"]
    if a.openapi is not None:
        cols = a.openapi.columns(t.schema, t.table)
        if cols is not None:
            return t.column in cols, ["openapi.column"]
    return None, []


def schema_exposed(insp: Inspection) -> bool | None:
    """False when PostgREST rejected the schema (PGRST106), or the admin cache knows other
    schemas but not this one; None when nothing says."""
    for probe in (insp.api.read_probe, insp.api.write_probe):
        if probe is not None and probe.code == "PGRST106":
            return False
    for err in insp.api.errors.values():
        if "PGRST106" in err.message:
            return False
    admin = insp.api.admin
    if admin is not None and admin.schemas:
        return insp.target.schema in admin.schemas
    return None


def diagnose(insp: Inspection, settings: Settings) -> Diagnosis:
    """Decide the verdict for an inspection. Pure: no I/O."""
    t = insp.target
    table_db = table_in_database(insp)
    col_db = column_in_database(insp)
    cache_col, cache_keys = column_in_cache(insp)
    exposed = schema_exposed(insp)
    migration = (
        column_added_by(insp.migrations, t.schema, t.table, t.column) if insp.migrations else None
    )
    db_keys = ("db.reachable", "db.table", "db.column", "probe.read")

    if table_db is False:
        if migration is not None:
            return _pending(insp, migration.path, migration.line)
        return _table_missing(insp, settings)
    if exposed is False and table_db:
        return Diagnosis(
            Verdict.SCHEMA_NOT_EXPOSED,
            f"Table {t.schema}.{t.table} exists, but schema {t.schema!r} is not exposed by "
            "PostgREST (db-schemas).",
            _pick(insp, *db_keys, "admin.table", "api.openapi"),
            [
                f"Add {t.schema!r} to PostgREST's db-schemas (PGRST_DB_SCHEMAS), reload the "
                "config and schema cache, and have the client send Content-Profile: "
                f"{t.schema}.",
                "A schema-cache reload alone will not expose the schema.",
            ],
        )
    if col_db is True:
        if cache_col is True:
            return Diagnosis(
                Verdict.ALREADY_RESOLVED,
                f"Column {t.column} is in the database and in PostgREST's schema cache now: "
                "writes that name it no longer fail with PGRST204.",
                _pick(insp, *db_keys, *cache_keys, "metrics.loads"),
                ["Nothing to fix. If clients still fail, check which API instance they reach."],
            )
        if cache_col is False:
            return _stale(insp, cache_keys)
        return Diagnosis(
            Verdict.UNKNOWN,
            f"Column {t.column} exists in the database, but PostgREST's cache could not be "
            "read, so a stale cache is likely but not proven.",
            _pick(insp, *db_keys, "api.api", "api.openapi", "api.read_probe", "api.admin"),
            [
                "Give the API URL (--api-url / --supabase-url) or the admin URL so the cache "
                "can be checked; a reload is harmless if you want to try it anyway.",
            ],
            established=[f"column {t.column} exists in {t.schema}.{t.table}"],
            not_established=["whether PostgREST's schema cache has the column"],
        )
    if col_db is False:
        if migration is not None:
            return _pending(insp, migration.path, migration.line)
        return _client_mismatch(insp)
    return _unknown(insp, cache_col)


def _stale(insp: Inspection, cache_keys: list[str]) -> Diagnosis:
    t = insp.target
    rows = _pick(insp, "db.table", "db.column", "probe.read", *cache_keys, "metrics.loads")
    suggestions = [
        "Reload PostgREST's schema cache (NOTIFY, SIGUSR1 or the dashboard), then verify.",
        "Prevent it: install the auto-reload event trigger (pgrst-runbook install-auto-reload) "
        "or send NOTIFY pgrst, 'reload schema' at the end of every migration.",
    ]
    plumbing = _pick(insp, "db.listener", "db.recovery", "db.auto_reload")
    for row in plumbing:
        if row.check.startswith("a session is listening") and row.fact is False:
            suggestions.insert(
                1,
                "No session is LISTENing on the channel: a NOTIFY may not reach PostgREST "
                "(transaction pooler, db-channel-enabled=false, wrong channel). Use the manual "
                "reload (SIGUSR1) if the NOTIFY does not take.",
            )
        if row.check.startswith("database is a read replica") and row.fact is True:
            suggestions.insert(1, "This is a read replica: send the NOTIFY to the primary.")
    return Diagnosis(
        Verdict.STALE_CACHE,
        f"Column {t.column} exists in {t.schema}.{t.table} in the database, but PostgREST's "
        "schema cache lacks it: the cache is stale. A reload fixes this.",
        rows + plumbing,
        suggestions,
        reload_helps=True,
    )


def _client_mismatch(insp: Inspection) -> Diagnosis:
    t = insp.target
    existing = [c.name for c in insp.db.columns]
    if not existing and insp.api.openapi is not None:
        existing = sorted(insp.api.openapi.columns(t.schema, t.table) or [])
    nearest = nearest_columns(t.column, existing)
    rows = _pick(insp, "db.table", "db.column", "probe.read", "migrations.column")
    if nearest:
        names = ", ".join(f"{m.name} ({m.reason})" for m in nearest)
        rows.append(EvidenceRow("database", f"existing columns close to {t.column}", True, names))
        fix = f"Change the client to send {nearest[0].name!r} instead of {t.column!r}"
    else:
        rows.append(EvidenceRow("database", f"existing columns close to {t.column}", False, ""))
        fix = f"Remove {t.column!r} from the client payload"
    suggestions = [
        f"{fix} (check serialized models, forms and defaults), or add the column with a "
        "migration if the client is right.",
        "A schema-cache reload will not fix this: the column is not in the database.",
    ]
    return Diagnosis(
        Verdict.CLIENT_MISMATCH,
        f"The database has no column {t.column!r} on {t.schema}.{t.table}, and no migration "
        "adds it: the client sends a key that is not a column. A reload will not fix it.",
        rows,
        suggestions,
        nearest,
    )


def _pending(insp: Inspection, path: str, line: int) -> Diagnosis:
    t = insp.target
    return Diagnosis(
        Verdict.PENDING_MIGRATION,
        f"Column {t.column} is added by a local migration ({path}:{line}) but is not in the "
        "database: the migration has not been applied there.",
        _pick(
            insp, "db.table", "db.column", "probe.read", "migrations.column", "migrations.ledger"
        ),
        [
            "Apply the migration to this database (e.g. `supabase db push` or your migration "
            "tool), then reload the schema cache and verify.",
            "A reload alone will not fix this: the column is not in the database yet.",
        ],
    )


def _table_missing(insp: Inspection, settings: Settings) -> Diagnosis:
    t = insp.target
    similar = insp.db.similar_relations
    suggestions = []
    exposed = set(insp.api.admin.schemas) if insp.api.admin else set(settings.schemas)
    verdict = Verdict.TABLE_MISSING
    for rel in similar:
        if rel.name == t.table and rel.schema not in exposed:
            verdict = Verdict.SCHEMA_NOT_EXPOSED
        suggestions.append(f"Did you mean {rel.schema}.{rel.name} ({rel.kind})?")
    near = nearest_columns(t.table, insp.db.schema_relations)
    suggestions += [f"Did you mean {t.schema}.{m.name} ({m.reason})?" for m in near]
    summary = f"There is no table {t.schema}.{t.table} in the database."
    if verdict is Verdict.SCHEMA_NOT_EXPOSED:
        summary += " A table of that name exists in a schema PostgREST does not expose."
    suggestions.append("A schema-cache reload will not fix this.")
    return Diagnosis(
        verdict, summary, _pick(insp, "db.table", "probe.read", "migrations.column"), suggestions
    )


def _unknown(insp: Inspection, cache_col: bool | None) -> Diagnosis:
    t = insp.target
    established, missing = [], []
    if cache_col is not None:
        state = "has" if cache_col else "lacks"
        established.append(f"PostgREST's schema cache {state} column {t.column}")
    else:
        missing.append("whether PostgREST's schema cache has the column")
    missing.append(f"whether column {t.column} exists in the database")
    errors = [e.one_line() for e in insp.errors()]
    return Diagnosis(
        Verdict.UNKNOWN,
        "Could not establish whether the column exists in the database"
        + (" or in PostgREST's cache" if cache_col is None else "")
        + ": "
        + ("; ".join(errors) if errors else "no usable evidence")
        + ".",
        insp.evidence,
        [
            "Fix the connection problems above and run again: a reload is only the right fix "
            "if the column exists in the database.",
        ],
        established=established,
        not_established=missing,
    )
