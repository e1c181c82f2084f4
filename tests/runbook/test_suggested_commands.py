"""Commands and SQL the tool suggests are safe to paste, whatever the logs named.

A table called `members; touch PWNED #` must give a `pgrst-runbook run` line that, pasted
into bash, passes that name as one argument and runs nothing else.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from runbook.diagnosis.fix_plans import dollar_tag, expand_contract_plan, function_name
from runbook.evidence import code_span, run_command

HOSTILE = ["members; touch PWNED #", "a'b", 'q"uote', "$(touch PWNED)", "`touch PWNED`", "tab\tname"]


@pytest.mark.parametrize("name", HOSTILE)
def test_a_pasted_run_line_passes_the_names_and_runs_nothing_else(name: str, tmp_path: Path) -> None:
    command = run_command(name, name + "_col", "my schema")
    shown = subprocess.run(
        ["bash", "-c", command.replace("pgrst-runbook run", "printf '%s\\n'", 1)],
        cwd=tmp_path, capture_output=True, text=True, timeout=30, check=True,
    ).stdout
    assert shown.split("\n")[:-1] == [
        "--schema", "my schema", "--table", name, "--column", name + "_col"
    ]
    assert not (tmp_path / "PWNED").exists()


def test_a_code_span_holds_backticks() -> None:
    assert code_span("a `b` c") == "``a `b` c``"
    assert code_span("`x`") == "`` `x` ``"
    assert code_span("plain") == "`plain`"


def test_the_expand_contract_plan_dollar_tag_is_not_in_its_body() -> None:
    plan = " ".join(expand_contract_plan("public", "t", "old$pgrst_runbook$x", "new", "text"))
    tag = dollar_tag("old$pgrst_runbook$x")
    assert tag != "$pgrst_runbook$" and plan.count(tag) == 2


def test_function_names_fit_postgres_63_bytes() -> None:
    name = function_name("é" * 40, "old", "to", "new")
    assert len(name.encode()) <= 63 and name.startswith("é")
