"""The admin /metrics poll: a rise of pgrst_schema_cache_loads_total is a (failed) load."""

from __future__ import annotations

import signal
import subprocess
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from runbook.servers.api import parse_metrics
from runbook.watch.admin import AdminPoller
from tests.watch.conftest import DEADLINE, Receiver, start, wait_for


class FakeAdmin:
    """A loopback admin server whose /metrics counters the test moves."""

    def __init__(self) -> None:
        self.success, self.fail = 1, 0
        self.polls = 0
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                owner.polls += 1
                body = (
                    "# HELP pgrst_schema_cache_loads_total The total number of times the schema cache was loaded\n"
                    "# TYPE pgrst_schema_cache_loads_total counter\n"
                    f'pgrst_schema_cache_loads_total{{status="FAIL"}} {owner.fail:.1f}\n'
                    f'pgrst_schema_cache_loads_total{{status="SUCCESS"}} {owner.success:.1f}\n'
                ).encode()
                self.send_response(200 if self.path == "/metrics" else 404)
                self.send_header("Content-Type", "text/plain; charset=utf-8")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"


@pytest.fixture
def admin() -> Iterator[FakeAdmin]:
    fake = FakeAdmin()
    yield fake
    fake.server.shutdown()
    fake.server.server_close()


def test_rises_after_the_baseline_are_loads_and_a_restart_counts_its_own() -> None:
    values = iter([(1, 0), (1, 0), (3, 0), (3, 2), (1, 0)])
    clock = iter(range(100, 200))

    def fetch():
        s, f = next(values)
        return parse_metrics(
            f'pgrst_schema_cache_loads_total{{status="SUCCESS"}} {s}.0\n'
            f'pgrst_schema_cache_loads_total{{status="FAIL"}} {f}.0\n'
        )

    poller = AdminPoller(fetch, wall=lambda: float(next(clock)))
    for _ in range(2):
        poller.poll()
    assert poller.observations() == []  # baseline, then unchanged
    poller.poll()
    poller.poll()
    poller.poll()  # lower: PostgREST restarted and loaded once
    seen = [(o.status, o.added) for o in poller.observations()]
    assert seen == [("SUCCESS", 2), ("FAIL", 2), ("SUCCESS", 1)]


def test_a_poll_that_fails_is_reported_and_keeps_the_baseline() -> None:
    def fetch():
        raise ConnectionError("connection refused")

    poller = AdminPoller(fetch)
    poller.poll()
    assert poller.error is not None and "connection refused" in poller.error
    assert poller.observations() == []


def _stop(proc: subprocess.Popen) -> None:
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=DEADLINE) == 0


def test_the_counter_confirms_a_reload_and_shows_a_failed_load(tmp_path: Path, receiver: Receiver, admin: FakeAdmin) -> None:
    log = tmp_path / "postgrest.log"
    now = datetime.now(UTC).strftime("%d/%b/%Y:%H:%M:%S +0000")
    log.write_text(f'{now}: Received a schema cache reload message on the "pgrst" channel\n')
    proc = start("watch", str(log), "--state", str(tmp_path / "state"), "--admin-url", admin.url,
                 "--admin-poll", "200ms", "--reload-deadline", "2s", "--notify", receiver.url + "/hook",
                 log=tmp_path / "watch.out")  # fmt: skip
    try:
        def told(name: str) -> list[dict]:
            return [a for r in receiver.delivered() for a in r.json()["alerts"] if a["labels"]["alertname"] == name]

        wait_for(lambda: told("ReloadNotApplied"), what="reload_not_applied (the counter did not move)")
        admin.fail += 1
        wait_for(lambda: told("SchemaCacheLoadFailed"), what="the failed load")
        assert "admin /metrics" in told("SchemaCacheLoadFailed")[0]["annotations"]["summary"]
        admin.success += 1
        wait_for(lambda: [a["status"] for a in told("ReloadNotApplied")] == ["firing", "resolved"], what="reload resolved")
        wait_for(lambda: [a["status"] for a in told("SchemaCacheLoadFailed")] == ["firing", "resolved"], what="failed load resolved")
    finally:
        _stop(proc)
