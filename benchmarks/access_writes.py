"""What counting every request (writes and reads) costs a scan of an access log of mostly successful requests.

    python benchmarks/access_writes.py [--lines 2000000] [--runs 3] [--baseline-ref main] [--keep]

Generates a PostgREST access log (v13+ template, reference/postgrest.md 2.1) under
benchmarks/data/: 88% GET 200, 8% POST 201, 2% PATCH 204, 1% POST 400, 0.5% GET 404, 0.5%
DELETE 500, over six hours and four tables. Then runs `python -m runbook scan FILE --format json`
of this tree and of `--baseline-ref` (exported with `git archive` into a temporary folder),
alternating rounds, under `/usr/bin/time -v`, and prints the median wall time and peak RSS of
each and their ratios. The counts of the scan's `writes` and `reads` are checked against the
generator's.
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import subprocess
import sys
import tarfile
import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "benchmarks" / "data"
TABLES = ["profiles", "members", "orders", "mypoolr"]


def generate(path: Path, lines: int) -> dict[str, dict[str, int]]:
    """The log, and the writes (POST, PATCH, PUT, DELETE) and reads (GET) it holds by status
    class."""
    rng = random.Random(7)
    start = datetime(2026, 8, 21, 8, 0, tzinfo=UTC)
    writes = {"2xx": 0, "4xx": 0, "5xx": 0}
    reads = {"2xx": 0, "4xx": 0}
    with path.open("w") as out:
        for i in range(lines):
            ts = start + timedelta(seconds=i * 21600 / lines)
            t = rng.choice(TABLES)
            r = rng.random()
            if r < 0.88:
                request = f'"GET /{t}?select=*&id=eq.{i % 1000} HTTP/1.1" 200 {rng.randint(2, 900)}'
                reads["2xx"] += 1
            elif r < 0.96:
                request, writes["2xx"] = f'"POST /{t} HTTP/1.1" 201 0', writes["2xx"] + 1
            elif r < 0.98:
                request, writes["2xx"] = f'"PATCH /{t}?id=eq.{i % 97} HTTP/1.1" 204 0', writes["2xx"] + 1
            elif r < 0.99:
                request = f'"POST /{t}?columns=open_to_work_email HTTP/1.1" 400 139'
                writes["4xx"] += 1
            elif r < 0.995:
                request, reads["4xx"] = f'"GET /missing_{t} HTTP/1.1" 404 129', reads["4xx"] + 1
            else:
                request, writes["5xx"] = f'"DELETE /{t}?id=eq.{i % 13} HTTP/1.1" 500 80', writes["5xx"] + 1
            out.write(f'127.0.0.1 - web_anon [{ts:%d/%b/%Y:%H:%M:%S %z}] {request} "" "postgrest-js/1.x"\n')
    return {"writes": writes, "reads": reads}


def export(ref: str, into: Path) -> Path:
    archive = subprocess.run(["git", "-C", str(ROOT), "archive", ref], capture_output=True, check=True).stdout
    with tempfile.TemporaryFile() as fh:
        fh.write(archive)
        fh.seek(0)
        with tarfile.open(fileobj=fh) as tar:
            tar.extractall(into, filter="data")
    return into


def timed_scan(tree: Path, log: Path) -> tuple[float, float, dict]:
    """(wall seconds, peak RSS MiB, the JSON document) of one scan run from `tree`."""
    proc = subprocess.run(
        ["/usr/bin/time", "-v", sys.executable, "-m", "runbook", "scan", str(log), "--format", "json", "--no-progress"],
        cwd=tree, capture_output=True, text=True, check=False,
    )
    if proc.returncode != 0:
        raise SystemExit(f"scan failed in {tree}: {proc.stderr[-2000:]}")
    fields = dict(
        line.strip().rsplit(": ", 1) for line in proc.stderr.splitlines() if ": " in line and line.startswith("\t")
    )
    wall = fields["Elapsed (wall clock) time (h:mm:ss or m:ss)"]
    minutes, seconds = wall.rsplit(":", 1)
    return float(minutes.split(":")[-1]) * 60 + float(seconds), int(fields["Maximum resident set size (kbytes)"]) / 1024, json.loads(proc.stdout)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--lines", type=int, default=2_000_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--baseline-ref", default="main")
    parser.add_argument("--keep", action="store_true", help="keep the generated log")
    args = parser.parse_args()
    DATA.mkdir(parents=True, exist_ok=True)
    log = DATA / "access-writes.log"
    expected = generate(log, args.lines)
    print(f"{args.lines} lines, {log.stat().st_size / 2**20:.0f} MiB; writes {expected}")
    with tempfile.TemporaryDirectory() as tmp:
        trees = {"baseline": export(args.baseline_ref, Path(tmp)), "this tree": ROOT}
        results: dict[str, list[tuple[float, float]]] = {name: [] for name in trees}
        for _ in range(args.runs):
            for name, tree in trees.items():
                wall, rss, doc = timed_scan(tree, log)
                results[name].append((wall, rss))
                if name == "this tree":
                    for kind, generated in expected.items():
                        got = {k: sum(t[k] for t in doc[kind]["tables"]) for k in generated}
                        assert got == generated, f"{kind} counted {got}, generated {generated}"
                print(f"  {name}: {wall:.2f} s, {rss:.0f} MiB")
    medians = {name: (statistics.median(w for w, _ in r), statistics.median(m for _, m in r)) for name, r in results.items()}
    for name, (wall, rss) in medians.items():
        print(f"{name}: median {wall:.2f} s, peak RSS {rss:.0f} MiB")
    (bw, bm), (tw, tm) = medians["baseline"], medians["this tree"]
    print(f"ratio: time {tw / bw:.2f}x, memory {tm / bm:.2f}x")
    if not args.keep:
        log.unlink()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
