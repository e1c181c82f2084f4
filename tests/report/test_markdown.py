"""Markdown escaping filters and the template environment: user overrides, errors with file:line,
and the rule that every printed value passes an escaping filter."""

from __future__ import annotations

from pathlib import Path

import pytest

from runbook.report.markdown import (
    FILTERS,
    PackagedLoader,
    TemplateProblem,
    block,
    code,
    environment,
    key,
    md,
    prose,
    render,
)
from tests.report.conftest import Cli

LOGS = "tests/report/fixtures/stale_cache/logs"


@pytest.mark.parametrize(
    ("text", "escaped"),
    [
        ("a|b", "a\\|b"),
        ("`x`", "\\`x\\`"),
        ("<script>alert(1)</script>", "&lt;script>alert(1)&lt;/script>"),
        ("[x](javascript:alert(1))", "\\[x\\](javascript:alert(1))"),
        ("![i](http://e/i.png)", "!\\[i\\](http://e/i.png)"),
        ("# heading", "\\# heading"),
        ("- item", "\\- item"),
        ("1. item", "1\\. item"),
        ("> quote", "&gt; quote"),
        ("**bold** _it_ ~~s~~ $x$", "\\*\\*bold\\*\\* \\_it\\_ \\~\\~s\\~\\~ \\$x\\$"),
        ("&lt; stays text", "&amp;lt; stays text"),
        ("line\nbreak\r\n# not a heading", "line break \\# not a heading"),
        ("100.0% -> fine & plain", "100.0% -> fine & plain"),
        ("\x1b[31mred", "\\\\x1b\\[31mred"),  # shown as \x1b, never sent
    ],
)
def test_md_escapes_markup(text: str, escaped: str) -> None:
    assert md(text) == escaped


def test_code_spans_and_blocks_cannot_be_closed_from_inside() -> None:
    assert code("a`b") == "``a`b``"
    assert code("`x") == "`` `x ``"
    assert code("a|b", cell=True) == "`a\\|b`"
    assert block("```\n# x\n````", "sh") == "`````sh\n```\n# x\n````\n`````"
    assert block("x\ny", indent=2) == "  ```text\n  x\n  y\n  ```"


def test_prose_turns_only_backticked_spans_into_code() -> None:
    assert prose("run `pgrst-runbook check` for 'a_b'") == "run `pgrst-runbook check` for 'a\\_b'"
    assert prose("odd ` count") == "odd \\` count"


def test_keys_are_stable_and_safe() -> None:
    assert key("probe:members.telegram_handle") == "<!-- k:probe:members.telegram_handle -->"
    hostile = key("probe:a --> <script>.b")
    assert hostile.startswith("<!-- k:probe:a-script-.b-") and hostile.count("-->") == 1
    assert key("probe:a --> <script>.b") == hostile


def test_packaged_templates_compile_and_print_only_filtered_values() -> None:
    env = environment()
    names = PackagedLoader().list_templates()
    assert {"report.md.j2", "checklist.md.j2", "partials.md.j2"} <= set(names)
    for name in names:
        env.get_template(name)  # raises when a value is printed without a filter


def write(folder: Path, name: str, text: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / name).write_text(text)
    return folder


def test_user_template_overrides_and_falls_back_to_packaged_partials(
    cli: Cli, tmp_path: Path
) -> None:
    templates = write(
        tmp_path / "tpl",
        "report.md.j2",
        '{% import "partials.md.j2" as p %}# Ours: {{ report.title | md }}\n'
        "{{ p.chart(report.chart) }}",
    )
    code_, out, err = cli("report", LOGS, "--templates", str(templates))
    assert code_ == 0, err
    assert out.startswith("# Ours: PGRST204 on members.telegram\\_handle")
    assert "xychart-beta" in out  # the packaged partial


def test_unfiltered_value_is_a_template_error_naming_file_and_line(
    cli: Cli, tmp_path: Path
) -> None:
    templates = write(
        tmp_path / "tpl", "report.md.j2", "# {{ report.id | md }}\n\n{{ report.table }}\n"
    )
    code_, out, err = cli("report", LOGS, "--templates", str(templates))
    assert code_ == 2 and out == ""
    assert f"{templates / 'report.md.j2'}:3:" in err
    assert "without an escaping filter" in err


@pytest.mark.parametrize(
    "expression",
    ["report.table", "report.table.upper()", "'a' ~ report.table", "report.table | upper"],
)
def test_only_escaping_filters_and_macros_may_print(tmp_path: Path, expression: str) -> None:
    templates = write(
        tmp_path / "tpl",
        "t.md.j2",
        "{% macro m() %}{{ 1 | md }}{% endmacro %}\n"
        "{{ m() }} {{ 'literal' }}\n{{ " + expression + " }}\n",
    )
    with pytest.raises(TemplateProblem) as err:
        render("t.md.j2", {"report": {"table": "<b>"}}, templates)
    assert str(err.value).startswith(f"{templates / 't.md.j2'}:3:")


def test_runtime_error_names_file_and_line(tmp_path: Path) -> None:
    templates = write(
        tmp_path / "tpl", "t.md.j2", "ok\n{{ report.id | md }}\n{{ report.nope | md }}\n"
    )
    with pytest.raises(TemplateProblem) as err:
        render("t.md.j2", {"report": {"id": "x"}}, templates)
    assert str(err.value).startswith(f"{templates / 't.md.j2'}:3:")
    assert "nope" in str(err.value)


def test_syntax_error_names_file_and_line(tmp_path: Path) -> None:
    templates = write(tmp_path / "tpl", "t.md.j2", "a\nb\n{% if %}\n")
    with pytest.raises(TemplateProblem) as err:
        render("t.md.j2", {}, templates)
    assert str(err.value).startswith(f"{templates / 't.md.j2'}:3:")


def test_error_inside_a_packaged_partial_names_the_partial(tmp_path: Path) -> None:
    templates = write(
        tmp_path / "tpl", "t.md.j2", '{% import "partials.md.j2" as p %}\n{{ p.chart({}) }}\n'
    )
    with pytest.raises(TemplateProblem) as err:
        render("t.md.j2", {}, templates)
    assert "partials.md.j2:" in str(err.value)


def test_missing_template_directory_is_a_usage_error(cli: Cli, tmp_path: Path) -> None:
    code_, _, err = cli("report", LOGS, "--templates", str(tmp_path / "nope"))
    assert code_ == 2 and "not a directory" in err


def test_every_filter_returns_safe_text() -> None:
    for name, fn in FILTERS.items():
        assert isinstance(fn("x"), str), name
