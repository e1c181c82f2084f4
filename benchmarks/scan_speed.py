"""Ingestion speed and memory, measured against baselines in the same run.

    python benchmarks/scan_speed.py [--gib 1] [--rss-gib 4] [--runs 5] [--keep]

Generates mixed logs (application text with tracebacks, JSON lines, PostgREST access and stderr,
PostgreSQL) with about 0.5% PGRST204 lines under benchmarks/data/, then prints:
- scan wall time / `rg -c PGRST2` over the same files (goal <= 4, aim 3), and / rg with the
  formats' own literal keywords (what the scan itself must find);
- scan wall time / a plain-Python line loop doing the same grouping (goal <= 0.3);
- scan wall time / the same scan with the plain `bytes.find` search (PGRST_RUNBOOK_SEARCH=python),
  when the native one (Hyperscan) is installed;
- peak RSS of a scan of a 1 GiB and of a --rss-gib input (goal <= 300 MiB, and the larger within
  10% of the smaller: streaming, not loading), and of its largest worker process.
Every contender runs --runs times, alternating (scan, rg, rg keywords, loop, scan, ...), so that
a busy moment of the machine hits all alike; medians are printed, and each ratio is the median of
the per-round ratios. Ratios, not absolute times, are the result.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import resource
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # this tree's package, as the scans run from ROOT import it
DATA = ROOT / "benchmarks" / "data"

BODY = (
    "{{'code': 'PGRST204', 'details': None, 'hint': None, "
    "'message': \"Could not find the '{col}' column of '{table}' in the schema cache\"}}"
)
PAIRS = [("adminname", "mypoolr"), ("telegram_handle", "members"), ("doseLogs", "patients")]


def app_block(rng: random.Random, n: int) -> str:
    out = []
    for i in range(n):
        sec = i % 60
        ts = f"2026-11-18 09:{(i // 60) % 60:02d}:{sec:02d},{i % 1000:03d}"
        if rng.random() < 0.005:
            col, table = rng.choice(PAIRS)
            out.append(f"{ts} ERROR bot.handlers: insert failed")
            out.append("Traceback (most recent call last):")
            out.append('  File "/app/bot/handlers.py", line 88, in create_pool')
            out.append("    res = supabase.table('mypoolr').insert(payload).execute()")
            out.append("postgrest.exceptions.APIError: " + BODY.format(col=col, table=table))
        else:
            out.append(f"{ts} INFO bot.handlers: update {i} handled in {rng.randint(1, 90)}ms chat={rng.randint(1, 10**9)}")
    return "\n".join(out) + "\n"


def json_block(rng: random.Random, n: int) -> str:
    # No request ids: blocks repeat, and a repeated id is rightly counted once.
    out = []
    for i in range(n):
        ts = f"2026-11-18T09:{(i // 60) % 60:02d}:{i % 60:02d}.{i % 1000:03d}Z"
        if rng.random() < 0.005:
            col, table = rng.choice(PAIRS)
            out.append(json.dumps({"timestamp": ts, "level": "error", "event": "insert failed",
                                   "error_code": "PGRST204",
                                   "table": table, "column": col}))
        else:
            out.append(json.dumps({"timestamp": ts, "level": "info", "event": "request done",
                                   "path": "/api/v1/items", "status": 200, "ms": rng.randint(1, 90)}))
    return "\n".join(out) + "\n"


def access_block(rng: random.Random, n: int) -> str:
    out = []
    for i in range(n):
        status = 400 if rng.random() < 0.005 else 200
        method = "POST" if status == 400 else rng.choice(["GET", "GET", "PATCH", "POST"])
        out.append(f'10.0.{i % 255}.{i % 7} - web_anon [18/Nov/2026:09:{(i // 60) % 60:02d}:{i % 60:02d} +0000] '
                   f'"{method} /members?select=id,name&limit=20 HTTP/1.1" {status} {rng.randint(2, 900)} "" "postgrest-js/1.x"')
    return "\n".join(out) + "\n"


def generate(folder: Path, total_bytes: int, seed: int = 7) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    rng = random.Random(seed)
    blocks = {"app.log": app_block(rng, 40_000), "app.jsonl": json_block(rng, 30_000),
              "postgrest-access.log": access_block(rng, 40_000)}
    share = total_bytes // len(blocks)
    paths = []
    for name, block in blocks.items():
        path = folder / name
        data = block.encode()
        with path.open("wb") as f:
            written = 0
            while written < share:
                f.write(data)
                written += len(data)
        paths.append(path)
    return paths


def timed(cmd: list[str], env: dict[str, str] | None = None) -> tuple[float, str, int]:
    """Wall seconds, stdout and peak RSS (KiB) of a child process."""
    start = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False, cwd=ROOT,
                          env={**os.environ, **env} if env else None)
    wall = time.perf_counter() - start
    if proc.returncode not in (0, 1):
        raise SystemExit(f"{cmd[:3]} failed: {proc.stderr[-2000:]}")
    return wall, proc.stdout, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss


PY_LOOP = r'''
import re, sys, collections
rx = re.compile(r"Could not find the '(.*?)' column of '(.*?)' in the schema cache")
counts = collections.Counter()
for path in sys.argv[1:]:
    with open(path, encoding="utf-8", errors="replace") as f:
        for line in f:
            if "PGRST2" in line or "schema cache" in line:
                m = rx.search(line)
                if m:
                    counts[(m.group(2), m.group(1))] += 1
                elif '"error_code": "PGRST204"' in line:
                    t = re.search(r'"table": "(.*?)"', line); c = re.search(r'"column": "(.*?)"', line)
                    counts[(t.group(1), c.group(1))] += 1
print(sum(counts.values()))
'''


def keywords() -> list[str]:
    """Every literal keyword the scan's formats look for (what a fair rg searches too)."""
    from parsers import registry

    return sorted({k.decode() for fmt in registry.FORMATS for k in fmt.keywords})


