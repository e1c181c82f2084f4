"""Is the connection pooled? Port and host conventions, a pooler's admin console, a backend
that changes between two transactions. Inferences are said as "likely"; read-only."""

from __future__ import annotations

import os
from dataclasses import dataclass, field

import psycopg
from psycopg.conninfo import conninfo_to_dict

from runbook.servers.catalog import scalar

POOLER_PORTS = {"6543": "Supavisor's transaction-mode port", "6432": "PgBouncer's default port"}
POOLER_HOST_SUFFIXES = ("pooler.supabase.com",)


@dataclass


class PoolerGuess:
    """Whether the connection goes through a pooler: `likely` True/False/None and why."""

    likely: bool | None = None
    certain: bool = False
    reasons: list[str] = field(default_factory=list)

    def add(self, reason: str, *, certain: bool = False) -> None:
        self.likely = True
        self.certain = self.certain or certain
        self.reasons.append(reason)

    def describe(self) -> str:
        if self.likely is None:
            return "no sign of a pooler" if not self.reasons else "; ".join(self.reasons)
        word = "pooled" if self.certain else "likely pooled"
        return f"{word}: " + "; ".join(self.reasons)


def pooler_from_dsn(dsn: str, env: dict[str, str] | None = None) -> PoolerGuess:
    """Host and port conventions of the DSN (and `PGHOST`/`PGPORT`)."""
    guess = PoolerGuess()
    params = dialled(dsn, env)
    port, host = params.get("port", ""), params.get("host", "")
    if port in POOLER_PORTS:
        guess.add(f"port {port} is {POOLER_PORTS[port]}")
    for suffix in POOLER_HOST_SUFFIXES:
        if any(h.endswith(suffix) for h in host.split(",")):
            guess.add(f"host {host} is Supabase's pooler (Supavisor)")
    return guess


def pooler_console(conn: psycopg.Connection) -> PoolerGuess:
    """`SHOW POOLS` answered with pool rows means a PgBouncer/Supavisor admin console.

    PostgreSQL itself refuses it ("unrecognized configuration parameter"); that proves nothing
    either way, because a pooler forwards `SHOW` on ordinary databases.
    """
    guess = PoolerGuess()
    try:
        with conn.transaction():
            cur = conn.execute("SHOW POOLS")
            names = [d.name for d in cur.description or []]
            rows = cur.fetchall()
    except psycopg.Error:
        return guess
    if "pool_mode" in names:
        modes = sorted({str(r[names.index("pool_mode")]) for r in rows})
        guess.add(f"SHOW POOLS answers with pool modes {', '.join(modes)}", certain=True)
    return guess


def backend_pid_changes(dsn: str, *, connect_timeout: float = 5.0) -> bool | None:
    """Two read-only transactions on one connection: a different backend pid means a
    transaction-mode pooler (certain). Same pid proves nothing. None when it cannot connect."""
    try:
        with psycopg.connect(
            dsn, connect_timeout=max(1, int(connect_timeout)), application_name="pgrst-runbook"
        ) as conn:
            conn.read_only = True
            pids = []
            for _ in range(2):
                with conn.transaction():
                    pids.append(scalar(conn, "SELECT pg_catalog.pg_backend_pid()"))
    except (psycopg.Error, OSError):
        return None
    return pids[0] != pids[1]


def dialled(dsn: str, env: dict[str, str] | None = None) -> dict[str, str]:
    """Host and port the DSN dials (libpq's `PGHOST`/`PGPORT` and 5432 fill the gaps)."""
    env = dict(os.environ) if env is None else env
    try:
        params = {k: str(v) for k, v in conninfo_to_dict(dsn).items() if v not in (None, "")}
    except psycopg.ProgrammingError:
        params = {}
    params.setdefault("host", env.get("PGHOST", ""))
    params.setdefault("port", env.get("PGPORT", "") or "5432")
    return params
