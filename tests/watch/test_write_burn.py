"""`watch` over a PostgREST access log: successful writes are the burn rate's denominator.

The access lines use PostgREST v13+'s template (reference/postgrest.md 2.1); the burn rate runs
on log time, so an hour of recorded traffic is judged as it would have been live.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from prometheus_client.parser import text_string_to_metric_families

from tests.watch.conftest import Receiver, cli

T0 = datetime(2026, 11, 18, 8, 0, tzinfo=UTC)
PER_MINUTE = 20


def line(at: datetime, status: int) -> str:
    size = "139" if status == 400 else "0"
    return (
        f'172.18.0.5 - web_anon [{at:%d/%b/%Y:%H:%M:%S +0000}] "POST /members HTTP/1.1" '
        f'{status} {size} "" "postgrest-py/0.16.11"\n'
    )


def traffic(path: Path, minutes: range, failed_in_minute) -> None:
    """`PER_MINUTE` writes a minute; `failed_in_minute(m)` of them answered 400."""
    with path.open("a") as fh:
        for m in minutes:
            failed = failed_in_minute(m)
            for n in range(PER_MINUTE):
                at = T0 + timedelta(minutes=m, seconds=3 * n)
                fh.write(line(at, 400 if n < failed else 201))


def write_requests(prom: Path) -> dict[str, float]:
    out: dict[str, float] = {}
    for family in text_string_to_metric_families(prom.read_text()):
        for sample in family.samples:
            if sample.name == "pgrst_runbook_write_requests_total":
                out[sample.labels["status_class"]] = sample.value
    return out


def burn_alerts(receiver: Receiver) -> list[dict]:
    return [
        alert
        for body in (r.json() for r in receiver.delivered())
        for alert in body["alerts"]
        if alert["labels"]["alertname"] == "WriteErrorBudgetBurn"
    ]


def watch_once(log: Path, state: Path, receiver: Receiver, prom: Path) -> None:
    done = cli(
        "watch", str(log), "--once", "--state", str(state), "--notify", receiver.url + "/hook",
        "--metrics-file", str(prom),
    )
    assert done.returncode == 0, done.stderr


def test_a_burst_of_400s_after_steady_writes_pages(tmp_path: Path, receiver: Receiver) -> None:
    log = tmp_path / "access.log"
    traffic(log, range(0, 60), lambda m: 0)  # an hour of writes that succeed
    traffic(log, range(60, 65), lambda m: PER_MINUTE // 2)  # then half of them fail
    prom = tmp_path / "watch.prom"
    watch_once(log, tmp_path / "state", receiver, prom)
    assert write_requests(prom) == {"2xx": 60 * PER_MINUTE + 5 * PER_MINUTE // 2, "4xx": 5 * PER_MINUTE // 2}
    [alert] = burn_alerts(receiver)
    assert alert["status"] == "firing"
    # The last hour: minutes 5 to 64, 1200 writes; 50 failed (4.2%: 42x a 99.9% budget).
    assert "1h/5m" in alert["annotations"]["summary"]
    assert "50 of 1200 writes failed" in alert["annotations"]["summary"]


def test_a_steady_low_error_ratio_does_not_page(tmp_path: Path, receiver: Receiver) -> None:
    log = tmp_path / "access.log"
    # One write in 400 fails (2.5x the budget, below both pairs' factors), to the last minute.
    traffic(log, range(0, 120), lambda m: 1 if m % 20 == 18 else 0)
    prom = tmp_path / "watch.prom"
    watch_once(log, tmp_path / "state", receiver, prom)
    assert write_requests(prom) == {"2xx": 120 * PER_MINUTE - 6, "4xx": 6}
    assert burn_alerts(receiver) == []
