"""The verify step: prove that a reload took effect, polling with backoff until a deadline.

Checks (the signals PostgREST itself exposes after a reload):

1. `cache has column`: the admin `/schema_cache`, else OpenAPI, now lists the column
   (else, when the operator allowed it, the write probe answers 201);
2. `reload counter moved`: `pgrst_schema_cache_loads_total{status="SUCCESS"}` went up. A
   counter below the one read before the reload means PostgREST restarted (its counters start
   from zero, and a start loads the schema cache): then the cache check alone decides;
3. `write probe`: `POST /T?columns=C` with `[]` and `tx=rollback` answers 201 (only if allowed);
4. `no new PGRST204 in logs`: followed log files gained no PGRST204 line for the column after
   the cache was confirmed (`LogWatch`, only when log files are given).

`verify_fix(...)` -> `VerifyResult(verified, checks)`. Each check is "passed", "failed" or
"not_checked", with a detail saying what was seen or why it could not be checked.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

import polars as pl

from runbook.errors import RunbookError
from runbook.events import Kind
from runbook.evidence import EvidenceRow, Target
from runbook.ingest.follow import Follower, TailPosition
from runbook.servers.api import PostgrestClient
from runbook.steps.write_probe import NOT_OPTED_IN, WriteProbeRule

PASSED, FAILED, NOT_CHECKED = "passed", "failed", "not_checked"
_FIRST_DELAY = 0.1
_MAX_DELAY = 2.0
_MAX_LOG_BYTES = 64 * 1024 * 1024


@dataclass(frozen=True)
class Check:
    """One verification check and its outcome."""

    name: str
    status: str  # PASSED | FAILED | NOT_CHECKED
    detail: str = ""

    def as_row(self) -> EvidenceRow:
        fact = {PASSED: True, FAILED: False}.get(self.status)
        return EvidenceRow("verify", self.name, fact, self.detail)


@dataclass(frozen=True)
class VerifyResult:
    """`verified` is True when the cache has the column and no check failed."""

    verified: bool
    checks: list[Check] = field(default_factory=list)
    attempts: int = 0
    elapsed: float = 0.0

    @property
    def evidence(self) -> list[EvidenceRow]:
        return [c.as_row() for c in self.checks]

    def check(self, name: str) -> Check | None:
        return next((c for c in self.checks if c.name == name), None)


LogMark = dict[Path, TailPosition]  # where each followed file ended when the mark was taken


class LogWatch:
    """Log files followed during verification: remembers where each ended, reads what is new.

    What is new is read by the ingestion engine (`runbook.ingest.follow.Follower`, resumed at
    the mark), so a failure for the target is what the parsers call a PGRST204 event for its
    column, in any format they know.
    """

    def __init__(self, paths: Iterable[Path]):
        self.paths = [Path(p) for p in paths]

    def mark(self) -> LogMark:
        """Where each file ends now (a file that does not exist yet is read from its start)."""
        out = {}
        for path in self.paths:
            try:
                st = path.stat()
            except OSError:
                continue
            out[path] = TailPosition(st.st_dev, st.st_ino, st.st_size, 0)
        return out

    def errors_since(self, mark: LogMark, target: Target) -> list[str]:
        """PGRST204 lines about `target.column` appended after `mark` (redacted). A file
        truncated or replaced since is read from its start."""
        found: list[str] = []
        for path in self.paths:
            at = mark.get(path)
            follower = Follower([str(path)], resume={str(path): at} if at is not None else None)
            limit = _MAX_LOG_BYTES + (at.offset if at is not None else 0)  # bytes_done counts from 0
            try:
                while not follower.finished and follower.bytes_done < limit:
                    events = follower.read().events
                    failures = events.filter(
                        (pl.col("kind") == Kind.SCHEMA_CACHE_ERROR)
                        & (pl.col("code") == "PGRST204")
                        & (pl.col("column") == target.column)
                    )
                    found += [(text or "").strip()[:300] for text in failures["raw"].to_list()]
            finally:
                follower.close()
        return found


def cache_has_column(client: PostgrestClient, target: Target) -> tuple[bool | None, str]:
    """Whether the cache lists the column now (admin first, then OpenAPI), and how we know."""
    errors = []
    if client.has_admin:
        try:
            view = client.admin_schema_cache()
            cols = view.columns(target.schema, target.table)
            return (cols is not None and target.column in cols), "admin /schema_cache"
        except RunbookError as exc:
            errors.append(exc.one_line())
    if client.has_api:
        try:
            view = client.openapi(target.schema)
            cols = view.columns(target.schema, target.table)
            if cols is not None:
                return target.column in cols, "OpenAPI"
            errors.append("OpenAPI does not list the table (privileges of the API role?)")
        except RunbookError as exc:
            errors.append(exc.one_line())
    return None, "; ".join(errors) or "no API or admin URL configured"


def current_loads(client: PostgrestClient) -> float | None:
    """The SUCCESS schema-cache load counter, or None when it cannot be read."""
    if not client.has_admin:
        return None
    try:
        return client.metrics().schema_cache_loads()
    except RunbookError:
        return None


def verify_fix(
    client: PostgrestClient,
    target: Target,
    *,
    loads_before: float | None,
    deadline: float,
    write_probe: WriteProbeRule | None = None,
    log_watch: LogWatch | None = None,
    log_mark: LogMark | None = None,
    log_settle: float = 5.0,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
    restart_seen: Callable[[], bool] | None = None,
    cancelled: Callable[[], bool] = lambda: False,
) -> VerifyResult:
    """Poll until the cache has the column (and the counter moved, when it can be read) or
    `deadline` seconds pass; then run the write probe (if allowed) and the log check.

    `loads_before` is the counter read just before the reload (None if unknown).
    `log_mark` is `log_watch.mark()` taken at reload time; after the cache is confirmed the
    followed logs are watched for `log_settle` more seconds (within the deadline).
    `restart_seen()` says whether PostgREST was restarted since the reload (its sessions in
    the database are all newer); asked when the cache has the column but the counter did not
    move, since a restarted process may have counted exactly as many loads as the old one.
    `cancelled()` true stops the polling at the next check (`sleep` should return early then):
    the result says what was seen so far.
    """
    start = clock()
    end = start + deadline
    delay = _FIRST_DELAY
    attempts = 0
    in_cache: bool | None = None
    how = ""
    loads: float | None = None
    restart: str | None = None
    probe_in_loop = False
    rule = write_probe or WriteProbeRule(False, False, NOT_OPTED_IN)
    while True:
        attempts += 1
        in_cache, how = cache_has_column(client, target)
        if in_cache is None and rule.may_send:
            probe_in_loop = True
            try:
                result = client.write_probe(target.schema, target.table, target.column)
                in_cache, how = result.ok, f"write probe {result.describe()}"
            except RunbookError as exc:
                how = exc.one_line()
        loads = current_loads(client)
        moved = loads is not None and loads_before is not None and loads > loads_before
        counter_known = loads is not None and loads_before is not None
        if counter_known and restarted(loads_before, loads):
            restart = "the load counter went down"
        elif counter_known and in_cache and not moved and restart_seen and restart_seen():
            restart = "its database sessions all started after the reload"
        if restart:
            counter_known = False  # a new process: its counter says nothing about the reload
        if in_cache and (moved or not counter_known):
            break
        if in_cache is None and not counter_known:
            break  # nothing can be observed: polling would only burn the deadline
        if in_cache is None and moved:
            break
        remaining = end - clock()
        if remaining <= 0 or cancelled():
            break
        sleep(min(delay, remaining))
        delay = min(delay * 2, _MAX_DELAY)
        if cancelled():
            break
    confirmed_mark = log_watch.mark() if log_watch else None
    if log_watch is not None and in_cache and not cancelled():
        sleep(max(0.0, min(log_settle, end - clock())))
    elapsed = clock() - start

    checks = [_cache_check(in_cache, how, target)]
    checks.append(_counter_check(loads_before, loads, restart))
    checks.append(_write_probe_check(client, target, rule, probe_in_loop, in_cache, how))
    if log_watch is not None:
        checks.append(_log_check(log_watch, log_mark or {}, confirmed_mark or {}, target))
    verified = in_cache is True and not any(c.status == FAILED for c in checks)
    return VerifyResult(verified, checks, attempts, round(elapsed, 3))


def _cache_check(in_cache: bool | None, how: str, target: Target) -> Check:
    name = "cache has column"
    if in_cache is True:
        return Check(name, PASSED, f"{target.column} listed by {how}")
    if in_cache is False:
        return Check(name, FAILED, f"{target.column} still absent from {how}")
    return Check(name, NOT_CHECKED, how)


def restarted(before: float | None, after: float | None) -> bool:
    """Whether the SUCCESS load counter went down: only a new PostgREST process does that."""
    return before is not None and after is not None and after < before


def _counter_check(before: float | None, after: float | None, restart: str | None = None) -> Check:
    name = "reload counter moved"
    if before is None or after is None:
        return Check(name, NOT_CHECKED, "pgrst_schema_cache_loads_total not readable (admin URL?)")
    if restart or restarted(before, after):
        return Check(
            name,
            NOT_CHECKED,
            f"SUCCESS loads {before:g} -> {after:g}: PostgREST restarted since "
            f"({restart or 'the load counter went down'}; a start loads the schema cache); "
            "the cache check decides",
        )
    if after > before:
        return Check(name, PASSED, f"SUCCESS loads {before:g} -> {after:g}")
    return Check(name, FAILED, f"SUCCESS loads stayed at {after:g}: no reload happened")


def _write_probe_check(
    client: PostgrestClient,
    target: Target,
    rule: WriteProbeRule,
    ran_in_loop: bool,
    in_cache: bool | None,
    how: str,
) -> Check:
    name = "write probe"
    if not rule.may_send:
        return Check(name, NOT_CHECKED, rule.reason)
    if ran_in_loop:
        return Check(name, PASSED if in_cache else FAILED, how)
    try:
        result = client.write_probe(target.schema, target.table, target.column)
    except RunbookError as exc:
        return Check(name, NOT_CHECKED, exc.one_line())
    rollback = "rolled back" if result.rolled_back else "rollback not confirmed, 0 rows"
    if result.ok:
        return Check(name, PASSED, f"{result.action} -> {result.describe()} ({rollback})")
    return Check(name, FAILED, f"{result.action} -> {result.describe()}")


def _log_check(
    watch: LogWatch, reload_mark: LogMark, confirmed_mark: LogMark, target: Target
) -> Check:
    name = "no new PGRST204 in logs"
    before_confirm = len(watch.errors_since(reload_mark, target)) - len(
        watch.errors_since(confirmed_mark, target)
    )
    after_confirm = watch.errors_since(confirmed_mark, target)
    files = len(watch.paths)
    if after_confirm:
        return Check(
            name,
            FAILED,
            f"{len(after_confirm)} new after the cache was confirmed: {after_confirm[0]}",
        )
    note = f" ({before_confirm} while the reload was in flight)" if before_confirm > 0 else ""
    return Check(name, PASSED, f"none in {files} followed file(s) since the reload{note}")
