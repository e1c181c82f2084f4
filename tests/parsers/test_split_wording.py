"""An error body whose wording a client printed over several lines still names its column.

`logger.error(pprint.pformat(error.json()))` splits the long message into adjacent string
literals; a terminal or a log shipper that wraps at a width cuts it inside a word or between
words. Each shape is written here by the real thing (Python's `logging` and `pprint`,
`textwrap`), then scanned as a user would.
"""

from __future__ import annotations

import json
import logging
import pprint
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from parsers.error_body import joined_wording, wants_following
from tests.support.python_logs import write_log

BODY = {
    "code": "PGRST204",
    "details": None,
    "hint": None,
    "message": "Could not find the 'adminname' column of 'mypoolr' in the schema cache",
}


def scan(path: Path) -> dict:
    done = subprocess.run(
        [sys.executable, "-m", "runbook", "scan", str(path), "--format", "json"],
        capture_output=True, text=True, timeout=300, check=False,
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def log_file(path: Path, messages: list[str]) -> None:
    """Lines as Python's logging writes them with the common basicConfig format, each error
    between two ordinary lines."""
    records = [(logging.WARNING, "update 1 handled")]
    for message in messages:
        records += [(logging.ERROR, message), (logging.WARNING, "update handled")]
    write_log(path, records, f"bot.handlers.{path.stem}")


def test_pprint_of_the_error_body_is_one_failed_write_with_its_column(tmp_path: Path) -> None:
    printed = pprint.pformat(BODY, width=60)
    assert not any("adminname' column of 'mypoolr" in line for line in printed.splitlines())  # split
    path = tmp_path / "bot.log"
    log_file(path, ["insert failed\n" + printed, "insert failed\n" + printed])
    doc = scan(path)
    assert [(i["table"], i["column"], i["count"]) for i in doc["incidents"]] == [("mypoolr", "adminname", 2)]
    assert doc["incidents"][0]["first_seen"] is not None


@pytest.mark.parametrize("width", [40, 57, 63, 71, 90])
def test_a_body_wrapped_at_a_width_is_read_whole(tmp_path: Path, width: int) -> None:
    """Wrapped inside words (a terminal) and between words (textwrap keeps no space)."""
    text = "postgrest.exceptions.APIError: " + repr(BODY)
    cut_inside = "\n".join(text[i : i + width] for i in range(0, len(text), width))
    cut_between = "\n".join(textwrap.wrap(text, width))
    path = tmp_path / "worker.log"
    log_file(path, ["insert failed\n" + cut_inside, "insert failed\n" + cut_between])
    doc = scan(path)
    assert [(i["table"], i["column"], i["count"]) for i in doc["incidents"]] == [("mypoolr", "adminname", 2)]


def test_only_lines_without_a_whole_wording_read_on() -> None:
    assert not wants_following("APIError: " + repr(BODY))
    assert not wants_following("update 7 handled in 12ms")
    assert wants_following("{'code': 'PGRST204',")
    assert joined_wording("{'code': 'PGRST204',", [" 'details': None}"]) is None  # nothing to join
    assert joined_wording("'message': \"Could not find the 'admin", ["name' column of 'mypoolr' in the schema cache\""]) == (
        "'message': \"Could not find the 'adminname' column of 'mypoolr' in the schema cache\""
    )
