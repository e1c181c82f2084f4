"""Real test infrastructure: a throwaway PostgreSQL and a PostgREST-compatible server.

- `pg.PgServer`: a real PostgreSQL from the local binaries (initdb via `runuser` as root).
- `postgrest_server`: a subprocess speaking PostgREST's HTTP API, admin API and log lines
  (reference/postgrest.md), built from `postgrest_logs` (wording per version),
  `schema_cache` (catalog queries, /schema_cache, OpenAPI), `postgrest_query` (query-string
  grammar), `postgrest_api` (tables, RPC) and `pg_pool`.
- `postgrest_process`: starts that subprocess and drives it (SIGUSR1, load counter, logs).

Run the server by hand: `python -m tests.support.postgrest_server --help` from the repo root.
"""
