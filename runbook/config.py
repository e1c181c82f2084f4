"""Settings for the runbook: flags, then environment, then an optional TOML file, then defaults.

`load_settings(flags)` returns a frozen `Settings`. Sources, highest first:

1. flags (a mapping; `None` means "not given"),
2. environment: `DATABASE_URL`; libpq's `PG*` variables are left to psycopg (an empty DSN
   makes libpq read them); `POSTGREST_URL`, `POSTGREST_ADMIN_URL`, `SUPABASE_URL` (REST root
   `<url>/rest/v1`), `SUPABASE_SERVICE_ROLE_KEY`; PostgREST's own `PGRST_DB_CHANNEL`,
   `PGRST_DB_SCHEMAS`, `PGRST_DB_ANON_ROLE`,
3. `config.toml` in the XDG config dir (`~/.config/pgrst-runbook/config.toml`, or the file named
   by `PGRST_RUNBOOK_CONFIG`), with the same keys as the `Settings` fields plus `supabase_url`.

Secrets (the DSN's password, the API key) never appear in `repr()`.
"""

from __future__ import annotations

import math
import os
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

import platformdirs

from runbook.errors import ConfigError
from runbook.redact import MASK, dsn_secrets, register_secret

APP_NAME = "pgrst-runbook"
RELOAD_METHODS = ("notify", "rpc", "manual")
SUPABASE_REST_SUFFIX = "/rest/v1"


@dataclass(frozen=True)
class Settings:
    """Everything the runbook needs to reach the database and the API, and how long to wait.

    `dsn` empty means libpq defaults and `PG*` variables. `api_url` is the REST root
    (PostgREST's `/`, Supabase's `/rest/v1`). Times are seconds.
    """

    dsn: str = field(default="", repr=False)
    api_url: str | None = None
    admin_url: str | None = None
    api_key: str | None = field(default=None, repr=False)
    channel: str = "pgrst"
    schemas: tuple[str, ...] = ("public",)  # PostgREST's db-schemas: the exposed schemas
    api_role: str | None = None  # the role whose privileges matter (db-anon-role or JWT role)
    reload_method: str = "notify"
    rpc_function: str | None = None
    connect_timeout: float = 5.0
    statement_timeout: float = 5.0
    http_timeout: float = 5.0
    verify_deadline: float = 30.0
    journal_dir: Path | None = None
    # The TUI's keymap, from the config file's [keys] table: binding id -> key(s), e.g.
    # (("reload", "ctrl+r"), ("runbook", "o")). Ids are listed in `KEY_IDS`.
    keys: tuple[tuple[str, str], ...] = field(default=(), repr=False)

    def __repr__(self) -> str:
        shown = []
        for f in fields(self):
            value = getattr(self, f.name)
            if f.name == "dsn":
                value = masked_dsn(value)
            elif f.name == "api_key" and value:
                value = MASK
            shown.append(f"{f.name}={value!r}")
        return f"Settings({', '.join(shown)})"

    def with_overrides(self, **changes: Any) -> Settings:
        """A copy with some fields replaced (values validated like the loaded ones)."""
        changed = replace(self, **changes)
        register_settings_secrets(changed)
        return _validated(changed)


_URL_SCHEME = re.compile(r"^[a-z][a-z0-9+.-]*://", re.I)


def dsn_password(dsn: str) -> str | None:
    """The password a DSN carries, read the way libpq reads it: the `password` key of a
    key/value DSN (psycopg's `conninfo_to_dict`), the password part of a URL. None if none."""
    from urllib.parse import unquote, urlsplit

    text = dsn.strip()
    if _URL_SCHEME.match(text):
        try:
            netloc = urlsplit(text).netloc
        except ValueError:
            netloc = ""
        userinfo, at, _host = netloc.rpartition("@")
        if at and ":" in userinfo:
            return unquote(userinfo.split(":", 1)[1]) or None
        query_password = re.search(r"[?&]password=([^&]*)", text)
        return unquote(query_password.group(1)) if query_password else None
    from psycopg import ProgrammingError
    from psycopg.conninfo import conninfo_to_dict

    try:
        value = conninfo_to_dict(text).get("password")
    except ProgrammingError:
        return None
    return str(value) if value else None


