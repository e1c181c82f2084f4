"""`watch` as a running process: a file appended while it runs, SIGTERM, kill -9 and restart."""

from __future__ import annotations

import json
import signal
import subprocess
from pathlib import Path

import httpx

from tests.support.pg import free_port
from tests.watch.conftest import DEADLINE, Receiver, append, cli, pgrst204_line, start, wait_for
from tests.watch.test_once import pgrst204_counts

HEADER = "2026-11-18 09:10:00,000 INFO app: started\n"


def lines(first: int, n: int) -> str:
    return "".join(pgrst204_line("mypoolr", "adminname", i) for i in range(first, first + n))


def stop(proc: subprocess.Popen) -> int:
    proc.send_signal(signal.SIGTERM)
    return proc.wait(timeout=DEADLINE)


def test_appended_file_pages_once_then_resolves(tmp_path: Path, receiver: Receiver) -> None:
    log = tmp_path / "app.log"
    log.write_text(HEADER)
    port = free_port()
    proc = start(
        "watch", str(log), "--notify", receiver.url + "/hook", "--state", str(tmp_path / "state"),
        "--resolve-after", "3s", "--poll-interval", "100ms", "--metrics", f"127.0.0.1:{port}",
        log=tmp_path / "watch.out",
    )
    try:
        def exposition() -> str:
            try:
                return httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=5).text
            except httpx.HTTPError:
                return ""

        def scraped() -> dict[tuple[str, str], int]:
            return pgrst204_counts(exposition())

        wait_for(lambda: "pgrst_runbook_build_info" in exposition(), what="the metrics endpoint")
        append(log, lines(0, 3))
        wait_for(lambda: receiver.delivered(), what="the page")
        append(log, lines(3, 2))
        wait_for(lambda: scraped().get(("mypoolr", "adminname")) == 5, what="5 counted")
        wait_for(lambda: len(receiver.delivered()) >= 2, what="the resolve")
        bodies = [r.json() for r in receiver.delivered()]
        assert [b["status"] for b in bodies] == ["firing", "resolved"]
        assert bodies[0]["alerts"][0]["fingerprint"] == bodies[1]["alerts"][0]["fingerprint"]
        assert bodies[1]["alerts"][0]["endsAt"] != "0001-01-01T00:00:00Z"
    finally:
        rc = stop(proc)
    assert rc == 0, (tmp_path / "watch.out").read_text()
    assert len(receiver.delivered()) == 2


def test_kill9_then_restart_does_not_page_again(tmp_path: Path, receiver: Receiver) -> None:
    log = tmp_path / "app.log"
    log.write_text(HEADER)
    state = tmp_path / "state"
    args = ("watch", str(log), "--notify", receiver.url + "/hook", "--state", str(state), "--poll-interval", "100ms")
    proc = start(*args, log=tmp_path / "watch.out")
    try:
        append(log, lines(0, 3))
        wait_for(lambda: receiver.delivered(), what="the page")

        def checkpointed() -> bool:
            try:
                data = json.loads((state / "state.json").read_text())
            except (OSError, ValueError):
                return False
            sent = list((state / "sent").glob("*.log"))
            return data["counts"].get("mypoolr\x1fadminname") == 3 and bool(sent) and bool(sent[0].read_text())

        wait_for(checkpointed, what="the checkpoint")
    finally:
        proc.kill()
        proc.wait(timeout=DEADLINE)
    append(log, lines(3, 2))
    prom = tmp_path / "watch.prom"
    again = cli(*args, "--once", "--metrics-file", str(prom))
    assert again.returncode == 0, again.stderr
    assert len(receiver.delivered()) == 1, "one incident, one page, also across kill -9"
    assert pgrst204_counts(prom.read_text()) == {("mypoolr", "adminname"): 5}
    state_doc = json.loads((state / "state.json").read_text())
    assert state_doc["inputs"][str(log)]["offset"] == log.stat().st_size


def test_rotated_file_is_finished_then_the_new_one_read(tmp_path: Path, receiver: Receiver) -> None:
    log = tmp_path / "app.log"
    log.write_text(HEADER)
    port = free_port()
    proc = start(
        "watch", str(log), "--state", str(tmp_path / "state"), "--poll-interval", "100ms",
        "--metrics", f"127.0.0.1:{port}", log=tmp_path / "watch.out",
    )

    def counted() -> int:
        try:
            text = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=5).text
        except httpx.HTTPError:
            return -1
        return pgrst204_counts(text).get(("mypoolr", "adminname"), 0)

    try:
        append(log, lines(0, 2))
        wait_for(lambda: counted() == 2, what="2 counted")
        log.rename(tmp_path / "app.log.1")
        append(tmp_path / "app.log.1", lines(2, 1))  # written before the writer reopened
        log.write_text(HEADER + lines(3, 2))
        wait_for(lambda: counted() == 5, what="5 counted across the rotation")
    finally:
        assert stop(proc) == 0


def test_an_input_that_goes_away_is_told_once_and_read_when_it_returns(tmp_path: Path) -> None:
    log = tmp_path / "app.log"
    out = tmp_path / "watch.out"
    port = free_port()
    proc = start(
        "watch", str(log), "--state", str(tmp_path / "state"), "--poll-interval", "100ms",
        "--metrics", f"127.0.0.1:{port}", log=out,
    )

    def counted() -> int:
        try:
            text = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=5).text
        except httpx.HTTPError:
            return -1
        return pgrst204_counts(text).get(("mypoolr", "adminname"), 0)

    try:
        wait_for(lambda: b"not there" in out.read_bytes(), what="the missing input told")
        log.write_text(HEADER + lines(0, 2))
        wait_for(lambda: counted() == 2, what="the input read once it appeared")
        wait_for(lambda: b"back" in out.read_bytes(), what="the input told back")
    finally:
        assert stop(proc) == 0
    assert out.read_bytes().count(b"not there") == 1


def test_resolve_writes_the_incident_report(tmp_path: Path) -> None:
    log = tmp_path / "app.log"
    log.write_text(HEADER)
    reports = tmp_path / "reports"
    proc = start(
        "watch", str(log), "--state", str(tmp_path / "state"), "--poll-interval", "100ms",
        "--resolve-after", "1s", "--reports", str(reports), "--report-max-chars", "65536",
        log=tmp_path / "watch.out",
    )
    try:
        append(log, lines(0, 3))
        wait_for(lambda: reports.exists() and list(reports.glob("*.md")), what="the report")
    finally:
        assert stop(proc) == 0
    (report,) = reports.glob("*.md")
    text = report.read_text()
    assert "mypoolr" in text and "adminname" in text and len(text) <= 65536
