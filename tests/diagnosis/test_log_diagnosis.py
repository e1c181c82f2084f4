"""Logs-only diagnosis: every recorded incident, and a synthetic incident for each verdict.

Each case is diagnosed twice, from the scanned event table (exact) and from the
`scan --format json` document after a JSON round trip (what `run --from-scan` gets), and both
must agree on the verdict.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from runbook.diagnosis.from_logs import LogDiagnosis, diagnose_logs
from runbook.diagnosis.logs_verdict import LogInputs, verdict_from_logs, verdicts_of_document
from runbook.diagnosis.verdicts import Confidence, Verdict
from runbook.ingest.scan import document, scan_paths
from tests.diagnosis.synthetic import Logs, at

SAMPLES = Path(__file__).resolve().parents[2] / "sample_logs"


def diagnose_folder(folder: Path) -> list[tuple[LogDiagnosis, LogDiagnosis]]:
    """(from events, from the JSON document) per incident."""
    result = scan_paths([str(folder)])
    doc = json.loads(json.dumps(document(result), default=str))
    exact = [verdict_from_logs(inc, LogInputs(events=result.events)) for inc in doc["incidents"]]
    from_doc = [d for _, d in verdicts_of_document(doc)]
    return list(zip(exact, from_doc, strict=True))


def only(folder: Path, *, same_from_document: bool = True) -> LogDiagnosis:
    pairs = diagnose_folder(folder)
    assert len(pairs) == 1
    exact, from_doc = pairs[0]
    if same_from_document:
        assert exact.verdict == from_doc.verdict, (exact.summary, from_doc.summary)
    return exact


def wheres(d: LogDiagnosis) -> list[str]:
    return [e.where for e in d.evidence if e.where]


@pytest.mark.parametrize("name", sorted(p.name for p in SAMPLES.iterdir() if p.is_dir()))
def test_every_recorded_incident_gets_its_expected_verdict(name: str) -> None:
    folder = SAMPLES / name
    expected = json.loads((folder / ".expected.json").read_text())["expected_verdict"]
    for exact, from_doc in diagnose_folder(folder):
        assert str(exact.verdict) == expected, exact.summary
        assert str(from_doc.verdict) == expected, from_doc.summary
        assert exact.confidence in (Confidence.CONFIRMED, Confidence.LIKELY)
        # evidence cites where it was read
        assert all(":" in w for w in wheres(exact))
        assert any(
            w.startswith(str(folder.relative_to(SAMPLES.parent))) or str(folder) in w
            for w in wheres(exact)
        )


def test_mypoolr_errors_surviving_two_loads_are_not_a_stale_cache() -> None:
    d = only(SAMPLES / "mypoolr")
    assert d.verdict is Verdict.CLIENT_MISMATCH
    survived = [e for e in d.evidence if e.check == "errors continue after a confirmed cache load"]
    assert survived and survived[0].where.endswith("postgrest.log:92")
    assert "15 failed requests after it" in survived[0].detail
    assert not d.reload_helps
    assert any("will not fix" in s for s in d.suggestions)


def test_stale_cache_sample_is_confirmed_by_the_load_after_the_reload() -> None:
    d = only(SAMPLES / "stale-cache")
    assert d.verdict is Verdict.STALE_CACHE
    assert d.confidence is Confidence.CONFIRMED
    ddl = next(e for e in d.evidence if e.check.startswith("a DDL statement added"))
    assert ddl.where.endswith("postgres.csv:9")
    stop = next(e for e in d.evidence if e.check == "errors stop after a cache load")
    assert stop.where.endswith("postgrest-stderr.log:17")


def test_supabase_export_names_the_column_postgresql_hints() -> None:
    d = only(SAMPLES / "supabase-export")
    assert d.verdict is Verdict.CLIENT_MISMATCH
    assert [m.name for m in d.nearest][:1] == ["dose_logs"]
    assert "'dose_logs'" in d.suggestions[0]


# -- synthetic incidents -------------------------------------------------------------------


def test_stale_cache_confirmed_when_a_reload_load_ends_the_errors(tmp_path: Path) -> None:
    logs = Logs(tmp_path)
    logs.postgrest_start(at(8, 0))
    logs.ddl(at(10, 0), "ALTER TABLE public.items ADD COLUMN note text;")
    logs.failures("items", "note", at(10, 2), at(10, 10))
    logs.received(at(10, 12))
    logs.load(at(10, 12))
    d = only(logs.write())
    assert (d.verdict, d.confidence) == (Verdict.STALE_CACHE, Confidence.CONFIRMED)
    assert not d.reload_helps  # it already happened


def test_stale_cache_only_likely_while_no_reload_happened(tmp_path: Path) -> None:
    logs = Logs(tmp_path)
    logs.postgrest_start(at(8, 0))
    logs.ddl(at(10, 0), "ALTER TABLE public.items ADD COLUMN note text;")
    logs.failures("items", "note", at(10, 2), at(10, 10))
    d = only(logs.write())
    assert (d.verdict, d.confidence) == (Verdict.STALE_CACHE, Confidence.LIKELY)
    assert d.reload_helps
    between = next(e for e in d.evidence if e.check.startswith("a cache load between"))
    assert between.fact is False


def test_create_table_then_errors_surviving_a_load_confirm_a_mismatch(tmp_path: Path) -> None:
    logs = Logs(tmp_path)
    logs.ddl(
        at(9, 0),
        "CREATE TABLE public.pools (id bigint PRIMARY KEY, admin_id bigint NOT NULL, name text);",
    )
    logs.postgrest_start(at(9, 0))
    logs.failures("pools", "adminname", at(10, 0), at(10, 20))
    logs.received(at(10, 5))
    logs.load(at(10, 5))
    d = only(logs.write())
    assert (d.verdict, d.confidence) == (Verdict.CLIENT_MISMATCH, Confidence.CONFIRMED)
    assert d.nearest[0].name == "admin_id"
    assert "'admin_id'" in d.suggestions[0]
    assert any("expand/contract" in s for s in d.suggestions)


def test_rename_migration_names_the_migration_and_the_new_key(tmp_path: Path) -> None:
    logs = Logs(tmp_path)
    logs.ddl(at(9, 0), 'ALTER TABLE public.profiles RENAME COLUMN "fullName" TO full_name;')
    logs.failures("profiles", "fullName", at(9, 10), at(9, 20))
    d = only(logs.write())
    assert d.verdict is Verdict.CLIENT_MISMATCH
    assert d.new_name == "full_name"
    assert d.migration is not None and "postgres.log:1" in d.migration
    assert "RENAME COLUMN" in d.migration
    assert "'full_name'" in d.suggestions[0]


def test_failed_add_column_with_errors_after_a_load_is_a_pending_migration(tmp_path: Path) -> None:
    logs = Logs(tmp_path)
    logs.postgrest_start(at(8, 0))
    logs.failed_ddl(
        at(9, 0),
        "ALTER TABLE public.orders ADD COLUMN promo jsonbb;",
        'type "jsonbb" does not exist at character 44',
    )
    logs.failures("orders", "promo", at(9, 2), at(9, 20))
    logs.received(at(9, 10))
    logs.load(at(9, 10))
    # The event table and the scan document (its migration refs carry the level) agree.
    d = only(logs.write())
    assert (d.verdict, d.confidence) == (Verdict.PENDING_MIGRATION, Confidence.LIKELY)
    assert d.migration is not None and "ADD COLUMN promo" in d.migration


def test_notify_without_a_load_and_a_lost_listener_is_reload_not_applied(tmp_path: Path) -> None:
    logs = Logs(tmp_path)
    logs.postgrest_start(at(8, 0))
    logs.listener_lost(at(9, 30))
    logs.ddl(at(10, 0), "ALTER TABLE public.items ADD COLUMN note text;")
    logs.failures("items", "note", at(10, 1), at(10, 30))
    logs.notify(at(10, 10))
    d = only(logs.write())
    assert (d.verdict, d.confidence) == (Verdict.RELOAD_NOT_APPLIED, Confidence.CONFIRMED)
    checks = {e.check: e for e in d.evidence}
    assert checks["a cache load followed the reload"].fact is False
    assert checks["a cache load followed the reload"].where.endswith("postgres.log:2")
    assert checks["PostgREST's listener is up"].fact is False
    text = " ".join(d.suggestions)
    for step in ("SIGUSR1", "direct connection", "pg_terminate_backend", "db-channel"):
        assert step in text
    assert not d.reload_helps


def test_notify_on_another_channel_than_the_listener_is_evidence(tmp_path: Path) -> None:
    logs = Logs(tmp_path)
    logs.postgrest_start(at(8, 0), channel="api_reload")
    logs.ddl(at(10, 0), "ALTER TABLE public.items ADD COLUMN note text;")
    logs.failures("items", "note", at(10, 1), at(10, 30))
    logs.notify(at(10, 10), channel="pgrst")
    d = only(logs.write())
    assert d.verdict is Verdict.RELOAD_NOT_APPLIED
    row = next(e for e in d.evidence if e.check.startswith("NOTIFY sent on the channel"))
    assert row.fact is False and "'pgrst'" in row.detail and "api_reload" in row.detail


def test_a_reload_that_took_is_not_reload_not_applied(tmp_path: Path) -> None:
    """The NOTIFY in the database log and PostgREST's load line: the reload was applied."""
    logs = Logs(tmp_path)
    logs.postgrest_start(at(8, 0))
    logs.ddl(at(10, 0), "ALTER TABLE public.items ADD COLUMN note text;")
    logs.failures("items", "note", at(10, 1), at(10, 9))
    logs.notify(at(10, 10))
    logs.received(at(10, 10))
    logs.load(at(10, 10))
    assert only(logs.write()).verdict is Verdict.STALE_CACHE


