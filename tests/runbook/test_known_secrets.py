"""Values the tool knows are secret are masked in every output, also when a server echoes them.

A loopback HTTP server answers every request with an error body that repeats the request's
`apikey` and `Authorization` headers (and its URL): what a misconfigured gateway or a chatty
proxy does. The planted key, the DSN's password and a store token are then looked for in
stdout, stderr, the `--json` result, the journal, the report and the support bundle.
"""

from __future__ import annotations

import json
import tarfile
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import polars as pl
import pytest

from runbook.commands.watch import sink_secrets
from runbook.config import Settings, load_settings, masked_dsn
from runbook.redact import (
    MASK,
    forget_secrets,
    known_secrets,
    mask_known_value,
    redact,
    redact_expr,
    register_secret,
)
from tests.runbook.conftest import execute, run_cli

API_KEY = "Kq7-planted-apikey-0x5eed"  # nothing the generic patterns would recognise
ACCESS_TOKEN = "Tq9-planted-store-token-77ab"


class _Echo(BaseHTTPRequestHandler):
    """Every request fails, and the body says what the request carried."""

    def _answer(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        sent = self.rfile.read(length).decode("utf-8", "replace") if length else ""
        try:  # a JSON body's values, bare: no name next to them to give them away
            sent = " ".join(str(v) for v in json.loads(sent).values())
        except (ValueError, AttributeError):
            pass
        said = (
            f"rejected {self.command} {self.path}: key {self.headers.get('apikey')} "
            f"auth {self.headers.get('Authorization')} body {sent}"
        )
        body = json.dumps({"code": "PGRST301", "message": said, "hint": said}).encode()
        self.send_response(401)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_GET = do_POST = do_HEAD = do_PATCH = _answer

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def echo_url() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Echo)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def _everything_written(*roots: Path) -> str:
    """The text of every file under `roots`, and of every member of every .tar.gz among them."""
    texts: list[str] = []
    for root in roots:
        for path in [root] if root.is_file() else sorted(p for p in root.rglob("*") if p.is_file()):
            if path.name.endswith(".tar.gz"):
                with tarfile.open(path) as tar:
                    for member in tar.getmembers():
                        handle = tar.extractfile(member)
                        if handle is not None:
                            texts.append(handle.read().decode("utf-8", "replace"))
            else:
                texts.append(path.read_text(encoding="utf-8", errors="replace"))
    return "\n".join(texts)


def test_an_echoed_api_key_and_the_dsn_password_appear_in_no_output(
    db_dsn: str, pg_server, echo_url: str, capsys, monkeypatch, isolated_state: Path, tmp_path: Path
) -> None:
    execute(db_dsn, "CREATE TABLE members (id serial PRIMARY KEY, name text)")
    execute(db_dsn, f"GRANT ALL ON members TO {pg_server.password_role}")
    dbname = db_dsn.rsplit("/", 1)[1]
    dsn = pg_server.dsn(dbname, user=pg_server.password_role, password=pg_server.password)
    flags = ["--dsn", dsn, "--api-url", echo_url, "--admin-url", echo_url, "--api-key", API_KEY]

    run = run_cli(
        capsys, monkeypatch,
        "run", "--table", "members", "--column", "telegram_handle", *flags, "--yes", "--json",
        "--verify-deadline", "2",
    )  # fmt: skip
    assert run.out.strip(), run.err
    result = run.json()  # still valid JSON after masking
    session = Path(result["journal"]).stem
    journal_text = Path(result["journal"]).read_text()
    # the echo reached the tool: the server's words are there, the key is not
    assert "rejected" in run.out + run.err + journal_text

    human = run_cli(capsys, monkeypatch, "run", "--table", "members", "--column", "telegram_handle", *flags, "--dry-run")
    check = run_cli(capsys, monkeypatch, "check", *flags, "--json")
    (tmp_path / "out").mkdir()
    report_file = tmp_path / "out" / "incident.md"
    report = run_cli(
        capsys, monkeypatch, "report", "sample_logs/stale-cache", "--session", session,
        "-o", str(report_file),
    )  # fmt: skip
    report_json = run_cli(capsys, monkeypatch, "report", "sample_logs/stale-cache", "--session", session, "--json")
    bundle = run_cli(
        capsys, monkeypatch, "bundle", "--logs", "sample_logs/stale-cache", "--journal", session,
        *flags, "-o", str(tmp_path / "out" / "support.tar.gz"),
    )  # fmt: skip
    assert (tmp_path / "out" / "support.tar.gz").is_file(), bundle.err
    assert report_file.is_file(), report.err

    outputs = {
        "run": run.out + run.err,
        "run (human)": human.out + human.err,
        "check": check.out + check.err,
        "report": report.out + report.err + report_json.out + report_json.err,
        "bundle": bundle.out + bundle.err,
        "files": _everything_written(isolated_state, tmp_path / "out"),
    }
    for name, text in outputs.items():
        assert text.strip(), f"{name}: no output at all"
        for secret in (API_KEY, pg_server.password):
            assert secret not in text, f"{name} shows {secret!r}"
    assert MASK in outputs["run"] + outputs["files"]


