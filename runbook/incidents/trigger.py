"""Which migration set an incident off: the one the TUI and the report both name.

An incident's context (`grouping._context`) holds `migration_before` (the table's latest DDL
at or before the first failure) and `migrations` (the table's DDL around the window). A
migration file often changes several columns in one go (`ADD COLUMN a; ADD COLUMN b;`), so
the latest statement is not always the one that matters: the one that adds the failing
column is. `trigger_migration` picks that one when the logs hold it, else the latest.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from runbook.timestamps import parse_ts


def trigger_migration(
    context: dict[str, Any], column: str, first: datetime | None
) -> tuple[dict[str, Any] | None, bool]:
    """The migration before `first` (the first failure) that adds `column` (the latest such),
    else `context["migration_before"]`; and whether it adds the column.

    Event refs in, the chosen ref out (None when the logs hold no migration of the table)."""
    candidates = [*(context.get("migrations") or []), context.get("migration_before")]
    before = [
        (when, m)
        for m in candidates
        if isinstance(m, dict)
        and (when := parse_ts(m.get("ts"))) is not None
        and (first is None or when <= first)
    ]
    adding = [
        (when, m)
        for when, m in before
        if str(m.get("column") or "").lower() == column.lower()
        and "ADD" in str(m.get("detail") or "").upper()
    ]
    if adding:
        return max(adding, key=lambda pair: pair[0])[1], True
    return context.get("migration_before"), False
