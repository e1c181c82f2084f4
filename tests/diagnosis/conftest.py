"""Fixtures for the diagnosis tests: the runbook tests' isolation (journals and config under
tmp_path, no connection variables from the machine) and helpers, reused rather than copied."""

from __future__ import annotations

from tests.runbook.conftest import (  # noqa: F401 - fixtures are registered by import
    CliResult,
    execute,
    isolated_state,
    journal_entries,
    post_json,
    run_cli,
)
