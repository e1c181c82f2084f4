"""What `run` takes from logs: `--logs PATH...` (scanned here) or `--from-scan FILE`.

`LogContext.load(args)` reads them once; `for_target(target)` gives the incident that matches
a (schema, table, column) and its logs-only diagnosis (`runbook.diagnosis.from_logs`), which the
session weighs with the database and API (or alone, when those cannot be reached).
`render_*` print the deeper parts of a run for people: confidence, the logs' verdict, the share
of writes that failed while the incident lasted, earlier incidents, the table's full column list.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

import polars as pl

from runbook.commands.common import scan_options
from runbook.diagnosis.fix_plans import column_list_text
from runbook.diagnosis.from_logs import LogDiagnosis
from runbook.diagnosis.logs_verdict import LogInputs, verdict_from_logs
from runbook.diagnosis.payloads import payload_sightings
from runbook.errors import UsageError
from runbook.evidence import Target
from runbook.incidents.writes import describe as describe_writes
from runbook.ingest.scan import UnknownFormat, document, scan_paths
from runbook.ingest.sources import expand
from runbook.steps.session import RunbookSession
from runbook.terminal import printable


@dataclass
class LogContext:
    """The scanned incidents and, with `--logs`, the event table and the files read."""

    doc: dict[str, Any] | None = None
    events: pl.DataFrame | None = None
    files: list[Path] = field(default_factory=list)

    @classmethod
    def load(cls, args: argparse.Namespace) -> LogContext:
        ctx = cls()
        logs = list(getattr(args, "logs", None) or [])
        if logs:
            try:
                result = scan_paths(logs, scan_options(args))
            except UnknownFormat as exc:
                raise UsageError(str(exc)) from None
            ctx.doc = document(result)
            ctx.events = result.events
            tell_unread(ctx.doc["stats"])
            sources, _ = expand(logs)
            ctx.files = [Path(s.name) for s in sources if not s.is_stdin]
        elif getattr(args, "from_scan", None):
            try:
                doc = json.loads(Path(args.from_scan).read_text(encoding="utf-8"))
            except (OSError, UnicodeDecodeError, json.JSONDecodeError):
                return ctx  # targets_from_scan reports it
            ctx.doc = doc if isinstance(doc, dict) else None
        return ctx

    def incidents(self) -> list[dict[str, Any]]:
        return [i for i in (self.doc or {}).get("incidents") or [] if isinstance(i, dict)]

    def targets(self) -> list[Target]:
        """Every incident of the scanned logs that names a table and a column."""
        out = [
            Target(str(i["table"]), str(i["column"]), str(i.get("schema") or "public"))
            for i in self.incidents()
            if i.get("table") and i.get("column")
        ]
        if not out:
            raise UsageError(
                "the logs given hold no PGRST204 incident naming a table and a column",
                next_step="pass --table T --column C as well",
            )
        return out

    def for_target(self, target: Target) -> tuple[dict[str, Any] | None, LogDiagnosis | None]:
        """The matching incident (same table and column; schema when the logs name one)."""
        for inc in self.incidents():
            if inc.get("table") != target.table or inc.get("column") != target.column:
                continue
            if inc.get("schema") not in (None, target.schema):
                continue
            found = verdict_from_logs(inc, LogInputs.of(self.doc, self.events))
            sightings = payload_sightings(inc.get("sources") or [], target.column)
            return {**inc, "payloads": [s.describe() for s in sightings]}, found
        return None, None


def tell_unread(stats: dict[str, Any]) -> None:
    """Say on stderr which logs could not be read, or only in part: the diagnosis from the
    logs rests on what was read, never on an all-clear of the rest."""
    for problem in stats.get("unreadable") or ():
        print(f"pgrst-runbook: cannot read {problem['source']}: {problem['reason']}", file=sys.stderr)
    for problem in stats.get("partial") or ():
        print(f"pgrst-runbook: {problem['source']}: {problem['reason']}", file=sys.stderr)


def render_deeper(session: RunbookSession, out: TextIO) -> None:
    """Confidence, the logs' own verdict, and earlier incidents, after the diagnosis."""
    if session.confidence:
        out.write(f"Confidence: {session.confidence}\n")
    logs = session.log_diagnosis
    if logs is not None:
        out.write(f"From the logs alone: {logs.verdict} ({logs.confidence})\n")
        for row in logs.evidence[:6]:
            where = f" [{printable(row.where)}]" if row.where else ""
            out.write(f"  - {printable(row.check)}{where}: {printable(row.detail)}\n")
    writes = describe_writes(session.target.table, ((session.incident or {}).get("context") or {}).get("writes"))
    if writes:
        out.write(f"Writes while it lasted: {printable(writes)}\n")
    if session.recurrence:
        out.write("Earlier incidents on this table:\n")
        for past in session.recurrence[:5]:
            out.write(f"  - {printable(past.describe())}\n")
    if session.recurrence_note:
        out.write(f"  {printable(session.recurrence_note)}\n")
    if session.same_incident:
        n = len(session.same_incident)
        out.write(
            f"Earlier runs on this same incident (its window overlaps; not a recurrence): {n}, "
            f"latest session {printable(session.same_incident[-1].session)}\n"
        )


def columns_of(session: RunbookSession) -> list[dict[str, str]]:
    """The table's columns in the database (exact case, type), else the cache's names."""
    insp = session.inspection
    if insp is None:
        return []
    if insp.db.columns:
        return [{"name": c.name, "type": c.type} for c in insp.db.columns]
    t = session.target
    for view in (insp.api.admin, insp.api.openapi):
        cols = view.columns(t.schema, t.table) if view is not None else None
        if cols:
            return [{"name": c, "type": "?"} for c in sorted(cols)]
    return []


def render_columns(session: RunbookSession, out: TextIO) -> None:
    cols = columns_of(session)
    t = session.target
    if not cols:
        out.write(f"Columns of {printable(t.schema)}.{printable(t.table)}: not available\n")
        return
    out.write(f"Columns of {printable(t.schema)}.{printable(t.table)}:\n")
    text = column_list_text([(c["name"], c["type"]) for c in cols])
    out.write("".join(f"  {printable(line)}\n" for line in text.splitlines()))
