"""`pgrst-runbook watch INPUT... --notify SINK...`: follow logs unattended and page with the diagnosis."""

from __future__ import annotations

import argparse
import os
import signal
import sys
from pathlib import Path

from runbook.commands.common import add_input_arguments, scan_options, settings_or_usage
from runbook.commands.connection import add_connection_arguments
from runbook.exit_codes import Exit
from runbook.redact import masking_output, register_secret

NOTIFY_ENV = "PGRST_RUNBOOK_NOTIFY"  # more --notify sinks, separated by spaces
DRILL_MARKER = "DRILL"  # in a --state folder a drill uses: it never mixes with a real watcher's


def _duration(text: str) -> float:
    from runbook.watch.durations import parse_duration

    try:
        return parse_duration(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _slo(text: str) -> float:
    """`99.9`, `99.9%` or `0.999`: the share of writes that should succeed."""
    try:
        value = float(text.strip().rstrip("%"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an SLO: {text!r} (e.g. 99.9%)") from None
    value = value / 100 if value > 1 else value
    if not 0 < value < 1:
        raise argparse.ArgumentTypeError(f"an SLO is between 0 and 100%, not {text!r}")
    return value


def _speed(text: str) -> float:
    from runbook.commands.replay import positive_speed

    return positive_speed(text)


def add_parser(sub: argparse._SubParsersAction) -> argparse.ArgumentParser:
    parser = sub.add_parser(
        "watch",
        help="follow logs unattended; alert with the diagnosis; Prometheus metrics",
        description=(
            "Follow log files (tail -F), globs, stdin and log stores (polled window by window) "
            "like scan; on a new PGRST204 incident "
            "send an alert with the logs' verdict, its confidence and the next command; update "
            "it when the verdict or count class changes; resolve it after a quiet period. "
            "Alerts are queued on disk and retried; input positions and incident state survive "
            "a restart."
        ),
        epilog=(
            "sinks: http(s)://... (Alertmanager webhook v4), pagerduty://ROUTING_KEY, "
            "pagerduty+http(s)://ROUTING_KEY@host:port (add ?change_events=0 to send no Change "
            "Events), slack+https://hooks.slack.com/services/..., "
            "exec:COMMAND (alert JSON on stdin). "
            "exit codes: 0 ok (SIGTERM too); 2 usage error; 4 --test-notify or --once could not "
            "deliver (kept queued)"
        ),
    )
    add_input_arguments(parser)
    add_connection_arguments(parser)  # given: a new incident is inspected (read-only) for its alert
    for action in parser._actions:  # --test-notify needs no input
        if action.dest == "paths":
            action.nargs = "*"
    parser.add_argument(
        "--notify", action="append", default=[], metavar="SINK",
        help=f"where alerts go (repeatable; also ${NOTIFY_ENV}, space-separated, which keeps keys out of ps)"
    )
    parser.add_argument("--state", type=Path, metavar="DIR", help="state folder (default $XDG_STATE_HOME/pgrst-runbook/watch)")
    parser.add_argument("--metrics", metavar="ADDR", help="serve /metrics, e.g. 127.0.0.1:9464 (a bare port binds loopback)")
    parser.add_argument("--metrics-file", type=Path, metavar="PATH", help="write the metrics there (node_exporter textfile), atomically")
    parser.add_argument("--resolve-after", type=_duration, default=600.0, metavar="DURATION", help="resolve after this long without new failures (default 10m)")
    parser.add_argument("--reload-deadline", type=_duration, default=60.0, metavar="DURATION", help="alert reload_not_applied when a DDL or reload request sees no confirmed schema cache load this long (default 60s)")
    parser.add_argument("--admin-poll", type=_duration, default=15.0, metavar="DURATION", help="with --admin-url: how often its /metrics is polled; a rise of pgrst_schema_cache_loads_total is a confirmed load (default 15s)")
    parser.add_argument("--slo", type=_slo, default=0.999, metavar="PERCENT", help="write SLO for the burn-rate page: 1h and 5m at 14.4x, 6h and 30m at 6x (default 99.9%%)")
    parser.add_argument("--burn-min-requests", type=int, default=100, metavar="N", help="writes the long window needs before its burn rate is judged (default 100)")
    parser.add_argument("--auto-reload", action="store_true", help="reload the schema cache of a new incident the database and the API prove stale (never a client mismatch, never without a listener), journalled as run does, then verify; off by default")
    parser.add_argument("--auto-reload-interval", type=_duration, default=None, metavar="DURATION", help="with --auto-reload: at most one auto-reload per table and column this often, also across restarts (default 10m)")
    parser.add_argument("--replay", action="store_true", help="a drill: replay the inputs by their own timestamps (as the replay command does) through the real sinks; every alert carries drill=\"true\" and fingerprints of its own; no database or API is asked; state in a folder of its own unless --state")
    parser.add_argument("--speed", type=_speed, default=None, metavar="N", help="with --replay: N x real time (default 60); the quiet period before a resolve is scaled too")
    parser.add_argument("--max-gap", type=_duration, default=None, metavar="DURATION", help="with --replay: shorten recorded quiet gaps longer than this (default 5m; 0 keeps them)")
    parser.add_argument("--reports", type=Path, metavar="DIR", help="write each incident's report (Markdown) there when it resolves")
    parser.add_argument("--report-max-chars", type=int, metavar="N", help="cut reports at N characters (65536: GitHub's issue body limit)")
    parser.add_argument("--store-poll", type=_duration, default=60.0, metavar="DURATION", help="how often a followed log store (supabase://, clickhouse+http://) is asked for what is new; the newest 40s are left for the next poll, as stores land lines late (default 60s)")
    parser.add_argument("--poll-interval", type=_duration, default=0.25, metavar="DURATION", help="how often followed inputs are polled (default 250ms)")
    parser.add_argument("--once", action="store_true", help="read the inputs to their end, deliver, save state and exit")
    parser.add_argument("--test-notify", action="store_true", help="send one sample alert to every sink and exit (0 delivered, 4 not)")
    parser.set_defaults(handler=run)
    return parser


@masking_output
def run(args: argparse.Namespace) -> int:
    from runbook.watch.sinks import SinkError, parse_sink

    # Sinks from the environment stay out of `ps` and shell history (keys, webhook URLs).
    specs = list(args.notify) + os.environ.get(NOTIFY_ENV, "").split()
    register_secret(*(secret for spec in specs for secret in sink_secrets(spec)))
    try:
        sinks = [parse_sink(spec) for spec in specs]
    except SinkError as exc:
        print(f"pgrst-runbook watch: {exc}", file=sys.stderr)
        return Exit.USAGE
    if args.test_notify:
        return _test_notify(sinks)
    if not args.paths:
        print("pgrst-runbook watch: which logs? give at least one PATH (or - for stdin)", file=sys.stderr)
        return Exit.USAGE
    from runbook.config import Settings
    from runbook.watch.metrics import parse_address
    from runbook.watch.state import default_state_dir
    from runbook.watch.watcher import Watcher, WatchOptions

    settings: Settings | None = settings_or_usage(args, "pgrst-runbook watch")
    if settings is None:
        return Exit.USAGE
    unused = [(flag, needs) for flag, value, needs, given in (
        ("--auto-reload-interval", args.auto_reload_interval, "--auto-reload", args.auto_reload),
        ("--speed", args.speed, "--replay", args.replay),
        ("--max-gap", args.max_gap, "--replay", args.replay),
    ) if value is not None and not given]  # fmt: skip
    if unused:
        flag, needs = unused[0]
        print(f"pgrst-runbook watch: {flag} is used only with {needs}", file=sys.stderr)
        return Exit.USAGE
    if args.replay:
        if args.auto_reload:
            print("pgrst-runbook watch: a drill (--replay) never reloads: drop --auto-reload", file=sys.stderr)
            return Exit.USAGE
        if "-" in args.paths:
            print("pgrst-runbook watch: --replay reads recorded files, not stdin", file=sys.stderr)
            return Exit.USAGE
        settings = None  # a drill asks no server anything: its logs are not today's
    if args.auto_reload and not (settings and (settings.api_url or settings.admin_url)):
        print(
            "pgrst-runbook watch: --auto-reload needs the API (--api-url or --admin-url) and the "
            "database (--dsn, DATABASE_URL or PG*) to prove a stale cache before it reloads",
            file=sys.stderr,
        )
        return Exit.USAGE
    if args.metrics:
        try:
            parse_address(args.metrics)
        except ValueError as exc:
            print(f"pgrst-runbook watch: {exc}", file=sys.stderr)
            return Exit.USAGE
    drill_state: str | None = None
    if args.replay and args.state is None:
        import tempfile

        drill_state = tempfile.mkdtemp(prefix="pgrst-runbook-drill-")
    elif args.replay:
        from runbook.watch.state import STATE_FILE

        marker = args.state / DRILL_MARKER
        if (args.state / STATE_FILE).exists() and not marker.exists():
            print(
                f"pgrst-runbook watch: {args.state} holds a watcher's own state; a drill keeps "
                "its state apart (give another --state, or none)",
                file=sys.stderr,
            )
            return Exit.USAGE
        try:
            args.state.mkdir(parents=True, exist_ok=True)
            marker.write_text("state of pgrst-runbook watch --replay (a drill)\n")
        except OSError as exc:
            print(f"pgrst-runbook watch: cannot use the state folder: {exc.strerror or exc}", file=sys.stderr)
            return Exit.USAGE
    options = WatchOptions(
        inputs=args.paths,
        sinks=sinks,
        state_dir=Path(drill_state) if drill_state else (args.state or default_state_dir()),
        scan=scan_options(args),
        resolve_after=args.resolve_after,
        once=args.once or args.replay,
        metrics_address=args.metrics,
        metrics_file=args.metrics_file,
        poll_interval=args.poll_interval,
        reload_deadline=args.reload_deadline,
        reports_dir=args.reports,
        report_max_chars=args.report_max_chars,
        settings=settings,
        admin_poll=args.admin_poll,
        slo=args.slo,
        burn_min_requests=args.burn_min_requests,
        auto_reload=args.auto_reload,
        auto_reload_interval=600.0 if args.auto_reload_interval is None else args.auto_reload_interval,
        replay_speed=(60.0 if args.speed is None else args.speed) if args.replay else None,
        replay_max_gap=300.0 if args.max_gap is None else (args.max_gap or None),
    )
    stopping = {"now": False}

    def on_term(signum: int, frame: object) -> None:
        stopping["now"] = True

    signal.signal(signal.SIGTERM, on_term)
    signal.signal(signal.SIGINT, on_term)
    try:
        try:
            watcher = Watcher(options)
        except OSError as exc:
            print(f"pgrst-runbook watch: cannot use the state folder: {exc.strerror or exc}", file=sys.stderr)
            return Exit.USAGE
        try:
            return watcher.run(stop=lambda: stopping["now"])
        except OSError as exc:
            print(f"pgrst-runbook watch: {exc.strerror or exc}", file=sys.stderr)
            return Exit.UNREACHABLE
    finally:
        if drill_state is not None:  # a drill's own state goes with it
            import shutil

            shutil.rmtree(drill_state, ignore_errors=True)


def sink_secrets(spec: str) -> list[str]:
    """What in a `--notify` spec is a credential: a PagerDuty routing key, a URL's password and
    query values, a Slack webhook's path (the webhook's secret), an exec command's arguments
    are not secret."""
    from urllib.parse import parse_qsl, urlsplit

    if spec.startswith("exec:"):
        return []
    url = spec.split("+", 1)[1] if spec.startswith("slack+") else spec
    try:
        parts = urlsplit(url)
        username, password = parts.username, parts.password
    except ValueError:
        return [spec]
    found = [password or "", *(v for k, v in parse_qsl(parts.query) if k != "change_events")]
    if parts.scheme.startswith("pagerduty"):
        found += [username or "", parts.netloc if not username else ""]
    if spec.startswith("slack+"):
        found += [url, parts.path.strip("/")]
    return [s for s in found if s]


def _test_notify(sinks: list) -> int:
    from runbook.watch.alerts import sample_alert
    from runbook.watch.sinks import deliver

    if not sinks:
        print("pgrst-runbook watch: --test-notify needs at least one --notify SINK", file=sys.stderr)
        return Exit.USAGE
    alert = sample_alert()
    failed = 0
    for sink in sinks:
        outcome = deliver(sink, alert)
        print(f"{sink.name}: {'delivered' if outcome.delivered else 'NOT delivered'} ({outcome.detail})")
        failed += not outcome.delivered
    return Exit.UNREACHABLE if failed else Exit.OK
