"""TUI latency, measured on a real pseudo-terminal the way an operator meets it.

    python benchmarks/tui_latency.py [--gib 1] [--rate 50000] [--keys 20] [--keep]

1. First frame: time from launching `python -m runbook tui BIG.log` until the terminal shows
   the app (its filter placeholder); goal <= 0.5 s.
2. First incidents: until the first incident's table name is on screen; goal <= 1.5 s, on a
   generated input of --gib GiB (mixed noise, ~0.5% PGRST204 lines spread through it).
3. Key latency under follow: `tui --follow` on a file another thread appends --rate lines/s
   to; each of --keys keystrokes typed into the filter is timed until its echo reaches the
   terminal; goal <= 100 ms (p50, p95 and max are printed). The same keys are first timed
   with the app idle: that is this machine's floor (a loaded machine has long tails anyway).

Figures are wall-clock times on this machine, now; the input is generated under
benchmarks/data/tui/ (git-ignored) and removed unless --keep.
"""

from __future__ import annotations

import argparse
import fcntl
import os
import pty
import random
import select
import shutil
import signal
import statistics
import struct
import subprocess
import sys
import termios
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "benchmarks" / "data" / "tui"
COLS, ROWS = 120, 40
TABLES = [("mypoolr", "adminname"), ("members", "telegram_handle"), ("patients", "doseLogs")]
ERROR = (
    "{ts} ERROR bot.db: insert failed request_id=r{n} APIError({{'code': 'PGRST204', "
    "'details': None, 'hint': None, 'message': \"Could not find the '{col}' column of '{table}' "
    "in the schema cache\"}})\n"
)
NOISE = "{ts} INFO bot.handlers: handled update {n} for chat {chat} in {ms} ms\n"


def line(rng: random.Random, n: int, error_share: float = 0.005) -> str:
    ts = f"2026-11-18 09:{(n // 6000) % 60:02d}:{(n // 100) % 60:02d},{n % 1000:03d}"
    if rng.random() < error_share:
        table, col = TABLES[n % len(TABLES)]
        return ERROR.format(ts=ts, n=n, col=col, table=table)
    return NOISE.format(ts=ts, n=n, chat=rng.randint(1000, 99999), ms=rng.randint(1, 900))


def generate(path: Path, gib: float) -> None:
    target = int(gib * 1024**3)
    if path.exists() and path.stat().st_size >= target:
        return
    rng = random.Random(7)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w") as out:
        written, n = 0, 0
        while written < target:
            block = "".join(line(rng, n + i) for i in range(20000))
            n += 20000
            out.write(block)
            written += len(block)


