"""The oracle: the same rows read as a file (the polars path) and from a store (pushed down to
the engine) give the same incidents: counts, first/last seen, per-minute series and the
migration and reload context around them."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from runbook.ingest.scan import ScanOptions, document, scan_paths
from runbook.ingest.stores import StoreSettings
from tests.stores.fixture import SINCE, UNTIL


def comparable(doc: dict[str, Any]) -> list[dict[str, Any]]:
    """What must agree. Not `sources`/`samples` (names differ), not `endpoints`/`access_400s`
    (a store does not fetch gateway access lines)."""
    out = []
    for inc in doc["incidents"]:
        ctx = inc["context"]

        def ref(event: dict[str, Any] | None) -> tuple[Any, ...] | None:
            if event is None:
                return None
            return (event["ts"], event["kind"], event["detail"], event["table"], event["column"])

        out.append(
            {
                "id": inc["id"],
                "table": inc["table"],
                "column": inc["column"],
                "count": inc["count"],
                "first_seen": inc["first_seen"],
                "last_seen": inc["last_seen"],
                "peak_per_minute": inc["peak_per_minute"],
                "per_minute": inc["per_minute"],
                "migration_before": ref(ctx["migration_before"]),
                "migrations": [ref(e) for e in ctx["migrations"]],
                "reloads": [ref(e) for e in ctx["reloads"]],
                "loads_after_first_error": ctx["loads_after_first_error"],
                "errors_after_load": ctx["errors_after_load"],
                "errors_after_last_load": ctx["errors_after_last_load"],
                "stopped_after_reload": ctx["stopped_after_reload"],
            }
        )
    return out


@pytest.fixture
def file_document(export_file: Path) -> dict[str, Any]:
    return document(scan_paths([str(export_file)], ScanOptions(since=SINCE, until=UNTIL)))


@pytest.fixture
def from_files(file_document: dict[str, Any]) -> list[dict[str, Any]]:
    return comparable(file_document)


@pytest.fixture
def related_from_files(file_document: dict[str, Any]) -> list[dict[str, Any]]:
    """PGRST205 and 42703 decoys: listed under `related`, never counted as PGRST204."""
    related = file_document["related"]
    assert {r["code"] for r in related} == {"PGRST205", "42703"}
    return related


@pytest.mark.parametrize("url_fixture", ["supabase_url", "clickhouse_url", "clickhouse_v0_url"])
def test_a_store_gives_the_incidents_the_files_give(
    request: pytest.FixtureRequest,
    url_fixture: str,
    settings: StoreSettings,
    from_files: list[dict[str, Any]],
    related_from_files: list[dict[str, Any]],
) -> None:
    url = request.getfixturevalue(url_fixture)
    doc = document(scan_paths([url], ScanOptions(since=SINCE, until=UNTIL, store=settings)))
    assert comparable(doc) == from_files
    # `sources` names where each group was read: the store's URL here, the files there.
    assert [{**r, "sources": None} for r in doc["related"]] == [
        {**r, "sources": None} for r in related_from_files
    ]
    assert all(r["sources"] == [url] for r in doc["related"])
    (stats,) = doc["stats"]["stores"]
    assert stats["dark_windows"] == [] and not stats["partial"]
    assert doc["stats"]["unreadable"] == []


def test_the_oracle_is_not_empty(from_files: list[dict[str, Any]]) -> None:
    by_name = {(inc["table"], inc["column"]): inc for inc in from_files}
    assert by_name[("mypoolr", "adminname")]["count"] == 18 * 60 + 1
    # Rows 1 µs before, exactly on and 1 µs after the boundary of the first two windows.
    assert by_name[("Member Details", "O'Brien")]["count"] == 3
    # On SINCE counted, on UNTIL and before SINCE not.
    assert by_name[("CamelCase", "doseLogs")]["count"] == 2
    assert by_name[('Quoted "T"', 'col"x')]["count"] == 4
    assert by_name[("Ünïcode tåble", "créé")]["count"] == 2
    assert len(by_name) == 5  # decoys are not incidents
    mypoolr = by_name[("mypoolr", "adminname")]
    assert mypoolr["migration_before"] is not None and mypoolr["stopped_after_reload"] is True


def test_a_store_and_files_scanned_together_are_one_source_each(
    supabase_url: str, export_file: Path, settings: StoreSettings
) -> None:
    doc = document(
        scan_paths(
            [supabase_url, str(export_file)], ScanOptions(since=SINCE, until=UNTIL, store=settings)
        )
    )
    by_name = {(inc["table"], inc["column"]): inc for inc in doc["incidents"]}
    assert by_name[("Member Details", "O'Brien")]["count"] == 6  # 3 from each source
    assert set(by_name[("Member Details", "O'Brien")]["sources"]) == {
        supabase_url,
        str(export_file),
    }
    assert doc["stats"]["files"] == 2
    assert doc["stats"]["formats"] == {"supabase": 1, "supabase_json": 1}
