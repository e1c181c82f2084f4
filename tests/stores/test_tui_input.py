"""A log store given to the TUI is scanned by its engine, like `scan supabase://...` does.

Lives with the store tests: one chdb engine per process, shared through their fixtures.
"""

from __future__ import annotations

from dataclasses import replace

import pytest

from runbook.ingest.scan import ScanOptions
from runbook.tui.ingest import run_ingest
from runbook.tui.messages import IncidentsChanged, IngestFinished, IngestNotice
from runbook.tui.options import AppOptions
from tests.stores.fixture import SINCE, UNTIL


def ingest(paths: list[str], scan: ScanOptions) -> list:
    posted: list = []
    run_ingest(AppOptions(paths=paths, scan=scan), posted.append, lambda: False)
    return posted


def test_supabase_store_incidents_reach_the_tui(server, settings) -> None:
    scan = ScanOptions(since=SINCE, until=UNTIL, store=settings)
    posted = ingest([f"supabase://{server.project}"], scan)
    changed = [m for m in posted if isinstance(m, IncidentsChanged)]
    assert changed, [type(m).__name__ for m in posted]
    incidents = changed[-1].incidents
    assert incidents and all(inc.count > 0 for inc in incidents)
    assert isinstance(posted[-1], IngestFinished)


def test_a_rejected_token_is_a_notice_not_a_crash(server, settings) -> None:
    scan = ScanOptions(since=SINCE, until=UNTIL, store=replace(settings, access_token="sbp_wrong_token_0000"))
    posted = ingest([f"supabase://{server.project}"], scan)
    notices = [m.text for m in posted if isinstance(m, IngestNotice)]
    assert any("token" in text.lower() for text in notices), notices
    assert all("sbp_wrong_token_0000" not in text for text in notices)
    assert isinstance(posted[-1], IngestFinished)


@pytest.fixture(autouse=True)
def _no_rate_limit(server) -> None:
    server.faults.rate_limit = None