def masked_dsn(dsn: str) -> str:
    """`dsn` safe to show: the parsed password, and what libpq might misread as one, masked.

    URLs keep their shape (`postgresql://u:***@h/db`); a key/value DSN shows `password=***`.
    A DSN that cannot be parsed is shown as `***` entirely rather than guessed at.
    """
    if not dsn:
        return dsn
    text = dsn.strip()
    secrets = [s for s in {dsn_password(dsn), *dsn_secrets(dsn)} if s]
    if _URL_SCHEME.match(text):  # postgresql://, or an http(s) URL shown the same way
        from urllib.parse import urlsplit, urlunsplit

        try:
            parts = urlsplit(text)
        except ValueError:
            return MASK
        userinfo, at, host = parts.netloc.rpartition("@")
        if at and ":" in userinfo:
            netloc = f"{userinfo.split(':', 1)[0]}:{MASK}@{host}"
        else:
            netloc = parts.netloc
        query = re.sub(r"(?i)(^|&)(password=)[^&]*", rf"\1\2{MASK}", parts.query)
        shown = urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment))
    else:
        from psycopg import ProgrammingError
        from psycopg.conninfo import conninfo_to_dict, make_conninfo

        try:
            params = conninfo_to_dict(text)
        except ProgrammingError:
            return MASK
        password = str(params.get("password") or "")
        if password and password in text:  # keep the DSN as written, the value masked
            shown = text.replace(password, MASK)
        elif password:
            params["password"] = MASK
            shown = make_conninfo("", **params)
        else:
            shown = text
    for secret in sorted(secrets, key=len, reverse=True):
        shown = shown.replace(secret, MASK)
    return shown


def register_settings_secrets(s: Settings) -> None:
    """Tell the redaction what these settings hold that is secret: the API key, and the DSN's
    password (also the pieces libpq may echo when it misreads the DSN)."""
    if s.dsn:
        register_secret(dsn_password(s.dsn), *dsn_secrets(s.dsn))
    register_secret(s.api_key)


def default_config_path(env: Mapping[str, str] | None = None) -> Path:
    """The TOML file read by `load_settings`: `$PGRST_RUNBOOK_CONFIG` or the XDG config dir."""
    env = os.environ if env is None else env
    explicit = env.get("PGRST_RUNBOOK_CONFIG")
    if explicit:
        return Path(explicit)
    return platformdirs.user_config_path(APP_NAME) / "config.toml"


def load_settings(
    flags: Mapping[str, Any] | None = None,
    *,
    env: Mapping[str, str] | None = None,
    config_path: Path | None = None,
) -> Settings:
    """Merge flags > environment > TOML file > defaults into a validated `Settings`.

    `flags` uses the field names of `Settings` (plus `supabase_url`); `None` values are ignored.
    Raises `ConfigError` for an unreadable file or a bad value.
    """
    env = os.environ if env is None else env
    path = config_path or default_config_path(env)
    layers = [_from_flags(flags or {}), _from_env(env), _from_file(path)]
    merged: dict[str, Any] = {}
    for layer in reversed(layers):  # lowest first, higher layers overwrite
        merged.update({k: v for k, v in layer.items() if v is not None})
    known = {f.name for f in fields(Settings)}
    candidate = Settings(**{k: v for k, v in merged.items() if k in known})
    register_settings_secrets(candidate)  # before validation: its errors may quote a value
    return _validated(candidate)


def _api_url_of(layer: Mapping[str, Any]) -> str | None:
    """`api_url` wins over `supabase_url` within one layer; Supabase's REST root is /rest/v1."""
    if layer.get("api_url"):
        return str(layer["api_url"])
    if layer.get("supabase_url"):
        return str(layer["supabase_url"]).rstrip("/") + SUPABASE_REST_SUFFIX
    return None