def test_a_store_token_echoed_by_the_store_is_masked(
    echo_url: str, capsys, monkeypatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("SUPABASE_ACCESS_TOKEN", ACCESS_TOKEN)
    monkeypatch.setenv("SUPABASE_MANAGEMENT_API_URL", echo_url)
    result = run_cli(capsys, monkeypatch, "scan", "supabase://abcdefghijklmnopqrst", "--format", "json")
    text = result.out + result.err
    assert text.strip()
    assert ACCESS_TOKEN not in text


def test_registered_values_are_masked_in_text_json_and_polars_and_their_wire_forms() -> None:
    forget_secrets()
    secret = "pl@nted pw/ü"
    register_secret(secret, "abc", None)  # too short and missing values are not registered
    assert "abc" not in known_secrets()
    encoded = "pl%40nted%20pw%2F%C3%BC"
    assert redact(f"user said {secret} and {encoded}") == f"user said {MASK} and {MASK}"
    assert json.dumps(mask_known_value({"k": [secret], secret: 1})).count(secret) == 0
    escaped = json.dumps({"m": secret})  # JSON escapes the ü
    assert secret.encode("unicode_escape").decode() not in redact(escaped)
    frame = pl.DataFrame({"line": [f"x {secret} y"]})
    assert frame.select(redact_expr(pl.col("line")))["line"][0] == f"x {MASK} y"


def test_loading_settings_registers_the_key_and_the_dsn_password(monkeypatch) -> None:
    forget_secrets()
    monkeypatch.setenv("SUPABASE_SERVICE_ROLE_KEY", "srk-planted-9")
    load_settings({"dsn": "host=db user=u password='two words'"}, env={"SUPABASE_SERVICE_ROLE_KEY": "srk-planted-9"})
    assert redact("echo: srk-planted-9 / two words") == f"echo: {MASK} / {MASK}"


@pytest.mark.parametrize(
    ("spec", "secret"),
    [
        ("pagerduty://R0utingKeyPlanted", "R0utingKeyPlanted"),
        ("pagerduty+http://R0utingKeyPlanted@127.0.0.1:9/", "R0utingKeyPlanted"),
        ("slack+https://hooks.slack.com/services/T0/B0/planted", "services/T0/B0/planted"),
        ("https://relay.example/hook?token=Relay-planted", "Relay-planted"),
        ("https://user:Relay-pass@relay.example/hook", "Relay-pass"),
    ],
)
def test_sink_credentials_are_known_secrets(spec: str, secret: str) -> None:
    assert secret in sink_secrets(spec)


def test_exec_sinks_hold_no_secret() -> None:
    assert sink_secrets("exec:logger -t pgrst") == []


@pytest.mark.parametrize(
    ("dsn", "shown", "hidden"),
    [
        ("postgresql://u:pw%40x@h:5432/db", "postgresql://u:***@h:5432/db", "pw"),
        ("postgresql://u:Pw/xyz@h/db", "***", "Pw/xyz"),
        ("postgresql://u@h/db?password=qsecret&sslmode=require", "password=***&sslmode=require", "qsecret"),
        ("host=h user=u password='two words'", "password='***'", "two words"),
        ("host=h user=u password=plainpw port=5432", "password=***", "plainpw"),
        ("host=h password=a b", "***", "a b"),
        ("postgresql://h/db", "postgresql://h/db", None),
    ],
)
def test_settings_repr_masks_the_parsed_password(dsn: str, shown: str, hidden: str | None) -> None:
    text = repr(Settings(dsn=dsn, api_key="key-value-1"))
    assert shown in text
    assert "key-value-1" not in text
    if hidden:
        assert hidden not in text
        assert hidden not in masked_dsn(dsn)


def test_a_short_word_password_is_masked_as_a_word_not_inside_other_words() -> None:
    forget_secrets()
    register_secret("postgres")
    assert redact("postgresql://postgres:postgres@db/app") == f"postgresql://{MASK}:{MASK}@db/app"
    assert redact("format postgres_csvlog") == "format postgres_csvlog"
    lines = ["a postgres b", "postgres_csvlog", "postgres", "x postgres postgres y"]
    frame = pl.DataFrame({"line": lines})
    assert frame.select(redact_expr(pl.col("line")))["line"].to_list() == [
        redact(line) for line in lines
    ]


def test_tui_text_masks_registered_values() -> None:
    from runbook.tui.literal import literal

    forget_secrets()
    register_secret(API_KEY)
    assert API_KEY not in str(literal(f"notify: server said {API_KEY}"))


def test_a_sink_key_echoed_by_the_receiver_is_masked(echo_url: str, capsys, monkeypatch) -> None:
    routing_key = "Rk5plantedRoutingKey0042"
    port = echo_url.rsplit(":", 1)[1]
    result = run_cli(
        capsys, monkeypatch,
        "watch", "-", "--test-notify", "--notify", f"pagerduty+http://{routing_key}@127.0.0.1:{port}",
    )  # fmt: skip
    text = result.out + result.err
    assert "NOT delivered" in text
    assert routing_key not in text
