"""Pushed-down store scan vs downloading every row and scanning it with polars, in one run.

    python benchmarks/store_pushdown.py [--gib 1.0] [--repeat 3] [--keep DIR]

Loads >= --gib GiB (uncompressed) of Supabase-shaped rows (`logs`: id, timestamp, source,
event_message, severity_text, log_attributes; 0.5% PGRST204 in both wordings over 24 h) into
chdb (needs `pip install '.[test]'`), serves it with the test stand-in on loopback HTTP, then:
1. `scan clickhouse+http://.../supa/logs_all`: the aggregate pushed down to the engine;
2. `scan supabase://<ref>`: the same through the Management-API face (1000-row cap, splits);
3. download every row in range (`timestamp, source, event_message` as TSV, the leanest a
   download can be) and scan the file with the polars path.
It prints wall time and bytes moved for each, checks that all three find the same counts, and
prints the ratios (goal: >= 20x less time, >= 1000x fewer bytes). The stand-in and chdb run in
this process, so times include the engine's own work on both sides; both sides are warmed up
(imports, compiled expressions) and ClickHouse's query condition cache is off, so no approach
profits from an earlier one; each approach runs --repeat times and the fastest run counts.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from runbook.ingest.scan import ScanOptions, document, scan_paths  # noqa: E402
from runbook.ingest.stores import StoreSettings  # noqa: E402
from tests.stores.store_server import FakeClock, StoreServer, create_tables  # noqa: E402

SINCE = datetime(2026, 11, 18, 0, 0, tzinfo=UTC)
UNTIL = SINCE + timedelta(hours=24)
BATCH = 1_000_000
FILLER = "x" * 400

# One row in 200 is a PGRST204 (0.5%): three (table, column) pairs, both wordings.
GENERATE = """
INSERT INTO supa.logs_all (id, timestamp, source, event_message, severity_text, log_attributes)
SELECT
    lower(hex(cityHash64(n))) AS id,
    toDateTime64('{since}', 6, 'UTC') + toIntervalMicrosecond(intDiv(n * 86400000000, {total})) AS timestamp,
    ['edge_logs', 'function_logs', 'postgres_logs', 'auth_logs', 'postgrest_logs'][n % 5 + 1] AS source,
    multiIf(
        n % 200 = 7 AND intDiv(n, 200) % 2 = 0,
        concat('ERROR app.pools: insert failed: {{''code'': ''PGRST204'', ''details'': None, ''hint'': None, ',
               '''message'': "Could not find the ''', ['adminname', 'telegram_handle', 'doseLogs'][intDiv(n, 200) % 3 + 1],
               ''' column of ''', ['mypoolr', 'members', 'patients'][intDiv(n, 200) % 3 + 1],
               ''' in the schema cache"}}'),
        n % 200 = 7,
        concat('log-dose: Error: Column ''', ['adminname', 'telegram_handle', 'doseLogs'][intDiv(n, 200) % 3 + 1],
               ''' of relation ''', ['mypoolr', 'members', 'patients'][intDiv(n, 200) % 3 + 1], ''' does not exist'),
        n % 5 = 0,
        concat('POST | 201 | 192.0.2.', toString(n % 250), ' | ', lower(hex(cityHash64(n, 1))),
               ' | https://abcdefghijklmnopqrst.supabase.co/rest/v1/orders?select=id | ',
               substring('{filler}', 1, 120 + n % 160)),
        n % 5 = 2,
        concat('duration: ', toString(n % 97), '.', toString(n % 1000), ' ms  statement: SELECT * FROM orders WHERE id = ',
               toString(n), ' -- ', substring('{filler}', 1, 100 + n % 200)),
        concat('request completed path=/token status=200 request_id=', lower(hex(cityHash64(n, 2))), ' ',
               substring('{filler}', 1, 150 + n % 200))
    ) AS event_message,
    ['INFO', 'ERROR', 'LOG', 'INFO', 'INFO'][n % 5 + 1] AS severity_text,
    map('request.path', '/rest/v1/orders', 'response.status_code', '200',
        'request.headers.cf_ray', lower(hex(cityHash64(n, 3)))) AS log_attributes
FROM (SELECT number + {offset} AS n FROM numbers({count}))
"""


def load(server: StoreServer, gib: float) -> tuple[int, int]:
    """Insert rows until the table holds `gib` GiB uncompressed; (rows, uncompressed bytes)."""
    per_row = 480  # measured average of GENERATE, uncompressed, all columns
    total = int(gib * 2**30 / per_row) + 1
    for offset in range(0, total, BATCH):
        sql = GENERATE.format(
            since=SINCE.strftime("%Y-%m-%d %H:%M:%S"),
            total=total,
            offset=offset,
            count=min(BATCH, total - offset),
            filler=FILLER,
        )
        server.session.query(sql)
    server.session.query("OPTIMIZE TABLE supa.logs_all FINAL")
    size = server.session.query(
        "SELECT sum(rows), sum(data_uncompressed_bytes) FROM system.parts "
        "WHERE database = 'supa' AND table = 'logs_all' AND active",
        "TabSeparated",
    )
    rows, uncompressed = (int(x) for x in size.bytes().split())
    return rows, uncompressed


def counts(doc: dict) -> dict[tuple[str, str], int]:
    return {(i["table"], i["column"]): i["count"] for i in doc["incidents"]}


def warm_up(url: str, settings: StoreSettings) -> None:
    """Import and compile everything once (parsers, polars expressions) on one minute of data,
    so that neither side pays first-use costs the other does not."""
    minute = ScanOptions(since=SINCE, until=SINCE + timedelta(minutes=1), store=settings)
    document(scan_paths([url], minute))
    with tempfile.NamedTemporaryFile("w", suffix=".log") as sample:
        sample.write(f"{SINCE.isoformat()} Column 'a' of relation 'b' does not exist\n")
        sample.flush()
        document(scan_paths([sample.name], ScanOptions()))


def pushed_down(url: str, settings: StoreSettings) -> tuple[float, int, dict]:
    started = time.perf_counter()
    doc = document(scan_paths([url], ScanOptions(since=SINCE, until=UNTIL, store=settings)))
    wall = time.perf_counter() - started
    (stats,) = doc["stats"]["stores"]
    assert not stats["partial"], stats
    return wall, int(stats["bytes_moved"]), doc


def download_all(server: StoreServer, folder: Path) -> tuple[float, int, dict]:
    """Every row in range as TSV over the ClickHouse face, then the polars file path."""
    sql = (
        "SELECT timestamp, source, event_message FROM supa.logs_all "
        "WHERE timestamp >= {s:DateTime64(6, 'UTC')} AND timestamp < {e:DateTime64(6, 'UTC')} "
        "FORMAT TabSeparated"
    )
    params = {
        "param_s": SINCE.strftime("%Y-%m-%d %H:%M:%S"),
        "param_e": UNTIL.strftime("%Y-%m-%d %H:%M:%S"),
    }
    headers = {"X-ClickHouse-User": server.ch_user, "X-ClickHouse-Key": server.ch_password}
    path = folder / "download.tsv"
    started = time.perf_counter()
    moved = len(sql)
    with httpx.stream(
        "POST", server.url + "/", params=params, content=sql, headers=headers, timeout=600
    ) as reply:
        reply.raise_for_status()
        with path.open("wb") as out:
            for chunk in reply.iter_raw(1 << 20):
                out.write(chunk)
        moved += reply.num_bytes_downloaded
    doc = document(scan_paths([str(path)], ScanOptions(since=SINCE, until=UNTIL)))
    return time.perf_counter() - started, moved, doc


def human(n: float) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if n < 1000:
            return f"{n:,.1f} {unit}"
        n /= 1000
    return f"{n:,.1f} TB"


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--gib", type=float, default=1.0, help="uncompressed GiB to load (default 1)"
    )
    parser.add_argument("--keep", type=Path, help="keep the chdb data and the download here")
    parser.add_argument(
        "--repeat", type=int, default=3, help="runs of each approach; the fastest counts"
    )
    args = parser.parse_args()
    from chdb.session import Session

    folder = Path(tempfile.mkdtemp(prefix="store-bench-", dir=args.keep))
    session = Session(str(folder / "chdb"))
    # Every approach reads the data afresh: no granule skipping learnt from an earlier query.
    session.query("SET use_query_condition_cache = 0")
    create_tables(session)
    server = StoreServer(session, FakeClock(UNTIL + timedelta(minutes=5))).start()
    server.faults.rate_limit = None
    try:
        started = time.perf_counter()
        rows, uncompressed = load(server, args.gib)
        print(
            f"loaded {rows:,} rows, {uncompressed / 2**30:.2f} GiB uncompressed in {time.perf_counter() - started:.1f} s"
        )
        settings = StoreSettings(
            access_token=server.token,
            management_api_url=server.url,
            clickhouse_password=server.ch_password,
        )
        ch_url = f"clickhouse+http://{server.ch_user}@127.0.0.1:{server.port}/supa/logs_all"
        warm_up(ch_url, settings)
        runs = {
            "pushed down, ClickHouse HTTP": lambda: pushed_down(ch_url, settings),
            "pushed down, Supabase API face": lambda: pushed_down(
                f"supabase://{server.project}", settings
            ),
            "download all rows + polars": lambda: download_all(server, folder),
        }
        # The fastest of --repeat runs: the machine's other load only ever adds time.
        results = {
            name: min((run() for _ in range(args.repeat)), key=lambda r: r[0])
            for name, run in runs.items()
        }
        truth = counts(results["download all rows + polars"][2])
        print(f"\n{'approach':34} {'wall':>9} {'bytes moved':>14}  incidents")
        for name, (wall, moved, doc) in results.items():
            same = "same" if counts(doc) == truth else f"DIFFERENT {counts(doc)}"
            print(
                f"{name:34} {wall:8.2f}s {human(moved):>14}  {sum(truth.values()):,} requests, {same}"
            )
        base_wall, base_bytes, _ = results["download all rows + polars"]
        for name in ("pushed down, ClickHouse HTTP", "pushed down, Supabase API face"):
            wall, moved, _ = results[name]
            print(
                f"{name}: {base_wall / wall:,.1f}x less time (goal >= 20), {base_bytes / moved:,.0f}x fewer bytes (goal >= 1000)"
            )
    finally:
        server.stop()
        session.close()
        if args.keep is None:
            shutil.rmtree(folder, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
