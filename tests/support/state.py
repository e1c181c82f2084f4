"""Keep a test's journals and config in its tmp_path, and the machine's connection settings out."""

from __future__ import annotations

from pathlib import Path

import pytest

from runbook.redact import forget_secrets

# Settings a developer's shell may carry that would point a test at a real server.
CONNECTION_VARIABLES = (
    "DATABASE_URL",
    "POSTGREST_URL",
    "POSTGREST_ADMIN_URL",
    "SUPABASE_URL",
    "SUPABASE_SERVICE_ROLE_KEY",
    "PGRST_DB_CHANNEL",
    "PGRST_DB_SCHEMAS",
    "PGRST_DB_ANON_ROLE",
    "PGRST_RUNBOOK_CONFIG",
)


def isolate_state(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """XDG state and config under `tmp_path`, connection variables unset; the journal dir."""
    forget_secrets()  # values registered as secret by an earlier test mask nothing here
    state = tmp_path / "state"
    monkeypatch.setenv("XDG_STATE_HOME", str(state))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    for var in CONNECTION_VARIABLES:
        monkeypatch.delenv(var, raising=False)
    return state / "pgrst-runbook" / "journals"
