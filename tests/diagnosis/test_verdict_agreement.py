"""The logs' verdict is the same wherever it is shown: the TUI (its incident table and the
runbook session it opens), `run --logs`, `report` and `bundle`, on the same logs.

`supabase-export` is the case that once disagreed: the table said `patients.doseLogs` is a
client mismatch *confirmed* while the session opened for it carried *likely*.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from runbook.config import Settings
from runbook.tui.ingest import run_ingest
from runbook.tui.messages import IncidentsChanged
from runbook.tui.options import AppOptions
from runbook.tui.sessions import Sessions
from tests.diagnosis.conftest import run_cli
from tests.diagnosis.test_bundle import read_bundle

SAMPLES = Path(__file__).resolve().parents[2] / "sample_logs"
FOLDERS = sorted(p.name for p in SAMPLES.iterdir() if p.is_dir())
UNREACHABLE = ["--dsn", "host=127.0.0.1 port=1 user=x", "--timeout", "1"]

Verdicts = dict[tuple[str, str], tuple[str, str]]  # (table, column) -> (verdict, confidence)


def tui_verdicts(folder: Path, journal_dir: Path) -> tuple[Verdicts, Verdicts]:
    """What the incident table shows, and what the runbook session opened from it carries."""
    posted: list[object] = []
    run_ingest(AppOptions(paths=[str(folder)]), posted.append, lambda: False)
    changed = [m for m in posted if isinstance(m, IncidentsChanged)][-1]
    table = {
        tuple(key.split("\x00", 1)): (str(d.verdict), str(d.confidence))
        for key, d in changed.log_diagnoses.items()
    }
    sessions = Sessions(Settings(journal_dir=journal_dir))
    sessions.adopt_log_verdicts(changed.log_diagnoses, changed.frame)
    opened: Verdicts = {}
    for incident in changed.incidents:
        found = sessions.get_or_create(incident).log_diagnosis
        assert found is not None
        opened[(incident.table, incident.column)] = (str(found.verdict), str(found.confidence))
    sessions.close_all()
    return table, opened  # type: ignore[return-value]


def run_verdicts(capsys, monkeypatch, folder: Path) -> Verdicts:
    result = run_cli(capsys, monkeypatch, "run", "--logs", str(folder), *UNREACHABLE, "--json")
    assert result.code != 0, result.err  # the database cannot be reached: not proven fixed
    return {
        (o["table"], o["column"]): (o["logs"]["verdict"], o["logs"]["confidence"])
        for o in result.json()
    }


def report_verdicts(capsys, monkeypatch, folder: Path, count: int) -> Verdicts:
    out: Verdicts = {}
    for number in range(1, count + 1):
        result = run_cli(
            capsys, monkeypatch, "report", str(folder), "--json", "--incident", str(number)
        )
        assert result.code == 0, result.err
        doc = json.loads(result.out)
        logs = doc["root_cause"]["logs"]
        out[(doc["table"], doc["column"])] = (logs["verdict"], logs["confidence"])
    return out


def bundle_verdicts(capsys, monkeypatch, folder: Path, tmp_path: Path) -> Verdicts:
    path = tmp_path / "bundle.tar.gz"
    result = run_cli(capsys, monkeypatch, "bundle", "--logs", str(folder), "-o", str(path))
    assert result.code == 0, result.err
    rows = json.loads(read_bundle(path)["diagnosis.json"])
    return {(r["table"], r["column"]): (r["verdict"], r["confidence"]) for r in rows}


@pytest.mark.parametrize("name", FOLDERS)
def test_tui_run_report_and_bundle_agree(
    name: str, tmp_path: Path, capsys, monkeypatch, isolated_state: Path
) -> None:
    folder = SAMPLES / name
    table, opened = tui_verdicts(folder, isolated_state)
    assert table, f"no incident in {name}"
    assert opened == table
    assert run_verdicts(capsys, monkeypatch, folder) == table
    assert report_verdicts(capsys, monkeypatch, folder, len(table)) == table
    assert bundle_verdicts(capsys, monkeypatch, folder, tmp_path) == table


def test_supabase_export_dose_logs_is_a_confirmed_mismatch_everywhere(
    tmp_path: Path, isolated_state: Path
) -> None:
    table, opened = tui_verdicts(SAMPLES / "supabase-export", isolated_state)
    expected = ("client_mismatch", "confirmed")
    assert table[("patients", "doseLogs")] == expected
    assert opened[("patients", "doseLogs")] == expected
