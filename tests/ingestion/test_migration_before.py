"""The migration named before an incident: the latest by time, and the one adding the column.

Database logs are read one file after another, so reading order is not time order; and one
migration often adds several columns, the failing one not always last.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from runbook.incidents.trigger import trigger_migration
from runbook.ingest.scan import ScanOptions, document, scan_paths

ERROR = (
    "2026-11-18 09:{minute:02d}:00,000 ERROR bot: insert failed APIError("
    "{{'code': 'PGRST204', 'details': None, 'hint': None, 'message': "
    "\"Could not find the 'telegram_handle' column of 'members' in the schema cache\"}})\n"
)


def ddl(ts: str, statement: str) -> str:
    return f"2026-11-18 {ts} UTC [8812] postgres@app LOG:  statement: {statement}\n"


def scan(folder: Path) -> dict:
    return document(scan_paths([str(folder)], ScanOptions()))["incidents"][0]


def test_the_latest_migration_by_time_not_by_reading_order(tmp_path: Path) -> None:
    # a-old.log is read first but holds the later statement; z-new.log the earlier one.
    (tmp_path / "a-old.log").write_text(
        ddl("09:10:00.000", "ALTER TABLE public.members ADD COLUMN telegram_verified_at timestamptz;")
    )
    (tmp_path / "z-new.log").write_text(
        ddl("09:05:00.000", "ALTER TABLE public.members ADD COLUMN telegram_handle text;")
    )
    (tmp_path / "app.log").write_text("".join(ERROR.format(minute=m) for m in (20, 21)))
    incident = scan(tmp_path)
    before = incident["context"]["migration_before"]
    assert before["column"] == "telegram_verified_at"
    assert before["ts"] == "2026-11-18T09:10:00+00:00"
    first = datetime.fromisoformat(incident["first_seen"])
    trigger, adds = trigger_migration(incident["context"], "telegram_handle", first)
    assert adds and trigger is not None
    assert trigger["column"] == "telegram_handle" and trigger["ts"] == "2026-11-18T09:05:00+00:00"


def test_a_migration_after_the_first_failure_is_not_the_one_before_it(tmp_path: Path) -> None:
    (tmp_path / "pg.log").write_text(
        ddl("09:05:00.000", "ALTER TABLE public.members ADD COLUMN bio text;")
        + ddl("09:30:00.000", "ALTER TABLE public.members ADD COLUMN telegram_handle text;")
    )
    (tmp_path / "app.log").write_text("".join(ERROR.format(minute=m) for m in (20, 40)))
    incident = scan(tmp_path)
    first = datetime.fromisoformat(incident["first_seen"])
    trigger, adds = trigger_migration(incident["context"], "telegram_handle", first)
    assert not adds  # the column came after the first failure: the table's last DDL before it
    assert trigger is not None and trigger["column"] == "bio"


def test_no_migration_in_the_logs_names_none() -> None:
    assert trigger_migration({"migration_before": None, "migrations": []}, "c", None) == (None, False)
