"""Loopback receivers that record what they get, and the functions that run `watch` for real."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DEADLINE = 60.0


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes

    def json(self) -> dict:
        return json.loads(self.body)


@dataclass
class Receiver:
    """An HTTP server on 127.0.0.1 that records every POST and answers from a script:
    `responses` are (status, headers) used in turn, then 200 (202 for PagerDuty paths)."""

    server: ThreadingHTTPServer
    requests: list[Received] = field(default_factory=list)
    responses: list[tuple[int, dict[str, str]]] = field(default_factory=list)
    attempts: int = 0

    @property
    def port(self) -> int:
        return self.server.server_address[1]

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def delivered(self) -> list[Received]:
        return list(self.requests)


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    holder: dict[str, Receiver] = {}

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            rec = holder["r"]
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            rec.attempts += 1
            status, headers = rec.responses.pop(0) if rec.responses else (0, {})
            if not status:
                status = 202 if self.path.startswith("/v2/") else 200
                rec.requests.append(Received(self.path, dict(self.headers), body))
            self.send_response(status)
            for name, value in headers.items():
                self.send_header(name, value)
            payload = b"ok" if status < 300 else b"unavailable"
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    holder["r"] = Receiver(server)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield holder["r"]
    server.shutdown()
    server.server_close()


def wait_for(condition: Callable[[], object], timeout: float = DEADLINE, what: str = "condition") -> None:
    """Poll `condition` until it is true (never a fixed sleep)."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if condition():
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}")


def cli(*args: str, env: dict[str, str] | None = None, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "runbook", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, **(env or {})},
        check=False,
    )


def start(*args: str, log: Path) -> subprocess.Popen:
    handle = open(log, "wb")
    return subprocess.Popen(
        [sys.executable, "-m", "runbook", *args], cwd=ROOT, stdout=handle, stderr=subprocess.STDOUT
    )


def pgrst204_line(table: str, column: str, n: int) -> str:
    """One Python-logging record of a failed PostgREST write (as supabase-py logs it)."""
    return (
        f"2026-11-18 09:{15 + n // 60:02d}:{n % 60:02d},{n % 1000:03d} ERROR app.handlers: "
        f"insert failed for request {n}: {{'code': 'PGRST204', 'details': None, 'hint': None, "
        f"'message': \"Could not find the '{column}' column of '{table}' in the schema cache\"}}\n"
    )


def append(path: Path, text: str) -> None:
    with open(path, "a", encoding="utf-8") as fh:
        fh.write(text)
        fh.flush()
        os.fsync(fh.fileno())