def test_notify_without_postgrest_log_proves_nothing_about_its_effect(tmp_path: Path) -> None:
    logs = Logs(tmp_path)
    logs.ddl(at(10, 0), "ALTER TABLE public.items ADD COLUMN note text;")
    logs.failures("items", "note", at(10, 1), at(10, 30))
    logs.notify(at(10, 10))
    d = only(logs.write())
    assert (d.verdict, d.confidence) == (Verdict.STALE_CACHE, Confidence.LIKELY)


def test_42703_with_a_hint_confirms_the_mismatch(tmp_path: Path) -> None:
    logs = Logs(tmp_path)
    logs.failures("patients", "doseLogs", at(9, 0), at(9, 10))
    logs.db_error(
        at(9, 5),
        'column "doseLogs" does not exist at character 8',
        'select "doseLogs" from public.patients limit 1',
        'Perhaps you meant to reference the column "patients.dose_logs".',
    )
    d = only(logs.write())
    assert (d.verdict, d.confidence) == (Verdict.CLIENT_MISMATCH, Confidence.CONFIRMED)
    assert d.nearest[0].name == "dose_logs"
    assert any(e.where and e.where.endswith("postgres.log:1") for e in d.evidence)


def test_camel_case_key_alone_is_only_likely(tmp_path: Path) -> None:
    logs = Logs(tmp_path)
    logs.failures("teeth", "brushTeeth", at(9, 0), at(9, 10))
    d = only(logs.write())
    assert (d.verdict, d.confidence) == (Verdict.CLIENT_MISMATCH, Confidence.LIKELY)
    assert Verdict.PENDING_MIGRATION in d.alternatives


