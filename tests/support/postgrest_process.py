"""Start and drive the PostgREST-compatible test server as a subprocess.

`start_postgrest()` is what the `postgrest` fixture calls; `PostgrestProcess` is the handle a
test gets: URLs, log file paths, SIGUSR1, the reload counter and the cached columns.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

import httpx

from tests.support.postgrest_logs import parse_version

REPO_ROOT = Path(__file__).resolve().parents[2]
_LOADED = re.compile(r": Schema cache loaded(?: \d+ Relations.*)?$")


class PostgrestStartError(RuntimeError):
    """The test server exited or never became ready; the message carries its output."""


@dataclass
class PostgrestProcess:
    """A running test server. Logs are files so tests read them like the tool would."""

    popen: subprocess.Popen[bytes]
    url: str
    admin_url: str
    stderr_log: Path
    access_log: Path
    output_log: Path  # the process's own stdout/stderr (tracebacks), not PostgREST lines
    version: str
    workdir: Path
    _stopped: bool = field(default=False, repr=False)
    _args: list[str] = field(default_factory=list, repr=False)
    _env: dict[str, str] = field(default_factory=dict, repr=False)

    @property
    def pid(self) -> int:
        return self.popen.pid

    @property
    def is_running(self) -> bool:
        return self.popen.poll() is None

    def reload_signal(self) -> None:
        """SIGUSR1: reload the schema cache (logs no line of its own)."""
        os.kill(self.pid, signal.SIGUSR1)

    def config_signal(self) -> None:
        """SIGUSR2: reload the config (`Config reloaded`)."""
        os.kill(self.pid, signal.SIGUSR2)

    def stderr_lines(self) -> list[str]:
        return _read_lines(self.stderr_log)

    def access_lines(self) -> list[str]:
        return _read_lines(self.access_log)

    def load_count(self) -> int:
        """Successful schema cache loads: /metrics where the version has it, else stderr lines."""
        if parse_version(self.version) >= (12, 2, 0):
            text = httpx.get(self.admin_url + "/metrics", timeout=5, trust_env=False).text
            m = re.search(
                r'^pgrst_schema_cache_loads_total\{status="SUCCESS"\} ([0-9.e+-]+)$', text, re.M
            )
            return int(float(m.group(1))) if m else 0
        return sum(1 for line in self.stderr_lines() if _LOADED.search(line))

    def wait_for_load_count(self, n: int, timeout: float = 10.0) -> int:
        """Block until at least `n` successful loads happened; returns the count."""
        deadline = time.monotonic() + timeout
        while True:
            count = self.load_count()
            if count >= n:
                return count
            if time.monotonic() > deadline or not self.is_running:
                tail = "\n".join(self.stderr_lines()[-15:])
                raise TimeoutError(
                    f"schema cache load count stayed at {count} (< {n}) for {timeout}s:\n{tail}"
                )
            time.sleep(0.05)

    def wait_for_stderr(self, pattern: str, timeout: float = 10.0, after: int = 0) -> str:
        """Wait for a stderr line (from line index `after` on) matching regex `pattern`."""
        rx = re.compile(pattern)
        deadline = time.monotonic() + timeout
        while True:
            for line in self.stderr_lines()[after:]:
                if rx.search(line):
                    return line
            if time.monotonic() > deadline:
                tail = "\n".join(self.stderr_lines()[-15:])
                raise TimeoutError(f"no stderr line matched {pattern!r} within {timeout}s:\n{tail}")
            time.sleep(0.05)

    def cache_columns(self, table: str, schema: str = "public") -> set[str]:
        """Columns of `table` in the server's CACHE: /schema_cache, or OpenAPI before v12.2."""
        if parse_version(self.version) >= (12, 2, 0):
            data = httpx.get(self.admin_url + "/schema_cache", timeout=5, trust_env=False).json()
            for qi, tbl in data["dbTables"]:
                if qi == {"qiName": table, "qiSchema": schema}:
                    return set(tbl["tableColumns"])
            return set()
        doc = httpx.get(
            self.url + "/", headers={"Accept-Profile": schema}, timeout=5, trust_env=False
        ).json()
        return set(doc["definitions"].get(table, {}).get("properties", {}))

    def stop(self, timeout: float = 10.0) -> None:
        """SIGTERM, then SIGKILL if it does not exit in time. Idempotent."""
        if self._stopped:
            return
        self._stopped = True
        if self.popen.poll() is None:
            self.popen.terminate()
            try:
                self.popen.wait(timeout)
            except subprocess.TimeoutExpired:
                self.popen.kill()
                self.popen.wait(timeout)

    def restart(self, timeout: float = 30.0) -> None:
        """Stop the process and start a new one on the same ports with the same settings, as
        `docker restart` or `systemctl restart postgrest` does: its counters start from zero
        and its first schema cache load happens at start. Returns once the new one is ready."""
        self.stop()
        port = self.url.rsplit(":", 1)[1]
        admin_port = self.admin_url.rsplit(":", 1)[1] if self.admin_url else "0"
        args = _with_value(_with_value(self._args, "--port", port), "--admin-port", admin_port)
        self.popen, _info = _launch(args, self._env, self.workdir, self.output_log, timeout)
        self._stopped = False

    def kill(self) -> None:
        """SIGKILL: a crash, no shutdown lines."""
        self._stopped = True
        if self.popen.poll() is None:
            self.popen.kill()
            self.popen.wait(10)


