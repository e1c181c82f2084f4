"""Real test infrastructure: a throwaway PostgreSQL and a PostgREST-compatible server.

`pg.PgServer` runs a real PostgreSQL from the local binaries; `postgrest_server` is a
subprocess that speaks PostgREST's HTTP API, admin API and log formats
(see /work/shared/reference/postgrest.md); `postgrest_process` starts and drives it.
"""