def test_nothing_to_go_on_is_unknown_and_says_which_logs_would_decide(tmp_path: Path) -> None:
    logs = Logs(tmp_path)
    logs.failures("items", "note", at(9, 0), at(9, 10))
    d = only(logs.write())
    assert (d.verdict, d.confidence) == (Verdict.UNKNOWN, Confidence.UNKNOWN)
    assert "PostgREST's stderr" in d.summary and "log_statement" in d.summary


def test_failed_ddl_rule_on_facts_built_by_hand() -> None:
    """The pending_migration rule itself, independent of how a parser marks a failed DDL."""
    from runbook.diagnosis.log_facts import LogFacts, Ref

    def ref(kind: str, ts, detail: str, where: str, **kw) -> Ref:
        return Ref(
            ts,
            kind,
            detail,
            kw.get("table"),
            kw.get("column"),
            kw.get("message", ""),
            where,
            kw.get("level"),
        )

    facts = LogFacts(
        table="orders",
        column="promo",
        schema=None,
        count=19,
        first_seen=at(9, 2),
        last_seen=at(9, 20),
        first_where="app.log:1",
        error_times=[(at(9, m), 1) for m in range(2, 21)],
        migrations=[
            ref(
                "migration",
                at(9, 0),
                "ADD COLUMN",
                "postgres.log:1",
                table="orders",
                column="promo",
                message="ALTER TABLE orders ADD COLUMN promo jsonbb",
                level="error",
            )
        ],
        reloads=[
            ref("cache_reload", at(9, 10), "notify channel=pgrst", "postgrest.log:7"),
            ref("cache_load", at(9, 10), "loaded", "postgrest.log:9"),
        ],
        postgrest_log=True,
        database_log=True,
    )
    d = diagnose_logs(facts)
    assert (d.verdict, d.confidence) == (Verdict.PENDING_MIGRATION, Confidence.LIKELY)
    assert d.migration == "postgres.log:1: ALTER TABLE orders ADD COLUMN promo jsonbb"
    survived = next(
        e for e in d.evidence if e.check == "errors continue after a confirmed cache load"
    )
    assert survived.where == "postgrest.log:9" and "10 failed requests" in survived.detail
