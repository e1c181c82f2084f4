"""A real, throwaway PostgreSQL server for tests.

Tests talk to a genuine PostgreSQL (catalogs, LISTEN/NOTIFY, 42703 texts, auth errors) instead of
mocks, because the tool's diagnosis depends on exactly that behaviour. The server lives in a
temporary directory, listens on 127.0.0.1 on a free port and in a private unix socket dir.

initdb refuses to run as root, so when we are root the data directory is owned by the
`postgres` user and every server binary runs through `runuser -u postgres --`.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path
from urllib.parse import quote

import psycopg
from psycopg import sql

SERVICE_USER = "postgres"


class PgServerError(RuntimeError):
    """PostgreSQL could not be found, initialised or started; the message says why."""


def find_bindir() -> Path:
    """Locate the PostgreSQL server binaries (initdb, pg_ctl).

    Order: $PGRST_TEST_PG_BINDIR, `pg_config --bindir`, the newest /usr/lib/postgresql/*/bin,
    then whatever `initdb` is on PATH.
    """
    candidates: list[Path] = []
    if env := os.environ.get("PGRST_TEST_PG_BINDIR"):
        candidates.append(Path(env))
    if pg_config := shutil.which("pg_config"):
        with contextlib.suppress(OSError, subprocess.SubprocessError):
            out = subprocess.run(
                [pg_config, "--bindir"], capture_output=True, text=True, timeout=10, check=True
            ).stdout.strip()
            candidates.append(Path(out))

    def major(p: Path) -> float:
        try:
            return float(p.parent.name)
        except ValueError:
            return -1.0

    candidates += sorted(Path("/usr/lib/postgresql").glob("*/bin"), key=major, reverse=True)
    if initdb := shutil.which("initdb"):
        candidates.append(Path(initdb).parent)
    for cand in candidates:
        if (cand / "initdb").is_file() and (cand / "pg_ctl").is_file():
            return cand
    raise PgServerError(
        "no PostgreSQL server binaries found (looked in $PGRST_TEST_PG_BINDIR, "
        f"pg_config --bindir, /usr/lib/postgresql/*/bin, PATH): {[str(c) for c in candidates]}"
    )


