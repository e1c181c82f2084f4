"""The PostgREST side: OpenAPI, the admin server (`/schema_cache`, `/metrics`) and the probes.

`PostgrestClient(settings)` wraps one `httpx.Client` (timeouts from settings; `apikey` and
`Authorization: Bearer` when an API key is set). Reference: PostgREST's "Admin Server"
and "Errors" documentation.

- `openapi(schema)` / `admin_schema_cache()` -> `CacheView`: what PostgREST's *cache* holds.
- `metrics()` -> `Metrics`: the Prometheus samples, e.g. `schema_cache_loads()`.
- `read_probe(schema, table, column)`: `GET /T?select=C&limit=0` (answers from the *database*).
- `write_probe(schema, table, column)`: `POST /T?columns=C`, body `[]`,
  `Prefer: tx=rollback, return=minimal` (answers from the *cache*; zero rows either way).
- `call_rpc(schema, function)`: `POST /rpc/F` with `{}` (the `rpc` reload method).

Table and function names are percent-escaped as one path segment; column names go through
httpx's query encoding and PostgREST's double-quote syntax when they are not plain identifiers.
Transport failures become `ApiUnreachable` / `TimeoutExceeded`; rejected keys `AuthFailed`.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

import httpx

from runbook.config import Settings
from runbook.errors import ApiError, ApiUnreachable, AuthFailed, TimeoutExceeded
from runbook.redact import redact

_PLAIN_NAME = re.compile(r"[A-Za-z0-9_$]+")
WRITE_PROBE_PREFER = "tx=rollback, return=minimal"
_BODY_EXCERPT = 300


def pgrst_name(name: str) -> str:
    """A column name as PostgREST's `select=`/`columns=` parser reads it (quoted if needed)."""
    if _PLAIN_NAME.fullmatch(name):
        return name
    return '"' + name.replace("\\", "\\\\").replace('"', '\\"') + '"'


def path_segment(name: str) -> str:
    """`name` percent-escaped as a single URL path segment (`/`, `?`, `#`, spaces, unicode)."""
    return quote(name, safe="")


@dataclass(frozen=True)
class ProbeResult:
    """One HTTP request to the API and what came back.

    `action` is what was sent ("POST /items?columns=note"), for the journal and the screen.
    `code`/`message` come from a PostgREST error body when there is one.
    """

    method: str
    path: str
    status: int
    code: str | None = None
    message: str | None = None
    preference_applied: str | None = None

    @property
    def action(self) -> str:
        return f"{self.method} {self.path}"

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300

    @property
    def rolled_back(self) -> bool:
        """True when PostgREST confirmed `tx=rollback` in `Preference-Applied`."""
        return "tx=rollback" in (self.preference_applied or "")

    def describe(self) -> str:
        """`201` / `400 PGRST204: Could not find ...` on one line."""
        text = str(self.status)
        if self.code:
            text += f" {self.code}"
        if self.message:
            text += f": {self.message}"
        return text


@dataclass(frozen=True)
class CacheView:
    """Columns per (schema, table) as one view of PostgREST's schema cache.

    `source` is "openapi" (one schema per document) or "admin" (`/schema_cache`, all schemas).
    """

    source: str
    tables: dict[tuple[str, str], frozenset[str]] = field(default_factory=dict)
    schemas: frozenset[str] = frozenset()

    def columns(self, schema: str, table: str) -> frozenset[str] | None:
        """The cached columns of `schema.table`, or None when the table is not in this view."""
        return self.tables.get((schema, table))

    def covers(self, schema: str) -> bool:
        """Whether this view can speak for `schema` at all."""
        return schema in self.schemas


@dataclass(frozen=True)
class Metrics:
    """Prometheus samples from the admin server: (name, sorted label items) -> value."""

    samples: dict[tuple[str, tuple[tuple[str, str], ...]], float]

    def value(self, name: str, **labels: str) -> float | None:
        return self.samples.get((name, tuple(sorted(labels.items()))))

    def schema_cache_loads(self, status: str = "SUCCESS") -> float | None:
        """`pgrst_schema_cache_loads_total{status=...}` (PostgREST v12.2+), or None."""
        return self.value("pgrst_schema_cache_loads_total", status=status)


_SAMPLE = re.compile(r"^([A-Za-z_:][A-Za-z0-9_:]*)(?:\{(.*)\})?\s+(\S+)(?:\s+-?\d+)?\s*$")
_LABEL = re.compile(r'\s*([A-Za-z_][A-Za-z0-9_]*)\s*=\s*"((?:[^"\\]|\\.)*)"\s*,?')
_LABEL_ESCAPES = {"\\\\": "\\", '\\"': '"', "\\n": "\n"}


