"""`pgrst-runbook report`: golden reports per recorded incident, with and without a journal, and
the command's contract (JSON model, no overwrite without --force, journal checks, selection)."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from runbook.ingest.scan import document, scan_paths
from runbook.report.incident_report import build_report, read_journal, save_text
from tests.report.conftest import EPOCH, JOURNALS, ROOT, Cli, Golden

FIXTURE_CASES = ("stale_cache", "client_mismatch")
SAMPLES = sorted(p.name for p in (ROOT / "sample_logs").glob("*") if p.is_dir())


def cases() -> list[tuple[str, str, str]]:
    """(golden name, logs path, journal path), every path relative to the repository."""
    out = [
        (name, f"tests/report/fixtures/{name}/logs", f"tests/report/fixtures/{name}/journal.jsonl")
        for name in FIXTURE_CASES
    ]
    out += [
        (f"sample-{name}", f"sample_logs/{name}", f"tests/report/journals/{name}.jsonl")
        for name in SAMPLES
    ]
    return out


CASES = cases()
IDS = [c[0] for c in CASES]


def test_every_sample_incident_has_a_journal_fixture() -> None:
    missing = [name for name in SAMPLES if not (JOURNALS / f"{name}.jsonl").exists()]
    assert not missing, f"write tests/report/journals/<sample>.jsonl for: {missing}"


@pytest.mark.parametrize(("name", "logs", "journal"), CASES, ids=IDS)
def test_report_from_logs_alone(
    cli: Cli, golden: Golden, name: str, logs: str, journal: str
) -> None:
    code, out, err = cli("report", logs)
    assert code == 0, err
    golden(f"{name}.md", out)
    assert "Verdict" in out and "??" not in out


@pytest.mark.parametrize(("name", "logs", "journal"), CASES, ids=IDS)
def test_report_with_journal(cli: Cli, golden: Golden, name: str, logs: str, journal: str) -> None:
    code, out, err = cli("report", logs, "--session", journal)
    assert code == 0, err
    golden(f"{name}.journal.md", out)
    view = read_journal(ROOT / journal)
    assert f"**Verdict: `{view.verdict}`** (from the runbook's diagnosis)" in out
    for step in view.steps:  # every step as run, with its command
        if step.action and step.step != "verify":
            assert step.action.split(";")[0].splitlines()[0] in out


@pytest.mark.parametrize(("name", "logs", "journal"), CASES, ids=IDS)
def test_checklist_for_each_incident(
    cli: Cli, golden: Golden, tmp_path: Path, name: str, logs: str, journal: str
) -> None:
    checklist = tmp_path / "DEPLOY.md"
    code, _, err = cli(
        "report",
        logs,
        "--session",
        journal,
        "-o",
        str(tmp_path / "r.md"),
        "--checklist",
        str(checklist),
    )
    assert code == 0, err
    golden(f"{name}.checklist.md", checklist.read_text())


def test_logs_alone_never_claim_a_stale_cache_when_errors_survive_a_load(cli: Cli) -> None:
    _, out, _ = cli("report", "tests/report/fixtures/client_mismatch/logs")
    assert "**Verdict from the logs alone: `client_mismatch`**" in out
    assert "so a stale cache does not explain those failures" in out
    assert "install-auto-reload" not in out.split("## Action items")[1].split("## Appendix")[0]


def test_json_is_the_data_model(cli: Cli) -> None:
    logs, journal = (
        "tests/report/fixtures/stale_cache/logs",
        "tests/report/fixtures/stale_cache/journal.jsonl",
    )
    code, out, _ = cli("report", logs, "--session", journal, "--json")
    assert code == 0
    model = json.loads(out)
    result = scan_paths([logs])
    built = build_report(
        document(result), journal=read_journal(Path(journal)), events=result.events
    ).to_dict()
    assert set(model) == set(built)
    assert model["root_cause"]["verdict"] == "stale_cache"
    assert model["status"] == "Draft"
    assert model["generated_at"].startswith("2026-11-19T14:53:20")
    times = {t["name"]: t for t in model["key_times"]}
    assert times["impact start"]["ts"] == "2026-11-18T14:02:10.101000+00:00"
    assert times["detection"]["ts"] == "2026-11-18T14:06:40.120000+00:00"
    assert times["mitigation"]["basis"].endswith("postgrest.log:7")
    assert times["resolution"]["ts"] == "2026-11-18T14:08:57.020000+00:00"
    assert {i["name"]: i["seconds"] for i in model["intervals"]}["time to detect"] == 270.019
    assert model["impact"]["peak_per_minute"] == 6
    assert (model["verdict"], model["verdict_from"]) == ("stale_cache", "journal")
    # 5 of the 23 client failures lie within seconds of one of the 7 access-log 400s; the
    # others have no access line of their own (the access log holds only some of the period).
    assert model["impact"]["endpoints"] == [
        {"endpoint": "(not logged)", "errors": 18, "access_400s": 0},
        {"endpoint": "POST /members", "errors": 5, "access_400s": 7},
    ]


def test_refuses_to_overwrite_without_force(cli: Cli, tmp_path: Path) -> None:
    target = tmp_path / "report.md"
    target.write_text("a person's edits\n")
    code, out, err = cli("report", "tests/report/fixtures/stale_cache/logs", "-o", str(target))
    assert code == 2
    assert "exists: use --force" in err
    assert target.read_text() == "a person's edits\n"
    code, _, err = cli(
        "report", "tests/report/fixtures/stale_cache/logs", "-o", str(target), "--force"
    )
    assert code == 0, err
    assert target.read_text().startswith("---\nid: ")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["report.md"]  # no temp file left


def test_save_text_refuses_a_file_that_appears_meanwhile(tmp_path: Path) -> None:
    target = tmp_path / "r.md"
    save_text(target, "first\n")
    with pytest.raises(FileExistsError):
        save_text(target, "second\n")
    assert target.read_text() == "first\n"
    save_text(target, "third\n", force=True)
    assert target.read_text() == "third\n"
    assert [p.name for p in tmp_path.iterdir()] == ["r.md"]


def test_journal_of_another_incident_is_refused(cli: Cli) -> None:
    code, _, err = cli(
        "report",
        "tests/report/fixtures/stale_cache/logs",
        "--session",
        "tests/report/fixtures/client_mismatch/journal.jsonl",
    )
    assert code == 2
    assert "the journal is about members.telegramHandle" in err


def test_session_id_is_looked_up_in_the_journal_directory(
    cli: Cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path))
    folder = tmp_path / "pgrst-runbook" / "journals"
    folder.mkdir(parents=True)
    source = ROOT / "tests/report/fixtures/stale_cache/journal.jsonl"
    (folder / "20261118T140640Z-3f9a1c.jsonl").write_text(source.read_text())
    code, out, err = cli(
        "report", "tests/report/fixtures/stale_cache/logs", "--session", "20261118T140640Z-3f9a1c"
    )
    assert code == 0, err
    assert "Runbook session | `20261118T140640Z-3f9a1c`" in out
    code, _, err = cli("report", "tests/report/fixtures/stale_cache/logs", "--session", "nope")
    assert code == 2 and "--session nope" in err


def test_incident_by_number_or_id(cli: Cli, tmp_path: Path) -> None:
    (tmp_path / "a.log").write_text(
        "2026-11-18T09:00:00Z ERROR "
        + '{"code":"PGRST204","details":null,"hint":null,"message":"Could not find the \'b\' '
        "column of 'a' in the schema cache\"}\n"
    )
    both = [str(tmp_path), "tests/report/fixtures/stale_cache/logs"]
    code, out, _ = cli("report", *both, "--incident", "2", "--json")
    assert code == 0 and json.loads(out)["column"] == "b"
    incident_id = json.loads(out)["id"]
    code, out, _ = cli("report", *both, "--incident", incident_id, "--json")
    assert json.loads(out)["id"] == incident_id
    code, _, err = cli("report", *both, "--incident", "3")
    assert code == 2 and "incidents 1 to 2" in err
    code, _, err = cli("report", *both, "--incident", "PGRST204-nope")
    assert code == 2 and "no such incident" in err


def test_nothing_to_report(cli: Cli, tmp_path: Path) -> None:
    (tmp_path / "quiet.log").write_text("2026-11-18T09:00:00Z INFO all good\n")
    code, out, err = cli("report", str(tmp_path))
    assert code == 2 and out == ""
    assert "no PGRST204 incident" in err


def test_cli_as_a_subprocess_writes_the_same_report(tmp_path: Path, cli: Cli) -> None:
    env = {"SOURCE_DATE_EPOCH": EPOCH, "TZ": "UTC", "PATH": "/usr/bin:/bin"}
    proc = subprocess.run(
        [sys.executable, "-m", "runbook", "report", "tests/report/fixtures/stale_cache/logs"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=env,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    _, out, _ = cli("report", "tests/report/fixtures/stale_cache/logs")
    assert proc.stdout == out


@pytest.mark.parametrize("name", SAMPLES)
def test_front_matter_carries_the_verdict_the_body_gives(cli: Cli, name: str) -> None:
    code, out, _ = cli("report", f"sample_logs/{name}")
    assert code == 0
    front = dict(
        line.split(": ", 1) for line in out.split("---\n")[1].splitlines() if ": " in line
    )
    body = re.search(r"\*\*Verdict from the logs alone: `([a-z_]+)`\*\* \(([a-z]+);", out)
    assert body, "the body states the logs' verdict"
    expected = json.loads((ROOT / "sample_logs" / name / ".expected.json").read_text())
    assert body.group(1) == expected["expected_verdict"]
    assert json.loads(front["verdict"]) == body.group(1)
    assert json.loads(front["verdict_from"]) == "logs"
    assert json.loads(front["verdict_confidence"]) == body.group(2)


def test_client_failures_take_the_endpoint_of_their_access_line(cli: Cli) -> None:
    """mypoolr: the bot logs no method or path; each of its 27 failures lies within a second of
    one `POST /mypoolr` 400 in PostgREST's access log."""
    code, out, _ = cli("report", "sample_logs/mypoolr", "--json")
    assert code == 0
    assert json.loads(out)["impact"]["endpoints"] == [
        {"endpoint": "POST /mypoolr", "errors": 27, "access_400s": 27}
    ]