def median(values: list[float]) -> float:
    return statistics.median(values)


def peak_rss_mib(files: list[Path]) -> tuple[float, float]:
    """Peak RSS of a scan's process and of its largest worker process (0 without workers)."""
    cmd = [sys.executable, "-c",
           "import resource,sys; from runbook.cli import main; rc=main(sys.argv[1:]); "
           "print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, "
           "resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, file=sys.stderr); sys.exit(rc)",
           "scan", *map(str, files), "--format", "json", "--no-progress"]
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False, cwd=ROOT)
    own, worker = proc.stderr.strip().splitlines()[-1].split()
    return int(own) / 1024, int(worker) / 1024


def search_engine() -> str:
    from runbook.ingest.candidates import engine_name

    return engine_name()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--gib", type=float, default=1.0)
    ap.add_argument("--rss-gib", type=float, default=4.0, help="input size for the memory run (0: skip)")
    ap.add_argument("--runs", type=int, default=5, help="rounds of alternating runs (default 5)")
    ap.add_argument("--keep", action="store_true", help="keep the generated data")
    args = ap.parse_args()
    files = generate(DATA / "speed", int(args.gib * (1 << 30)))
    size = sum(p.stat().st_size for p in files)
    names = [str(p) for p in files]
    print(f"input: {size / (1 << 30):.2f} GiB in {len(files)} files; {args.runs} alternating rounds")
    for p in files:  # warm the page cache for every contender alike
        subprocess.run(["cat", str(p)], stdout=subprocess.DEVNULL, check=True)

    scan = [sys.executable, "-m", "runbook", "scan", *names, "--format", "json", "--no-progress"]
    contenders: dict[str, list[str]] = {"scan": scan}
    envs: dict[str, dict[str, str]] = {}
    engine = search_engine()
    if engine != "python":  # what the native search saves: the same scan with `bytes.find`
        contenders["scan, plain search"] = scan
        envs["scan, plain search"] = {"PGRST_RUNBOOK_SEARCH": "python"}
    rg = shutil.which("rg")
    if rg:
        contenders["rg -c PGRST2"] = [rg, "-c", "PGRST2", *names]
        words = [arg for k in keywords() for arg in ("-e", k)]
        contenders["rg -c -F keywords"] = [rg, "-c", "-F", "--no-mmap", *words, *names]
    contenders["python line loop"] = [sys.executable, "-c", PY_LOOP, *names]
    walls: dict[str, list[float]] = {name: [] for name in contenders}
    found = 0
    for _ in range(args.runs):
        for name, cmd in contenders.items():
            wall, out, _ = timed(cmd, envs.get(name))
            walls[name].append(wall)
            if name == "scan":
                found = sum(i["count"] for i in json.loads(out)["incidents"])
    print(f"pgrst-runbook scan ({engine} search): median {median(walls['scan']):.2f} s "
          f"(min {min(walls['scan']):.2f}, max {max(walls['scan']):.2f}), {found} failed requests")
    goals = {"rg -c PGRST2": "goal <= 4", "rg -c -F keywords": "", "python line loop": "goal <= 0.3",
             "scan, plain search": ""}
    for name in contenders:
        if name == "scan":
            continue
        ratios = [a / b for a, b in zip(walls["scan"], walls[name], strict=True)]
        goal = f" ({goals[name]})" if goals[name] else ""
        print(f"{name + ':':20} median {median(walls[name]):.2f} s -> scan / it = "
              f"{median(ratios):.1f}{goal}")
    if not rg:
        print("rg not installed (apt-get install ripgrep): ratio to ripgrep not measured")

    if args.rss_gib > 0:
        small, small_worker = peak_rss_mib(files)
        big = generate(DATA / "rss", int(args.rss_gib * (1 << 30)), seed=11)
        gib = sum(p.stat().st_size for p in big) / (1 << 30)
        large, large_worker = peak_rss_mib(big)
        print(f"peak RSS scanning {size / (1 << 30):.2f} GiB: {small:.0f} MiB; {gib:.2f} GiB: "
              f"{large:.0f} MiB ({large / small:.2f}x; goal <= 300 MiB, within 1.1x)")
        print(f"  largest worker process: {small_worker:.0f} MiB; {large_worker:.0f} MiB")
    if not args.keep:
        shutil.rmtree(DATA, ignore_errors=True)


if __name__ == "__main__":
    if not re.match(r"3\.(1[1-9])", sys.version.split()[0]):
        print("needs Python >= 3.11", file=sys.stderr)
    main()
