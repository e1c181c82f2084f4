"""A real streaming replica for the plumbing tests: its own primary, `pg_basebackup -R`.

The session's shared server (tests.support.pg) is left alone: its pg_hba.conf has no
replication line, so this module starts a second cluster, allows replication on it, clones it
with `pg_basebackup -R` (which writes `standby.signal` and `primary_conninfo`) and starts the
clone on another port. A few seconds in all.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

import psycopg

from tests.support.pg import SERVICE_USER, PgServer, free_port


def _as_service_user(argv: list[str]) -> list[str]:
    return ["runuser", "-u", SERVICE_USER, "--", *argv] if os.geteuid() == 0 else argv


def _run(argv: list[str], timeout: float = 30) -> None:
    env = {**os.environ, "LC_ALL": "C", "LANG": "C", "TZ": "UTC"}
    subprocess.run(
        _as_service_user(argv), check=True, capture_output=True, timeout=timeout, env=env
    )


@dataclass
class Replica:
    """A hot standby of `primary`, reachable at `dsn()`."""

    primary: PgServer
    data_dir: Path
    port: int
    log_file: Path

    def dsn(self, dbname: str = "postgres") -> str:
        return f"postgresql://{SERVICE_USER}@127.0.0.1:{self.port}/{dbname}"

    def stop(self) -> None:
        with contextlib.suppress(subprocess.SubprocessError, OSError):
            _run(
                [
                    str(self.primary.bindir / "pg_ctl"),
                    "stop",
                    "-m",
                    "immediate",
                    "-D",
                    str(self.data_dir),
                ]
            )


def start_primary() -> PgServer:
    """A fresh cluster that accepts replication connections from 127.0.0.1."""
    server = PgServer()
    server.start()
    hba = server.data_dir / "pg_hba.conf"
    with hba.open("a") as fh:
        fh.write("host replication all 127.0.0.1/32 trust\n")
    with server.connect() as conn:
        conn.execute("SELECT pg_reload_conf()")
    return server


def start_replica(primary: PgServer) -> Replica:
    """Clone `primary` with `pg_basebackup -R` and start the clone as a hot standby."""
    base = Path(tempfile.mkdtemp(prefix="pgrst-replica-"))
    base.chmod(0o755)
    data = base / "data"
    log_file = base / "replica.log"
    if os.geteuid() == 0:
        pw = pwd.getpwnam(SERVICE_USER)
        os.chown(base, pw.pw_uid, pw.pw_gid)
    bindir = primary.bindir
    _run(
        [
            str(bindir / "pg_basebackup"),
            "-h", primary.host, "-p", str(primary.port), "-U", SERVICE_USER,
            "-D", str(data), "-R", "-X", "stream", "-c", "fast",
        ]
    )  # fmt: skip
    port = free_port()
    with (data / "postgresql.auto.conf").open("a") as fh:
        fh.write(f"port = {port}\nunix_socket_directories = '{base}'\nhot_standby = on\n")
    _run([str(bindir / "pg_ctl"), "start", "-w", "-t", "30", "-D", str(data), "-l", str(log_file)])
    replica = Replica(primary, data, port, log_file)
    with psycopg.connect(replica.dsn(), connect_timeout=10) as conn:
        assert conn.execute("SELECT pg_is_in_recovery()").fetchone() == (True,)
    return replica


def remove(replica: Replica) -> None:
    replica.stop()
    shutil.rmtree(replica.data_dir.parent, ignore_errors=True)
