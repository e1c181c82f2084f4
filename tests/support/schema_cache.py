"""The fake PostgREST's schema cache: read from pg_catalog, then served frozen until a reload.

The queries follow PostgREST's own (`SchemaCache.hs@v16.2`, simplified): every table, view,
materialized view, foreign and partitioned table outside pg_catalog/information_schema, with
columns only for the exposed schemas. Functions of the exposed schemas are cached too, so an
RPC created after the last load answers PGRST202 until the next reload, as the real one does.
Like PostgREST, the exposed schemas are cast with `::regnamespace[]`, so a schema that does not
exist makes the load fail (3F000) and the server retries with backoff.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import psycopg

MEDIA_HANDLERS = 4  # PostgREST's built-in handlers: csv, geojson, json, */* (dbMediaHandlers)

_TABLES_SQL = """
WITH RECURSIVE recurse AS (
    SELECT oid, typbasetype, typnamespace AS base_namespace,
           COALESCE(NULLIF(typbasetype, 0), oid) AS base_type
    FROM pg_type
  UNION
    SELECT t.oid, b.typbasetype, b.typnamespace, COALESCE(NULLIF(b.typbasetype, 0), b.oid)
    FROM recurse t JOIN pg_type b ON t.typbasetype = b.oid
),
base_types AS (SELECT oid, base_namespace, base_type FROM recurse WHERE typbasetype = 0),
columns AS (
    SELECT c.oid AS relid, a.attname::text AS column_name, d.description,
        CASE WHEN t.typbasetype != 0 AND ad.adbin IS NULL THEN pg_get_expr(t.typdefaultbin, 0)
             WHEN a.attidentity = 'd' THEN format('nextval(%%L)', seq.objid::regclass)
             WHEN a.attgenerated = 's' THEN NULL
             ELSE pg_get_expr(ad.adbin, ad.adrelid)::text END AS column_default,
        NOT (a.attnotnull OR t.typtype = 'd' AND t.typnotnull) AS is_nullable,
        CASE WHEN t.typtype = 'd' THEN
                CASE WHEN bt.base_namespace = 'pg_catalog'::regnamespace
                     THEN format_type(bt.base_type, NULL) ELSE format_type(a.atttypid, a.atttypmod) END
             WHEN t.typnamespace = 'pg_catalog'::regnamespace THEN format_type(a.atttypid, NULL)
             ELSE format_type(a.atttypid, a.atttypmod) END AS data_type,
        format_type(a.atttypid, a.atttypmod) AS nominal_data_type,
        information_schema._pg_char_max_length(information_schema._pg_truetypid(a.*, t.*),
            information_schema._pg_truetypmod(a.*, t.*))::integer AS max_len,
        COALESCE((SELECT array_agg(enumlabel::text ORDER BY enumsortorder)
                  FROM pg_enum WHERE enumtypid = bt.base_type), '{}') AS enum_values,
        a.attnum AS position
    FROM pg_attribute a
    JOIN pg_class c ON a.attrelid = c.oid
    JOIN pg_type t ON a.atttypid = t.oid
    LEFT JOIN base_types bt ON t.oid = bt.oid
    LEFT JOIN pg_description d
        ON d.objoid = a.attrelid AND d.objsubid = a.attnum AND d.classoid = 'pg_class'::regclass
    LEFT JOIN pg_attrdef ad ON a.attrelid = ad.adrelid AND a.attnum = ad.adnum
    LEFT JOIN pg_depend seq
        ON seq.refobjid = a.attrelid AND seq.refobjsubid = a.attnum AND seq.deptype = 'i'
    WHERE a.attnum > 0 AND NOT a.attisdropped AND NOT pg_is_other_temp_schema(c.relnamespace)
      AND c.relkind IN ('r', 'v', 'f', 'm', 'p')
      AND c.relnamespace = ANY(%(schemas)s::regnamespace[])
)
SELECT n.nspname::text, c.relname::text, d.description, c.relkind IN ('v', 'm') AS is_view,
    c.relkind IN ('r', 'p') OR (c.relkind IN ('v', 'f')
        AND (pg_relation_is_updatable(c.oid::regclass, true) & 8) = 8) AS insertable,
    c.relkind IN ('r', 'p') OR (c.relkind IN ('v', 'f')
        AND (pg_relation_is_updatable(c.oid::regclass, true) & 4) = 4) AS updatable,
    c.relkind IN ('r', 'p') OR (c.relkind IN ('v', 'f')
        AND (pg_relation_is_updatable(c.oid::regclass, true) & 16) = 16) AS deletable,
    COALESCE((SELECT array_agg(a.attname::text ORDER BY a.attname)
              FROM pg_constraint k JOIN pg_attribute a
                ON a.attrelid = k.conrelid AND a.attnum = ANY(k.conkey)
              WHERE k.conrelid = c.oid AND k.contype = 'p'), '{}') AS pk_cols,
    COALESCE((SELECT json_agg(json_build_array(column_name, description, is_nullable, data_type,
                  nominal_data_type, max_len, column_default, enum_values) ORDER BY position)
              FROM columns WHERE relid = c.oid), '[]') AS columns