def parse_metrics(text: str) -> Metrics:
    """Parse Prometheus text exposition (format 0.0.4) into `Metrics`.

    Comment lines are skipped; a sample line is `name{label="value",...} value [timestamp]`.
    Raises `ApiError` when a line is neither.
    """
    samples: dict[tuple[str, tuple[tuple[str, str], ...]], float] = {}
    for number, line in enumerate(text.splitlines(), 1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        match = _SAMPLE.match(line)
        if not match:
            raise ApiError(f"unreadable /metrics line {number}: {line[:80]}")
        name, label_text, value = match.groups()
        labels = []
        rest = label_text or ""
        while rest.strip():
            label = _LABEL.match(rest)
            if not label:
                raise ApiError(f"unreadable labels on /metrics line {number}: {line[:80]}")
            raw = re.sub(r"\\[\\\"n]", lambda m: _LABEL_ESCAPES[m.group()], label.group(2))
            labels.append((label.group(1), raw))
            rest = rest[label.end() :]
        try:
            samples[(name, tuple(sorted(labels)))] = float(value)
        except ValueError:
            raise ApiError(f"unreadable value on /metrics line {number}: {value[:40]}") from None
    return Metrics(samples)


def parse_openapi(doc: Any, schema: str) -> CacheView:
    """Columns per table from an OpenAPI (Swagger 2) document of one schema."""
    definitions = doc.get("definitions") if isinstance(doc, dict) else None
    if not isinstance(definitions, dict):
        raise ApiError("the API root did not return an OpenAPI document with definitions")
    tables = {}
    for table, definition in definitions.items():
        props = definition.get("properties") if isinstance(definition, dict) else None
        tables[(schema, str(table))] = frozenset(props or {})
    return CacheView("openapi", tables, frozenset({schema}))


def parse_schema_cache(doc: Any) -> CacheView:
    """Columns per table from the admin server's `/schema_cache` JSON (`dbTables` pairs)."""
    raw_tables = doc.get("dbTables") if isinstance(doc, dict) else None
    if not isinstance(raw_tables, list):
        raise ApiError("/schema_cache has no dbTables list")
    tables = {}
    for entry in raw_tables:
        if not (isinstance(entry, list | tuple) and len(entry) == 2):
            continue
        ident, table = entry
        if not isinstance(ident, dict) or not isinstance(table, dict):
            continue
        cols = table.get("tableColumns") or {}
        if isinstance(cols, dict):
            names: Iterable[str] = cols.keys()
        else:  # tolerate a list of column objects
            names = [str(c["colName"]) for c in cols if isinstance(c, dict) and c.get("colName")]
        key = (str(ident.get("qiSchema", "")), str(ident.get("qiName", "")))
        tables[key] = frozenset(names)
    return CacheView("admin", tables, frozenset(s for s, _ in tables))


class PostgrestClient:
    """A small typed client for the PostgREST API and admin server of one deployment.

    Use as a context manager or call `close()`. `transport` is for tests (httpx.MockTransport).
    """

    def __init__(self, settings: Settings, *, transport: httpx.BaseTransport | None = None):
        self.settings = settings
        headers = {"User-Agent": "pgrst-runbook"}
        if settings.api_key:
            headers["apikey"] = settings.api_key
            headers["Authorization"] = f"Bearer {settings.api_key}"
        self._http = httpx.Client(
            timeout=httpx.Timeout(settings.http_timeout),
            headers=headers,
            transport=transport,
            follow_redirects=False,
        )

    def __enter__(self) -> PostgrestClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._http.close()

    @property
    def has_api(self) -> bool:
        return bool(self.settings.api_url)

    @property
    def has_admin(self) -> bool:
        return bool(self.settings.admin_url)

    # -- cache views -------------------------------------------------------------------------

    def openapi(self, schema: str) -> CacheView:
        """`GET /` for `schema` (Accept-Profile unless it is the default schema)."""
        response = self._request(
            "GET", self._api_base(), "/", headers=self._profile("Accept", schema)
        )
        self._raise_for_status(response, "GET /")
        return parse_openapi(_json(response, "GET /"), schema)

    def admin_schema_cache(self) -> CacheView:
        """Admin `GET /schema_cache` (PostgREST v12.2+)."""
        response = self._request("GET", self._admin_base(), "/schema_cache")
        self._raise_for_status(response, "GET /schema_cache")
        if not response.content.strip():
            raise ApiError("/schema_cache is empty: PostgREST has no schema cache loaded")
        return parse_schema_cache(_json(response, "GET /schema_cache"))

    def metrics(self) -> Metrics:
        """Admin `GET /metrics`, parsed."""
        response = self._request("GET", self._admin_base(), "/metrics")
        self._raise_for_status(response, "GET /metrics")
        return parse_metrics(response.text)

    def ready(self) -> int:
        """Admin `GET /ready` status code (200 loaded, 503 loading/reloading)."""
        return self._request("GET", self._admin_base(), "/ready").status_code

    # -- probes ------------------------------------------------------------------------------

    def read_probe(self, schema: str, table: str, column: str) -> ProbeResult:
        """`GET /T?select=C&limit=0`: 200 when the *database* has the column (no rows read)."""
        path = "/" + path_segment(table)
        params = {"select": pgrst_name(column), "limit": "0"}
        response = self._request(
            "GET", self._api_base(), path, params=params, headers=self._profile("Accept", schema)
        )
        return _probe_result("GET", response)

    def write_probe(self, schema: str, table: str, column: str) -> ProbeResult:
        """`POST /T?columns=C` with `[]` and `Prefer: tx=rollback, return=minimal`.

        201 means the *cache* has the column; 400 PGRST204 means it does not. The empty array
        inserts zero rows, and the rollback is confirmed by `ProbeResult.rolled_back`.
        """
        path = "/" + path_segment(table)
        headers = {
            "Content-Type": "application/json",
            "Prefer": WRITE_PROBE_PREFER,
            **self._profile("Content", schema),
        }
        response = self._request(
            "POST",
            self._api_base(),
            path,
            params={"columns": pgrst_name(column)},
            headers=headers,
            content=b"[]",
        )
        return _probe_result("POST", response)

    def call_rpc(self, schema: str, function: str) -> ProbeResult:
        """`POST /rpc/F` with body `{}` (a reload function exposed over the API)."""
        path = "/rpc/" + path_segment(function)
        headers = {"Content-Type": "application/json", **self._profile("Content", schema)}
        response = self._request("POST", self._api_base(), path, headers=headers, content=b"{}")
        return _probe_result("POST", response)

    # -- plumbing ----------------------------------------------------------------------------

    def _profile(self, kind: str, schema: str) -> dict[str, str]:
        # PostgREST's default schema is the first of db-schemas; others need a profile header.
        if schema and schema != self.settings.schemas[0]:
            return {f"{kind}-Profile": schema}
        return {}

    def _api_base(self) -> str:
        if not self.settings.api_url:
            raise ApiUnreachable(
                "no API URL configured",
                title="API not configured",
                next_step="pass --api-url (or --supabase-url), or set POSTGREST_URL",
            )
        return self.settings.api_url

    def _admin_base(self) -> str:
        if not self.settings.admin_url:
            raise ApiUnreachable(
                "no admin server URL configured",
                title="Admin server not configured",
                next_step="pass --admin-url or set POSTGREST_ADMIN_URL (admin-server-port)",
            )
        return self.settings.admin_url

    def _request(self, method: str, base: str, path: str, **kwargs: Any) -> httpx.Response:
        url = base + path
        try:
            return self._http.request(method, url, **kwargs)
        except httpx.TimeoutException:
            raise TimeoutExceeded(
                f"no answer from {_origin(base)} to {method} {path} within "
                f"{self.settings.http_timeout:g} s",
                next_step="check that PostgREST is up and reachable, or raise --timeout",
            ) from None
        except (httpx.TransportError, httpx.InvalidURL) as exc:
            raise ApiUnreachable(
                f"cannot reach {_origin(base)} ({_cause(exc)})",
                next_step="check that PostgREST is running and the URL is right",
            ) from None

    @staticmethod
    def _raise_for_status(response: httpx.Response, what: str) -> None:
        if response.status_code in (401, 403):
            raise AuthFailed(
                f"{what} answered {response.status_code}: {_error_excerpt(response)}",
                next_step="check --api-key / SUPABASE_SERVICE_ROLE_KEY",
            )
        if response.status_code >= 400:
            raise ApiError(f"{what} answered {response.status_code}: {_error_excerpt(response)}")


def _probe_result(method: str, response: httpx.Response) -> ProbeResult:
    code, message = _error_fields(response) if response.status_code >= 400 else (None, None)
    url = response.request.url
    path = url.raw_path.decode("ascii", "replace")
    return ProbeResult(
        method=method,
        path=redact(path) or path,
        status=response.status_code,
        code=code,
        message=message,
        preference_applied=response.headers.get("Preference-Applied"),
    )


def _error_fields(response: httpx.Response) -> tuple[str | None, str | None]:
    try:
        body = response.json()
    except (json.JSONDecodeError, UnicodeDecodeError):
        return None, _error_excerpt(response) or None
    if isinstance(body, dict):
        code = body.get("code")
        message = body.get("message")
        return (str(code) if code is not None else None, redact(str(message)) if message else None)
    return None, _error_excerpt(response) or None


def _json(response: httpx.Response, what: str) -> Any:
    try:
        return response.json()
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise ApiError(f"{what} did not return JSON: {_error_excerpt(response)}") from None


def _error_excerpt(response: httpx.Response) -> str:
    text = " ".join(response.text.split())[:_BODY_EXCERPT]
    return redact(text) or ""


def _origin(url: str) -> str:
    try:
        parsed = httpx.URL(url)
    except httpx.InvalidURL:
        return redact(url) or url
    port = f":{parsed.port}" if parsed.port else ""
    return f"{parsed.scheme}://{parsed.host}{port}"


def _cause(exc: Exception) -> str:
    text = " ".join(str(exc).split()) or type(exc).__name__
    if "refused" in text.lower():
        return "connection refused"
    return redact(text) or type(exc).__name__
