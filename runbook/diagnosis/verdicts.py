"""The verdict vocabulary: every verdict and confidence name, and each way they are spelled out.

The names are stable strings (the JSON output, the journal and the reports carry them); the
texts are what the report, the CLI and the TUI show. Everything that names a verdict imports it
from here, so a new verdict is added in one place.
"""

from __future__ import annotations

from enum import StrEnum


class Verdict(StrEnum):
    """Stable verdict names: the JSON output, the journal and the reports use them."""

    STALE_CACHE = "stale_cache"
    CLIENT_MISMATCH = "client_mismatch"
    PENDING_MIGRATION = "pending_migration"
    ALREADY_RESOLVED = "already_resolved"
    TABLE_MISSING = "table_missing"
    SCHEMA_NOT_EXPOSED = "schema_not_exposed"
    RELOAD_NOT_APPLIED = "reload_not_applied"
    UNKNOWN = "unknown"


class Confidence(StrEnum):
    """How far the evidence carries a verdict. Stable strings (JSON, journal)."""

    CONFIRMED = "confirmed"
    LIKELY = "likely"
    UNKNOWN = "unknown"


# Verdicts that a schema-cache reload cannot fix: the report and the history say so.
NOT_FIXED_BY_RELOAD = (
    Verdict.CLIENT_MISMATCH,
    Verdict.PENDING_MIGRATION,
    Verdict.TABLE_MISSING,
    Verdict.SCHEMA_NOT_EXPOSED,
)
# Verdicts whose fix goes through the reload path (send a reload, or repair what carries it).
RELOAD_PATH = (Verdict.STALE_CACHE, Verdict.RELOAD_NOT_APPLIED)

# The report's sentence per verdict.
VERDICT_TEXT: dict[str, str] = {
    Verdict.STALE_CACHE: "Stale schema cache: the column was in the database, "
    "PostgREST's cache lacked it",
    Verdict.CLIENT_MISMATCH: "Client/schema mismatch: the client sends a key that is not "
    "a column of the table",
    Verdict.PENDING_MIGRATION: "Migration not applied: the column is not in this database; "
    "a migration file adds it",
    Verdict.RELOAD_NOT_APPLIED: "Reload not applied: reloads were sent but PostgREST's cache "
    "stayed stale",
    Verdict.ALREADY_RESOLVED: "Already resolved: the database and the cache both have the "
    "column now",
    Verdict.TABLE_MISSING: "Table missing: the table is not in the database",
    Verdict.SCHEMA_NOT_EXPOSED: "Schema not exposed: PostgREST does not serve the table's schema",
    Verdict.UNKNOWN: "Unknown: the evidence needed could not be gathered",
}

# Why a reload would not have helped, for the verdicts a reload cannot fix.
WHY_NO_RELOAD: dict[str, str] = {
    Verdict.CLIENT_MISMATCH: "The column is not in the database, so a reloaded cache would not "
    "have it either: the client must send an existing column.",
    Verdict.PENDING_MIGRATION: "The column is not in this database yet: a reload alone cannot "
    "add it; apply the migration, then reload.",
    Verdict.RELOAD_NOT_APPLIED: "Reloads were sent but did not reach or update PostgREST: the "
    "reload path (listener, pooler, replica, event triggers) must be repaired first.",
    Verdict.TABLE_MISSING: "The table is not in the database: a reload cannot create it.",
    Verdict.SCHEMA_NOT_EXPOSED: "PostgREST does not serve the schema: a reload does not change "
    "`db-schemas`.",
}

# verdict -> word with a symbol: severity is never shown by colour alone
VERDICT_LABELS: dict[str, str] = {
    Verdict.STALE_CACHE: "⟳ stale cache",
    Verdict.CLIENT_MISMATCH: "✎ client mismatch",
    Verdict.PENDING_MIGRATION: "⧗ pending migration",
    Verdict.ALREADY_RESOLVED: "✔ resolved",
    Verdict.TABLE_MISSING: "✖ table missing",
    Verdict.SCHEMA_NOT_EXPOSED: "✖ schema not exposed",
    Verdict.RELOAD_NOT_APPLIED: "✖ reload not applied",
    Verdict.UNKNOWN: "? unknown",
}

# the same, short enough for a table column
SHORT_VERDICTS: dict[str, str] = {
    Verdict.STALE_CACHE: "⟳ stale cache",
    Verdict.CLIENT_MISMATCH: "✎ client mismatch",
    Verdict.PENDING_MIGRATION: "⧗ pending migr.",
    Verdict.ALREADY_RESOLVED: "✔ resolved",
    Verdict.TABLE_MISSING: "✖ table missing",
    Verdict.SCHEMA_NOT_EXPOSED: "✖ not exposed",
    Verdict.RELOAD_NOT_APPLIED: "✖ reload no-op",
    Verdict.UNKNOWN: "? unknown",
}

# what the logs alone say, without a symbol (the confidence mark follows it)
LOG_VERDICTS: dict[str, str] = {
    Verdict.STALE_CACHE: "stale cache",
    Verdict.CLIENT_MISMATCH: "client mismatch",
    Verdict.PENDING_MIGRATION: "pending migr.",
    Verdict.RELOAD_NOT_APPLIED: "reload not appl.",
    Verdict.ALREADY_RESOLVED: "resolved",
    Verdict.TABLE_MISSING: "table missing",
    Verdict.SCHEMA_NOT_EXPOSED: "not exposed",
    Verdict.UNKNOWN: "unknown",
}

CONFIDENCE_MARKS: dict[str, str] = {Confidence.CONFIRMED: " ✓", Confidence.LIKELY: " ?"}
CONFIDENCE_TEXT: dict[str, str] = {
    Confidence.CONFIRMED: "✓ the logs prove it",
    Confidence.LIKELY: "? the logs suggest it",
    Confidence.UNKNOWN: "? the logs do not decide it",
}