FROM pg_class c
JOIN pg_namespace n ON n.oid = c.relnamespace
LEFT JOIN pg_description d ON d.objoid = c.oid AND d.objsubid = 0 AND d.classoid = 'pg_class'::regclass
WHERE c.relkind IN ('v', 'r', 'm', 'f', 'p')
  AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND NOT c.relispartition
  AND NOT pg_is_other_temp_schema(c.relnamespace)
ORDER BY 1, 2
"""

_FKEYS_SQL = """
SELECT ns1.nspname::text, t1.relname::text, ns2.nspname::text, t2.relname::text, k.conname::text,
    ARRAY(SELECT json_build_array(a1.attname::text, a2.attname::text)
          FROM unnest(k.conkey, k.confkey) AS u(c1, c2)
          JOIN pg_attribute a1 ON a1.attrelid = k.conrelid AND a1.attnum = u.c1
          JOIN pg_attribute a2 ON a2.attrelid = k.confrelid AND a2.attnum = u.c2)
FROM pg_constraint k
JOIN pg_class t1 ON t1.oid = k.conrelid JOIN pg_namespace ns1 ON ns1.oid = t1.relnamespace
JOIN pg_class t2 ON t2.oid = k.confrelid JOIN pg_namespace ns2 ON ns2.oid = t2.relnamespace
WHERE k.contype = 'f' AND ns1.oid = ANY(%(schemas)s::regnamespace[])
ORDER BY 1, 2, 5
"""

_ROUTINES_SQL = """
SELECT n.nspname::text, p.proname::text, d.description,
    COALESCE(p.proargnames, '{}')::text[], COALESCE(p.proargmodes::text[], '{}'),
    ARRAY(SELECT format_type(x.t, NULL) FROM unnest(COALESCE(p.proallargtypes, p.proargtypes::oid[]))
          WITH ORDINALITY AS x(t, i) ORDER BY x.i),
    p.pronargs, p.pronargdefaults, p.proretset, format_type(p.prorettype, NULL),
    p.prorettype = 'void'::regtype, rt.typtype IN ('c', 'p') AND p.prorettype <> 'void'::regtype,
    p.provolatile::text
