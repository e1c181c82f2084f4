"""Connection flags shared by `run`, `check` and `install-auto-reload`, and flags -> Settings."""

from __future__ import annotations

import argparse
import math

from runbook.config import Settings, load_settings


def positive_seconds(text: str) -> float:
    """argparse type: a positive number of seconds."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number of seconds: {text!r}") from None
    if not math.isfinite(value) or value <= 0:
        raise argparse.ArgumentTypeError(f"must be a positive, finite number of seconds: {text!r}")
    return value


def add_connection_arguments(parser: argparse.ArgumentParser) -> None:
    """--dsn, --api-url, --supabase-url, --api-key, --admin-url, --channel, --schemas, --timeout."""
    group = parser.add_argument_group("connections (flags > environment > config.toml)")
    group.add_argument("--dsn", help="PostgreSQL DSN (default: DATABASE_URL, then PG* variables)")
    group.add_argument("--api-url", help="PostgREST root URL (default: POSTGREST_URL)")
    group.add_argument(
        "--supabase-url", help="Supabase project URL; the REST root is <url>/rest/v1 (SUPABASE_URL)"
    )
    group.add_argument(
        "--api-key", help="API key sent as apikey and Bearer (default: SUPABASE_SERVICE_ROLE_KEY)"
    )
    group.add_argument("--admin-url", help="PostgREST admin server URL (POSTGREST_ADMIN_URL)")
    group.add_argument("--channel", help="PostgREST's db-channel for NOTIFY (default: pgrst)")
    group.add_argument(
        "--schemas",
        help="exposed schemas, comma-separated, first is the default (PGRST_DB_SCHEMAS)",
    )
    group.add_argument("--api-role", help="the API's database role, for the privilege check")
    group.add_argument(
        "--timeout",
        type=positive_seconds,
        metavar="S",
        help="connect, statement and HTTP timeout in seconds (default 5)",
    )


def settings_from_args(args: argparse.Namespace) -> Settings:
    """Settings from the parsed flags (unset flags fall through to env and config file).

    Raises `ConfigError` for bad values.
    """
    get = lambda name: getattr(args, name, None)  # noqa: E731 - flags differ per command
    timeout = get("timeout")
    flags = {
        "dsn": get("dsn"),
        "api_url": get("api_url"),
        "supabase_url": get("supabase_url"),
        "api_key": get("api_key"),
        "admin_url": get("admin_url"),
        "channel": get("channel"),
        "schemas": get("schemas"),
        "api_role": get("api_role"),
        "reload_method": get("reload_method"),
        "rpc_function": get("rpc"),
        "connect_timeout": timeout,
        "statement_timeout": timeout,
        "http_timeout": timeout,
        "verify_deadline": get("verify_deadline"),
    }
    return load_settings(flags)

