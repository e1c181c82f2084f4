"""pgrst-runbook: PostgREST schema-cache incidents, from logs to a verified fix and a report."""

__version__ = "0.1.0"