class Terminal:
    """The app on a pty of COLS x ROWS; `read_until(text)` returns when `text` was drawn."""

    def __init__(self, args: list[str]) -> None:
        self.master, slave = pty.openpty()
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", ROWS, COLS, 0, 0))
        env = {**os.environ, "TERM": "xterm-256color", "COLUMNS": str(COLS), "LINES": str(ROWS)}
        self.started = time.perf_counter()
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "runbook", *args],
            stdin=slave,
            stdout=slave,
            stderr=slave,
            cwd=ROOT,
            env=env,
            start_new_session=True,
        )
        os.close(slave)
        self.seen = b""

    def read_until(self, needle: bytes, timeout: float = 30.0) -> float | None:
        """Seconds since launch when `needle` appeared in the output, None on timeout."""
        deadline = time.perf_counter() + timeout
        while True:
            if needle in self.seen:
                return time.perf_counter() - self.started
            left = deadline - time.perf_counter()
            if left <= 0:
                return None
            ready, _, _ = select.select([self.master], [], [], min(left, 0.05))
            if ready:
                try:
                    chunk = os.read(self.master, 1 << 16)
                except OSError:
                    return None
                # keep a tail only: needles are short, the stream is long
                self.seen = (self.seen + chunk)[-65536:]

    def drain(self, seconds: float) -> None:
        end = time.perf_counter() + seconds
        while time.perf_counter() < end:
            ready, _, _ = select.select([self.master], [], [], 0.02)
            if ready:
                try:
                    os.read(self.master, 1 << 16)
                except OSError:
                    return

    def type(self, text: str) -> None:
        os.write(self.master, text.encode())

    def close(self) -> None:
        try:
            os.killpg(self.proc.pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
        try:
            self.proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
        os.close(self.master)


def startup(path: Path) -> tuple[float | None, float | None]:
    term = Terminal(["tui", str(path)])
    try:
        frame = term.read_until(b"filter by table")
        first = term.read_until(TABLES[0][0].encode())
        return frame, first
    finally:
        term.close()


def key_latency(path: Path, rate: int, keys: int) -> tuple[list[float], int]:
    """Per-key echo latency (s) while a writer appends `rate` lines/s; and lines written."""
    path.write_text("")
    stop = threading.Event()
    written = [0]

    def writer() -> None:
        rng = random.Random(11)
        n = 0
        tick = 0.05
        per_tick = int(rate * tick)
        with path.open("a") as out:
            next_at = time.perf_counter()
            while not stop.is_set():
                out.write("".join(line(rng, n + i) for i in range(per_tick)))
                out.flush()
                n += per_tick
                written[0] = n
                next_at += tick
                time.sleep(max(0.0, next_at - time.perf_counter()))

    term = Terminal(["tui", "--follow", str(path)])
    thread = threading.Thread(target=writer, daemon=True) if rate else None
    latencies: list[float] = []
    try:
        if term.read_until(b"filter by table") is None:
            raise SystemExit("the app did not start")
        if thread is not None:
            thread.start()
        term.read_until(b"following", timeout=30)
        term.drain(1.0)
        term.type("/")
        term.drain(0.3)
        for i in range(keys):
            char = "QZXJKVWY"[i % 8]
            term.seen = b""
            sent = time.perf_counter()
            term.type(char)
            if term.read_until(char.encode(), timeout=5) is None:
                latencies.append(5.0)
                continue
            latencies.append(time.perf_counter() - sent)
            term.drain(0.15)
    finally:
        stop.set()
        term.close()
        if thread is not None:
            thread.join(timeout=2)
    return latencies, written[0]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--gib", type=float, default=1.0, help="size of the startup input")
    parser.add_argument("--rate", type=int, default=50000, help="lines per second appended")
    parser.add_argument("--keys", type=int, default=20, help="keystrokes to time under follow")
    parser.add_argument("--keep", action="store_true", help="keep the generated input")
    args = parser.parse_args()

    big = DATA / f"big-{args.gib:g}gib.log"
    print(f"generating {big.relative_to(ROOT)} ({args.gib:g} GiB)…", flush=True)
    generate(big, args.gib)
    size = big.stat().st_size
    try:
        frame, first = startup(big)
        print(f"input: {size / 1024**3:.2f} GiB, {COLS}x{ROWS} pty")
        print(f"first frame:      {_s(frame)}   (goal <= 0.5 s)")
        print(f"first incidents:  {_s(first)}   (goal <= 1.5 s)")
        live = DATA / "follow.log"
        idle, _ = key_latency(live, 0, args.keys)
        print(f"key echo, app idle (this machine's floor): {_spread(idle)}")
        latencies, lines = key_latency(live, args.rate, args.keys)
        print(
            f"key echo under follow at {args.rate:,} lines/s ({lines:,} lines appended): "
            f"{_spread(latencies)}   (goal <= 100 ms)"
        )
        print(f"load average during the run: {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")
    finally:
        if not args.keep:
            shutil.rmtree(DATA, ignore_errors=True)
    return 0


def _spread(latencies: list[float]) -> str:
    ms = sorted(x * 1000 for x in latencies)
    p95 = ms[min(len(ms) - 1, int(len(ms) * 0.95))]
    return (
        f"p50 {statistics.median(ms):.0f} ms, p95 {p95:.0f} ms, max {ms[-1]:.0f} ms "
        f"over {len(ms)} keys"
    )


def _s(value: float | None) -> str:
    return "timed out" if value is None else f"{value:.2f} s"


if __name__ == "__main__":
    sys.exit(main())
