"""Durations, count classes, fingerprints, the next command, sink URLs and their masking."""

from __future__ import annotations

import shlex

import pytest

from runbook.watch.alerts import count_class, fingerprint, next_command
from runbook.watch.durations import parse_duration
from runbook.watch.metrics import parse_address
from runbook.watch.sinks import SinkError, parse_sink


@pytest.mark.parametrize(("text", "seconds"), [("8s", 8), ("5m", 300), ("2h", 7200), ("1d", 86400), ("30", 30)])
def test_durations(text: str, seconds: float) -> None:
    assert parse_duration(text) == seconds


def test_bad_duration() -> None:
    with pytest.raises(ValueError):
        parse_duration("soon")


@pytest.mark.parametrize(("count", "klass"), [(0, 0), (1, 1), (9, 1), (10, 10), (99, 10), (100, 100), (1500, 1000)])
def test_count_class(count: int, klass: int) -> None:
    assert count_class(count) == klass


def test_fingerprint_is_stable_and_distinct() -> None:
    a = fingerprint("public", "members", "telegram_handle")
    assert a == fingerprint("public", "members", "telegram_handle")
    assert a != fingerprint("public", "members", "telegram")
    assert len(a) == 16


def test_next_command_is_shell_quoted() -> None:
    command = next_command("odd table", "it's")
    assert shlex.split(command) == ["pgrst-runbook", "run", "--table", "odd table", "--column", "it's"]


def test_sink_names_mask_credentials() -> None:
    key = "R0UT1NGKEY0123456789abcdef012345"
    pd = parse_sink(f"pagerduty://{key}")
    assert pd.routing_key == key and key not in pd.name
    assert pd.target == "https://events.pagerduty.com/v2/enqueue"
    local = parse_sink(f"pagerduty+http://{key}@127.0.0.1:8080")
    assert local.target == "http://127.0.0.1:8080/v2/enqueue" and key not in local.name
    slack = parse_sink("slack+https://hooks.slack.com/services/T000/B000/XXXXSECRET")
    assert slack.target == "https://hooks.slack.com/services/T000/B000/XXXXSECRET"
    assert "XXXXSECRET" not in slack.name
    assert "XXXXSECRET" not in slack.mask(f"error posting to {slack.target}")
    hook = parse_sink("https://relay.example/hooks/s3cr3t")
    assert hook.kind == "webhook" and "s3cr3t" not in hook.name
    assert parse_sink("exec:logger -t pgrst").name == "exec:logger"


@pytest.mark.parametrize("spec", ["smtp://x", "exec:", "pagerduty://", "pagerduty+http://127.0.0.1:1"])
def test_bad_sinks(spec: str) -> None:
    with pytest.raises(SinkError):
        parse_sink(spec)


def test_metrics_address_defaults_to_loopback() -> None:
    assert parse_address("9464") == ("127.0.0.1", 9464)
    assert parse_address(":9464") == ("127.0.0.1", 9464)
    assert parse_address("0.0.0.0:9464") == ("0.0.0.0", 9464)


def test_a_message_the_sink_took_is_not_sent_again_after_a_crash_before_its_file_was_removed(tmp_path) -> None:
    """kill -9 between logging a message as sent and removing its queued file: the next run
    finds the file, and must not page with it again."""
    import sys

    from runbook.watch.alerts import sample_alert
    from runbook.watch.outbox import Outbox, sink_id

    got = tmp_path / "got.jsonl"
    sink = parse_sink(f"exec:{sys.executable} -c \"import sys; open({str(got)!r}, 'a').write(sys.stdin.read() + chr(10))\"")
    alert = sample_alert()
    first = Outbox(tmp_path / "state", [sink])
    assert first.put(alert) == 1
    sid = sink_id(sink)
    # What `_send` leaves when killed after the fsync of the sent log, before the unlink:
    (tmp_path / "state" / "sent" / f"{sid}.log").write_text(alert.message_id + "\n")
    assert list((tmp_path / "state" / "outbox" / sid).glob("*.json"))

    again = Outbox(tmp_path / "state", [sink])
    assert again.pending() == 0 and again.put(alert) == 0
    again.deliver_due()
    assert not got.exists(), "delivered twice"
