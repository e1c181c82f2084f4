"""The watcher's Prometheus metrics, in a registry of its own.

`pgrst_runbook_pgrst204_total{table,column}` counts distinct failed requests exactly as `scan`
counts them; past `MAX_PAIRS` distinct pairs (client typos are unbounded) the rest are folded
into `column="__other__"` of their table, or `table="__other__"` past that.
"""

from __future__ import annotations

import threading
from pathlib import Path

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    disable_created_metrics,
    generate_latest,
)
from prometheus_client.exposition import start_http_server

from runbook import __version__
from runbook.atomic_write import write_atomic

MAX_PAIRS = 200
OTHER = "__other__"



class WatchMetrics:
    def __init__(self, max_pairs: int = MAX_PAIRS) -> None:
        disable_created_metrics()  # no *_created series: the textfile collector and promtool want none
        self.registry = CollectorRegistry(auto_describe=True)
        self.max_pairs = max_pairs
        self._pairs: set[tuple[str, str]] = set()
        self._lock = threading.Lock()
        r = self.registry
        self.pgrst204 = Counter(
            "pgrst_runbook_pgrst204", "Distinct failed requests with PGRST204, as scan counts them.",
            ["table", "column"], registry=r,
        )
        self.incidents_open = Gauge(
            "pgrst_runbook_incidents_open", "Open incidents by the logs' verdict.", ["verdict"], registry=r
        )
        self.last_event = Gauge(
            "pgrst_runbook_last_event_timestamp_seconds", "Time of the newest event read.", registry=r
        )
        self.lines_read = Counter(
            "pgrst_runbook_lines_read", "Log lines read.", ["source"], registry=r
        )
        self.source_errors = Counter(
            "pgrst_runbook_source_errors", "Inputs that could not be read.", ["source", "reason"], registry=r
        )
        self.dark_windows = Counter(
            "pgrst_runbook_dark_windows",
            "Log-store windows that did not answer and were given up (never read as zero).",
            ["store"],
            registry=r,
        )
        self.notifications = Counter(
            "pgrst_runbook_notifications", "Notification attempts by receiver and outcome.",
            ["receiver", "outcome"], registry=r,
        )
        self.queued = Gauge(
            "pgrst_runbook_notifications_queued", "Messages waiting in the delivery queue.", registry=r
        )
        self.write_requests = Counter(
            "pgrst_runbook_write_requests",
            "Write requests (POST, PATCH, PUT) in access lines, by status class: the error-rate denominator.",
            ["status_class"], registry=r,
        )
        self.build_info = Gauge(
            "pgrst_runbook_build_info", "Build information (always 1).", ["version"], registry=r
        )
        self.build_info.labels(version=__version__).set(1)

    def count_pgrst204(self, table: str, column: str, added: int) -> None:
        if added <= 0:
            return
        with self._lock:
            pair = (table, column)
            if pair not in self._pairs:
                if len(self._pairs) < self.max_pairs:
                    self._pairs.add(pair)
                elif (table, OTHER) in self._pairs or len(self._pairs) < self.max_pairs + 50:
                    pair = (table, OTHER)
                    self._pairs.add(pair)
                else:
                    pair = (OTHER, OTHER)
        self.pgrst204.labels(table=pair[0], column=pair[1]).inc(added)

    def set_open(self, by_verdict: dict[str, int]) -> None:
        for verdict, n in by_verdict.items():
            self.incidents_open.labels(verdict=verdict).set(n)

    def exposition(self) -> bytes:
        return generate_latest(self.registry)

    def serve(self, address: str) -> object:
        host, port = parse_address(address)
        server, _thread = start_http_server(port, addr=host, registry=self.registry)
        return server

    def write_file(self, path: Path) -> None:
        data = self.exposition()
        write_atomic(Path(path), lambda fh: fh.write(data), force=True)


def parse_address(address: str) -> tuple[str, int]:
    """`9464`, `:9464` or `host:9464`; without a host, loopback (never all interfaces)."""
    host, sep, port = address.rpartition(":")
    if not sep:
        host, port = "", address
    host = host.strip("[]") or "127.0.0.1"
    try:
        number = int(port)
    except ValueError:
        raise ValueError(f"not an address: {address!r} (use e.g. 127.0.0.1:9464)") from None
    if not 0 <= number <= 65535:
        raise ValueError(f"port out of range: {address!r}")
    return host, number
