"""`pgrst-runbook scan` with store URLs: JSON stats, exit codes, progress per window, and the
token and password never in stdout, stderr, stats or error messages."""

from __future__ import annotations

import json

import pytest

from runbook.cli import main
from runbook.commands.common import stderr_progress
from runbook.ingest.scan import ScanOptions, scan_paths
from runbook.ingest.stores import StoreSettings
from tests.stores.fixture import SINCE, UNTIL
from tests.stores.store_server import StoreServer

RANGE = ["--since", SINCE.isoformat(), "--until", UNTIL.isoformat()]


@pytest.fixture
def env(server: StoreServer, monkeypatch: pytest.MonkeyPatch) -> StoreServer:
    server.faults.rate_limit = None  # the CLI sleeps on the real clock
    monkeypatch.setenv("SUPABASE_ACCESS_TOKEN", server.token)
    monkeypatch.setenv("SUPABASE_MANAGEMENT_API_URL", server.url)
    monkeypatch.setenv("CLICKHOUSE_PASSWORD", server.ch_password)
    return server


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(["scan", *argv])
    out, err = capsys.readouterr()
    return code, out, err


def test_scan_json_from_both_stores_with_store_stats(
    env: StoreServer, supabase_url: str, clickhouse_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = _run(capsys, supabase_url, clickhouse_url, *RANGE, "--format", "json")
    assert code == 0, err
    doc = json.loads(out)
    mypoolr = next(i for i in doc["incidents"] if i["table"] == "mypoolr")
    assert mypoolr["count"] == 2 * 1081 and set(mypoolr["sources"]) == {
        supabase_url,
        clickhouse_url,
    }
    stores = {s["kind"]: s for s in doc["stats"]["stores"]}
    assert stores["supabase"]["windows"] == stores["clickhouse"]["windows"] == 3
    for stats in stores.values():
        assert (
            stats["bytes_moved"] > 0
            and stats["rows_in_range"] == 1313
            and stats["dark_windows"] == []
        )


def test_a_table_scan_names_the_store(
    env: StoreServer, supabase_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = _run(capsys, supabase_url, *RANGE, "--source", "function_logs")
    assert code == 0 and "mypoolr" in out and "O'Brien" in out


def test_a_dark_window_exits_3_and_says_which(
    env: StoreServer, supabase_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    from tests.stores.fixture import EDGE

    env.faults.dark = (EDGE.replace(hour=12), EDGE.replace(hour=13))
    env.faults.backend_errors = 0
    code, out, err = _run(capsys, supabase_url, *RANGE, "--format", "json")
    assert code == 3
    assert f"cannot read {supabase_url}: no answer for 2026-11-17T06:00:00+00:00" in err
    assert json.loads(out)["stats"]["stores"][0]["partial"] is True


def test_secrets_never_reach_output_stats_or_errors(
    env: StoreServer,
    supabase_url: str,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    secret_url = (
        f"clickhouse+http://{env.ch_user}:{env.ch_password}@127.0.0.1:{env.port}/otel/otel_logs"
    )
    monkeypatch.delenv("SUPABASE_ACCESS_TOKEN")
    outputs = []
    for fmt in ("json", "table", "markdown"):
        code, out, err = _run(
            capsys, supabase_url, secret_url, *RANGE, "--access-token", env.token, "--format", fmt
        )
        assert code == 0, err
        outputs += [out, err]
    for extra in ([], ["--json"]):
        code = main(
            ["report", supabase_url, secret_url, *RANGE, "--access-token", env.token, *extra]
        )
        out, err = capsys.readouterr()
        assert code == 0, err
        outputs += [out, err]
    assert "mypoolr" in outputs[-2]
    result = scan_paths(
        [secret_url],
        ScanOptions(since=SINCE, until=UNTIL, store=StoreSettings(access_token=env.token)),
    )
    outputs += [
        json.dumps(result.stats()),
        result.events.write_csv(),
        repr(StoreSettings(access_token=env.token)),
    ]
    env.faults.token_expired = True
    with pytest.raises(Exception) as caught:
        scan_paths(
            [supabase_url],
            ScanOptions(since=SINCE, until=UNTIL, store=StoreSettings(access_token=env.token)),
        )
    outputs.append(str(caught.value))
    for text in outputs:
        assert env.token not in text and env.ch_password not in text
        assert "sbp_0123" not in text
    assert f"clickhouse+http://{env.ch_user}@127.0.0.1:{env.port}/otel/otel_logs" in outputs[0]


def test_progress_is_one_line_per_window_on_stderr(
    env: StoreServer, supabase_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    progress = stderr_progress(True, [supabase_url])
    assert progress is not None
    scan_paths(
        [supabase_url],
        ScanOptions(since=SINCE, until=UNTIL, progress=progress, store=StoreSettings()),
    )
    lines = capsys.readouterr().err.splitlines()
    assert lines == [
        f"{supabase_url}: window 1/3 2026-11-16 06:00 – 2026-11-17 06:00",
        f"{supabase_url}: window 2/3 2026-11-17 06:00 – 2026-11-18 06:00",
        f"{supabase_url}: window 3/3 2026-11-18 06:00 – 2026-11-18 18:00",
        f"{supabase_url}: 3 window(s) read",
    ]
    assert stderr_progress(True, ["logs/"]) is None  # files on a non-terminal: quiet, as before


def test_usage_errors_for_bad_source_names(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["scan", "supabase://abcdefghijklmnopqrst", "--source", "edge_logs,x'y"]) == 2
    assert "invalid source name" in capsys.readouterr().err


def test_an_unreachable_store_exits_4_with_one_line(
    env: StoreServer, supabase_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    env.faults.token_expired = True
    code, out, err = _run(capsys, supabase_url, *RANGE)
    assert code == 4 and out == ""
    # Progress lines name windows; the error itself is one line with its next step.
    errors = [line for line in err.splitlines() if line.startswith("pgrst-runbook:")]
    assert len(errors) == 1 and "Supabase token rejected" in errors[0]
    assert "SUPABASE_ACCESS_TOKEN" in errors[0] and "Traceback" not in err
