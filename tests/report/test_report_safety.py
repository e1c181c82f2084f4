"""What a log or a journal holds can neither inject markup into the report nor leak a secret.

The report is rendered to HTML with markdown-it (CommonMark + tables, raw HTML allowed, as a
permissive renderer would) and checked element by element.
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from markdown_it import MarkdownIt
from mdit_py_plugins.front_matter import front_matter_plugin

from runbook.report.checklist import render_checklist
from runbook.report.findings import JournalView
from runbook.report.incident_report import build_report, render_report
from tests.report.conftest import Cli

EVIL = (
    "x|y`z`<script>alert(1)</script>[x](javascript:alert(1))![i](http://e.example/i.png)"
    "\n# heading\n- item **bold** $x$ <!-- c --> &lt;b&gt; <img src=x onerror=alert(1)>"
)
SECRETS = {
    "jwt": "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJyb2xlIjoic2VydmljZV9yb2xlIn0.c2lnbmF0dXJlLXNlY3JldA",
    "apikey": "apikey=SeCrEtApIkEy123",
    "authorization": "Authorization: Bearer tok0123456789abcdef",
    "dsn": "postgresql://app:hunter2pw@db.internal:5432/app",
    "url": "https://admin:urlpassw0rd@api.example.com/rest/v1",
    "keyvalue": "host=db user=app password=kvSecret9 dbname=app",
    "sbp": "sbp_0123456789abcdef0123456789abcdef",
    "sb_secret": "sb_secret_AbCdEfGhIjKlMnOpQr",
}
LEAKS = (
    "c2lnbmF0dXJlLXNlY3JldA",
    "SeCrEtApIkEy123",
    "tok0123456789abcdef",
    "hunter2pw",
    "urlpassw0rd",
    "kvSecret9",
    "0123456789abcdef0123456789abcdef",
    "AbCdEfGhIjKlMnOpQr",
)
NOW = datetime(2026, 11, 19, tzinfo=UTC)


def ref(ts: str, kind: str, line: int, message: str = EVIL) -> dict[str, Any]:
    return {
        "ts": ts,
        "kind": kind,
        "detail": "loaded",
        "schema": None,
        "table": "t",
        "column": None,
        "message": message,
        "source": f"logs/{EVIL}.log",
        "line_no": line,
    }


def hostile_doc() -> dict[str, Any]:
    """A scan document whose every log-derived string is hostile or carries secrets."""
    secret_line = " ".join(SECRETS.values())
    incident = {
        "id": "PGRST204-20261118-deadbeef",
        "code": "PGRST204",
        "schema": None,
        "table": "t|" + EVIL,
        "column": EVIL,
        "count": 3,
        "first_seen": "2026-11-18T09:00:00+00:00",
        "last_seen": "2026-11-18T09:02:00+00:00",
        "duration_seconds": 120.0,
        "peak_per_minute": 2,
        "endpoints": ["POST /" + EVIL],
        "sources": [f"logs/{EVIL}.log"],
        "per_minute": [
            {"minute": "2026-11-18T09:00:00+00:00", "count": 1},
            {"minute": "2026-11-18T09:01:00+00:00", "count": 0},
            {"minute": "2026-11-18T09:02:00+00:00", "count": 2},
        ],
        "samples": [
            {
                "ts": "2026-11-18T09:00:00+00:00",
                "source": f"logs/{EVIL}.log",
                "line_no": 1,
                "raw": "```\n" + EVIL + "\n````\n" + secret_line,
            },
        ],
        "context": {
            "migration_before": {
                **ref("2026-11-18T08:59:00+00:00", "migration", 2),
                "detail": EVIL,
            },
            "migrations": [],
            "renames": [],
            "reloads": [ref("2026-11-18T09:03:00+00:00", "cache_load", 9, secret_line)],
            "loads_after_first_error": 1,
            "first_load_after_first_error": ref("2026-11-18T09:03:00+00:00", "cache_load", 9),
            "errors_after_load": 0,
            "last_load": ref("2026-11-18T09:03:00+00:00", "cache_load", 9),
            "errors_after_last_load": 0,
            "stopped_after_reload": True,
            "access_400s": 3,
            "untimed_errors": 0,
        },
    }
    return {
        "incidents": [incident],
        "related": [{"code": "42703", "table": EVIL, "column": EVIL, "count": 1}],
        "stats": {"formats": {EVIL: 1}},
    }


def hostile_journal(table: str, column: str) -> JournalView:
    target = {"schema": EVIL, "table": table, "column": column}
    base = {"v": 1, "session": "s-1", "host": "h", "user": EVIL, "target": target, "data": {}}
    evidence = [{"source": EVIL, "check": EVIL, "fact": True, "detail": EVIL + SECRETS["dsn"]}]
    entries = [
        {
            **base,
            "seq": 1,
            "ts": "2026-11-18T09:01:00+00:00",
            "step": "session",
            "status": "started",
        },
        {
            **base,
            "seq": 2,
            "ts": "2026-11-18T09:01:10+00:00",
            "step": "inspect",
            "status": "ok",
            "action": "GET /?" + SECRETS["apikey"] + " " + EVIL,
            "result": SECRETS["url"],
            "evidence": evidence,
            "error": {"title": SECRETS["authorization"], "message": SECRETS["keyvalue"]},
        },
        {
            **base,
            "seq": 3,
            "ts": "2026-11-18T09:01:20+00:00",
            "step": "diagnose",
            "status": "ok",
            "verdict": "client_mismatch",
            "result": EVIL + " " + SECRETS["jwt"],
            "evidence": evidence,
            "data": {
                "nearest": [{"name": EVIL + SECRETS["sbp"], "reason": EVIL, "score": 1.0}],
                "established": [EVIL + SECRETS["sb_secret"]],
                "not_established": [EVIL],
            },
        },
        {
            **base,
            "seq": 4,
            "ts": "2026-11-18T09:02:30+00:00",
            "step": "reload",
            "status": "sent",
            "action": "NOTIFY pgrst, 'reload schema'; " + EVIL,
            "result": EVIL,
        },
    ]
    return JournalView.of(entries)


def html_of(markdown: str) -> str:
    parser = MarkdownIt("commonmark", {"html": True}).enable("table").use(front_matter_plugin)
    return parser.render(markdown)


def assert_inert(markdown: str) -> None:
    """Nothing from EVIL acts: no HTML, link, image, heading, list item or emphasis of its own."""
    html = html_of(markdown)
    assert "<script" not in html and "<img" not in html and "<a " not in html
    assert "<!-- c" not in html and "onerror=alert" not in re.sub(r"&lt;img[^<]*", "", html)
    assert not re.search(r"<h\d>heading", html)  # EVIL's "# heading" made no heading
    assert "<li>item" not in html
    assert "<strong>bold</strong>" not in html and "<em>" not in html.replace("<em>(to fill", "")
    for table in re.findall(r"<table>(.*?)</table>", html, re.S):
        rows = re.findall(r"<tr>(.*?)</tr>", table, re.S)
        width = len(re.findall(r"<th", rows[0]))
        for row in rows:
            assert len(re.findall(r"<t[hd]", row)) == width, row


def test_hostile_names_and_lines_stay_text_in_the_report() -> None:
    doc = hostile_doc()
    incident = doc["incidents"][0]
    report = build_report(
        doc, journal=hostile_journal(incident["table"], incident["column"]), now=NOW
    )
    text = render_report(report)
    assert_inert(text)
    assert html_of(text).count("<h1>") == 1  # the title only
    assert "&lt;script>alert(1)&lt;/script>" in text
    assert "\\[x\\](javascript:alert(1))" in text
    front = text.split("---\n")[1]  # valid YAML/JSON scalars, inert if shown as Markdown
    for line in front.splitlines():
        name, value = line.split(": ", 1)
        assert re.fullmatch(r"[a-z_]+", name) and json.loads(value) is not Ellipsis
        assert not re.search(r"[<>&`\[\]|*#$~]", value), line


def test_hostile_names_stay_text_in_the_checklist() -> None:
    doc = hostile_doc()
    text = render_checklist(build_report(doc, now=NOW))
    assert_inert(text)
    assert all(k.count("-->") == 1 for k in re.findall(r"<!-- k:.*", text))


def test_every_secret_form_is_redacted_everywhere() -> None:
    doc = hostile_doc()
    incident = doc["incidents"][0]
    report = build_report(
        doc, journal=hostile_journal(incident["table"], incident["column"]), now=NOW
    )
    outputs = {
        "markdown": render_report(report),
        "json": json.dumps(report.to_dict()),
        "checklist": render_checklist(report),
    }
    for name, text in outputs.items():
        for leak in LEAKS:
            assert leak not in text, f"{leak} in {name}"
    assert "***" in outputs["markdown"]


def test_secrets_in_real_log_lines_are_redacted(cli: Cli, tmp_path: Path) -> None:
    body = (
        '{"code":"PGRST204","details":null,"hint":null,'
        "\"message\":\"Could not find the 'c' column of 't' in the schema cache\"}"
    )
    lines = [
        f"2026-11-18T09:00:0{n}Z ERROR {value} {body}" for n, value in enumerate(SECRETS.values())
    ]
    (tmp_path / "app.log").write_text("\n".join(lines) + "\n")
    for args in ((), ("--json",)):
        code, out, err = cli("report", str(tmp_path), *args)
        assert code == 0, err
        for leak in LEAKS:
            assert leak not in out, leak