def _from_flags(flags: Mapping[str, Any]) -> dict[str, Any]:
    out = {k: v for k, v in flags.items() if v is not None}
    out["api_url"] = _api_url_of(flags)
    out.pop("supabase_url", None)
    return out


def _from_env(env: Mapping[str, str]) -> dict[str, Any]:
    schemas = env.get("PGRST_DB_SCHEMAS")
    return {
        "dsn": env.get("DATABASE_URL") or None,
        "api_url": _api_url_of(
            {"api_url": env.get("POSTGREST_URL"), "supabase_url": env.get("SUPABASE_URL")}
        ),
        "admin_url": env.get("POSTGREST_ADMIN_URL") or None,
        "api_key": env.get("SUPABASE_SERVICE_ROLE_KEY") or None,
        "channel": env.get("PGRST_DB_CHANNEL") or None,
        "schemas": _split_schemas(schemas) if schemas else None,
        "api_role": env.get("PGRST_DB_ANON_ROLE") or None,
    }


def _from_file(path: Path) -> dict[str, Any]:
    if not path.is_file():
        return {}
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(
            f"cannot read {path}: {exc}", next_step="fix or remove the file"
        ) from None
    _check_file_values(path, data)
    out: dict[str, Any] = dict(data)
    out["api_url"] = _api_url_of(data)
    out.pop("supabase_url", None)
    if isinstance(out.get("schemas"), str):
        out["schemas"] = _split_schemas(out["schemas"])
    if isinstance(out.get("journal_dir"), str) and out["journal_dir"].strip():
        out["journal_dir"] = Path(out["journal_dir"]).expanduser()
    if isinstance(out.get("keys"), dict):
        out["keys"] = tuple((k, ",".join(p.strip() for p in v.split(","))) for k, v in out["keys"].items())
    return out


# What each key of the config file holds (TOML types); `supabase_url` is read as `api_url`.
_FILE_KEYS: dict[str, tuple[type, ...]] = {
    "dsn": (str,), "api_url": (str,), "supabase_url": (str,), "admin_url": (str,),
    "api_key": (str,), "channel": (str,), "schemas": (str, list), "api_role": (str,),
    "reload_method": (str,), "rpc_function": (str,), "connect_timeout": (int, float),
    "statement_timeout": (int, float), "http_timeout": (int, float),
    "verify_deadline": (int, float), "journal_dir": (str,), "keys": (dict,),
}

# The TUI actions that `[keys]` may rebind (the ids of their key bindings), and what they do.
KEY_IDS: dict[str, str] = {
    "help": "help", "settings": "connection settings", "report": "the report", "quit": "quit",
    "filter": "filter the incidents", "detail": "incident detail", "runbook": "open the runbook",
    "stop-reading": "stop reading", "back": "back", "inspect": "inspect",
    "write-probe": "write probe", "reload": "reload the schema cache", "verify": "verify",
    "dry-run": "dry run on/off", "finish": "finish the session", "copy-notify": "copy NOTIFY",
    "copy-command": "copy the run command", "copy-sample": "copy the sample line",
    "save-report": "save the report", "save-checklist": "update the checklist",
    "down": "down", "up": "up", "first": "first / top", "last": "last / bottom",
}
_KEY_NAME = re.compile(r"[A-Za-z0-9_]+(\+[A-Za-z0-9_]+)*")


def _check_file_values(path: Path, data: Mapping[str, Any]) -> None:
    """Every key known and of its type: a typo must not be ignored in silence."""
    for key, value in data.items():
        where = f"{path}:{_line_of(path, key)}"
        expected = _FILE_KEYS.get(key)
        if expected is None:
            raise ConfigError(
                f"{where}: unknown setting {key!r}",
                next_step=f"known settings: {', '.join(sorted(_FILE_KEYS))}",
            )
        if key == "keys" and isinstance(value, dict):
            _check_keys(path, value)
            continue
        if isinstance(value, bool) or not isinstance(value, expected):
            kind = " or ".join("number" if t in (int, float) else t.__name__ for t in expected)
            raise ConfigError(
                f"{where}: {key} must be a {kind}, got {type(value).__name__}",
                next_step=f"e.g. {key} = {'5' if float in expected else repr('...')}",
            )


