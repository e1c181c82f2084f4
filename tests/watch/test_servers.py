"""A new incident is inspected (database and API, read-only) off the loop, and the alert
carries the servers' verdict; servers that are down leave the logs' verdict and say so."""

from __future__ import annotations

import socket
import threading
from pathlib import Path

from runbook.config import Settings
from runbook.diagnosis.from_logs import LogDiagnosis
from runbook.evidence import Target
from runbook.watch.servers import ServerCheck, ServerVerdict
from tests.runbook.conftest import execute, post_json
from tests.watch.conftest import Receiver, cli, pgrst204_line, wait_for


def _alerts(receiver: Receiver) -> list[dict]:
    return [a for r in receiver.delivered() for a in r.json()["alerts"]]


def test_a_slow_inspection_never_blocks_and_its_answer_is_collected_later() -> None:
    release = threading.Event()

    def slow(target: Target, settings: Settings, logs: LogDiagnosis | None) -> ServerVerdict:
        release.wait(30)
        return ServerVerdict("stale_cache", "confirmed", f"{target} is stale")

    check = ServerCheck(Settings(dsn="postgresql://u:s3cretpw@db/app"), slow)
    try:
        assert check.submit("k", Target("items", "note"), None)
        assert not check.submit("k", Target("items", "note"), None)  # one at a time per incident
        assert check.done() == [] and check.pending() == 1  # returns at once
        release.set()
        answers: list = []
        wait_for(lambda: answers.extend(check.done()) or answers, what="the answer")
        assert answers[0][1].verdict == "stale_cache"
    finally:
        check.close()


def test_errors_from_the_inspection_never_carry_the_password() -> None:
    def failing(target: Target, settings: Settings, logs: LogDiagnosis | None) -> ServerVerdict:
        raise RuntimeError(f"connection to {settings.dsn} failed (password s3cretpw)")

    check = ServerCheck(Settings(dsn="postgresql://u:s3cretpw@db/app"), failing)
    try:
        check.submit("k", Target("items", "note"), None)
        answers: list = []
        wait_for(lambda: answers.extend(check.done()) or answers, what="the answer")
        verdict = answers[0][1]
        assert verdict.verdict is None and verdict.not_checked
        assert "s3cretpw" not in " ".join(verdict.not_checked)
    finally:
        check.close()


def test_the_alert_carries_the_database_and_api_verdict(
    tmp_path: Path, receiver: Receiver, db_dsn: str, postgrest
) -> None:
    execute(db_dsn, "CREATE TABLE items (id serial PRIMARY KEY, name text)")
    server = postgrest(db_dsn)
    server.wait_for_load_count(1)
    execute(db_dsn, "ALTER TABLE items ADD COLUMN note text")
    assert post_json(server.url, "items", {"name": "a", "note": "x"}).json()["code"] == "PGRST204"
    log = tmp_path / "app.log"
    log.write_text(pgrst204_line("items", "note", 1))

    done = cli("watch", str(log), "--once", "--state", str(tmp_path / "state"),
               "--dsn", db_dsn, "--api-url", server.url, "--admin-url", server.admin_url,
               "--notify", receiver.url + "/hook")  # fmt: skip

    assert done.returncode == 0, done.stderr
    alerts = _alerts(receiver)
    assert alerts[0]["annotations"]["checked_by"] == "logs"  # paged at once, from the logs
    last = alerts[-1]
    assert last["labels"]["verdict"] == "stale_cache"
    assert last["annotations"]["checked_by"] == "servers"
    assert "not_checked" not in last["annotations"]
    password = db_dsn.split("@")[0].rpartition(":")[2]
    body = b" ".join(r.body for r in receiver.delivered())
    if len(password) >= 3 and "/" not in password:
        assert password.encode() not in body


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_servers_down_keep_the_logs_verdict_and_say_what_was_not_checked(
    tmp_path: Path, receiver: Receiver
) -> None:
    port = _closed_port()
    log = tmp_path / "app.log"
    log.write_text(pgrst204_line("items", "note", 1))

    done = cli("watch", str(log), "--once", "--state", str(tmp_path / "state"),
               "--dsn", f"postgresql://app:hunter2pw@127.0.0.1:{port}/app",
               "--api-url", f"http://127.0.0.1:{port}", "--timeout", "2",
               "--notify", receiver.url + "/hook")  # fmt: skip

    assert done.returncode == 0, done.stderr
    alerts = _alerts(receiver)
    assert len(alerts) == 2
    first, last = alerts
    assert last["labels"]["verdict"] == first["labels"]["verdict"]  # the logs' verdict stands
    assert last["annotations"]["checked_by"] == "logs"
    assert last["annotations"]["not_checked"]
    assert "could not be checked" in last["annotations"]["description"]
    assert b"hunter2pw" not in b" ".join(r.body for r in receiver.delivered())
    assert "hunter2pw" not in done.stderr