FROM pg_proc p
JOIN pg_namespace n ON n.oid = p.pronamespace
JOIN pg_type rt ON rt.oid = p.prorettype
LEFT JOIN pg_description d ON d.objoid = p.oid AND d.classoid = 'pg_proc'::regclass
WHERE p.prokind = 'f' AND n.oid = ANY(%(schemas)s::regnamespace[])
ORDER BY 1, 2
"""


@dataclass(frozen=True)
class Column:
    name: str
    description: str | None
    nullable: bool
    type: str
    nominal_type: str
    max_len: int | None
    default: str | None
    enum: list[str]


@dataclass(frozen=True)
class Table:
    schema: str
    name: str
    description: str | None
    is_view: bool
    insertable: bool
    updatable: bool
    deletable: bool
    pk_cols: list[str]
    columns: dict[str, Column]


@dataclass(frozen=True)
class RoutineParam:
    name: str
    type: str
    required: bool
    variadic: bool


@dataclass(frozen=True)
class Routine:
    schema: str
    name: str
    description: str | None
    params: list[RoutineParam]
    returns_set: bool
    return_type: str
    returns_void: bool
    returns_composite: bool
    volatility: str  # 'i' immutable, 's' stable, 'v' volatile


@dataclass(frozen=True)
class ForeignKey:
    table: tuple[str, str]
    foreign_table: tuple[str, str]
    name: str
    columns: list[tuple[str, str]]


@dataclass
class SchemaCache:
    """Tables keyed by (schema, name), routines by (schema, name) -> overloads."""

    schemas: list[str]
    tables: dict[tuple[str, str], Table] = field(default_factory=dict)
    routines: dict[tuple[str, str], list[Routine]] = field(default_factory=dict)
    foreign_keys: list[ForeignKey] = field(default_factory=list)
    timezones: int = 0
    query_ms: float = 0.0

    def counts(self) -> dict[str, int]:
        """The numbers of the `Schema cache loaded ...` summary line."""
        # Relationships are keyed per table in PostgREST; both ends of a FK get an entry.
        rel_keys = {fk.table for fk in self.foreign_keys} | {
            fk.foreign_table for fk in self.foreign_keys
        }
        return {
            "relations": len(self.tables),
            "relationships": len(rel_keys),
            "routines": len(self.routines),
            "representations": 0,
            "media_handlers": MEDIA_HANDLERS,
            "timezones": self.timezones,
        }


def load_schema_cache(
    conn: psycopg.Connection, schemas: list[str], count_timezones: bool = False
) -> SchemaCache:
    """Query the catalog in one read-only transaction; raises psycopg.Error on failure.

    `count_timezones` is for the v12.2.2-v14 summary line, which ends with `N Timezones`.
    """
    started = time.perf_counter()
    cache = SchemaCache(schemas=list(schemas))
    params = {"schemas": list(schemas)}
    with conn.transaction():
        conn.execute("SET TRANSACTION ISOLATION LEVEL READ COMMITTED, READ ONLY")
        conn.execute("SET LOCAL jit = off")  # JIT would add ~50 ms to every load
        for row in conn.execute(_TABLES_SQL, params).fetchall():
            schema, name, desc, is_view, ins, upd, dele, pks, cols = row
            columns = {
                c[0]: Column(c[0], c[1], bool(c[2]), c[3], c[4], c[5], c[6], list(c[7] or []))
                for c in cols
            }
            cache.tables[(schema, name)] = Table(
                schema, name, desc, is_view, ins, upd, dele, list(pks), columns
            )
        for s1, t1, s2, t2, conname, pairs in conn.execute(_FKEYS_SQL, params).fetchall():
            cache.foreign_keys.append(
                ForeignKey((s1, t1), (s2, t2), conname, [(a, b) for a, b in pairs])
            )
        for row in conn.execute(_ROUTINES_SQL, params).fetchall():
            routine = _routine_from_row(row)
            cache.routines.setdefault((routine.schema, routine.name), []).append(routine)
        if count_timezones:
            cache.timezones = _count_timezones(conn)
    cache.query_ms = (time.perf_counter() - started) * 1000
    return cache


_TIMEZONES: list[int] = []


def _count_timezones(conn: psycopg.Connection) -> int:
    """pg_timezone_names takes ~250 ms and never changes: count it once per process."""
    if not _TIMEZONES:
        row = conn.execute("SELECT count(*) FROM pg_timezone_names").fetchone()
        _TIMEZONES.append(int(row[0]) if row else 0)
    return _TIMEZONES[0]


def _routine_from_row(row: tuple[Any, ...]) -> Routine:
    (
        schema,
        name,
        desc,
        argnames,
        argmodes,
        argtypes,
        nargs,
        ndefaults,
        retset,
        rettype,
        void,
        comp,
        vol,
    ) = row
    params: list[RoutineParam] = []
    input_index = 0
    for i, typ in enumerate(argtypes):
        mode = argmodes[i] if argmodes else "i"
        if mode not in ("i", "b", "v"):
            continue  # OUT / TABLE columns are not parameters
        pname = argnames[i] if i < len(argnames) else ""
        params.append(RoutineParam(pname, typ, input_index < nargs - ndefaults, mode == "v"))
        input_index += 1
    return Routine(schema, name, desc, params, retset, rettype, void, comp, vol)


# -- admin /schema_cache ---------------------------------------------------------------------
def admin_json(cache: SchemaCache) -> dict[str, Any]:
    """The shape of the admin `/schema_cache` (reference §5; `--dump-schema`)."""
    tables = []
    for t in cache.tables.values():
        cols = {
            c.name: {
                "colDefault": c.default,
                "colDescription": c.description,
                "colEnum": c.enum,
                "colMaxLen": c.max_len,
                "colName": c.name,
                "colNominalType": c.nominal_type,
                "colNullable": c.nullable,
                "colType": c.type,
            }
            for c in t.columns.values()
        }
        tables.append(
            [
                {"qiName": t.name, "qiSchema": t.schema},
                {
                    "tableColumns": cols,
                    "tableDeletable": t.deletable,
                    "tableDescription": t.description,
                    "tableInsertable": t.insertable,
                    "tableIsView": t.is_view,
                    "tableName": t.name,
                    "tablePKCols": t.pk_cols,
                    "tableSchema": t.schema,
                    "tableUpdatable": t.updatable,
                },
            ]
        )
    routines = [
        [{"qiName": name, "qiSchema": schema}, [_routine_json(r) for r in overloads]]
        for (schema, name), overloads in cache.routines.items()
    ]
    relationships = [
        [[{"qiName": fk.table[1], "qiSchema": fk.table[0]}, fk.table[0]], [_fk_json(fk)]]
        for fk in cache.foreign_keys
    ]
    handlers = [
        [[{"tag": "RelAnyElement"}, {"tag": mt}], [{"tag": agg}, {"tag": out}]]
        for mt, agg, out in (
            ("MTTextCSV", "BuiltinOvAggCsv", "MTTextCSV"),
            ("MTGeoJSON", "BuiltinOvAggGeoJson", "MTGeoJSON"),
            ("MTApplicationJSON", "BuiltinOvAggJson", "MTApplicationJSON"),
            ("MTAny", "BuiltinOvAggJson", "MTApplicationJSON"),
        )
    ]
    return {
        "dbMediaHandlers": handlers,
        "dbRelationships": relationships,
        "dbRepresentations": [],
        "dbRoutines": routines,
        "dbTables": tables,
    }


def _routine_json(r: Routine) -> dict[str, Any]:
    return {
        "pdDescription": r.description,
        "pdFuncSettings": [],
        "pdHasVariadic": any(p.variadic for p in r.params),
        "pdIsoLvl": None,
        "pdName": r.name,
        "pdParams": [
            {
                "ppName": p.name,
                "ppReq": p.required,
                "ppType": p.type,
                "ppTypeMaxLength": p.type,
                "ppVar": p.variadic,
            }
            for p in r.params
        ],
        "pdReturnType": {"tag": "SetOf" if r.returns_set else "Single", "contents": r.return_type},
        "pdSchema": r.schema,
        "pdVolatility": {"i": "Immutable", "s": "Stable"}.get(r.volatility, "Volatile"),
    }


def _fk_json(fk: ForeignKey) -> dict[str, Any]:
    return {
        "relCardinality": {
            "relColumns": [list(p) for p in fk.columns],
            "relCons": fk.name,
            "tag": "M2O",
        },
        "relFTableIsView": False,
        "relForeignTable": {"qiName": fk.foreign_table[1], "qiSchema": fk.foreign_table[0]},
        "relIsSelf": fk.table == fk.foreign_table,
        "relTable": {"qiName": fk.table[1], "qiSchema": fk.table[0]},
        "relTableIsView": False,
        "tag": "Relationship",
    }


# -- OpenAPI at GET / -------------------------------------------------------------------------
_SWAGGER_TYPES = {
    "character varying": "string",
    "character": "string",
    "text": "string",
    "boolean": "boolean",
    "smallint": "integer",
    "integer": "integer",
    "bigint": "integer",
    "numeric": "number",
    "real": "number",
    "double precision": "number",
}


def _swagger_type(col_type: str) -> str | None:
    if col_type in ("json", "jsonb"):
        return None
    if col_type.endswith("[]"):
        return "array"
    return _SWAGGER_TYPES.get(col_type, "string")


def _swagger_format(col_type: str, int_formats: bool) -> str:
    if int_formats:
        return {"smallint": "int32", "integer": "int32", "bigint": "int64"}.get(col_type, col_type)
    return col_type


def _property(table: Table, col: Column, int_formats: bool) -> dict[str, Any]:
    prop: dict[str, Any] = {}
    if col.default is not None:
        default: Any = col.default
        if _swagger_type(col.type) == "string":
            suffix = "::" + col.type
            default = default[: -len(suffix)].strip("'") if default.endswith(suffix) else default
        prop["default"] = default
    notes = ["Note:"]
    if col.name in table.pk_cols:
        notes.append("This is a Primary Key.<pk/>")
    if len(notes) > 1:
        prop["description"] = (col.description + "\n\n" if col.description else "") + "\n".join(
            notes
        )
    elif col.description:
        prop["description"] = col.description
    if col.enum:
        prop["enum"] = col.enum
    prop["format"] = _swagger_format(col.type, int_formats)
    if col.max_len is not None:
        prop["maxLength"] = col.max_len
    if (typ := _swagger_type(col.type)) is not None:
        prop["type"] = typ
    if typ == "array":
        prop["items"] = {"type": _swagger_type(col.type[:-2])}
    return prop


def openapi(
    cache: SchemaCache, schema: str, version: str, host: str, int_formats: bool
) -> dict[str, Any]:
    """A Swagger 2.0 document whose definitions come from the CACHE (reference §5)."""
    tables = sorted((t for t in cache.tables.values() if t.schema == schema), key=lambda t: t.name)
    definitions = {}
    paths: dict[str, Any] = {
        "/": {"get": {"summary": "OpenAPI description (this document)", "tags": ["Introspection"]}}
    }
    for t in tables:
        definition: dict[str, Any] = {
            "properties": {c.name: _property(t, c, int_formats) for c in t.columns.values()},
            "type": "object",
        }
        if required := [c.name for c in t.columns.values() if not c.nullable]:
            definition["required"] = required
        if t.description:
            definition["description"] = t.description
        definitions[t.name] = definition
        ops = {"get": {"tags": [t.name], "responses": {"200": {"description": "OK"}}}}
        if t.insertable:
            ops["post"] = {"tags": [t.name], "responses": {"201": {"description": "Created"}}}
        if t.updatable:
            ops["patch"] = {"tags": [t.name], "responses": {"204": {"description": "No Content"}}}
        if t.deletable:
            ops["delete"] = {"tags": [t.name], "responses": {"204": {"description": "No Content"}}}
        paths["/" + t.name] = ops
    for (rschema, name), _ in sorted(cache.routines.items()):
        if rschema == schema:
            paths[f"/rpc/{name}"] = {
                "post": {"tags": ["(rpc) " + name], "responses": {"200": {"description": "OK"}}}
            }
    return {
        "swagger": "2.0",
        "info": {"description": "", "title": "standard public schema", "version": version},
        "host": host,
        "basePath": "/",
        "schemes": ["http"],
        "consumes": [
            "application/json",
            "application/vnd.pgrst.object+json;nulls=stripped",
            "application/vnd.pgrst.object+json",
            "text/csv",
        ],
        "produces": [
            "application/json",
            "application/vnd.pgrst.object+json;nulls=stripped",
            "application/vnd.pgrst.object+json",
            "text/csv",
        ],
        "paths": paths,
        "definitions": definitions,
    }
