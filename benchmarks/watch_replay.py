"""A long drill through the real watcher: CPU per 1k lines and alert latency.

    python benchmarks/watch_replay.py [--hours 1] [--speed 360] [--writes-per-second 20]

Generates --hours of traffic: PostgREST access lines (--writes-per-second writes, 201s, plus a
400 for every failure), application JSON lines with PGRST204 bursts (six table/column pairs,
one 60 s burst of 2 failures a second every 10 minutes each, staggered), and a schema cache load
every 30 minutes in PostgREST's stderr. It then runs `watch --replay` in this process (the
`Watcher` with a replay feed, an Alertmanager-webhook sink to a loopback receiver, resolve after
2 minutes of log time) and prints:

- CPU time (process, every thread) per 1,000 lines read: the scan that loads the replay, and
  the watching (counting, judging, queueing, delivering) that follows;
- alert latency: from the moment the replay released a burst's first failure to the moment the
  receiver got that burst's firing alert (wall seconds), median and 90th percentile; and the
  same in log seconds (wall x speed), which is what a live watcher would add to a page.
"""

from __future__ import annotations

import argparse
import bisect
import io
import json
import statistics
import tempfile
import threading
import time
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from runbook.watch.sinks import parse_sink
from runbook.watch.watcher import Watcher, WatchOptions

START = datetime(2026, 11, 18, 0, 0, tzinfo=UTC)
PAIRS = [("mypoolr", "adminname"), ("members", "telegram_handle"), ("patients", "doseLogs"),
         ("orders", "coupon"), ("invoices", "vatId"), ("events", "venue")]
BURST_SECONDS, BURST_EVERY, PER_SECOND = 60, 600, 2


def generate(folder: Path, hours: int, writes: int) -> list[tuple[datetime, str, str]]:
    """The log files; returns each burst's (first failure time, table, column)."""
    bursts: list[tuple[datetime, str, str]] = []
    failing: dict[int, tuple[str, str]] = {}
    for i, (table, column) in enumerate(PAIRS):
        for start in range(i * (BURST_EVERY // len(PAIRS)) + 30, hours * 3600, BURST_EVERY):
            bursts.append((START + timedelta(seconds=start), table, column))
            for s in range(start, min(start + BURST_SECONDS, hours * 3600)):
                failing[s] = (table, column)
    bursts.sort()
    with (folder / "app.jsonl").open("w") as app, (folder / "access.log").open("w") as access:
        for second in range(hours * 3600):
            at = START + timedelta(seconds=second)
            clf = at.strftime("%d/%b/%Y:%H:%M:%S +0000")
            for k in range(writes):
                table = PAIRS[k % len(PAIRS)][0]
                access.write(f'10.0.0.{k % 9} - web_anon [{clf}] "POST /{table} HTTP/1.1" 201 - "" "app"\n')
            if second in failing:
                table, column = failing[second]
                for k in range(PER_SECOND):
                    stamp = (at + timedelta(milliseconds=100 * k)).isoformat().replace("+00:00", "Z")
                    app.write(json.dumps({
                        "timestamp": stamp, "level": "error", "event": "insert failed",
                        "request_id": f"req-{second}-{k}", "method": "POST", "path": f"/{table}",
                        "error": {"code": "PGRST204", "details": None, "hint": None, "message":
                                  f"Could not find the '{column}' column of '{table}' in the schema cache"},
                    }) + "\n")
                    access.write(f'10.0.0.9 - web_anon [{clf}] "POST /{table} HTTP/1.1" 400 139 "" "app"\n')
    with (folder / "postgrest.log").open("w") as stderr:
        for half in range(2 * hours):
            stamp = (START + timedelta(minutes=30 * half, seconds=1)).strftime("%d/%b/%Y:%H:%M:%S +0000")
            stderr.write(f"{stamp}: Schema cache loaded 15 Relations, 8 Relationships, 8 RPCs, "
                         "0 Domain Representations, 4 Media Type Handlers\n")
    return bursts


class Receiver:
    """A loopback Alertmanager-webhook receiver that notes when each alert arrived."""

    def __init__(self) -> None:
        self.got: list[tuple[float, dict]] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                now = time.monotonic()
                for alert in json.loads(body)["alerts"]:
                    outer.got.append((now, alert))
                self.send_response(200)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/hook"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--hours", type=int, default=1)
    ap.add_argument("--speed", type=float, default=360.0)
    ap.add_argument("--writes-per-second", type=int, default=20)
    args = ap.parse_args()
    receiver = Receiver()
    with tempfile.TemporaryDirectory() as tmp:
        folder, state = Path(tmp) / "logs", Path(tmp) / "state"
        folder.mkdir()
        bursts = generate(folder, args.hours, args.writes_per_second)
        options = WatchOptions(
            inputs=[str(folder)], sinks=[parse_sink(receiver.url)], state_dir=state, once=True,
            resolve_after=120.0, replay_speed=args.speed, replay_max_gap=None, poll_interval=0.02,
        )
        cpu0, wall0 = time.process_time(), time.monotonic()
        watcher = Watcher(options, log=io.StringIO())
        cpu1 = time.process_time()
        code = watcher.run()
        cpu2, wall2 = time.process_time(), time.monotonic()
        feed = watcher.follower
        lines = sum(s.lines_read for s in feed.stats())
        started = feed.started_at  # type: ignore[union-attr]
        recorded = feed._plan["ts"].to_list()  # type: ignore[union-attr]
    receiver.server.shutdown()
    assert code == 0 and started is not None, f"watch exited {code}"
    # A burst's first failure is released at started + (its time - the first event's) / speed.
    first_ts = next(t for t in recorded if t is not None)
    firing: dict[tuple[str, str], list[float]] = {}
    for at, alert in receiver.got:
        labels = alert["labels"]
        if labels["alertname"] == "PGRST204" and alert["status"] == "firing":
            firing.setdefault((labels["table"], labels["column"]), []).append(at)
    latencies: list[float] = []
    missed = 0
    for ts, table, column in bursts:
        released = started + (ts - first_ts).total_seconds() / args.speed
        arrivals = firing.get((table, column), [])
        i = bisect.bisect_left(arrivals, released)
        if i < len(arrivals) and arrivals[i] - released < BURST_EVERY / args.speed:
            latencies.append(arrivals[i] - released)
        else:
            missed += 1
    per_k_scan = (cpu1 - cpu0) / lines * 1000
    per_k_watch = (cpu2 - cpu1) / lines * 1000
    print(f"{lines:,} lines, {args.hours} h of logs at {args.speed:g}x: {wall2 - wall0:.1f} s wall")
    print(f"CPU per 1k lines: scan {per_k_scan * 1000:.2f} ms, watch {per_k_watch * 1000:.2f} ms, "
          f"total {(per_k_scan + per_k_watch) * 1000:.2f} ms")
    if latencies:
        p90 = statistics.quantiles(latencies, n=10)[-1] if len(latencies) > 1 else latencies[0]
        med = statistics.median(latencies)
        print(f"first-alert latency over {len(latencies)} bursts ({missed} without a firing alert): "
              f"median {med * 1000:.0f} ms, p90 {p90 * 1000:.0f} ms wall "
              f"(= {med * args.speed:.0f} s / {p90 * args.speed:.0f} s of log time at {args.speed:g}x)")
    print(f"alerts received: {len(receiver.got)}")


if __name__ == "__main__":
    main()
