"""Verify: backoff to a deadline, what counts as proof, and the followed-log check."""

from __future__ import annotations

from pathlib import Path

from runbook.errors import ApiUnreachable
from runbook.evidence import Target
from runbook.servers.api import CacheView, Metrics, ProbeResult
from runbook.steps.verify import LogWatch, verify_fix
from runbook.steps.write_probe import write_probe_rule

TARGET = Target("items", "note")
SENDABLE = write_probe_rule(opted_in=True, has_api=True, consented=True)


class FakeClient:
    """A PostgREST whose cache gains the column after `ready_after` polls."""

    def __init__(self, ready_after: int, *, admin: bool = True, api: bool = True, loads: float = 1):
        self.ready_after = ready_after
        self.has_admin = admin
        self.has_api = api
        self.polls = 0
        self.loads = loads
        self.probes = 0

    def _ready(self) -> bool:
        return self.polls > self.ready_after

    def admin_schema_cache(self) -> CacheView:
        self.polls += 1
        cols = {"id", "note"} if self._ready() else {"id"}
        return CacheView("admin", {("public", "items"): frozenset(cols)}, frozenset({"public"}))

    def openapi(self, schema: str) -> CacheView:
        raise ApiUnreachable("no")

    def metrics(self) -> Metrics:
        value = self.loads + (1 if self._ready() else 0)
        return Metrics({("pgrst_schema_cache_loads_total", (("status", "SUCCESS"),)): value})

    def write_probe(self, schema: str, table: str, column: str) -> ProbeResult:
        self.probes += 1
        return ProbeResult("POST", "/items?columns=note", 201, preference_applied="tx=rollback")


class Clock:
    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


def test_polls_with_growing_delays_until_the_cache_has_the_column() -> None:
    client, clock = FakeClient(ready_after=4), Clock()
    result = verify_fix(
        client, TARGET, loads_before=1, deadline=30, write_probe=SENDABLE,
        sleep=clock.sleep, clock=clock,
    )  # fmt: skip
    assert result.verified
    assert result.attempts == 5
    assert clock.sleeps == [0.1, 0.2, 0.4, 0.8]
    statuses = {c.name: c.status for c in result.checks}
    assert statuses == {
        "cache has column": "passed",
        "reload counter moved": "passed",
        "write probe": "passed",
    }


def test_gives_up_at_the_deadline_and_says_what_failed() -> None:
    client, clock = FakeClient(ready_after=10**6), Clock()
    result = verify_fix(client, TARGET, loads_before=1, deadline=5, sleep=clock.sleep, clock=clock)
    assert not result.verified
    assert clock.now <= 5.0 + 1e-9
    assert max(clock.sleeps) <= 2.0
    statuses = {c.name: c.status for c in result.checks}
    assert statuses["cache has column"] == "failed"
    assert statuses["reload counter moved"] == "failed"
    assert statuses["write probe"] == "not_checked"


def test_nothing_observable_means_not_verified_without_burning_the_deadline() -> None:
    client, clock = FakeClient(0, admin=False, api=False), Clock()
    result = verify_fix(
        client, TARGET, loads_before=None, deadline=30, sleep=clock.sleep, clock=clock
    )
    assert not result.verified and clock.sleeps == []
    assert {c.status for c in result.checks} == {"not_checked"}


def test_new_pgrst204_lines_after_the_cache_is_confirmed_fail_verification(tmp_path: Path) -> None:
    log = tmp_path / "app.log"
    log.write_text(
        "old: PGRST204 Could not find the 'note' column of 'items' in the schema cache\n"
    )
    watch = LogWatch([log])
    mark = watch.mark()
    clock = Clock()

    def sleep(seconds: float) -> None:
        clock.sleep(seconds)
        if clock.now > 1:  # the client keeps failing after the reload
            with open(log, "a") as handle:
                handle.write(
                    '{"code":"PGRST204","message":"Could not find the \'note\' column of \'items\' in the schema cache"}\n'
                )

    result = verify_fix(
        FakeClient(0), TARGET, loads_before=1, deadline=30, log_watch=watch, log_mark=mark,
        log_settle=3, sleep=sleep, clock=clock,
    )  # fmt: skip
    check = result.check("no new PGRST204 in logs")
    assert check is not None and check.status == "failed"
    assert not result.verified


def test_quiet_logs_pass_and_other_columns_do_not_count(tmp_path: Path) -> None:
    log = tmp_path / "app.log"
    log.write_text("")
    watch = LogWatch([log, tmp_path / "missing.log"])
    mark = watch.mark()
    log.write_text("PGRST204 Could not find the 'other' column of 'items' in the schema cache\n")
    clock = Clock()
    result = verify_fix(
        FakeClient(0), TARGET, loads_before=1, deadline=30, log_watch=watch, log_mark=mark,
        log_settle=1, sleep=clock.sleep, clock=clock,
    )  # fmt: skip
    check = result.check("no new PGRST204 in logs")
    assert check is not None and check.status == "passed"
    assert result.verified


def test_the_log_watch_reads_only_what_came_after_the_mark(tmp_path: Path) -> None:
    log = tmp_path / "app.log"
    old = "PGRST204 Could not find the 'note' column of 'items' in the schema cache\n"
    log.write_text(old * 3)
    watch = LogWatch([log, tmp_path / "later.log"])
    mark = watch.mark()
    assert watch.errors_since(mark, TARGET) == []
    with open(log, "a") as handle:
        handle.write('{"code":"PGRST204","message":"Could not find the \'note\' column of \'items\' in the schema cache"}\n')
        handle.write('ERROR: column "note" of relation "items" does not exist\n')  # 42703: not PGRST204
    (tmp_path / "later.log").write_text(old)  # appeared after the mark: read whole
    found = watch.errors_since(mark, TARGET)
    assert len(found) == 2 and '"code":"PGRST204"' in found[0]
    log.write_text(old)  # truncated (or rotated) since the mark: read from its start
    assert len(watch.errors_since(mark, TARGET)) == 2