class PostgrestFactory(Protocol):
    """The `postgrest` fixture: start a server on `dsn`; all are stopped at teardown."""

    def __call__(
        self,
        dsn: str,
        *,
        version: str = "16.2",
        channel: str = "pgrst",
        listener: bool = True,
        schemas: Sequence[str] = ("public",),
        log_level: str = "info",
        tx_end: str = "commit-allow-override",
        require_key: str | None = None,
        anon_role: str | None = None,
        tz: str = "UTC",
        extra_args: Sequence[str] = (),
    ) -> PostgrestProcess: ...


def _read_lines(path: Path) -> list[str]:
    try:
        return path.read_text(encoding="utf-8").splitlines()
    except FileNotFoundError:
        return []


def start_postgrest(
    dsn: str,
    workdir: Path,
    *,
    version: str = "16.2",
    channel: str = "pgrst",
    listener: bool = True,
    schemas: Sequence[str] = ("public",),
    log_level: str = "info",
    tx_end: str = "commit-allow-override",
    require_key: str | None = None,
    anon_role: str | None = None,
    tz: str = "UTC",
    extra_args: Sequence[str] = (),
    timeout: float = 30.0,
) -> PostgrestProcess:
    """Launch the server and wait until its first schema cache load was attempted.

    `tz` sets the process time zone (log timestamps use it, like PostgREST's zoned time);
    `extra_args` go to the server's command line (e.g. `--schema-cache-sleep-ms 500`).
    """
    workdir.mkdir(parents=True, exist_ok=True)
    ready = workdir / "ready.json"
    stderr_log = workdir / "postgrest.stderr.log"
    access_log = workdir / "postgrest.access.log"
    output_log = workdir / "process.out"
    args = [
        sys.executable, "-m", "tests.support.postgrest_server",
        "--db-uri", dsn,
        "--db-schemas", ",".join(schemas),
        "--db-channel", channel,
        "--db-tx-end", tx_end,
        "--version", version,
        "--port", "0",
        "--admin-port", "0",
        "--log-level", log_level,
        "--stderr-log", str(stderr_log),
        "--access-log", str(access_log),
        "--ready-file", str(ready),
    ]  # fmt: skip
    if not listener:
        args.append("--no-listener")
    if require_key is not None:
        args += ["--require-key", require_key]
    if anon_role is not None:
        args += ["--db-anon-role", anon_role]
    args += list(extra_args)
    env = {
        **os.environ,
        "TZ": tz,
        "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO_ROOT), os.environ.get("PYTHONPATH")])),
    }
    popen, info = _launch(args, env, workdir, output_log, timeout)
    admin = f"http://127.0.0.1:{info['admin_port']}" if info.get("admin_port") else ""
    return PostgrestProcess(
        popen=popen,
        url=f"http://127.0.0.1:{info['port']}",
        admin_url=admin,
        stderr_log=stderr_log,
        access_log=access_log,
        output_log=output_log,
        version=version,
        workdir=workdir,
        _args=args,
        _env=env,
    )


def _with_value(args: list[str], flag: str, value: str) -> list[str]:
    out = list(args)
    out[out.index(flag) + 1] = value
    return out


def _launch(
    args: list[str], env: dict[str, str], workdir: Path, output_log: Path, timeout: float
) -> tuple[subprocess.Popen[bytes], dict[str, object]]:
    """Start the server process and wait for its ready file (written once it listens)."""
    ready = Path(args[args.index("--ready-file") + 1])
    ready.unlink(missing_ok=True)
    stderr_log = Path(args[args.index("--stderr-log") + 1])
    with output_log.open("ab") as out:
        popen = subprocess.Popen(args, cwd=REPO_ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + timeout
    while True:
        if ready.exists():
            try:
                return popen, json.loads(ready.read_text())
            except json.JSONDecodeError:  # being written
                pass
        if popen.poll() is not None or time.monotonic() > deadline:
            if popen.poll() is None:
                popen.kill()
                popen.wait()
            raise PostgrestStartError(
                f"test PostgREST did not become ready (exit={popen.returncode}).\n"
                f"process output:\n{output_log.read_text(errors='replace')}\n"
                f"stderr log:\n{stderr_log.read_text(errors='replace') if stderr_log.exists() else ''}"
            )
        time.sleep(0.02)