def _check_keys(path: Path, keys: Mapping[str, Any]) -> None:
    """[keys]: each id one of `KEY_IDS`, each value one or more key names, comma-separated."""
    for name, value in keys.items():
        where = f"{path}:{_line_of(path, name)}"
        if name not in KEY_IDS:
            raise ConfigError(
                f"{where}: [keys] has no action {name!r}",
                next_step=f"actions: {', '.join(sorted(KEY_IDS))}",
            )
        parts = [p.strip() for p in value.split(",")] if isinstance(value, str) else []
        if not parts or not all(_KEY_NAME.fullmatch(p) for p in parts):
            raise ConfigError(
                f"{where}: [keys] {name} must be a key name such as \"ctrl+r\" or \"x,f5\", "
                f"got {value!r}",
                next_step=f'e.g. {name} = "ctrl+r"',
            )


def _line_of(path: Path, key: str) -> int | str:
    try:
        for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if re.match(rf"\s*[\"']?{re.escape(key)}[\"']?\s*=", line):
                return n
    except OSError:
        pass
    return "?"


def _split_schemas(text: str) -> tuple[str, ...]:
    return tuple(s.strip() for s in text.split(",") if s.strip())


def _validated(s: Settings) -> Settings:
    for name in ("connect_timeout", "statement_timeout", "http_timeout", "verify_deadline"):
        value = getattr(s, name)
        if (
            isinstance(value, bool)
            or not isinstance(value, int | float)
            or not math.isfinite(value)
            or value <= 0
        ):
            raise ConfigError(
                f"{name} must be a positive number of seconds, got {value!r}",
                next_step=f"set {name} to e.g. 5",
            )
    if s.reload_method not in RELOAD_METHODS:
        raise ConfigError(
            f"unknown reload method {s.reload_method!r}",
            next_step=f"use one of: {', '.join(RELOAD_METHODS)}",
        )
    if s.reload_method == "rpc" and not s.rpc_function:
        raise ConfigError(
            "reload method 'rpc' needs a function name",
            next_step="pass --rpc FUNCTION (called as POST /rpc/FUNCTION)",
        )
    if not isinstance(s.channel, str) or not s.channel:
        raise ConfigError("the NOTIFY channel must be a non-empty name", next_step="e.g. pgrst")
    schemas = tuple(s.schemas) if not isinstance(s.schemas, str) else _split_schemas(s.schemas)
    if not schemas or not all(isinstance(x, str) and x for x in schemas):
        raise ConfigError("schemas must list at least one schema name", next_step="e.g. public")
    journal_dir = s.journal_dir
    if journal_dir is not None:
        if isinstance(journal_dir, str) and journal_dir.strip():
            journal_dir = Path(journal_dir).expanduser()
        if not isinstance(journal_dir, Path) or str(journal_dir) in ("", "."):
            # a number or an empty name would put journals in a folder named after it, or here
            raise ConfigError(
                f"journal_dir must be a folder path, got {s.journal_dir!r}",
                next_step="e.g. journal_dir = '~/.local/state/pgrst-runbook/journals'",
            )
    for name in ("api_url", "admin_url"):
        url = getattr(s, name)
        if url is not None and not str(url).startswith(("http://", "https://")):
            raise ConfigError(
                f"{name} must start with http:// or https://, got {url!r}",
                next_step="e.g. http://localhost:3000",
            )
    return replace(
        s,
        schemas=schemas,
        connect_timeout=float(s.connect_timeout),
        statement_timeout=float(s.statement_timeout),
        http_timeout=float(s.http_timeout),
        verify_deadline=float(s.verify_deadline),
        api_url=s.api_url.rstrip("/") if s.api_url else None,
        admin_url=s.admin_url.rstrip("/") if s.admin_url else None,
        journal_dir=journal_dir,
    )
