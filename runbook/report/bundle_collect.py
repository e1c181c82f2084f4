"""Gathering the parts of a support bundle (`runbook.report.bundle`), each on its own.

Every function adds what it could to the `Bundle` and writes a note for what it could not:
an unreachable database or API never stops the bundle, it is one more fact for support.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import httpx
import polars as pl

from runbook.config import Settings
from runbook.diagnosis.logs_verdict import LogInputs, verdict_from_logs
from runbook.errors import RunbookError
from runbook.events import Kind
from runbook.ingest.excerpts import excerpt, incident_lines
from runbook.report.bundle import Bundle
from runbook.servers import db
from runbook.servers.plumbing import check_plumbing
from runbook.steps.history import earlier_incidents
from runbook.steps.journal import Journal

PG_ENV = ("PGHOST", "PGPORT", "PGDATABASE", "PGUSER", "PGSERVICE")


def database_given(settings: Settings) -> bool:
    """A DSN, or libpq variables that say where to connect."""
    return bool(settings.dsn) or any(os.environ.get(v) for v in PG_ENV)


def add_scan(bundle: Bundle, doc: dict[str, Any] | None, origin: str) -> None:
    if doc is None:
        bundle.note("no scan: pass --from-scan FILE or --logs PATH")
        return
    bundle.add_json("scan.json", doc, f"scan --format json ({origin})")


def add_diagnoses(bundle: Bundle, doc: dict[str, Any], events: pl.DataFrame | None) -> None:
    """The logs-only verdict per incident, with its confidence and cited lines."""
    inputs = LogInputs.of(doc, events)
    out = []
    for inc in doc.get("incidents") or []:
        try:
            found = verdict_from_logs(inc, inputs)
        except (KeyError, TypeError, ValueError) as exc:
            bundle.note(f"diagnosis of incident {inc.get('id')}: {exc}")
            continue
        out.append(
            {
                "incident": inc.get("id"),
                "table": inc.get("table"),
                "column": inc.get("column"),
                **found.as_dict(),
            }
        )
    if out:
        bundle.add_json("diagnosis.json", out, "logs-only verdict per incident, with confidence")


def add_excerpts(bundle: Bundle, doc: dict[str, Any]) -> None:
    for inc in doc.get("incidents") or []:
        text, missing = excerpt(incident_lines(inc))
        name = str(inc.get("id") or f"{inc.get('table')}-{inc.get('column')}")
        safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in name)
        if text:
            bundle.add_text(
                f"excerpts/{safe}.txt",
                text,
                f"log lines around {inc.get('table')}.{inc.get('column')} (errors, DDL, reloads)",
            )
        for source in missing:
            bundle.note(f"excerpt: {source} is not readable from here")


def add_journal(bundle: Bundle, session: str, journal_dir: Path | None) -> None:
    journal = Journal.open(session, journal_dir)  # JournalError when absent: the caller says so
    lines = journal.path.read_text(encoding="utf-8", errors="replace").splitlines()
    bundle.add_json_lines(
        f"journal/{journal.session}.jsonl", [x for x in lines if x.strip()], "runbook journal"
    )


def add_history(bundle: Bundle, doc: dict[str, Any] | None, journal_dir: Path | None) -> None:
    seen: set[tuple[str, str, str]] = set()
    out = []
    for inc in (doc or {}).get("incidents") or []:
        key = (str(inc.get("schema") or "public"), str(inc.get("table")), str(inc.get("column")))
        if key in seen:
            continue
        seen.add(key)
        past = earlier_incidents(*key, journal_dir=journal_dir)
        if past:
            out.append(
                {
                    "schema": key[0],
                    "table": key[1],
                    "column": key[2],
                    "earlier": [p.as_dict() for p in past],
                }
            )
    if out:
        bundle.add_json("history.json", out, "earlier runbook sessions on the same tables")


def add_database(bundle: Bundle, settings: Settings, versions: dict[str, Any]) -> None:
    """PostgreSQL's version and the plumbing checks, in one read-only transaction."""
    if not database_given(settings):
        bundle.note("database: not given (--dsn / DATABASE_URL / PG* variables)")
        return
    target = str(db.db_target(settings.dsn))
    versions["database"] = target
    try:
        with db.read_only(settings) as conn:
            row = conn.execute("SELECT version(), current_setting('server_version_num')").fetchone()
            if row:
                versions["postgresql"] = row[0]
                versions["postgresql_num"] = row[1]
            report = check_plumbing(conn, channel=settings.channel, dsn=settings.dsn)
    except RunbookError as exc:
        bundle.note(f"database: {exc.one_line()}")
        return
    bundle.add_json(
        "plumbing.json",
        {"database": target, **report.as_dict()},
        "reload plumbing: listeners, replica, queue, pooler, event triggers",
    )


def add_api_version(bundle: Bundle, settings: Settings, versions: dict[str, Any]) -> None:
    """PostgREST's version from the `Server` header or OpenAPI `info.version` of `GET /`."""
    if not settings.api_url:
        bundle.note("API: not given (--api-url / --supabase-url)")
        return
    headers = {"User-Agent": "pgrst-runbook"}
    if settings.api_key:
        headers["apikey"] = settings.api_key
        headers["Authorization"] = f"Bearer {settings.api_key}"
    try:
        response = httpx.get(
            settings.api_url + "/",
            headers=headers,
            timeout=settings.http_timeout,
            follow_redirects=False,
        )
    except httpx.HTTPError as exc:
        bundle.note(f"API: {settings.api_url} did not answer GET / ({type(exc).__name__})")
        return
    versions["api_url"] = settings.api_url
    server = response.headers.get("server")
    if server:
        versions["postgrest_server_header"] = server
    try:
        info = response.json().get("info") or {}
    except (json.JSONDecodeError, AttributeError, ValueError):
        info = {}
    if isinstance(info, dict) and info.get("version"):
        versions["postgrest_openapi_version"] = str(info["version"])
    if not server and not versions.get("postgrest_openapi_version"):
        bundle.note(f"API: GET / answered {response.status_code} without a version")


def log_versions(events: pl.DataFrame | None) -> list[dict[str, Any]]:
    """PostgREST versions its startup lines name (`Starting PostgREST 16.2...`)."""
    if events is None or events.height == 0:
        return []
    starts = events.filter(
        (pl.col("kind") == Kind.STARTUP.value) & pl.col("detail").str.contains("version=")
    )
    out = []
    for row in starts.iter_rows(named=True):
        version = row["detail"].split("version=", 1)[1].split()[0]
        out.append(
            {"postgrest": version, "ts": row["ts"], "where": f"{row['source']}:{row['line_no']}"}
        )
    return out
