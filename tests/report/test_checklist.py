"""The deployment checklist, updated in place: added once, ticks and a person's lines kept."""

from __future__ import annotations

import re
from pathlib import Path

from runbook.report.checklist import KEY, parse, update_checklist
from tests.report.conftest import Cli

STALE = (
    "tests/report/fixtures/stale_cache/logs",
    "--session",
    "tests/report/fixtures/stale_cache/journal.jsonl",
)
MISMATCH = (
    "tests/report/fixtures/client_mismatch/logs",
    "--session",
    "tests/report/fixtures/client_mismatch/journal.jsonl",
)

PERSONS_FILE = """\
# Our release steps

Written by the platform team. Ask in #db before you run migrations.

## After the migration <!-- k:section-after-migration -->

- [x] Reload PostgREST's schema cache (we use the dashboard) <!-- k:reload-cache -->
- [X] Verify the cache with the smoke test <!-- k:verify-cache -->
- [ ] Our own step: post in #releases

## Rollback

1. revert the deploy
2. page the DBA
"""


def keys_of(text: str) -> list[str]:
    return KEY.findall(text)


def report(cli: Cli, tmp_path: Path, checklist: Path, *case: str) -> tuple[int, str]:
    code, _, err = cli(
        "report",
        *case,
        "-o",
        str(tmp_path / f"r{len(list(tmp_path.iterdir()))}.md"),
        "--checklist",
        str(checklist),
    )
    return code, err


def test_new_checklist_has_every_key_once(cli: Cli, tmp_path: Path) -> None:
    checklist = tmp_path / "DEPLOY.md"
    code, err = report(cli, tmp_path, checklist, *STALE)
    assert code == 0, err
    text = checklist.read_text()
    keys = keys_of(text)
    assert len(keys) == len(set(keys))
    assert {
        "verify-cache",
        "reload-cache",
        "auto-reload-trigger",
        "ci-check",
        "probe:members.telegram_handle",
        "alert-pgrst204",
    } <= set(keys)
    assert "NOTIFY pgrst, 'reload schema';" in text
    assert "CREATE EVENT TRIGGER pgrst_watch\n    ON ddl_command_end" in text


def test_update_in_place_twice_keeps_ticks_and_own_lines(cli: Cli, tmp_path: Path) -> None:
    checklist = tmp_path / "RELEASE.md"
    checklist.write_text(PERSONS_FILE)
    code, err = report(cli, tmp_path, checklist, *STALE)
    assert code == 0, err
    assert "added" in err
    once = checklist.read_text()
    code, err = report(cli, tmp_path, checklist, *STALE)
    assert code == 0 and "up to date" in err
    assert checklist.read_text() == once  # byte for byte: nothing added twice

    keys = keys_of(once)
    assert len(keys) == len(set(keys))
    for line in PERSONS_FILE.splitlines():  # every line of the person's file is still there
        assert line in once.splitlines(), line
    assert (
        "- [x] Reload PostgREST's schema cache (we use the dashboard) <!-- k:reload-cache -->"
        in once
    )
    assert "- [X] Verify the cache with the smoke test <!-- k:verify-cache -->" in once
    # missing items of an existing section go to its end, before the next heading
    after = once.split("## After the migration")[1].split("## Rollback")[0]
    assert after.index("Our own step") < after.index("k:verify-schema")
    assert "k:watch-pgrst2xx" in after
    # sections the file lacks are appended after the person's content
    assert once.index("## Rollback") < once.index("## Learned from incidents")
    assert once.index("2. page the DBA") < once.index("## Before merge")


def test_a_second_incident_adds_only_what_it_teaches(cli: Cli, tmp_path: Path) -> None:
    checklist = tmp_path / "DEPLOY.md"
    report(cli, tmp_path, checklist, *STALE)
    text = checklist.read_text().replace(
        "- [ ] An alert fires on PGRST204", "- [x] An alert fires on PGRST204"
    )
    checklist.write_text(text)
    code, err = report(cli, tmp_path, checklist, *MISMATCH)
    assert code == 0, err
    updated = checklist.read_text()
    added = set(keys_of(updated)) - set(keys_of(text))
    assert added == {"probe:members.telegramHandle", "client-key:members.telegramHandle"}
    assert "- [x] An alert fires on PGRST204" in updated
    learned = updated.split("## Learned from incidents")[1].split("## Contract later")[0]
    assert "client-key:members.telegramHandle" in learned  # in its section, not a new one
    assert updated.count("## Learned from incidents") == 1


def test_windows_line_endings_are_kept() -> None:
    existing = PERSONS_FILE.replace("\n", "\r\n")
    fresh = "## After the migration <!-- k:section-after-migration -->\n\n- [ ] new <!-- k:new-item -->\n"
    merged, added = update_checklist(existing, fresh)
    assert added == ["new-item"]
    assert "\r\n" in merged and not re.search(r"[^\r]\n", merged)


def test_code_blocks_are_not_parsed_as_items_or_headings() -> None:
    fresh = (
        "## S <!-- k:section-s -->\n\n- [ ] run this <!-- k:a -->\n\n  ```sh\n"
        "  # not a heading <!-- k:not-a-section -->\n  - [ ] not an item <!-- k:not-an-item -->\n"
        "  ```\n\n- [ ] next <!-- k:b -->\n"
    )
    sections = parse(fresh)
    assert [s.key for s in sections] == [None, "section-s"]
    assert [i.key for i in sections[1].items] == ["a", "b"]
    assert "not an item" in "\n".join(sections[1].items[0].lines)


def test_nothing_missing_returns_the_file_unchanged() -> None:
    fresh = "## S <!-- k:section-s -->\n\n- [ ] a <!-- k:a -->\n"
    existing = (
        "my notes\n\n## S <!-- k:section-s -->\n- [x] a, reworded <!-- k:a -->"  # no final newline
    )
    assert update_checklist(existing, fresh) == (existing, [])
