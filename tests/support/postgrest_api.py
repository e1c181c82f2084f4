"""The fake PostgREST's HTTP API: tables, RPC and OpenAPI (reference §3, §5, §6).

What matters for the tool is reproduced exactly: write columns (body keys or `?columns=`) are
checked against the CACHED table, giving PGRST204/PGRST205 before any SQL runs; reads, filters
and `select=` go straight to PostgreSQL, so they see the live schema and fail with 42703.
Everything else is a deliberately small subset (no embedding, casts, logic trees, CSV output).

All identifiers reach SQL through `psycopg.sql.Identifier` (with `%` doubled, since psycopg
reads it as a placeholder in parametrised queries). Column *types* come from the catalog
(`format_type`, already quoted by PostgreSQL) and are spliced as SQL text. Quoted names in
`select`, `columns`, `order`, `on_conflict` and filters unescape `\\"` like `pQuotedValue`.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, unquote

import psycopg
from psycopg import sql

from tests.support.pg_pool import Pool, PoolTimeout
from tests.support.postgrest_logs import Profile, StderrLog, error_json
from tests.support.postgrest_query import (
    RESERVED,
    ApiError,
    filters,
    fuzzy,
    ident,
    ident_list,
    int_param,
    order_by,
    pg_error_status,
    raw,
    select_item,
    unquote_ident,
)
from tests.support.schema_cache import Routine, SchemaCache, Table, openapi

JSON_CT = "application/json; charset=utf-8"


@dataclass
class Request:
    method: str
    path: str  # raw path, still percent-encoded, without the query
    query: str
    headers: Mapping[str, str]
    body: bytes
    prefer: list[str] = field(default_factory=list)  # every Prefer header value


@dataclass
class Response:
    status: int
    body: bytes = b""
    headers: list[tuple[str, str]] = field(default_factory=list)
    role: str | None = None  # for the access log; None prints `-`


@dataclass
class ApiConfig:
    profile: Profile
    schemas: list[str]
    tx_end: str
    anon_role: str | None
    require_key: str | None
    host: str
    port: int


class Api:
    """Turns a `Request` into a `Response`, using the cache for planning and the pool for SQL."""

    def __init__(
        self,
        config: ApiConfig,
        pool: Pool,
        get_cache: Callable[[], SchemaCache | None],
        log: StderrLog,
    ) -> None:
        self.cfg = config
        self.pool = pool
        self.get_cache = get_cache
        self.log = log
        self.profile = config.profile

    # -- entry point ----------------------------------------------------------------------
    def handle(self, req: Request) -> Response:
        try:
            return self._route(req)
        except _GatewayError as err:
            body = json.dumps(err.body, separators=(",", ":")).encode()
            return Response(err.status, body, [("Content-Type", JSON_CT)], None)
        except ApiError as err:
            # The role is unknown when no cache exists (reference §2.3: `- -` on the 503).
            return self._error_response(err, None if err.code == "PGRST002" else self.role)

    def _error_response(self, err: ApiError, role: str | None) -> Response:
        body = error_json(err.code, err.message, err.details, err.hint).encode()
        headers = [("Content-Type", JSON_CT)]
        if self.profile.proxy_status:
            headers.append(("Proxy-Status", f"PostgREST; error={err.code}"))
        headers += list(err.headers)
        if err.status == 401:
            headers.append(("WWW-Authenticate", "Bearer"))
        return Response(err.status, body, headers, role)

    @property
    def role(self) -> str | None:
        """The access-log role: the anon role, else the authenticator from the DSN."""
        return self.cfg.anon_role or _dsn_user(self.pool.dsn)

    def _route(self, req: Request) -> Response:
        if self.cfg.require_key is not None:
            self._check_key(req)
        cache = self.get_cache()
        if cache is None:
            err = ApiError(
                503, "PGRST002", "Could not query the database for the schema cache. Retrying."
            )
            if self.profile.version >= (14, 0, 0) and self.log.level_at_least("error"):
                self.log.write(error_json(err.code, err.message))  # SchemaCacheEmptyObs
            raise err
        segments = [unquote(s) for s in req.path.split("/")[1:]]
        method = req.method
        if segments in ([], [""]):
            if method in ("GET", "HEAD"):
                return self._openapi(req, cache)
            raise ApiError(405, "PGRST117", f"Unsupported HTTP method: {method}")
        schema = self._schema(req)
        if len(segments) == 2 and segments[0] == "rpc":
            return self._rpc(req, cache, schema, segments[1])
        if len(segments) != 1:
            raise ApiError(404, "PGRST125", f"Invalid path specified in request URL: {req.path}")
        name = segments[0]
        table = cache.tables.get((schema, name))
        if table is None and self.profile.table_check:
            options = [t for (s, t) in cache.tables if s == schema]
            hint = fuzzy(name, options)
            raise ApiError(
                404,
                "PGRST205",
                f"Could not find the table '{schema}.{name}' in the schema cache",
                hint=f"Perhaps you meant the table '{schema}.{hint}'" if hint else None,
            )
        if method == "OPTIONS":
            return Response(
                200, b"", [("Allow", "OPTIONS,GET,HEAD,POST,PUT,PATCH,DELETE")], self.role
            )
        if method in ("GET", "HEAD"):
            return self._read(req, schema, name)
        if method in ("POST", "PATCH", "PUT"):
            return self._write(req, schema, name, table)
        if method == "DELETE":
            return self._delete(req, schema, name)
        raise ApiError(405, "PGRST117", f"Unsupported HTTP method: {method}")

    def _check_key(self, req: Request) -> None:
        """A Supabase-gateway-like guard: `apikey` or `Authorization: Bearer` must match."""
        auth = req.headers.get("Authorization") or ""
        given = req.headers.get("apikey") or (
            auth[7:] if auth.lower().startswith("bearer ") else None
        )
        if given is None:
            raise _GatewayError(
                401,
                {
                    "message": "No API key found in request",
                    "hint": "No `apikey` request header or url param was found.",
                },
            )
        if given != self.cfg.require_key:
            raise _GatewayError(
                401,
                {
                    "message": "Invalid API key",
                    "hint": "Double check your Supabase `anon` or `service_role` API key.",
                },
            )

    def _schema(self, req: Request) -> str:
        header = "Accept-Profile" if req.method in ("GET", "HEAD") else "Content-Profile"
        wanted = req.headers.get(header)
        if wanted is None:
            return self.cfg.schemas[0]
        if wanted not in self.cfg.schemas:
            raise ApiError(
                406,
                "PGRST106",
                "Invalid schema: " + wanted,
                hint="Only the following schemas are exposed: " + ", ".join(self.cfg.schemas),
            )
        return wanted

    # -- transactions -------------------------------------------------------------------------
    def _tx(
        self,
        req: Request,
        work: Callable[[psycopg.Connection], Any],
        read_only: bool,
        rollback: bool = False,
    ) -> Any:
        """Run `work` in one transaction as PostgREST does, mapping failures to error bodies."""
        try:
            with self.pool.connection() as conn:
                try:
                    mode = "READ ONLY" if read_only else "READ WRITE"
                    conn.execute(f"SET TRANSACTION ISOLATION LEVEL READ COMMITTED, {mode}")
                    if self.cfg.anon_role:
                        conn.execute(
                            sql.SQL("SET LOCAL ROLE {}").format(
                                sql.Identifier(self.cfg.anon_role)
                            )  # no params
                        )
                    conn.execute(
                        "SELECT set_config('request.method', %s, true), set_config('request.path', %s, true),"
                        " set_config('request.headers', %s, true)",
                        (
                            req.method,
                            unquote(req.path),
                            json.dumps({k.lower(): v for k, v in req.headers.items()}),
                        ),
                    )
                    result = work(conn)
                except BaseException:
                    if not conn.closed:
                        conn.rollback()
                    raise
                if rollback:
                    conn.rollback()
                else:
                    conn.commit()
                return result
        except PoolTimeout:
            raise ApiError(
                504, "PGRST003", "Timed out acquiring connection from connection pool."
            ) from None
        except psycopg.Error as exc:
            raise self._pg_error(exc) from None

    def _pg_error(self, exc: psycopg.Error) -> ApiError:
        diag = exc.diag
        state = diag.sqlstate
        if state is None:  # no server answer: connection refused or lost
            code = "PGRST000" if isinstance(exc, psycopg.OperationalError) else "PGRST001"
            msg = "Database connection error. Retrying the connection."
            if code == "PGRST000" and self.profile.version >= (14, 13, 0):
                msg = "Database connection error."
            if code == "PGRST001":
                msg = "Database client error. Retrying the connection."
            return ApiError(503, code, msg, details=str(exc))
        message = diag.message_primary or str(exc)
        status = pg_error_status(state, message, authed=False)
        err = ApiError(status, state, message, diag.message_detail, diag.message_hint)
        if (
            status >= 500
            and self.profile.version >= (12, 0, 0)
            and self.log.level_at_least("error")
        ):
            self.log.write(error_json(state, message, diag.message_detail, diag.message_hint))
        return err

    # -- reads -----------------------------------------------------------------------------
    def _read(self, req: Request, schema: str, name: str) -> Response:
        qi = ident(schema, name)
        params = parse_qsl(req.query, keep_blank_values=True)
        select = dict(params).get("select", "*")
        items = [select_item(schema, name, item) for item in ident_list(select)] or [sql.SQL("*")]
        where, args = filters(schema, name, params)
        order = order_by(schema, name, dict(params).get("order"))
        limit = int_param(params, "limit")
        offset = int_param(params, "offset")
        query = sql.SQL("SELECT {} FROM {}{}{}").format(sql.SQL(", ").join(items), qi, where, order)
        if limit is not None:
            query += sql.SQL(" LIMIT {}").format(sql.Literal(limit))
        if offset is not None:
            query += sql.SQL(" OFFSET {}").format(sql.Literal(offset))
        wrapped = sql.SQL(
            "SELECT coalesce(json_agg(_pgrst_t), '[]')::text, count(*)::int FROM ({}) _pgrst_t"
        ).format(query)

        def work(conn: psycopg.Connection) -> tuple[str, int]:
            row = conn.execute(wrapped, args).fetchone()
            assert row is not None
            return row[0], row[1]

        body, count = self._tx(req, work, read_only=True)
        start = offset or 0
        rng = f"{start}-{start + count - 1}/*" if count else "*/*"
        return Response(
            200, body.encode(), [("Content-Type", JSON_CT), ("Content-Range", rng)], self.role
        )

    def _prefs(self, req: Request) -> dict[str, str]:
        prefs: dict[str, str] = {}
        for header in req.prefer:
            for item in header.split(","):
                key, _, value = item.strip().partition("=")
                if key:
                    prefs.setdefault(key, value)
        return prefs

    def _tx_decision(self, prefs: dict[str, str]) -> tuple[bool, bool]:
        """(roll back?, report tx=... in Preference-Applied?) from db-tx-end and `Prefer: tx=`."""
        overridable = self.cfg.tx_end.endswith("-allow-override")
        default_rollback = self.cfg.tx_end.startswith("rollback")
        wanted = prefs.get("tx")
        if overridable and wanted in ("commit", "rollback"):
            return wanted == "rollback", True
        return default_rollback, False

    def _payload(self, req: Request) -> tuple[Any, list[str]]:
        """Parsed body and its keys (first object's keys; all objects must share them)."""
        ctype = (
            (req.headers.get("Content-Type") or "application/json").split(";")[0].strip().lower()
        )
        if ctype == "application/x-www-form-urlencoded":
            obj = dict(parse_qsl(req.body.decode(), keep_blank_values=True))
            return obj, sorted(obj)
        try:
            data = json.loads(req.body or b"null")
        except ValueError:
            raise ApiError(400, "PGRST102", "Empty or invalid json") from None
        if isinstance(data, dict):
            return data, sorted(data)
        if isinstance(data, list) and all(isinstance(o, dict) for o in data):
            keys = sorted(data[0]) if data else []
            if any(sorted(o) != keys for o in data):
                raise ApiError(400, "PGRST102", "All object keys must match")
            return data, keys
        raise ApiError(400, "PGRST102", "Empty or invalid json")

    def _check_columns(self, table: Table | None, columns: list[str]) -> None:
        """PGRST204: the first (sorted) write column missing from the CACHED table."""
        if table is None or not self.profile.column_check:
            return
        for col in sorted(set(columns)):
            if col not in table.columns:
                if self.profile.version >= (12, 0, 3):
                    msg = f"Could not find the '{col}' column of '{table.name}' in the schema cache"
                else:
                    msg = f"Column '{col}' of relation '{table.name}' does not exist"
                raise ApiError(400, "PGRST204", msg)

    def _body_source(
        self, schema: str, name: str, table: Table | None, columns: list[str]
    ) -> sql.Composable:
        """FROM-item (one `%s` placeholder) turning the JSON body into rows typed from the cache."""
        if not columns:
            return sql.SQL("json_array_elements(%s::json) AS _pgrst_body")
        if table is not None and self.profile.column_check:
            defs = sql.SQL(", ").join(
                sql.SQL("{} {}").format(ident(c), raw(table.columns[c].nominal_type))
                for c in columns
            )
            return sql.SQL("json_to_recordset(%s::json) AS _pgrst_body({})").format(defs)
        # Before v11 (or a table missing from an old cache): the table's own row type.
        return sql.SQL("json_populate_recordset(NULL::{}, %s::json) AS _pgrst_body").format(
            ident(schema, name)
        )

    def _write(self, req: Request, schema: str, name: str, table: Table | None) -> Response:
        params = parse_qsl(req.query, keep_blank_values=True)
        qparams = dict(params)
        prefs = self._prefs(req)
        data, keys = self._payload(req)
        columns = (
            [unquote_ident(c) for c in ident_list(qparams["columns"])]
            if "columns" in qparams
            else keys
        )
        columns = list(dict.fromkeys(columns))
        self._check_columns(table, columns)
        rows = data if isinstance(data, list) else [data]
        qi = ident(schema, name)
        cols = sql.SQL(", ").join(ident(c) for c in columns)
        body_cols = sql.SQL(", ").join(ident("_pgrst_body", c) for c in columns)
        applied: list[str] = []
        if req.method == "PATCH":
            if not columns:
                return Response(204, b"", [], self.role)
            where, args = filters(schema, name, params)
            sets = sql.SQL(", ").join(
                sql.SQL("{} = {}").format(ident(c), ident("_pgrst_body", c)) for c in columns
            )
            stmt = sql.SQL(
                "UPDATE {} SET {} FROM (SELECT * FROM {}) _pgrst_body{} RETURNING {}.*"
            ).format(qi, sets, self._body_source(schema, name, table, columns), where, qi)
            args = [json.dumps(rows[:1]), *args]
        else:
            conflict = self._on_conflict(
                req, prefs, qparams, table, columns, applied, params, schema, name
            )
            source = self._body_source(schema, name, table, columns)
            if columns:
                stmt = sql.SQL("INSERT INTO {} ({}) SELECT {} FROM {}{} RETURNING *").format(
                    qi, cols, body_cols, source, conflict
                )
            else:
                stmt = sql.SQL("INSERT INTO {} SELECT FROM {}{} RETURNING *").format(
                    qi, source, conflict
                )
            args = [json.dumps(rows)]
        return self._mutate(req, stmt, args, prefs, applied, created=req.method == "POST")

    def _on_conflict(
        self,
        req: Request,
        prefs: dict[str, str],
        qparams: dict[str, str],
        table: Table | None,
        columns: list[str],
        applied: list[str],
        params: list[tuple[str, str]],
        schema: str,
        name: str,
    ) -> sql.Composable:
        """ON CONFLICT for PUT (single upsert) and POST with `Prefer: resolution=`."""
        pk = table.pk_cols if table else []
        if req.method == "PUT":
            filtered = [k for k, _ in params if k not in RESERVED]
            if (
                not pk
                or sorted(filtered) != sorted(pk)
                or not all(v.startswith("eq.") for k, v in params if k not in RESERVED)
            ):
                raise ApiError(
                    405,
                    "PGRST105",
                    "Filters must include all and only primary key columns with 'eq' operators",
                )
            resolution, target = "merge-duplicates", pk
        else:
            resolution = prefs.get("resolution", "")
            if resolution not in ("merge-duplicates", "ignore-duplicates"):
                return sql.SQL("")
            applied.append(f"resolution={resolution}")
            target = (
                [unquote_ident(c) for c in ident_list(qparams["on_conflict"])]
                if "on_conflict" in qparams
                else pk
            )
        target_sql = sql.SQL(", ").join(ident(c) for c in target)
        updates = [c for c in columns if c not in target]
        if resolution == "ignore-duplicates" or not updates:
            return sql.SQL(" ON CONFLICT ({}) DO NOTHING").format(target_sql)
        sets = sql.SQL(", ").join(
            sql.SQL("{} = EXCLUDED.{}").format(ident(c), ident(c)) for c in updates
        )
        return sql.SQL(" ON CONFLICT ({}) DO UPDATE SET {}").format(target_sql, sets)

    def _delete(self, req: Request, schema: str, name: str) -> Response:
        where, args = filters(schema, name, parse_qsl(req.query, keep_blank_values=True))
        stmt = sql.SQL("DELETE FROM {}{} RETURNING *").format(ident(schema, name), where)
        return self._mutate(req, stmt, args, self._prefs(req), [], created=False)

    def _mutate(
        self,
        req: Request,
        stmt: sql.Composable,
        args: list[Any],
        prefs: dict[str, str],
        applied: list[str],
        created: bool,
    ) -> Response:
        """Run one mutation, honour `return=` and `tx=`, and build PostgREST's status/headers."""
        representation = prefs.get("return") == "representation"
        if prefs.get("return") in ("representation", "minimal", "headers-only"):
            applied.append(f"return={prefs['return']}")
        rollback, report_tx = self._tx_decision(prefs)
        if report_tx:
            applied.append(f"tx={prefs['tx']}")
        wrapped = sql.SQL(
            "WITH _pgrst_mut AS ({}) SELECT coalesce(json_agg(_pgrst_mut), '[]')::text, "
            "count(*)::int FROM _pgrst_mut"
        ).format(stmt)

        def work(conn: psycopg.Connection) -> tuple[str, int]:
            row = conn.execute(wrapped, args).fetchone()
            assert row is not None
            return row[0], row[1]

        body, count = self._tx(req, work, read_only=False, rollback=rollback)
        headers: list[tuple[str, str]] = []
        if created:
            headers.append(("Content-Range", "*/*"))
        else:
            headers.append(("Content-Range", f"0-{count - 1}/*" if count else "*/*"))
        if applied:
            headers.append(("Preference-Applied", ", ".join(applied)))
        if representation:
            headers.insert(0, ("Content-Type", JSON_CT))
            return Response(201 if created else 200, body.encode(), headers, self.role)
        return Response(201 if created else 204, b"", headers, self.role)

    # -- RPC -------------------------------------------------------------------------------------
    def _rpc(self, req: Request, cache: SchemaCache, schema: str, fn: str) -> Response:
        """POST/GET /rpc/<fn>: looked up in the CACHE (a new function needs a reload first)."""
        if req.method in ("GET", "HEAD"):
            args: dict[str, Any] = {
                k: v for k, v in parse_qsl(req.query, keep_blank_values=True) if k not in RESERVED
            }
        elif req.method == "POST":
            data = json.loads(req.body or b"{}") if req.body.strip() else {}
            if not isinstance(data, dict):
                raise ApiError(400, "PGRST102", "Empty or invalid json")
            args = data
        else:
            raise ApiError(405, "PGRST101", "Only GET or POST requests are allowed for RPC")
        routine = self._find_routine(cache, schema, fn, sorted(args), req.method == "POST")
        prefs = self._prefs(req)
        rollback, report_tx = self._tx_decision(prefs)
        read_only = req.method in ("GET", "HEAD") or routine.volatility in ("i", "s")
        params = [p for p in routine.params if p.name in args]
        call = sql.SQL("{}({})").format(
            ident(routine.schema, routine.name),
            sql.SQL(", ").join(
                sql.SQL("{} := _pgrst_args.{}").format(ident(p.name), ident(p.name)) for p in params
            ),
        )
        if params:
            defs = sql.SQL(", ").join(
                sql.SQL("{} {}").format(ident(p.name), raw(p.type)) for p in params
            )
            args_cte = sql.SQL("SELECT * FROM json_to_record(%s::json) AS _pgrst_args({})").format(
                defs
            )
        else:
            args_cte = sql.SQL("SELECT WHERE %s::json IS NOT NULL")
        if routine.returns_set:
            select = sql.SQL(
                "SELECT coalesce(json_agg(_pgrst_r), '[]')::text FROM _pgrst_args, LATERAL {} _pgrst_r"
            )
        elif routine.returns_composite:
            select = sql.SQL("SELECT to_json(_pgrst_r)::text FROM _pgrst_args, LATERAL {} _pgrst_r")
        else:
            select = sql.SQL("SELECT to_json({})::text FROM _pgrst_args")
        query = sql.SQL("WITH _pgrst_args AS ({}) ").format(args_cte) + select.format(call)

        def work(conn: psycopg.Connection) -> str | None:
            row = conn.execute(query, [json.dumps(args)]).fetchone()
            return row[0] if row else None

        body = self._tx(req, work, read_only=read_only, rollback=rollback)
        headers = [("Preference-Applied", f"tx={prefs['tx']}")] if report_tx else []
        if routine.returns_void and self.profile.void_rpc_204:
            return Response(204, b"", headers, self.role)
        return Response(
            200, (body or "null").encode(), [("Content-Type", JSON_CT), *headers], self.role
        )

    def _find_routine(
        self, cache: SchemaCache, schema: str, fn: str, keys: list[str], is_post: bool
    ) -> Routine:
        for routine in cache.routines.get((schema, fn), []):
            names = {p.name for p in routine.params}
            required = {p.name for p in routine.params if p.required}
            if set(keys) <= names and required <= set(keys):
                return routine
        func = f"{schema}.{fn}"
        if keys:
            prms = ", ".join(keys)
            message = f"Could not find the function {func}({prms}) in the schema cache"
            searched = f" with parameter{'s' if len(keys) > 1 else ''} {prms}"
        else:
            message = f"Could not find the function {func} without parameters in the schema cache"
            searched = " without parameters"
        if is_post:
            searched += " or with a single unnamed json/jsonb parameter"
        overloads = cache.routines.get((schema, fn), [])
        hint = None
        if overloads:
            hint = f"Perhaps you meant to call the function {func}({', '.join(sorted(p.name for p in overloads[0].params))})"
        elif close := fuzzy(fn, [n for (s, n) in cache.routines if s == schema]):
            hint = f"Perhaps you meant to call the function {schema}.{close}"
        raise ApiError(
            404,
            "PGRST202",
            message,
            details=f"Searched for the function {func}{searched}, but no matches were found in the schema cache.",
            hint=hint,
        )

    # -- OpenAPI ---------------------------------------------------------------------------------
    def _openapi(self, req: Request, cache: SchemaCache) -> Response:
        schema = self._schema(req)
        doc = openapi(
            cache,
            schema,
            self.profile.text,
            f"{self.cfg.host}:{self.cfg.port}",
            self.profile.int_formats,
        )
        body = json.dumps(doc, ensure_ascii=False, separators=(",", ":")).encode()
        return Response(
            200,
            body,
            [("Content-Type", "application/openapi+json; charset=utf-8")],
            self.role,
        )


class _GatewayError(ApiError):
    """A 401 from the API-key guard: not a PostgREST body, and no role is known."""

    def __init__(self, status: int, body: dict[str, str]) -> None:
        super().__init__(status, "", body["message"])
        self.body = body


def _dsn_user(dsn: str) -> str | None:
    try:
        return psycopg.conninfo.conninfo_to_dict(dsn).get("user")  # type: ignore[return-value]
    except psycopg.ProgrammingError:
        return None