def free_port(host: str = "127.0.0.1") -> int:
    """Ask the kernel for a currently unused TCP port."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


class PgServer:
    """One PostgreSQL cluster in a temp dir: `start()`, `stop()`, `dsn()`, `create_database()`.

    `superuser` connects without a password (trust). `password_role`/`password` is a LOGIN role
    that must authenticate with SCRAM over TCP, so tests can provoke "password authentication
    failed". `stop()` keeps the data dir and port, so `start()` brings the same cluster back.
    """

    superuser = SERVICE_USER
    password_role = "pgrst_pw_user"
    password = "pgrst-pw-S3cret"
    template = "pgrst_template"

    def __init__(self, base_dir: Path | None = None, bindir: Path | None = None) -> None:
        self.bindir = bindir or find_bindir()
        self.host = "127.0.0.1"
        self.port = 0
        self._own_base = base_dir is None
        self.base_dir = base_dir or Path(tempfile.mkdtemp(prefix="pgrst-pg-"))
        self.data_dir = self.base_dir / "data"
        self.socket_dir = self.base_dir / "sock"
        self.log_file = self.base_dir / "postgres.log"
        self._as_service_user = os.geteuid() == 0
        self._initialised = False
        self._atexit_registered = False

    # -- process plumbing -------------------------------------------------------------------
    def _cmd(self, *args: str | Path) -> list[str]:
        argv = [str(a) for a in args]
        if self._as_service_user:
            return ["runuser", "-u", SERVICE_USER, "--", *argv]
        return argv

    def _run(self, *args: str | Path, timeout: float = 60) -> subprocess.CompletedProcess[str]:
        env = {**os.environ, "LC_ALL": "C", "LANG": "C", "TZ": "UTC"}
        try:
            return subprocess.run(
                self._cmd(*args),
                capture_output=True,
                text=True,
                timeout=timeout,
                check=True,
                cwd=self.base_dir,
                env=env,
            )
        except subprocess.CalledProcessError as exc:
            raise PgServerError(
                f"{' '.join(exc.cmd)} failed with exit {exc.returncode}\n"
                f"stdout: {exc.stdout}\nstderr: {exc.stderr}\n{self._log_tail()}"
            ) from exc
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise PgServerError(f"{args[0]} could not run: {exc}\n{self._log_tail()}") from exc

    def _log_tail(self, lines: int = 30) -> str:
        try:
            text = self.log_file.read_text(errors="replace").splitlines()[-lines:]
        except OSError:
            return "(no server log)"
        return "server log tail:\n" + "\n".join(text)

    def _chown_to_service_user(self, *paths: Path) -> None:
        if not self._as_service_user:
            return
        pw = pwd.getpwnam(SERVICE_USER)
        for p in paths:
            os.chown(p, pw.pw_uid, pw.pw_gid)

    # -- lifecycle ----------------------------------------------------------------------------
    def _initdb(self) -> None:
        self.base_dir.mkdir(parents=True, exist_ok=True)
        self.socket_dir.mkdir(exist_ok=True)
        self.base_dir.chmod(0o755)
        self._chown_to_service_user(self.base_dir, self.socket_dir)
        pwfile = self.base_dir / "pwfile"
        pwfile.write_text("unused-superuser-password\n")
        self._chown_to_service_user(pwfile)
        self._run(
            self.bindir / "initdb",
            "-D", self.data_dir,
            "-U", self.superuser,
            "--pwfile", pwfile,
            "-E", "UTF8",
            "--locale", "C",
            "--no-sync",
            "--auth-local", "trust",
            "--auth-host", "trust",
        )  # fmt: skip
        pwfile.unlink()
        self.port = free_port(self.host)
        settings = {
            "listen_addresses": f"'{self.host}'",
            "port": str(self.port),
            "unix_socket_directories": f"'{self.socket_dir}'",
            "fsync": "off",
            "synchronous_commit": "off",
            "full_page_writes": "off",
            "max_connections": "300",
            "shared_buffers": "32MB",
            "timezone": "'UTC'",
            "log_timezone": "'UTC'",
            "password_encryption": "'scram-sha-256'",
            "logging_collector": "off",
            "jit": "off",  # JIT compiles the catalog queries for ~50 ms each; tests need speed
        }
        conf = "".join(f"{k} = {v}\n" for k, v in settings.items())
        with (self.data_dir / "postgresql.conf").open("a") as fh:
            fh.write("\n# pgrst-runbook test settings\n" + conf)
        # The password role must really authenticate; everyone else is trusted.
        hba = (
            "local all all trust\n"
            f"host all {self.password_role} 127.0.0.1/32 scram-sha-256\n"
            f"host all {self.password_role} ::1/128 scram-sha-256\n"
            "host all all 127.0.0.1/32 trust\n"
            "host all all ::1/128 trust\n"
        )
        (self.data_dir / "pg_hba.conf").write_text(hba)
        self._chown_to_service_user(self.data_dir / "pg_hba.conf")
        self._initialised = True

    def start(self) -> None:
        """Initialise on first use, then start the server and wait until it accepts queries."""
        first = not self._initialised
        if first:
            self._initdb()
        if self.is_running:
            return
        self._run(
            self.bindir / "pg_ctl", "start", "-w", "-t", "60",
            "-D", self.data_dir, "-l", self.log_file,
        )  # fmt: skip
        if not self._atexit_registered:
            atexit.register(self.cleanup)
            self._atexit_registered = True
        if first:
            self._bootstrap()

    def _bootstrap(self) -> None:
        """Create the password role and the template every per-test database is cloned from."""
        with self.connect() as conn:
            conn.execute(
                sql.SQL("CREATE ROLE {} LOGIN PASSWORD {}").format(
                    sql.Identifier(self.password_role), sql.Literal(self.password)
                )
            )
            conn.execute(
                sql.SQL("CREATE DATABASE {} TEMPLATE template0 ENCODING 'UTF8'").format(
                    sql.Identifier(self.template)
                )
            )

    def stop(self, mode: str = "fast") -> None:
        """Stop the server (data dir and port are kept for a later `start()`)."""
        if self._initialised and self.is_running:
            self._run(self.bindir / "pg_ctl", "stop", "-w", "-m", mode, "-D", self.data_dir)

    def cleanup(self) -> None:
        """Stop immediately and delete the temp dir; safe to call twice."""
        with contextlib.suppress(PgServerError):
            self.stop(mode="immediate")
        if self._own_base and self._initialised:
            shutil.rmtree(self.base_dir, ignore_errors=True)
            self._initialised = False

    @property
    def is_running(self) -> bool:
        """True while the postmaster is up (pg_ctl status)."""
        if not self._initialised:
            return False
        try:
            subprocess.run(
                self._cmd(self.bindir / "pg_ctl", "status", "-D", self.data_dir),
                capture_output=True,
                check=True,
                timeout=20,
                cwd=self.base_dir,
            )
        except (OSError, subprocess.CalledProcessError, subprocess.TimeoutExpired):
            return False
        return True

    # -- connections -------------------------------------------------------------------------
    def dsn(
        self, dbname: str = "postgres", user: str | None = None, password: str | None = None
    ) -> str:
        """A postgresql:// URL over TCP to this server (superuser when `user` is None)."""
        user = user or self.superuser
        auth = quote(user, safe="")
        if password is not None:
            auth += ":" + quote(password, safe="")
        return f"postgresql://{auth}@{self.host}:{self.port}/{quote(dbname, safe='')}"

    def connect(self, dbname: str = "postgres") -> psycopg.Connection:
        """An autocommit superuser connection (DDL, CREATE DATABASE, NOTIFY)."""
        return psycopg.connect(self.dsn(dbname), autocommit=True, connect_timeout=10)

    def create_database(self, name: str, template: str | None = None) -> str:
        """Create database `name` (cloned from the session template by default); return its DSN."""
        with self.connect() as conn:
            conn.execute(
                sql.SQL("CREATE DATABASE {} TEMPLATE {}").format(
                    sql.Identifier(name), sql.Identifier(template or self.template)
                )
            )
        return self.dsn(name)

    def drop_database(self, name: str) -> None:
        """Drop `name`, kicking out any remaining sessions (a PostgREST listener, say)."""
        deadline = time.monotonic() + 10
        while True:
            try:
                with self.connect() as conn:
                    conn.execute(
                        sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(
                            sql.Identifier(name)
                        )
                    )
                return
            except psycopg.errors.ObjectInUse:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)
