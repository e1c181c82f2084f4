"""A tiny bounded connection pool for the fake PostgREST (API requests and cache loads).

PostgREST flushes its pool after every successful schema cache load (connections cache the
catalog, #2620); `flush()` does the same here. The counters feed `/metrics`.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator

import psycopg
from psycopg.pq import TransactionStatus


class PoolTimeout(Exception):
    """No connection became free in time (PostgREST's PGRST003)."""


class Pool:
    """At most `size` connections to `dsn`; idle ones are reused until `flush()`."""

    def __init__(
        self, dsn: str, size: int, application_name: str, acquire_timeout: float = 10.0
    ) -> None:
        self.dsn = dsn
        self.size = size
        self.application_name = application_name
        self.acquire_timeout = acquire_timeout
        self._slots = threading.BoundedSemaphore(size)
        self._lock = threading.Lock()
        self._idle: list[psycopg.Connection] = []
        self._generation = 0
        self.connected = 0
        self.in_use = 0
        self.waiting = 0
        self.timeouts = 0

    def _connect(self) -> psycopg.Connection:
        return psycopg.connect(
            self.dsn,
            autocommit=False,
            connect_timeout=5,
            fallback_application_name=self.application_name,
        )

    @contextlib.contextmanager
    def connection(self) -> Iterator[psycopg.Connection]:
        """Borrow a connection; it goes back to the pool only if it is healthy and idle."""
        with self._lock:
            self.waiting += 1
        acquired = self._slots.acquire(timeout=self.acquire_timeout)
        with self._lock:
            self.waiting -= 1
            if not acquired:
                self.timeouts += 1
        if not acquired:
            raise PoolTimeout
        conn: psycopg.Connection | None = None
        try:
            with self._lock:
                conn = self._idle.pop() if self._idle else None
                generation = self._generation
            if conn is None:
                conn = self._connect()
                with self._lock:
                    self.connected += 1
            with self._lock:
                self.in_use += 1
            try:
                yield conn
            finally:
                with self._lock:
                    self.in_use -= 1
        finally:
            if conn is not None:
                self._give_back(conn, generation)
            self._slots.release()

    def _give_back(self, conn: psycopg.Connection, generation: int) -> None:
        healthy = not conn.closed and conn.info.transaction_status == TransactionStatus.IDLE
        with self._lock:
            if healthy and generation == self._generation:
                self._idle.append(conn)
                return
            self.connected -= 1
        conn.close()

    def flush(self) -> None:
        """Close idle connections; busy ones are closed when given back (Hasql.Pool.release)."""
        with self._lock:
            idle, self._idle = self._idle, []
            self._generation += 1
            self.connected -= len(idle)
        for conn in idle:
            conn.close()
